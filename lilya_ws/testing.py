"""An in-process WebSocket test client that can speak each server's dialect.

The app runs as a task on the test's own event loop, fed through in-memory
streams: no threads, no polling. It runs under asyncio and trio alike (through ``anyio``,
which this module needs: ``pip install 'lilya-ws[testing]'``; the library
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
"""

from __future__ import annotations

import base64
import enum
import math
import os
from collections.abc import AsyncIterator, Iterable, Iterator, Mapping, Sequence
from contextlib import asynccontextmanager, contextmanager
from dataclasses import dataclass, field
from typing import TYPE_CHECKING, Any, Final, Literal, Union
from urllib.parse import unquote, urlsplit

try:
    import anyio
    from anyio.from_thread import start_blocking_portal
except ImportError as error:  # pragma: no cover - the library itself runs without anyio
    raise ImportError("lilya_ws.testing needs anyio: pip install 'lilya-ws[testing]'") from error

from lilya_ws.errors import ReceiveTimeout, WebSocketDisconnect
from lilya_ws.json import JSONCodec, StdlibCodec
from lilya_ws.servers import (
    DENIAL_RESPONSE_EXTENSION,
    PROBE_CLOSE_CODE,
    SERVERS,
    SendAfterClose,
    Server,
)

if TYPE_CHECKING:
    from collections.abc import Awaitable, Callable
    from typing import TypeAlias

    from anyio.abc import TaskGroup
    from anyio.from_thread import BlockingPortal

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

Backend: TypeAlias = Literal["asyncio", "trio"]
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


@dataclass(frozen=True)
class Dialect:
    """How one server speaks ASGI WebSocket, as measured (``adapters/DIALECTS.md``)."""

    name: str
    spec_version: str | None
    """``scope["asgi"]["spec_version"]``; None leaves the key out (ASGI: 2.0)."""
    denial_extension: bool
    """``websocket.http.response`` is in ``scope["extensions"]``."""
    extra_extensions: tuple[str, ...] = ()
    has_extensions: bool = True
    has_scheme: bool = True
    has_http_version: bool = True
    has_state: bool = True
    client_as: Literal["tuple", "list", "str-port"] = "tuple"
    """How the scope's ``client``/``server`` pairs look (granian: the port is a str)."""
    receive_both_keys: bool = False
    """``websocket.receive`` carries ``text`` and ``bytes``, the unused one None."""
    code_as_intenum: bool = False
    """Disconnect codes arrive as an ``IntEnum`` rather than a plain ``int``."""
    disconnect_reason: bool = True
    """``websocket.disconnect`` carries a ``reason`` key."""
    clean_close_code: int | None = None
    """Code the app sees for a clean client close; None: the client's own code."""
    abrupt_close_code: int = 1006
    """Code the app sees when the client drops the TCP connection."""
    send_after_close: SendAfterClose = "oserror"
    """What the server's ``send`` does once the client has gone."""
    drops_empty_sends: bool = False
    """An empty ``text``/``bytes`` from the app never reaches the client."""
    accept_headers: bool = True
    close_reason: bool = True
    streamed_denial: bool = True
    """Denial body parts with ``more_body`` are sent; otherwise they raise
    ``RuntimeError`` and only the last part reaches the client."""
    close_codes: tuple[range, ...] | None = None
    """The only close codes the server sends after accepting; others make its
    ``send`` raise (daphne's autobahn raises a bare ``Exception``)."""


_CLIENT_AS: Final[Mapping[str, Literal["tuple", "list", "str-port"]]] = {
    "tuple[str, int]": "tuple",
    "list[int | str]": "list",
    "tuple[str, str]": "str-port",
}


def preset(server: Server) -> Dialect:
    """The test client's dialect for ``server``, derived from its measured facts."""
    facts = server.capabilities
    extensions = facts.extensions or ()
    clean = facts.clean_close_code
    return Dialect(
        server.name,
        spec_version=facts.spec_version,
        denial_extension=DENIAL_RESPONSE_EXTENSION in extensions,
        extra_extensions=tuple(name for name in extensions if name != DENIAL_RESPONSE_EXTENSION),
        has_extensions=facts.extensions is not None,
        has_scheme=facts.scope_has_scheme,
        has_http_version=facts.scope_has_http_version,
        has_state=facts.scope_has_state,
        client_as=_CLIENT_AS[facts.address_shape],
        receive_both_keys=facts.receive_has_both_keys,
        code_as_intenum=facts.disconnect_code_types != {"int"},
        disconnect_reason=facts.disconnect_reason,
        clean_close_code=None if clean == PROBE_CLOSE_CODE else clean,
        abrupt_close_code=facts.abrupt_close_code,
        send_after_close=facts.send_after_close,
        drops_empty_sends=not (facts.empty_text_sent and facts.empty_bytes_sent),
        accept_headers=facts.accept_headers,
        close_reason=facts.close_reason,
        streamed_denial=facts.streamed_denial,
        close_codes=None if facts.standard_close_codes else server.close_codes,
    )


DIALECTS: Final[Mapping[str, Dialect]] = {
    "spec": Dialect("spec", spec_version="2.4", denial_extension=True),
    **{name: preset(server) for name, server in SERVERS.items()},
}
"""Presets by the adapters' configuration names, derived from ``lilya_ws.servers``;
``spec`` is a server that does all the ASGI spec says."""

ALIASES: Final[Mapping[str, str]] = {
    "uvicorn": "uvicorn-websockets",
    "hypercorn": "hypercorn-asyncio",
}
"""The presets' former names, still accepted by ``connect`` and ``get_dialect``."""


def get_dialect(dialect: str | Dialect) -> Dialect:
    """The preset called ``dialect`` (an adapter configuration name, ``spec``, or a
    former name from ``ALIASES``); a ``Dialect`` is returned as it is."""
    if isinstance(dialect, Dialect):
        return dialect
    try:
        return DIALECTS[ALIASES.get(dialect, dialect)]
    except KeyError:
        known = ", ".join(sorted(DIALECTS))
        raise ValueError(f"Unknown dialect {dialect!r}: one of {known}") from None


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
    subprotocol: str | None = None
    headers: list[tuple[bytes, bytes]] = field(default_factory=list)
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
        self._started = False
        self._client_gone = False
        self._app_closed = False
        self._final: _Closed | None = None
        self.close_code: int | None = None
        """The code the app closed with, once a receive has seen it."""
        self.close_reason: str | None = None

    @property
    def subprotocol(self) -> str | None:
        """The subprotocol the app chose in ``accept``."""
        return self._handshake.subprotocol

    @property
    def accept_headers(self) -> list[tuple[bytes, bytes]]:
        """The extra headers the app sent with ``accept`` (as the server delivers them)."""
        return self._handshake.headers

    # The app's side of the channel, shaped by the dialect.

    async def _app_receive(self) -> dict[str, Any]:
        return await self._app_inbox.receive()

    async def _app_send(self, message: Mapping[str, Any]) -> None:
        mtype = message["type"]
        handshake = self._handshake
        if not handshake.done.is_set():
            self._on_handshake_message(mtype, message)
            return
        if self._client_gone:
            self._send_after_close(mtype)
            return
        if mtype == "websocket.send":
            text, data = message.get("text"), message.get("bytes")
            payload: str | bytes = text if text is not None else bytes(data or b"")
            if payload or not self.dialect.drops_empty_sends:
                self._from_app.send_nowait(payload)
        elif mtype == "websocket.close":
            code = message.get("code", 1000)
            allowed = self.dialect.close_codes
            if allowed is not None and not any(code in codes for codes in allowed):
                raise Exception(f"invalid close code {code}")
            reason = message.get("reason") or "" if self.dialect.close_reason else ""
            self._app_closed = True
            self._from_app.send_nowait(_Closed(message.get("code", 1000), reason))
            self._to_app.send_nowait(self._disconnect(message.get("code", 1000), reason))
        else:
            raise RuntimeError(f"Unexpected ASGI message {mtype!r} after the handshake")

    def _on_handshake_message(self, mtype: str, message: Mapping[str, Any]) -> None:
        handshake = self._handshake
        if mtype == "websocket.accept":
            handshake.subprotocol = message.get("subprotocol")
            if self.dialect.accept_headers:
                handshake.headers = list(message.get("headers") or ())
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
            if self.dialect.code_as_intenum and code in (_CloseCode.__members__.values())
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
        self._started = True
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
        if not self._started:
            return
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


def build_scope(
    url: str,
    dialect: Dialect,
    headers: Mapping[str, str] | Iterable[tuple[str, str]] = (),
    subprotocols: Sequence[str] = (),
) -> dict[str, Any]:
    """The scope ``dialect``'s server would build for a handshake to ``url``."""
    parts = urlsplit(url if "://" in url else "ws://testserver" + url)
    host = parts.netloc or "testserver"
    key = base64.b64encode(os.urandom(16))
    raw_headers = [
        (b"host", host.encode("latin-1")),
        (b"connection", b"upgrade"),
        (b"upgrade", b"websocket"),
        (b"sec-websocket-version", b"13"),
        (b"sec-websocket-key", key),
    ]
    pairs = headers.items() if isinstance(headers, Mapping) else headers
    raw_headers += [(k.lower().encode("latin-1"), v.encode("latin-1")) for k, v in pairs]
    if subprotocols:
        raw_headers.append((b"sec-websocket-protocol", ", ".join(subprotocols).encode("latin-1")))
    asgi: dict[str, str] = {"version": "3.0"}
    if dialect.spec_version is not None:
        asgi["spec_version"] = dialect.spec_version
    scope: dict[str, Any] = {
        "type": "websocket",
        "asgi": asgi,
        "path": unquote(parts.path) or "/",  # servers decode the path; raw_path keeps it
        "raw_path": (parts.path or "/").encode("latin-1"),
        "root_path": "",
        "query_string": parts.query.encode("latin-1"),
        "headers": raw_headers,
        "client": _pair(dialect, "127.0.0.1", 51000),
        "server": _pair(dialect, parts.hostname or "testserver", parts.port or 80),
        "subprotocols": list(subprotocols),
    }
    if dialect.has_state:
        scope["state"] = {}
    if dialect.has_scheme:
        scope["scheme"] = parts.scheme or "ws"
    if dialect.has_http_version:
        scope["http_version"] = "1.1"
    if dialect.has_extensions:
        names = (
            *dialect.extra_extensions,
            *(["websocket.http.response"] * dialect.denial_extension),
        )
        scope["extensions"] = {name: {} for name in names}
    return scope


def _pair(dialect: Dialect, host: str, port: int) -> object:
    if dialect.client_as == "list":
        return [host, port]
    return (host, str(port)) if dialect.client_as == "str-port" else (host, port)


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


class SyncTestWebSocket:
    """``TestWebSocket`` for plain (sync) tests: each call runs on the portal's loop."""

    __test__ = False

    def __init__(self, ws: TestWebSocket, portal: BlockingPortal) -> None:
        self._ws = ws
        self._portal = portal

    @property
    def subprotocol(self) -> str | None:
        return self._ws.subprotocol

    @property
    def accept_headers(self) -> list[tuple[bytes, bytes]]:
        return self._ws.accept_headers

    @property
    def close_code(self) -> int | None:
        return self._ws.close_code

    @property
    def close_reason(self) -> str | None:
        return self._ws.close_reason

    def send_text(self, data: str) -> None:
        self._portal.call(self._ws.send_text, data)

    def send_bytes(self, data: bytes) -> None:
        self._portal.call(self._ws.send_bytes, data)

    def send_json(self, value: Any, mode: Literal["text", "binary"] = "text") -> None:
        self._portal.call(self._ws.send_json, value, mode)

    def receive(self, timeout: float = DEFAULT_TIMEOUT) -> str | bytes:
        return self._portal.call(self._ws.receive, timeout)

    def receive_text(self, timeout: float = DEFAULT_TIMEOUT) -> str:
        return self._portal.call(self._ws.receive_text, timeout)

    def receive_bytes(self, timeout: float = DEFAULT_TIMEOUT) -> bytes:
        return self._portal.call(self._ws.receive_bytes, timeout)

    def receive_json(
        self, mode: Literal["text", "binary"] = "text", timeout: float = DEFAULT_TIMEOUT
    ) -> Any:
        return self._portal.call(self._ws.receive_json, mode, timeout)

    def close(self, code: int = 1000, reason: str = "") -> None:
        self._portal.call(self._ws.close, code, reason)

    def abort(self) -> None:
        self._portal.call(self._ws.abort)


@contextmanager
def connect_sync(
    app: TestApp,
    url: str = "/",
    *,
    headers: Mapping[str, str] | Iterable[tuple[str, str]] = (),
    subprotocols: Sequence[str] = (),
    dialect: str | Dialect = "spec",
    timeout: float = DEFAULT_TIMEOUT,
    backend: Backend = "asyncio",
) -> Iterator[SyncTestWebSocket]:
    """``connect`` for sync tests. The app runs on an event loop of ``backend``
    (``"asyncio"`` or ``"trio"``) in an anyio portal thread, which sleeps until
    the test calls; the test's own thread needs no loop (it may even have one)."""
    manager = connect(
        app, url, headers=headers, subprotocols=subprotocols, dialect=dialect, timeout=timeout
    )
    with start_blocking_portal(backend) as portal, portal.wrap_async_context_manager(manager) as ws:
        yield SyncTestWebSocket(ws, portal)
