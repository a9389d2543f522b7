"""An app typed with ``lilya_ws.types`` (the seed's imports) under mypy --strict."""

from __future__ import annotations

from typing import Any

from typing_extensions import assert_type

from lilya_ws.types import ASGIApp, Receive, Scope, Send
from lilya_ws.websockets import WebSocket


async def app(scope: Scope, receive: Receive, send: Send) -> None:
    websocket = WebSocket(scope=scope, receive=receive, send=send)
    assert_type(websocket["path"], str)  # well-known scope keys are typed
    assert_type(websocket["query_string"], bytes)
    assert_type(websocket["anything"], Any)
    assert_type(await websocket.receive_json(decoder=int), int)
    await websocket.accept()
    message = await websocket.receive()  # a tagged union of the receive TypedDicts
    if message["type"] == "websocket.receive":
        assert_type(message.get("text"), "str | None")
    elif message["type"] == "websocket.disconnect":
        assert_type(message.get("code"), "int | None")
    await websocket.send({"type": "websocket.send", "text": "raw, typed message"})
    # The made data methods are typed like written ones, parameter names included.
    await websocket.send_text(data="by keyword")
    await websocket.send_bytes(bytearray(b"copied"))
    assert_type(await websocket.receive_bytes(), bytes)
    async for text in websocket.iter_text():
        assert_type(text, str)
    await send({"type": "websocket.close"})  # optional keys may be left out


class TrimmingWebSocket(WebSocket):
    """A subclass may override the made data methods like written ones."""

    async def receive_text(self) -> str:
        return (await super().receive_text()).strip()

    async def send_text(self, data: str) -> None:
        await super().send_text(data.strip())


typed: ASGIApp = app
