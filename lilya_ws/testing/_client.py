"""The in-process connection: the test's ``TestWebSocket`` and the server it plays.

One object holds both ends of two in-memory streams, so the app runs as a task
on the test's own event loop: no threads, no polling. Where a real server would
differ (the messages' keys, close codes, a send after the client left), it
follows its ``Dialect``.
"""

from __future__ import annotations

import enum
import math
from collections.abc import AsyncIterator, Iterable, Mapping, Sequence
from contextlib import asynccontextmanager
from dataclasses import dataclass, field
from typing import TYPE_CHECKING, Any, Final, Literal, Union

try:
    import anyio
except ImportError as error:  # pragma: no cover - the library itself runs without anyio
    raise ImportError("lilya_ws.testing needs anyio: pip install 'lilya-ws[testing]'") from error

from lilya_ws.errors import ReceiveTimeout, WebSocketDisconnect
from lilya_ws.json import JSONCodec, StdlibCodec
from lilya_ws.testing._dialects import Dialect, get_dialect
from lilya_ws.testing._scope import build_scope

if TYPE_CHECKING:
    from collections.abc import Awaitable, Callable
    from typing import TypeAlias

    from anyio.abc import TaskGroup

AppReceive: TypeAlias = "Callable[[], Awaitable[dict[str, Any]]]"
AppSend: TypeAlias = "Callable[[Mapping[str, Any]], Awaitable[None]]"
TestApp: TypeAlias = "Callable[[dict[str, Any], AppReceive, AppSend], Awaitable[None]]"
"""Any ASGI app typed the lilya_ws or the Starlette/Lilya way."""
_Event: TypeAlias = Union[str, bytes, "_Closed", "_Crashed"]

DEFAULT_TIMEOUT: Final = 5.0


class _CloseCode(enum.IntEnum):
    """Stand-in for the ``IntEnum`` close codes some servers hand to the app."""

    NORMAL = 1000
    GOING_AWAY = 1001
    PROTOCOL_ERROR = 1002
    NO_STATUS = 1005
    ABNORMAL = 1006


class HandshakeRejected(Exception):
    """The app refused the handshake: HTTP 403 on close-before-accept, or its denial response."""

    def __init__(self, status: int, headers: list[tuple[bytes, bytes]], body: bytes) -> None:
        self.status = status
        self.headers = headers
        self.body = body
        super().__init__(f"Handshake rejected with HTTP {status}")


class ClientGone(OSError):
    """What an ``oserror`` dialect raises from ``send`` once the client has left."""


@dataclass
class _Closed:
    code: int
    reason: str


@dataclass
class _Crashed:
    error: BaseException


@dataclass
class _Handshake:
    """What the app answered to the handshake, filled by the app's ``send``."""

    done: anyio.Event = field(default_factory=anyio.Event)
    error: BaseException | None = None
    """The app's exception when it failed before answering."""
    status: int | None = None
    response_headers: list[tuple[bytes, bytes]] = field(default_factory=list)
    body: list[bytes] = field(default_factory=list)

    def fail(self, error: BaseException) -> None:
        self.error = error
        self.done.set()


class TestWebSocket:
    """The client side of an in-process connection (use ``connect``)."""

    __test__ = False  # not a pytest test class

    def __init__(
        self, app: TestApp, scope: dict[str, Any], dialect: Dialect, timeout: float
    ) -> None:
        self._app = app
        self._timeout = timeout
        self.scope = scope
        self.dialect = dialect
        # Unbounded in-memory streams: sends never block, receives wait without polling.
        self._to_app, self._app_inbox = anyio.create_memory_object_stream[dict[str, Any]](math.inf)
        self._from_app, self._inbox = anyio.create_memory_object_stream[_Event](math.inf)
        self._handshake = _Handshake()
        self._app_scope = anyio.CancelScope()
        self._app_done = anyio.Event()
        self._client_gone = False
        self._app_closed = False
        self._final: _Closed | None = None
        self.subprotocol: str | None = None
        """The subprotocol the app chose in ``accept``."""
        self.accept_headers: list[tuple[bytes, bytes]] = []
        """The extra headers the app sent with ``accept`` (as the server delivers them)."""
        self.close_code: int | None = None
        """The code the app closed with, once a receive has seen it."""
        self.close_reason: str | None = None

    # The app's side of the channel, shaped by the dialect.

    async def _app_receive(self) -> dict[str, Any]:
        return await self._app_inbox.receive()

    async def _app_send(self, message: Mapping[str, Any]) -> None:
        mtype = message["type"]
        if not self._handshake.done.is_set():
            self._on_handshake_message(mtype, message)
            return
        if self._client_gone:
            self._send_after_close(mtype)
            return
        if mtype == "websocket.send":
            text, data = message.get("text"), message.get("bytes")
            payload: str | bytes = text if text is not None else bytes(data or b"")
            if text is not None and not text.isascii():
                try:
                    text.encode("utf-8")  # what the server puts on the wire
                except UnicodeEncodeError:
                    if not self.dialect.empties_unencodable_text:
                        raise
                    payload = ""
            if payload or not self.dialect.drops_empty_sends:
                self._from_app.send_nowait(payload)
        elif mtype == "websocket.close":
            code = message.get("code", 1000)
            allowed = self.dialect.close_codes
            if allowed is not None and not any(code in codes for codes in allowed):
                raise Exception(f"invalid close code {code}")
            reason = message.get("reason") or "" if self.dialect.close_reason else ""
            self._app_closed = True
            self._from_app.send_nowait(_Closed(code, reason))
            self._to_app.send_nowait(self._disconnect(code, reason))
        else:
            raise RuntimeError(f"Unexpected ASGI message {mtype!r} after the handshake")

    def _on_handshake_message(self, mtype: str, message: Mapping[str, Any]) -> None:
        handshake = self._handshake
        if mtype == "websocket.accept":
            self.subprotocol = message.get("subprotocol")
            if self.dialect.accept_headers:
                self.accept_headers = list(message.get("headers") or ())
            handshake.done.set()
        elif mtype == "websocket.close":
            handshake.status = 403
            handshake.done.set()
            self._to_app.send_nowait(self._disconnect(1006, ""))
        elif mtype == "websocket.http.response.start" and self.dialect.denial_extension:
            handshake.status = message["status"]
            handshake.response_headers = list(message.get("headers") or ())
        elif mtype == "websocket.http.response.body" and handshake.status is not None:
            more = message.get("more_body", False)
            if more and not self.dialect.streamed_denial:
                raise RuntimeError(f"Unsupported ASGI message {mtype!r} with more_body")
            handshake.body.append(message.get("body", b""))
            if not more:
                handshake.done.set()
                self._to_app.send_nowait(self._disconnect(1006, ""))
        else:
            raise RuntimeError(f"Unexpected ASGI message {mtype!r} during the handshake")

    def _send_after_close(self, mtype: str) -> None:
        behaviour = self.dialect.send_after_close
        if behaviour == "oserror":
            raise ClientGone(f"Cannot send {mtype!r}: the client has disconnected")
        if behaviour == "runtimeerror":
            raise RuntimeError(f"Unexpected ASGI message {mtype!r}, the connection is closed")

    def _disconnect(self, code: int, reason: str) -> dict[str, Any]:
        wire_code: int = (
            _CloseCode(code)
            if self.dialect.code_as_intenum and code in _CloseCode.__members__.values()
            else code
        )
        message: dict[str, Any] = {"type": "websocket.disconnect", "code": wire_code}
        if self.dialect.disconnect_reason:
            message["reason"] = reason
        return message

    # Lifecycle.

    async def _run_app(self) -> None:
        """The app's task: its exception is kept for the test, never left to the task group."""
        handshake = self._handshake
        try:
            with self._app_scope:
                try:
                    await self._app(self.scope, self._app_receive, self._app_send)
                except Exception as error:
                    if not handshake.done.is_set():
                        handshake.fail(error)
                    else:
                        self._from_app.send_nowait(_Crashed(error))
                else:
                    if not handshake.done.is_set():
                        handshake.fail(
                            RuntimeError("The app returned without answering the handshake")
                        )
        finally:
            self._app_done.set()

    async def _open(self, tasks: TaskGroup) -> None:
        timeout = self._timeout
        self._to_app.send_nowait({"type": "websocket.connect"})
        tasks.start_soon(self._run_app)
        with anyio.move_on_after(timeout):
            await self._handshake.done.wait()
        handshake = self._handshake
        if not handshake.done.is_set():
            await self._stop()
            raise ReceiveTimeout(f"The app did not answer the handshake within {timeout} s")
        if handshake.error is not None:
            raise handshake.error
        if handshake.status is not None:
            await self._stop()
            raise HandshakeRejected(
                handshake.status, handshake.response_headers, b"".join(handshake.body)
            )

    async def _stop(self) -> None:
        """Tell the app the client is gone, then wait for it (bounded by the connect
        timeout, then cancelled) and surface its error."""
        done = self._app_done
        if not self._client_gone and not self._app_closed and not done.is_set():
            self._client_gone = True
            self._to_app.send_nowait(self._disconnect(1000, ""))
        with anyio.move_on_after(self._timeout):
            await done.wait()
        if not done.is_set():
            self._app_scope.cancel()
            await done.wait()
        while True:
            try:
                event = self._inbox.receive_nowait()
            except anyio.WouldBlock:
                break
            if isinstance(event, _Crashed):
                raise event.error

    def _close_streams(self) -> None:
        for stream in (self._to_app, self._app_inbox, self._from_app, self._inbox):
            stream.close()

    # What a test does.

    async def send_text(self, data: str) -> None:
        self._to_app.send_nowait(self._received(text=data))

    async def send_bytes(self, data: bytes) -> None:
        self._to_app.send_nowait(self._received(data=data))

    async def send_json(
        self, value: Any, mode: Literal["text", "binary"] = "text", codec: JSONCodec | None = None
    ) -> None:
        codec = codec or _CODEC
        if mode == "text":
            await self.send_text(codec.encode_text(value))
        else:
            await self.send_bytes(codec.encode_bytes(value))

    def _received(self, *, text: str | None = None, data: bytes | None = None) -> dict[str, Any]:
        if self._client_gone:
            raise RuntimeError("The client has already closed this connection")
        message: dict[str, Any] = {"type": "websocket.receive"}
        if text is not None or self.dialect.receive_both_keys:
            message["text"] = text
        if data is not None or self.dialect.receive_both_keys:
            message["bytes"] = data
        return message

    async def receive(self, timeout: float = DEFAULT_TIMEOUT) -> str | bytes:
        """The app's next message; ``WebSocketDisconnect`` once the app closed.

        Raises ``ReceiveTimeout`` when nothing arrives in ``timeout`` seconds and
        re-raises the app's own exception if it crashed.
        """
        if self._final is not None:  # stays closed for later receives
            raise WebSocketDisconnect(self._final.code, self._final.reason)
        try:
            with anyio.fail_after(timeout):
                event = await self._inbox.receive()
        except TimeoutError:
            raise ReceiveTimeout(f"Nothing received from the app within {timeout} s") from None
        if isinstance(event, _Closed):
            self.close_code, self.close_reason = event.code, event.reason
            self._final = event
            raise WebSocketDisconnect(event.code, event.reason)
        if isinstance(event, _Crashed):
            raise event.error
        return event

    async def receive_text(self, timeout: float = DEFAULT_TIMEOUT) -> str:
        message = await self.receive(timeout)
        if not isinstance(message, str):
            raise AssertionError(f"Expected a text message, received bytes {message!r}")
        return message

    async def receive_bytes(self, timeout: float = DEFAULT_TIMEOUT) -> bytes:
        message = await self.receive(timeout)
        if not isinstance(message, bytes):
            raise AssertionError(f"Expected a bytes message, received text {message!r}")
        return message

    async def receive_json(
        self,
        mode: Literal["text", "binary"] = "text",
        timeout: float = DEFAULT_TIMEOUT,
        codec: JSONCodec | None = None,
    ) -> Any:
        message = await (
            self.receive_text(timeout) if mode == "text" else self.receive_bytes(timeout)
        )
        return (codec or _CODEC).decode(message)

    async def close(self, code: int = 1000, reason: str = "") -> None:
        """Close from the client side with a close frame."""
        if not self._client_gone:
            self._client_gone = True
            code = self.dialect.clean_close_code or code
            self._to_app.send_nowait(self._disconnect(code, reason))

    async def abort(self) -> None:
        """Drop the connection without a close frame, like a reset TCP socket."""
        if not self._client_gone:
            self._client_gone = True
            self._to_app.send_nowait(self._disconnect(self.dialect.abrupt_close_code, ""))


_CODEC: Final = StdlibCodec()


@asynccontextmanager
async def connect(
    app: TestApp,
    url: str = "/",
    *,
    headers: Mapping[str, str] | Iterable[tuple[str, str]] = (),
    subprotocols: Sequence[str] = (),
    dialect: str | Dialect = "spec",
    timeout: float = DEFAULT_TIMEOUT,
) -> AsyncIterator[TestWebSocket]:
    """Open an in-process WebSocket to ``app`` at ``url`` (a path, with a query if any).

    Works under asyncio and trio. ``dialect`` is a preset's name (``DIALECTS``:
    the adapters' configuration names, ``spec``, or a former name in ``ALIASES``)
    or a ``Dialect``. Raises ``HandshakeRejected`` when the app closes before
    accepting or denies with an HTTP response, and the app's own exception if it
    crashed. On exit the client disconnects (code 1000), the app gets ``timeout``
    seconds to finish before it is cancelled, and any exception it raised is
    re-raised here.
    """
    chosen = get_dialect(dialect)
    failure: Exception | None = None
    ws = TestWebSocket(app, build_scope(url, chosen, headers, subprotocols), chosen, timeout)
    try:
        async with anyio.create_task_group() as tasks:
            try:
                await ws._open(tasks)
                try:
                    yield ws
                finally:
                    await ws._stop()
            except Exception as error:
                # Raised below, outside the task group, so it is not wrapped in an
                # ExceptionGroup: a test's pytest.raises sees the error itself.
                failure = error
                tasks.cancel_scope.cancel()
    finally:
        ws._close_streams()
    if failure is not None:
        raise failure
