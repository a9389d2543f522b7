"""A raw ASGI echo app: accepts any WebSocket and sends every message back unchanged.

Serve it with ``python -m adapters serve uvicorn-wsproto adapters.echo_app:app``.
"""

from __future__ import annotations

from adapters.raw_asgi import Receive, Scope, Send, not_found, serve_lifespan


async def app(scope: Scope, receive: Receive, send: Send) -> None:
    """Echo text as text and bytes as bytes until the client goes away."""
    if scope["type"] == "lifespan":
        await serve_lifespan(receive, send)
        return
    if scope["type"] != "websocket":
        await not_found(send)
        return
    while True:
        message = await receive()
        if message["type"] == "websocket.connect":
            await send({"type": "websocket.accept"})
        elif message["type"] == "websocket.receive":
            text = message.get("text")
            if isinstance(text, str):
                await send({"type": "websocket.send", "text": text})
            else:
                await send({"type": "websocket.send", "bytes": message.get("bytes")})
        else:
            return
