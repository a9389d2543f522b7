"""lilya_ws's WebSocket with Starlette's ``url_for``, ``session``, ``user`` and ``auth``:
mypy --strict, no ignore, no cast (``tests/frameworks`` runs it in a Starlette app).

The extras are composed by delegation. Inheriting both classes
(``class WebSocket(lilya_ws.WebSocket, HTTPConnection)``) cannot type-check without
an ignore: both define ``url``, ``headers``, ``query_params``, ``client``, ``state``
and ``scope`` with their own types. Starlette's extras only read the scope, so a
Starlette ``HTTPConnection`` over the same scope gives them, and lilya_ws's
behaviour stays whole.
"""

from __future__ import annotations

from collections.abc import MutableMapping
from typing import Any

from starlette.applications import Starlette
from starlette.datastructures import URL
from starlette.requests import HTTPConnection
from starlette.routing import WebSocketRoute
from typing_extensions import assert_type

import lilya_ws
from lilya_ws.types import Receive, Scope, Send


class WebSocket(lilya_ws.WebSocket):
    """lilya_ws's WebSocket with Starlette's url_for, session, user and auth."""

    @property
    def connection(self) -> HTTPConnection:
        scope = self.scope
        return HTTPConnection(scope if isinstance(scope, MutableMapping) else dict(scope))

    def url_for(self, name: str, /, **path_params: Any) -> URL:
        return self.connection.url_for(name, **path_params)

    @property
    def session(self) -> dict[str, Any]:
        return self.connection.session

    @property
    def user(self) -> Any:
        return self.connection.user

    @property
    def auth(self) -> Any:
        return self.connection.auth


class Profile:
    """A WebSocket app that sends the URL of another route and who is connected; a
    class, so Starlette's ``WebSocketRoute`` calls it as an ASGI app."""

    async def __call__(self, scope: Scope, receive: Receive, send: Send) -> None:
        websocket = WebSocket(scope, receive, send)
        await websocket.accept()
        url = websocket.url_for("room", room="lobby")
        assert_type(url, URL)
        assert_type(websocket.url, lilya_ws.URL)  # lilya_ws's own attributes are kept
        assert_type(websocket.session, dict[str, Any])
        await websocket.send_json(
            {
                "room_url": str(url),
                "user": websocket.user.display_name,
                "visits": websocket.session.get("visits", 0),
            }
        )
        await websocket.close()


@lilya_ws.endpoint
async def room(websocket: lilya_ws.WebSocket) -> None:
    await websocket.accept()
    await websocket.send_text(websocket.path_params["room"])


app = Starlette(
    routes=[
        WebSocketRoute("/profile", Profile(), name="profile"),
        WebSocketRoute("/rooms/{room}", room, name="room"),
    ]
)
