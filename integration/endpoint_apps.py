"""The ``lilya_ws.endpoint`` apps (server side): how an endpoint ends, the same on every server.

``app`` is one ``endpoint``; the last path segment chooses how the handler ends:

- ``return-after-accept``: accepts and returns without closing (the client gets 1000);
- ``raise-after-accept``: accepts, then raises (1011 "Internal error");
- ``raise-before-accept``: raises during the handshake (HTTP 500 "Internal Server Error");
- ``return-before-accept``: returns without accepting (HTTP 403).

Served on its own (``python -m adapters serve NAME integration.endpoint_apps:app``)
it also answers lifespan and plain HTTP (404) itself; ``integration.apps:app``
routes ``/endpoint/...`` here.
"""

from __future__ import annotations

from typing import Final

from integration import protocol as p
from lilya_ws import WebSocket, endpoint

__all__ = ["ENDINGS", "app"]

ENDINGS: Final = (
    "return-after-accept",
    "raise-after-accept",
    "raise-before-accept",
    "return-before-accept",
)


async def ending(websocket: WebSocket) -> None:
    """End the way the last path segment says (see the module docstring)."""
    how = websocket.url.path.rstrip("/").rsplit("/", 1)[-1]
    if how == "return-before-accept":
        return
    if how == "raise-before-accept":
        raise RuntimeError(p.SECRET)
    await websocket.accept()
    if how == "raise-after-accept":
        raise RuntimeError(p.SECRET)


app: Final = endpoint(ending)
