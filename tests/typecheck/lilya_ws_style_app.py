"""An app typed with ``lilya_ws.types`` (the seed's imports) under mypy --strict."""

from __future__ import annotations

from lilya_ws.types import ASGIApp, Receive, Scope, Send
from lilya_ws.websockets import WebSocket


async def app(scope: Scope, receive: Receive, send: Send) -> None:
    websocket = WebSocket(scope=scope, receive=receive, send=send)
    await websocket.accept()
    await websocket.send({"type": "websocket.send", "text": "raw, typed message"})
    await send({"type": "websocket.close"})  # optional keys may be left out


typed: ASGIApp = app
