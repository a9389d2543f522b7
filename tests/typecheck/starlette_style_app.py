"""An app typed the Starlette/Lilya way (``MutableMapping[str, Any]`` messages)
builds a WebSocket with no cast (mypy --strict)."""

from __future__ import annotations

from collections.abc import Awaitable, Callable, MutableMapping
from typing import Any

from lilya_ws import WebSocket

Scope = MutableMapping[str, Any]
Message = MutableMapping[str, Any]
Receive = Callable[[], Awaitable[Message]]
Send = Callable[[Message], Awaitable[None]]


async def app(scope: Scope, receive: Receive, send: Send) -> None:
    websocket = WebSocket(scope=scope, receive=receive, send=send)
    await websocket.accept()
    data: bytes = await websocket.receive_bytes()
    await websocket.send_bytes(data)
    await websocket.close()
