"""A whole app (lifespan, HTTP and a WebSocket endpoint) typed with ``lilya_ws.types``
alone: mypy --strict, no assert, no cast."""

from __future__ import annotations

from lilya_ws import WebSocket
from lilya_ws.types import (
    ASGIApp,
    HTTPResponseStartEvent,
    Receive,
    Scope,
    Send,
)


async def lifespan(scope: Scope, receive: Receive, send: Send) -> None:
    while True:
        message = await receive()
        if message["type"] == "lifespan.startup":
            if "state" not in scope:
                await send({"type": "lifespan.startup.failed", "message": "needs lifespan state"})
                return
            scope["state"]["greeting"] = "hello"
            await send({"type": "lifespan.startup.complete"})
        elif message["type"] == "lifespan.shutdown":
            await send({"type": "lifespan.shutdown.complete"})
            return


async def http(scope: Scope, receive: Receive, send: Send) -> None:
    body = b""
    while True:
        message = await receive()
        if message["type"] == "http.disconnect":
            return
        chunk: bytes = message.get("body", b"")
        body += chunk
        if not message.get("more_body", False):
            break
    start: HTTPResponseStartEvent = {
        "type": "http.response.start",
        "status": 200,
        "headers": [(b"content-type", b"application/octet-stream")],
    }
    await send(start)
    await send({"type": "http.response.body", "body": body})


async def echo(scope: Scope, receive: Receive, send: Send) -> None:
    websocket = WebSocket(scope, receive, send)
    await websocket.accept()
    async for text in websocket.iter_text():
        await websocket.send_text(f"{websocket.state.greeting}, {text}")


async def app(scope: Scope, receive: Receive, send: Send) -> None:
    if scope["type"] == "lifespan":
        await lifespan(scope, receive, send)
    elif scope["type"] == "http":
        await http(scope, receive, send)
    else:
        await echo(scope, receive, send)


typed: ASGIApp = app
