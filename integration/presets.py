"""A bridge: ``integration.apps:app`` served through a ``lilya_ws.testing`` preset.

An in-process ``websockets`` server on 127.0.0.1 (a free port) where each
connection is a ``lilya_ws.testing.connect(app, ..., dialect=preset)``: the
app sees the scope and messages the preset's server would give it, and the
matrix's checks (``integration.checks``) reach it over a real socket, as they
reach a real server. The bridge's own protocol layer (``websockets``) answers
what a server's protocol layer answers before the app acts (malformed frames,
size limits, the reply to the client's close frame): those rows are the real
servers' to show, not the presets'.

Every wait is bounded; leaving ``serve_preset`` leaves no task running.
"""

from __future__ import annotations

import asyncio
import contextlib
from collections.abc import AsyncIterator, Awaitable, Callable, Mapping, Sequence
from dataclasses import dataclass, field
from typing import Final, TypeAlias

from websockets.asyncio.server import ServerConnection, serve
from websockets.datastructures import Headers
from websockets.exceptions import ConnectionClosed
from websockets.http11 import Request, Response
from websockets.typing import Subprotocol

from integration.apps import app as scenario_app
from integration.client import Target
from lilya_ws.errors import ReceiveTimeout, WebSocketDisconnect
from lilya_ws.testing import HandshakeRejected, TestWebSocket, connect

__all__ = ["MAX_SIZE", "serve_preset"]

RawApp: TypeAlias = Callable[..., Awaitable[None]]
MAX_SIZE: Final = 16 * 1024 * 1024
"""The inbound limit of the real servers (uvicorn, hypercorn, granian)."""
APP_TIMEOUT: Final = 35.0
"""How long a connection's app may take to end once the connection is over (the
scenario apps end within their own deadline, 30 s)."""
CLOSE_TIMEOUT: Final = 5.0
_BUILT_BY_CONNECT: Final = frozenset(
    {
        "host",
        "connection",
        "upgrade",
        "sec-websocket-version",
        "sec-websocket-key",
        "sec-websocket-protocol",
    }
)
"""Request headers ``lilya_ws.testing`` builds itself."""
_STATUS_PHRASES: Final[Mapping[int, str]] = {403: "Forbidden", 500: "Internal Server Error"}


@dataclass
class _Session:
    """One connection's ``TestWebSocket``, owned by its own task from open to close."""

    opened: asyncio.Future[TestWebSocket]
    finish: asyncio.Event = field(default_factory=asyncio.Event)
    task: asyncio.Task[None] | None = None
    app_closed: bool = False


class _Bridge:
    def __init__(self, app: RawApp, preset: str, host: str) -> None:
        self._app = app
        self._preset = preset
        self._host = host
        self.port = 0
        self._sessions: dict[ServerConnection, _Session] = {}
        self.errors: list[str] = []
        """The apps' own exceptions, as a server would log them."""

    async def _own(
        self, session: _Session, url: str, headers: list[tuple[str, str]], offered: list[str]
    ) -> None:
        try:
            async with connect(
                self._app,
                url,
                headers=headers,
                subprotocols=offered,
                dialect=self._preset,
                timeout=APP_TIMEOUT,
            ) as ws:
                session.opened.set_result(ws)
                await session.finish.wait()
        except BaseException as exc:
            if not session.opened.done():
                session.opened.set_exception(
                    exc if isinstance(exc, Exception) else RuntimeError(exc)
                )
            elif isinstance(exc, Exception):
                self.errors.append(f"{type(exc).__qualname__}: {exc}")
            if not isinstance(exc, Exception):
                raise

    async def process_request(
        self, connection: ServerConnection, request: Request
    ) -> Response | None:
        headers = [
            (k, v) for k, v in request.headers.raw_items() if k.lower() not in _BUILT_BY_CONNECT
        ]
        offered = [
            token.strip()
            for value in request.headers.get_all("Sec-WebSocket-Protocol")
            for token in value.split(",")
            if token.strip()
        ]
        url = f"ws://{self._host}:{self.port}{request.path}"
        session = _Session(asyncio.get_running_loop().create_future())
        session.task = asyncio.create_task(self._own(session, url, headers, offered))
        try:
            await asyncio.wait_for(asyncio.shield(session.opened), APP_TIMEOUT)
        except HandshakeRejected as rejected:
            await self._end(session)
            return _http_response(rejected.status, rejected.headers, rejected.body)
        except Exception as exc:
            session.finish.set()
            await self._end(session)
            self.errors.append(f"{type(exc).__qualname__}: {exc}")
            return _http_response(500, [], b"Internal Server Error")
        self._sessions[connection] = session
        return None

    def select_subprotocol(
        self, connection: ServerConnection, subprotocols: Sequence[Subprotocol]
    ) -> Subprotocol | None:
        session = self._sessions.get(connection)
        if session is None or not session.opened.done() or session.opened.exception():
            return None
        chosen = session.opened.result().subprotocol
        return None if chosen is None else Subprotocol(chosen)

    async def process_response(
        self, connection: ServerConnection, request: Request, response: Response
    ) -> Response | None:
        session = self._sessions.get(connection)
        if session is None:
            return None
        if response.status_code != 101:  # the handshake failed after the app accepted
            del self._sessions[connection]
            session.finish.set()
            await self._end(session)
            return None
        for name, value in session.opened.result().accept_headers:
            response.headers[name.decode("latin-1")] = value.decode("latin-1")
        return None

    async def handler(self, connection: ServerConnection) -> None:
        session = self._sessions.pop(connection)
        ws = session.opened.result()
        to_client = asyncio.create_task(self._to_client(connection, ws, session))
        try:
            await self._from_client(connection, ws, session)
            with contextlib.suppress(asyncio.TimeoutError):
                await asyncio.wait_for(asyncio.shield(to_client), APP_TIMEOUT)
        finally:
            to_client.cancel()
            with contextlib.suppress(asyncio.CancelledError):
                await to_client
            session.finish.set()
            await self._end(session)

    async def _from_client(
        self, connection: ServerConnection, ws: TestWebSocket, session: _Session
    ) -> None:
        """Client frames to the app until the connection ends; then the client's close
        frame (or its absence: a dropped connection) to the app."""
        try:
            async for message in connection:
                if isinstance(message, str):
                    await ws.send_text(message)
                else:
                    await ws.send_bytes(message)
        except ConnectionClosed:
            pass
        except RuntimeError:  # the app closed: the client's frames go nowhere
            pass
        if session.app_closed:
            return
        received = connection.protocol.close_rcvd
        if received is not None:
            await ws.close(received.code, received.reason)
        else:
            await ws.abort()

    async def _to_client(
        self, connection: ServerConnection, ws: TestWebSocket, session: _Session
    ) -> None:
        """The app's messages to the client; its close (or its end) closes the connection."""
        code, reason = 1000, ""
        while True:
            receiving = asyncio.ensure_future(ws.receive(APP_TIMEOUT))
            ended = asyncio.ensure_future(_app_ended(ws))
            try:
                done, _ = await asyncio.wait(
                    {receiving, ended}, return_when=asyncio.FIRST_COMPLETED
                )
                if receiving not in done:
                    # The app ended: whatever it sent before is already queued.
                    await asyncio.wait({receiving}, timeout=0.2)
            finally:
                for future in (receiving, ended):
                    future.cancel()
                await asyncio.gather(receiving, ended, return_exceptions=True)
            if receiving.cancelled():
                break  # the app returned without closing
            error = receiving.exception()
            if isinstance(error, WebSocketDisconnect):
                code, reason = error.code, error.reason or ""
                break
            if isinstance(error, ReceiveTimeout):
                continue
            if error is not None:  # the app crashed after accepting
                self.errors.append(f"{type(error).__qualname__}: {error}")
                code, reason = 1011, ""
                break
            with contextlib.suppress(ConnectionClosed):
                await connection.send(receiving.result())
        session.app_closed = True
        with contextlib.suppress(ConnectionClosed):
            await asyncio.wait_for(connection.close(*_wire_close(code, reason)), CLOSE_TIMEOUT)

    async def end_all(self) -> None:
        sessions, self._sessions = list(self._sessions.values()), {}
        for session in sessions:
            session.finish.set()
            await self._end(session)

    async def _end(self, session: _Session) -> None:
        task = session.task
        if task is None:
            return
        try:
            await asyncio.wait_for(asyncio.shield(task), APP_TIMEOUT + CLOSE_TIMEOUT)
        except asyncio.TimeoutError:
            task.cancel()
            with contextlib.suppress(asyncio.CancelledError):
                await task
        except Exception as exc:
            self.errors.append(f"{type(exc).__qualname__}: {exc}")


async def _app_ended(ws: TestWebSocket) -> None:
    """Until the app's task has ended (the test client keeps no public handle on it)."""
    await ws._app_done.wait()


def _wire_close(code: int, reason: str) -> tuple[int, str]:
    """A close frame ``websockets`` can send for the app's code (1005: a frame without one)."""
    if code in (1005, 1006):
        return 1005, ""
    return code, reason


def _http_response(status: int, headers: list[tuple[bytes, bytes]], body: bytes) -> Response:
    kept = Headers()
    for name, value in headers:
        if name.lower() not in (b"content-length", b"transfer-encoding", b"connection"):
            kept[name.decode("latin-1")] = value.decode("latin-1")
    kept["Content-Length"] = str(len(body))
    kept["Connection"] = "close"
    return Response(status, _STATUS_PHRASES.get(status, "Refused"), kept, body)


@contextlib.asynccontextmanager
async def serve_preset(
    preset: str, app: RawApp = scenario_app, host: str = "127.0.0.1"
) -> AsyncIterator[Target]:
    """Serve ``app`` through ``preset`` on ``host`` (a free port): the ``Target`` to check."""
    bridge = _Bridge(app, preset, host)
    server = await serve(
        bridge.handler,
        host,
        0,
        process_request=bridge.process_request,
        process_response=bridge.process_response,
        select_subprotocol=bridge.select_subprotocol,
        max_size=MAX_SIZE,
        ping_interval=None,
        close_timeout=CLOSE_TIMEOUT,
    )
    try:
        bridge.port = int(next(iter(server.sockets)).getsockname()[1])
        yield Target(preset, f"ws://{host}:{bridge.port}")
    finally:
        server.close()
        await asyncio.wait_for(server.wait_closed(), APP_TIMEOUT + 2 * CLOSE_TIMEOUT)
        await bridge.end_all()  # sessions whose handshake failed after the app accepted
