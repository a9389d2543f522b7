"""An in-process WebSocket test client that can speak each server's dialect.

The app runs as a task on the test's own event loop, fed through in-memory
streams: no threads, no polling. It runs under asyncio and trio alike (through ``anyio``,
which this package needs: ``pip install 'lilya-ws[testing]'``; the library
itself does not). A ``Dialect`` reproduces what one real server puts in the
scope and its messages, and how it treats sends after the client left; the
presets are named as the adapters' configurations (``uvicorn-websockets``,
``hypercorn-trio``...) and derived from their measured facts (``lilya_ws.servers``).

Example:
    async def test_echo() -> None:
        async with connect(app, "/echo?room=1", dialect="hypercorn-asyncio") as ws:
            await ws.send_text("hi")
            assert await ws.receive_text(timeout=1) == "hi"

Plain (sync) tests use ``connect_sync`` the same way; it runs the event loop
(``backend="asyncio"`` or ``"trio"``) in an anyio portal thread that sleeps
until the test calls.

The parts: ``_dialects`` (the presets), ``_scope`` (the scope a handshake
gets), ``_client`` (the connection, ``TestWebSocket`` and ``connect``) and
``_sync`` (``connect_sync``).
"""

from lilya_ws.testing._client import DEFAULT_TIMEOUT as DEFAULT_TIMEOUT
from lilya_ws.testing._client import AppReceive as AppReceive
from lilya_ws.testing._client import AppSend as AppSend
from lilya_ws.testing._client import ClientGone as ClientGone
from lilya_ws.testing._client import HandshakeRejected, TestWebSocket, connect
from lilya_ws.testing._client import TestApp as TestApp
from lilya_ws.testing._dialects import ALIASES, DIALECTS, Dialect, get_dialect, preset
from lilya_ws.testing._scope import build_scope as build_scope
from lilya_ws.testing._sync import Backend, SyncTestWebSocket, connect_sync

# ``__all__`` is as it was before the split; the ``X as X`` imports above re-export
# what tests import besides it (build_scope, ClientGone, the app's types).
__all__ = [
    "ALIASES",
    "DIALECTS",
    "Backend",
    "Dialect",
    "HandshakeRejected",
    "SyncTestWebSocket",
    "TestWebSocket",
    "connect",
    "connect_sync",
    "get_dialect",
    "preset",
]
