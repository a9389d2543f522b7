"""A raw ASGI echo app: accepts any WebSocket and sends every message back unchanged.

Serve it with ``python -m adapters serve uvicorn-wsproto adapters.echo_app:app``.
"""

from __future__ import annotations

from .raw_asgi import AnyReceive, AnySend, Scope, websocket_only


async def echo(scope: Scope, receive: AnyReceive, send: AnySend) -> None:
    """Echo text as text and bytes as bytes until the client goes away (some servers
    send ``text`` and ``bytes`` both, one of them ``None``)."""
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


app = websocket_only(echo)
