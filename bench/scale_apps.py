"""Push apps for ``bench.scale``: what an idle connection costs when the app is not receiving.

An echo app always has its own ``receive()`` pending, so lilya_ws never reads ahead
there. An app that only sends (a feed, a notifier) leaves lilya_ws to keep a
``receive()`` pending itself (``lilya_ws/readahead.py``: one task per connection),
so that a send learns that the peer left. ``raw_push`` is the same app in raw
ASGI with nothing pending: the cheapest possible, and the one that never learns
of a departure under hypercorn, daphne or granian. Both send a message every
``INTERVAL`` seconds, longer than a benchmark run, so every connection stays idle.

Example: ``python -m bench.scale --apps raw_push,lilya_ws_push --windows 0``.
"""

from __future__ import annotations

from typing import Final

import anyio

from adapters.raw_asgi import websocket_only
from bench.apps import Receive, Scope, Send
from lilya_ws import WebSocket, WebSocketDisconnect

INTERVAL: Final = 3600.0
"""Seconds between two pushes: the connections stay idle for a whole run."""


@websocket_only
async def raw_push(scope: Scope, receive: Receive, send: Send) -> None:
    """Accept, then push; never receive (a departure shows only if a send fails)."""
    await receive()
    await send({"type": "websocket.accept"})
    while True:
        await anyio.sleep(INTERVAL)  # the app's own schedule (anyio: asyncio and trio)
        await send({"type": "websocket.send", "text": "tick"})


@websocket_only
async def lilya_ws_push(scope: Scope, receive: Receive, send: Send) -> None:
    """Accept, then push; never receive: lilya_ws reads ahead to learn of a departure."""
    websocket = WebSocket(scope, receive, send)
    await websocket.accept()
    try:
        while True:
            await anyio.sleep(INTERVAL)
            await websocket.send_text("tick")
    except WebSocketDisconnect:
        pass
