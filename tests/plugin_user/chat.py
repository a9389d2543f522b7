"""A user's app, as a project would keep it in ``myproject/asgi.py``."""

from __future__ import annotations

import asyncio

from lilya_ws import WebSocket, endpoint


@endpoint
async def app(websocket: WebSocket) -> None:
    await websocket.accept()
    async for text in websocket.iter_text():
        await websocket.send_text(text)


@endpoint
async def asyncio_only(websocket: WebSocket) -> None:
    """The same echo, written as if every server ran asyncio: under hypercorn's trio
    worker ``get_running_loop()`` raises, so that cell, and only that one, fails."""
    await websocket.accept()
    async for text in websocket.iter_text():
        asyncio.get_running_loop()
        await websocket.send_text(text)
