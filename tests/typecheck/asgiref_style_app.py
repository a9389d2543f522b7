"""An app typed with ``asgiref.typing`` builds a WebSocket with no cast (mypy --strict)."""

from __future__ import annotations

from asgiref.typing import ASGIReceiveCallable, ASGISendCallable, WebSocketScope

from lilya_ws import WebSocket


async def app(scope: WebSocketScope, receive: ASGIReceiveCallable, send: ASGISendCallable) -> None:
    websocket = WebSocket(scope, receive, send)
    await websocket.accept()
    text: str = await websocket.receive_text()
    await websocket.send_text(text)
    await websocket.close()
