"""The WebSocket: one typed object over an ASGI connection, identical on every server.

Both sides of the connection follow a state machine written as a table (see
``APP_TRANSITIONS`` and ``CLIENT_TRANSITIONS``)::

    application (what the app sends)           client (what the server delivers)
    CONNECTING --accept--------> CONNECTED      CONNECTING --connect----> CONNECTED
    CONNECTING --close---------> DISCONNECTED   CONNECTING --disconnect-> DISCONNECTED
    CONNECTING --response.start> RESPONSE       CONNECTED  --receive----> CONNECTED
    CONNECTED  --send----------> CONNECTED      CONNECTED  --disconnect-> DISCONNECTED
    CONNECTED  --close---------> DISCONNECTED
    RESPONSE   --body (more)---> RESPONSE
    RESPONSE   --body (last)---> DISCONNECTED

Server differences are evened out here, from ``Capabilities``: payload keys
set to ``None``, close codes given as ``IntEnum``, send-after-disconnect
raising ``OSError``/``RuntimeError`` or nothing, and a dead connection whose
next ``receive()`` would never return.
"""

from __future__ import annotations

import contextlib
import enum
import warnings
from collections.abc import AsyncGenerator, Callable, Coroutine, Iterable, Iterator, Mapping
from typing import TYPE_CHECKING, Any, Final, Literal, NoReturn, TypeVar, overload

from lilya_ws.capabilities import (
    ACCEPT_HEADERS_SPEC,
    CLOSE_REASON_SPEC,
    EVERY_LENGTH,
    Capabilities,
    identify_quirks,
)
from lilya_ws.datastructures import URL, Address, Headers, QueryParams, State, parse_cookies
from lilya_ws.errors import (
    ConnectionClosed,
    DenialResponseUnsupported,
    InvalidJSON,
    InvalidMessage,
    InvalidMode,
    MessageTooLarge,
    ReceiveTimeout,
    ServerCapabilityWarning,
    UnexpectedMessageType,
    WebSocketDisconnect,
    WebSocketStateError,
)
from lilya_ws.json import JSONCodec, StdlibCodec
from lilya_ws.responses import DenialResponse, encode_headers
from lilya_ws.timeouts import wait_with_timeout

if TYPE_CHECKING:
    from collections.abc import MutableMapping
    from typing import TypeAlias

    from lilya_ws.types import AnyReceive, AnySend, WebSocketReceiveMessage

__all__ = [
    "APP_TRANSITIONS",
    "CLIENT_TRANSITIONS",
    "Mode",
    "WebSocket",
    "WebSocketClose",
    "WebSocketDisconnect",
    "WebSocketState",
    "validate_close",
]

Mode: TypeAlias = Literal["text", "binary"]
T = TypeVar("T")
P = TypeVar("P", str, bytes)

NORMAL_CLOSURE: Final = 1000
NO_STATUS_RECEIVED: Final = 1005
ABNORMAL_CLOSURE: Final = 1006
MAX_CLOSE_REASON_BYTES: Final = 123  # RFC 6455 §5.5: control frame payload ≤ 125 bytes


class WebSocketState(enum.Enum):
    """Where one side of the connection stands."""

    CONNECTING = 0
    CONNECTED = 1
    DISCONNECTED = 2
    RESPONSE = 3


CONNECTING: Final = WebSocketState.CONNECTING
CONNECTED: Final = WebSocketState.CONNECTED
DISCONNECTED: Final = WebSocketState.DISCONNECTED
RESPONSE: Final = WebSocketState.RESPONSE

_BODY_END: Final = "websocket.http.response.body(last)"
"""The last body part of a denial response, told apart from ``more_body`` parts."""

APP_TRANSITIONS: Final[Mapping[tuple[WebSocketState, str], WebSocketState]] = {
    (CONNECTING, "websocket.accept"): CONNECTED,
    (CONNECTING, "websocket.close"): DISCONNECTED,
    (CONNECTING, "websocket.http.response.start"): RESPONSE,
    (CONNECTED, "websocket.send"): CONNECTED,
    (CONNECTED, "websocket.close"): DISCONNECTED,
    (RESPONSE, "websocket.http.response.body"): RESPONSE,
    (RESPONSE, _BODY_END): DISCONNECTED,
}
"""What the application may send in each of its states, and where it leads."""

CLIENT_TRANSITIONS: Final[Mapping[tuple[WebSocketState, str], WebSocketState]] = {
    (CONNECTING, "websocket.connect"): CONNECTED,
    (CONNECTING, "websocket.disconnect"): DISCONNECTED,
    (CONNECTED, "websocket.receive"): CONNECTED,
    (CONNECTED, "websocket.disconnect"): DISCONNECTED,
}
"""What the server may deliver in each client state, and where it leads."""

_SENDABLE: Final[Mapping[WebSocketState, list[str]]] = {
    state: list(
        dict.fromkeys(
            "websocket.http.response.body" if event == _BODY_END else event
            for from_state, event in APP_TRANSITIONS
            if from_state is state
        )
    )
    for state in WebSocketState
}
"""The message types the application may send in each state, from the table."""

_SEND_HINTS: Final[Mapping[WebSocketState, str]] = {
    CONNECTING: "the handshake is not done: call accept() (or close()) first",
    CONNECTED: "the connection is already accepted",
    RESPONSE: "a denial response is being sent: only its body parts may follow",
    DISCONNECTED: "the application has already closed the connection",
}

_RECEIVE_HINTS: Final[Mapping[WebSocketState, str]] = {
    CONNECTING: "the connection is not accepted yet: call accept() first",
    RESPONSE: "the connection was denied with an HTTP response",
    DISCONNECTED: "the application has closed the connection",
}

_CLOSE_REASONS: Final[Mapping[type[Exception], tuple[int, str]]] = {
    InvalidJSON: (1007, "Invalid JSON"),
    UnexpectedMessageType: (1003, "Unsupported data"),
    MessageTooLarge: (1009, "Message too big"),
    ReceiveTimeout: (1001, "Idle timeout"),
}
_INTERNAL_ERROR: Final = (1011, "Internal error")

_DEFAULT_CODEC: Final = StdlibCodec()

_SERVER_SEND_ERRORS: Final = (OSError, RuntimeError)
"""What servers raise when the peer is gone: uvicorn an ``OSError`` subclass
(``ClientDisconnected``), others ``RuntimeError``; all mean code 1006."""

_UNSET: Final[Any] = object()
_NO_LENGTHS: Final = range(0)
"""``_send_lengths`` while the connection is not open: every send is checked."""


def validate_close(code: int, reason: str | None) -> None:
    """Check a close code and reason against RFC 6455 §7.4 and §5.5.

    Raises ``InvalidMessage`` for a code outside 1000-4999, a reserved code
    (1004-1006, 1015, and the unassigned 1016-2999) or a reason over 123 bytes.
    """
    if isinstance(code, bool) or not isinstance(code, int):
        raise InvalidMessage(f"Close code must be an int, not {type(code).__name__}")
    if not (1000 <= code <= 1003 or 1007 <= code <= 1014 or 3000 <= code <= 4999):
        raise InvalidMessage(
            f"Close code {code} cannot be sent: use 1000-1003, 1007-1014 or 3000-4999 "
            "(RFC 6455 §7.4)"
        )
    if reason is not None:
        if not isinstance(reason, str):
            raise InvalidMessage(f"Close reason must be a str, not {type(reason).__name__}")
        if len(reason.encode("utf-8")) > MAX_CLOSE_REASON_BYTES:
            raise InvalidMessage(
                f"Close reason is {len(reason.encode('utf-8'))} bytes in UTF-8; "
                f"at most {MAX_CLOSE_REASON_BYTES} fit in a close frame (RFC 6455 §5.5)"
            )


def _disconnect_fields(message: Mapping[str, Any]) -> tuple[int, str]:
    """Code and reason of a ``websocket.disconnect``, as plain ``int`` and ``str``."""
    code = message.get("code")
    return (NO_STATUS_RECEIVED if code is None else int(code)), (message.get("reason") or "")


class WebSocket(Mapping[str, Any]):
    """A WebSocket connection, readable like its scope.

    Example:
        async def app(scope: Scope, receive: Receive, send: Send) -> None:
            websocket = WebSocket(scope, receive, send)
            await websocket.accept()
            async for text in websocket.iter_text():
                await websocket.send_text(text)

    ``receive`` and ``send`` may be typed the lilya_ws way, the ``asgiref.typing``
    way or the Starlette way (``MutableMapping[str, Any]`` messages).
    """

    __slots__ = (
        "_app_state",
        "_capabilities",
        "_client_state",
        "_codec",
        "_cookies",
        "_fast_receive",
        "_fast_send",
        "_headers",
        "_max_message_size",
        "_query_params",
        "_receive",
        "_receive_timeout",
        "_send",
        "_send_lengths",
        "_url",
        "close_code",
        "close_reason",
        "scope",
    )

    # Built on first use, so a connection pays only for what it reads.
    _capabilities: Capabilities
    _url: URL
    _headers: Headers
    _query_params: QueryParams
    _cookies: dict[str, str]

    def __init__(
        self,
        scope: Mapping[str, Any],
        receive: AnyReceive,
        send: AnySend,
        *,
        json_codec: JSONCodec | None = None,
        max_message_size: int | None = None,
        receive_timeout: float | None = None,
    ) -> None:
        if scope.get("type") != "websocket":
            raise InvalidMessage(f"WebSocket needs a 'websocket' scope, not {scope.get('type')!r}")
        self.scope = scope
        self._receive = receive
        # The one place the typing schools meet: every message passed is ASGI-valid.
        self._send: Callable[[Any], Any] = send
        self._codec: JSONCodec = json_codec or _DEFAULT_CODEC
        self._max_message_size = max_message_size
        self._receive_timeout = receive_timeout
        self._client_state = CONNECTING
        self._app_state = CONNECTING
        self._fast_send = self._fast_receive = False
        self._send_lengths = _NO_LENGTHS
        self.close_code: int | None = None
        self.close_reason: str | None = None

    # State, and the two flags the hot paths test instead of it.

    @property
    def application_state(self) -> WebSocketState:
        """Where the application's side stands (what it has sent)."""
        return self._app_state

    @application_state.setter
    def application_state(self, state: WebSocketState) -> None:
        self._app_state = state
        self._refresh()

    @property
    def client_state(self) -> WebSocketState:
        """Where the client's side stands (what the server has delivered)."""
        return self._client_state

    @client_state.setter
    def client_state(self, state: WebSocketState) -> None:
        self._client_state = state
        self._refresh()

    @property
    def max_message_size(self) -> int | None:
        """Largest message (UTF-8 bytes for text) a receive accepts; bigger closes 1009."""
        return self._max_message_size

    @max_message_size.setter
    def max_message_size(self, size: int | None) -> None:
        self._max_message_size = size
        self._refresh()

    @property
    def receive_timeout(self) -> float | None:
        """Seconds a receive waits before raising ``ReceiveTimeout``; None waits forever."""
        return self._receive_timeout

    @receive_timeout.setter
    def receive_timeout(self, seconds: float | None) -> None:
        self._receive_timeout = seconds
        self._refresh()

    def _refresh(self) -> None:
        """Recompute what the hot paths test: both sides open, and nothing that needs a
        check. ``_send_lengths`` are the payload lengths a send may skip the checks for;
        ``_fast_send`` says it is every length, as a flag because every send tests it."""
        if self._app_state is CONNECTED and self._client_state is CONNECTED:
            self._send_lengths = identify_quirks(self.scope).unchecked_lengths
            self._fast_send = self._send_lengths is EVERY_LENGTH
            self._fast_receive = self._receive_timeout is None and self._max_message_size is None
        else:
            self._fast_send = self._fast_receive = False
            self._send_lengths = _NO_LENGTHS

    # The scope, read-only.

    @overload
    def __getitem__(
        self, key: Literal["type", "path", "scheme", "root_path", "http_version"]
    ) -> str: ...

    @overload
    def __getitem__(self, key: Literal["query_string", "raw_path"]) -> bytes: ...

    @overload
    def __getitem__(self, key: Literal["headers"]) -> Iterable[tuple[bytes, bytes]]: ...

    @overload
    def __getitem__(self, key: Literal["subprotocols"]) -> Iterable[str]: ...

    @overload
    def __getitem__(self, key: str) -> Any: ...

    def __getitem__(self, key: str) -> Any:
        """``websocket["path"]`` is ``scope["path"]``; well-known keys are typed."""
        return self.scope[key]

    def __iter__(self) -> Iterator[str]:
        return iter(self.scope)

    def __len__(self) -> int:
        return len(self.scope)

    __eq__ = object.__eq__
    __hash__ = object.__hash__

    def __repr__(self) -> str:
        return (
            f"<WebSocket {self.scope.get('path', '')!r} client={self.client_state.name}"
            f" application={self.application_state.name}>"
        )

    @property
    def capabilities(self) -> Capabilities:
        """What the server declares it supports (spec version, extensions)."""
        try:
            return self._capabilities
        except AttributeError:  # built on first use (an unset slot)
            self._capabilities = Capabilities.from_scope(self.scope)
            return self._capabilities

    @property
    def spec_version(self) -> tuple[int, int]:
        """The ASGI spec version the server declares; ``(2, 0)`` when it says nothing."""
        return self.capabilities.spec_version

    @property
    def extensions(self) -> Mapping[str, Mapping[object, object]]:
        return self.scope.get("extensions") or {}

    @property
    def url(self) -> URL:
        try:
            return self._url
        except AttributeError:  # built on first use (an unset slot)
            self._url = URL.from_scope(self.scope)
            return self._url

    @property
    def headers(self) -> Headers:
        try:
            return self._headers
        except AttributeError:  # built on first use (an unset slot)
            self._headers = Headers(self.scope["headers"])
            return self._headers

    @property
    def query_params(self) -> QueryParams:
        try:
            return self._query_params
        except AttributeError:  # built on first use (an unset slot)
            self._query_params = QueryParams(self.scope.get("query_string", b""))
            return self._query_params

    @property
    def path_params(self) -> dict[str, Any]:
        params: dict[str, Any] = self.scope.get("path_params", {})
        return params

    @property
    def cookies(self) -> dict[str, str]:
        try:
            return self._cookies
        except AttributeError:  # built on first use (an unset slot)
            self._cookies = parse_cookies(self.headers.get("cookie", ""))
            return self._cookies

    @property
    def client(self) -> Address | None:
        client = self.scope.get("client")
        # daphne gives a list, granian the port as a str (adapters/DIALECTS.md §1).
        return None if client is None else Address(str(client[0]), int(client[1]))

    @property
    def state(self) -> State:
        """Attribute access over ``scope["state"]``, created when the server sent none."""
        state = self.scope.get("state")
        if state is None:
            if not hasattr(self.scope, "__setitem__"):
                return State()
            state = self.scope["state"] = {}
        return State(state)

    @property
    def subprotocols(self) -> list[str]:
        """The subprotocols the client offered, in its order of preference."""
        return list(self.scope.get("subprotocols") or ())

    # Raw messages, through the state machine.

    async def receive(self, timeout: float | None = None) -> WebSocketReceiveMessage:
        """Receive the next raw ASGI message, normalised across servers.

        The message is a fresh, typed dict: a ``websocket.receive`` carries only
        its payload key, a ``websocket.disconnect`` always an ``int`` code and a
        ``str`` reason, whatever the server sent.
        Once the connection is over this raises ``WebSocketDisconnect`` at once
        instead of waiting on a server that will never answer. ``timeout``
        (default: the WebSocket's ``receive_timeout``) raises ``ReceiveTimeout``.
        """
        state = self.client_state
        if state is DISCONNECTED or self.application_state in (DISCONNECTED, RESPONSE):
            self._raise_closed()
        timeout = self.receive_timeout if timeout is None else timeout
        message = await (
            self._receive() if timeout is None else wait_with_timeout(self._receive(), timeout)
        )
        return self._take(message)

    def _take(self, message: Mapping[str, Any]) -> WebSocketReceiveMessage:
        """Move the client side through the table for a server message, and normalise it."""
        state = self._client_state
        mtype = message.get("type")
        if not isinstance(mtype, str):
            raise WebSocketStateError(f"The server sent a message without a type: {message!r}")
        next_state = CLIENT_TRANSITIONS.get((state, mtype))
        if next_state is None:
            raise WebSocketStateError(
                f'Unexpected "{mtype}" from the server while the client is {state.name}'
            )
        if next_state is not state:  # the setter re-derives the hot-path flags
            self.client_state = next_state
        if mtype == "websocket.receive":
            text = message.get("text")
            if text is not None:
                return {"type": "websocket.receive", "text": text}
            return {"type": "websocket.receive", "bytes": message.get("bytes")}
        if mtype == "websocket.disconnect":
            code, reason = self._record_disconnect(message)
            return {"type": "websocket.disconnect", "code": code, "reason": reason}
        return {"type": "websocket.connect"}  # the one other message the table allows

    async def send(self, message: Mapping[str, Any]) -> None:
        """Send a raw ASGI message after checking it against the state machine.

        Accept and close messages are validated (subprotocol offered, header
        names, close code and reason) and stripped of keys the server's spec
        version cannot carry, with a ``ServerCapabilityWarning``.
        """
        mtype = message.get("type")
        if not isinstance(mtype, str):
            raise InvalidMessage(f"An ASGI message needs a str 'type', got {message!r}")
        state = self.application_state
        event = (
            _BODY_END
            if mtype == "websocket.http.response.body" and not message.get("more_body", False)
            else mtype
        )
        next_state = APP_TRANSITIONS.get((state, event))
        if next_state is None:
            self._refuse_send(mtype)
        if mtype == "websocket.accept":
            message = self._checked_accept(message)
            if self.client_state is CONNECTING:
                await self._await_connect()
        elif mtype == "websocket.close":
            message = self._checked_close(message)
            if self.client_state is DISCONNECTED:
                # The peer already left: the connection is closed, as asked.
                self.application_state = DISCONNECTED
                return
        elif mtype == "websocket.send":
            if self.client_state is DISCONNECTED:
                self._raise_closed()
            self._check_send_size(self._checked_payload(message))
        await self._emit(message, next_state)

    async def _emit(self, message: Mapping[str, Any], next_state: WebSocketState) -> None:
        """Hand a checked message to the server and move the application side."""
        try:
            await self._send(message)
        except _SERVER_SEND_ERRORS as exc:
            raise self._lost() from exc
        if next_state is not self._app_state:  # the setter re-derives the hot-path flags
            self.application_state = next_state
        if next_state is DISCONNECTED and self.close_code is None:
            closing = message["type"] == "websocket.close"
            self.close_code = message.get("code", NORMAL_CLOSURE) if closing else ABNORMAL_CLOSURE
            self.close_reason = message.get("reason") or ""

    async def _await_connect(self) -> None:
        """Consume the server's ``websocket.connect``; the client may have left already."""
        self._take(await self._receive())
        if self._client_state is DISCONNECTED:
            self._raise_closed()

    # Handshake.

    async def accept(
        self,
        subprotocol: str | None = None,
        headers: Iterable[tuple[bytes, bytes]] | None = None,
    ) -> None:
        """Complete the handshake, optionally choosing a subprotocol and adding headers.

        ``subprotocol`` must be one the client offered; ``headers`` are raw byte
        pairs (lowercase names). Raises ``InvalidMessage`` before sending otherwise.
        """
        if subprotocol is None and headers is None and self._app_state is CONNECTING:
            # The common case has nothing to check: the generic path, written out.
            if self._client_state is CONNECTING:
                message = await self._receive()
                if message.get("type") != "websocket.connect":
                    self._take(message)  # the client left, or the server broke the protocol
                    self._raise_closed()
                self._client_state = CONNECTED
            try:
                # A fresh message each time: middleware may append to its headers.
                await self._send({"type": "websocket.accept", "subprotocol": None, "headers": []})
            except _SERVER_SEND_ERRORS as exc:
                raise self._lost() from exc
            self._app_state = CONNECTED
            self._refresh()
            return
        await self.send(
            {"type": "websocket.accept", "subprotocol": subprotocol, "headers": list(headers or ())}
        )

    async def close(self, code: int = NORMAL_CLOSURE, reason: str | None = None) -> None:
        """Close the connection; before ``accept()`` every server answers HTTP 403."""
        if code == NORMAL_CLOSURE and not reason and self._fast_send:
            # Nothing to check: the generic path, written out.
            try:
                await self._send({"type": "websocket.close", "code": code, "reason": ""})
            except _SERVER_SEND_ERRORS as exc:
                raise self._lost() from exc
            # Both sides were open (that is what _fast_send says); now nothing is.
            self._app_state = DISCONNECTED
            self._fast_send = self._fast_receive = False
            self._send_lengths = _NO_LENGTHS
            if self.close_code is None:
                self.close_code, self.close_reason = code, ""
            return
        await self.send({"type": "websocket.close", "code": code, "reason": reason or ""})

    async def send_denial_response(self, response: DenialResponse) -> None:
        """Answer the handshake with an HTTP response instead of accepting it.

        Needs the ``websocket.http.response`` extension; without it raises
        ``DenialResponseUnsupported`` (a ``RuntimeError``) and sends nothing.
        """
        if not self.capabilities.denial_response:
            raise DenialResponseUnsupported(
                "The server doesn't support the Websocket Denial Response extension. "
                "(websocket.http.response is not in the scope's extensions; "
                "close() before accept() answers HTTP 403 instead)"
            )
        if self.application_state is not CONNECTING:
            self._refuse_send("websocket.http.response.start")

        # Where only one body part reaches the client (granian), the parts are
        # joined and sent as one: the client gets the whole body either way.
        held: list[bytes] | None = None if self.capabilities.streamed_denial else []

        async def send_http(message: MutableMapping[str, Any]) -> None:
            mtype = message.get("type")
            if mtype in ("websocket.http.response.start", "websocket.http.response.body"):
                # Starlette's and Lilya's responses prefix the type themselves.
                mtype = mtype.removeprefix("websocket.")
            if mtype not in ("http.response.start", "http.response.body"):
                raise InvalidMessage(
                    f"A denial response can only send HTTP messages, not {mtype!r}"
                )
            if held is not None and mtype == "http.response.body":
                held.append(message.get("body", b""))
                if message.get("more_body", False):
                    return
                message = {**message, "body": b"".join(held)}
            await self.send({**message, "type": "websocket." + mtype})

        async def receive_http() -> MutableMapping[str, Any]:
            # A response only listens for the client leaving; skip the pending connect.
            while (await self._receive()).get("type") != "websocket.disconnect":
                pass
            return {"type": "http.disconnect"}

        await response(dict(self.scope), receive_http, send_http)
        if self.application_state in (CONNECTING, RESPONSE):
            raise InvalidMessage("The denial response ended without its last body part")

    # Sending data.

    async def send_text(self, data: str) -> None:
        """Send a text message; checks and errors are those of ``send()``."""
        if data.__class__ is str and (self._fast_send or len(data) in self._send_lengths):
            try:
                await self._send({"type": "websocket.send", "text": data})
            except _SERVER_SEND_ERRORS as exc:
                raise self._lost() from exc
        else:
            await self.send({"type": "websocket.send", "text": data})

    async def send_bytes(self, data: bytes | bytearray | memoryview) -> None:
        """Send a binary message (``bytearray`` and ``memoryview`` are copied to bytes)."""
        if data.__class__ is bytes and (self._fast_send or len(data) in self._send_lengths):
            try:
                await self._send({"type": "websocket.send", "bytes": data})
            except _SERVER_SEND_ERRORS as exc:
                raise self._lost() from exc
        else:
            if isinstance(data, (bytearray, memoryview)):
                data = bytes(data)
            await self.send({"type": "websocket.send", "bytes": data})

    def send_json(self, data: Any, mode: Mode = "text") -> Coroutine[Any, Any, None]:
        """Send ``data`` as JSON in a text frame, or a binary one with ``mode="binary"``.

        Encoding happens at the call, so an unencodable value raises right there.
        """
        if mode == "text":
            return self.send_text(self._codec.encode_text(data))
        if mode == "binary":
            return self.send_bytes(self._codec.encode_bytes(data))
        raise InvalidMode(f'mode must be "text" or "binary", not {mode!r}')

    # Receiving data.

    async def _next_message(self) -> Mapping[str, Any]:
        """The next message for a data receive, off the fast path: checks state, timeout."""
        if self.application_state is not CONNECTED or self.client_state is not CONNECTED:
            self._refuse_receive()
        timeout = self.receive_timeout
        if timeout is None:
            return await self._receive()
        return await wait_with_timeout(self._receive(), timeout)

    async def _payload_of(self, message: Mapping[str, Any], kind: type[P]) -> P:
        """Off the fast path: the payload of ``kind``, or the error that explains why not."""
        mtype = message["type"]
        if mtype == "websocket.disconnect":
            self.client_state = DISCONNECTED
            raise WebSocketDisconnect(*self._record_disconnect(message))
        if mtype != "websocket.receive":
            raise WebSocketStateError(f'Unexpected "{mtype}" while the client is CONNECTED')
        payload = message.get("text")
        if payload is None:
            payload = message.get("bytes")
        if not isinstance(payload, (str, bytes)):
            raise WebSocketStateError(f"The server sent a message without payload: {message!r}")
        limit = self.max_message_size
        if limit is not None and len(payload) > limit // 4:
            await self._check_size(payload, limit)
        if not isinstance(payload, kind):
            raise UnexpectedMessageType("text" if kind is str else "bytes", payload)
        return payload

    async def _iter_payloads(
        self, key: Literal["text", "bytes"], kind: type[P]
    ) -> AsyncGenerator[P, None]:
        """Yield ``key`` payloads until the peer leaves; the body of iter_text/bytes.

        The receive is written out here rather than awaited through
        ``_receive_data``: one coroutine less per message.
        """
        receive = self._receive
        try:
            while True:
                if self._fast_receive:
                    message = await receive()
                    payload = message.get(key) if message["type"] == "websocket.receive" else None
                    if type(payload) is kind:
                        yield payload
                        continue
                else:
                    message = await self._next_message()
                yield await self._payload_of(message, kind)
        except WebSocketDisconnect:
            return

    @overload
    async def _receive_data(self, key: Literal["text", "bytes"], kind: type[P]) -> P: ...

    @overload
    async def _receive_data(
        self, key: Literal["text", "bytes"], kind: type[P], decoder: Callable[[Any], T]
    ) -> T: ...

    async def _receive_data(
        self,
        key: Literal["text", "bytes"],
        kind: type[P],
        decoder: Callable[[Any], Any] | None = None,
    ) -> Any:
        """The body of every ``receive_*``: one message's ``key`` payload, decoded as JSON
        when a ``decoder`` is given (``_UNSET``: the JSON value as it is).

        One coroutine per message, whatever the method: the fast path is written out
        here, and ``receive_text`` and friends return this coroutine instead of
        awaiting it.
        """
        if self._fast_receive:
            message = await self._receive()
            payload = message.get(key) if message["type"] == "websocket.receive" else None
            if type(payload) is not kind:
                payload = await self._payload_of(message, kind)
        else:
            payload = await self._payload_of(await self._next_message(), kind)
        if decoder is None:
            return payload
        try:
            value = self._codec.decode(payload)
        except ValueError as exc:
            raise InvalidJSON(payload, str(exc)) from None
        return value if decoder is _UNSET else decoder(value)

    def receive_text(self) -> Coroutine[Any, Any, str]:
        """Receive a text message; a binary one raises ``UnexpectedMessageType``."""
        return self._receive_data("text", str)

    def receive_bytes(self) -> Coroutine[Any, Any, bytes]:
        """Receive a binary message; a text one raises ``UnexpectedMessageType``."""
        return self._receive_data("bytes", bytes)

    @overload
    def receive_json(self, mode: Mode = "text") -> Coroutine[Any, Any, Any]: ...

    @overload
    def receive_json(
        self, mode: Mode = "text", *, decoder: Callable[[Any], T]
    ) -> Coroutine[Any, Any, T]: ...

    def receive_json(
        self, mode: Mode = "text", *, decoder: Callable[[Any], Any] = _UNSET
    ) -> Coroutine[Any, Any, Any]:
        """Receive a JSON message from a text frame, or a binary one with ``mode="binary"``.

        ``decoder`` turns the decoded value into a typed one (for example a
        dataclass constructor or a pydantic ``model_validate``). Invalid JSON
        raises ``InvalidJSON`` carrying the raw payload; the connection stays open.
        """
        if mode == "text":
            return self._receive_data("text", str, decoder)
        if mode == "binary":
            return self._receive_data("bytes", bytes, decoder)
        raise InvalidMode(f'mode must be "text" or "binary", not {mode!r}')

    def iter_text(self) -> AsyncGenerator[str, None]:
        """Yield text messages until the peer disconnects (the code stays on ``close_code``)."""
        return self._iter_payloads("text", str)

    def iter_bytes(self) -> AsyncGenerator[bytes, None]:
        """Yield binary messages until the peer disconnects."""
        return self._iter_payloads("bytes", bytes)

    async def iter_json(self, mode: Mode = "text") -> AsyncGenerator[Any, None]:
        """Yield JSON messages until the peer disconnects."""
        try:
            while True:
                yield await self.receive_json(mode)
        except WebSocketDisconnect:
            pass

    async def close_for(self, error: Exception) -> None:
        """Close with the code that fits ``error`` and a fixed, internals-free reason.

        ``InvalidJSON`` gives 1007, ``UnexpectedMessageType`` 1003,
        ``MessageTooLarge`` 1009, ``ReceiveTimeout`` 1001 "Idle timeout",
        anything else 1011 "Internal error". A server that only sends 1000 and
        3000-4999 (daphne) gets the private-use twin, 4000 + the last three
        digits (1011 becomes 4011). Before
        ``accept()`` it closes the handshake (HTTP 403). Does nothing when the
        connection is already over.
        """
        if self.application_state not in (CONNECTING, CONNECTED):
            return
        code, reason = _CLOSE_REASONS.get(type(error), _INTERNAL_ERROR)
        if not self.capabilities.quirks.can_close_with(code):
            code = 4000 + code % 1000  # the private-use twin: 1011 becomes 4011
        with contextlib.suppress(WebSocketDisconnect):
            await self.close(code, reason if self.capabilities.close_reason else None)

    # State-machine helpers, off the hot path.

    def _refuse_send(self, mtype: str) -> NoReturn:
        if self.client_state is DISCONNECTED and self.application_state is not DISCONNECTED:
            self._raise_closed()
        state = self.application_state
        allowed = [f'"{name}"' for name in _SENDABLE[state]]
        expected = (
            " or ".join((", ".join(allowed[:-1]), allowed[-1])) if allowed[1:] else "".join(allowed)
        )
        prefix = f"Expected ASGI message {expected}, but got {mtype!r}. " if allowed else ""
        raise WebSocketStateError(
            f'{prefix}Cannot send "{mtype}": {_SEND_HINTS[state]} (state {state.name})'
        )

    def _refuse_receive(self) -> NoReturn:
        if self.client_state is DISCONNECTED or self.application_state is DISCONNECTED:
            self._raise_closed()
        state = self.application_state
        if state is CONNECTED:  # accepted, but the server's connect message is pending
            raise WebSocketStateError("Cannot receive data before the connect message")
        raise WebSocketStateError(
            f"Cannot receive data: {_RECEIVE_HINTS[state]} (state {state.name})"
        )

    def _raise_closed(self) -> NoReturn:
        code = self.close_code
        raise ConnectionClosed(ABNORMAL_CLOSURE if code is None else code, self.close_reason or "")

    def _record_disconnect(self, message: Mapping[str, Any]) -> tuple[int, str]:
        code, reason = _disconnect_fields(message)
        if self.close_code is None:
            self.close_code, self.close_reason = code, reason
        return code, reason

    def _lost(self) -> WebSocketDisconnect:
        """The server failed to send because the peer is gone: code 1006.

        Only the client side is over: later sends raise ``WebSocketDisconnect``
        again, and ``close()`` is a no-op.
        """
        self.client_state = DISCONNECTED
        if self.close_code is None:
            self.close_code, self.close_reason = ABNORMAL_CLOSURE, ""
        return WebSocketDisconnect(self.close_code, self.close_reason or "")

    async def _check_size(self, payload: str | bytes, limit: int) -> None:
        """Close with 1009 and raise when the payload's wire size (UTF-8 for text) is over."""
        size = len(payload.encode("utf-8")) if isinstance(payload, str) else len(payload)
        if size > limit:
            error = MessageTooLarge(size, limit)
            await self.close_for(error)
            raise error

    def _checked_accept(self, message: Mapping[str, Any]) -> Mapping[str, Any]:
        subprotocol = message.get("subprotocol")
        if subprotocol is not None and subprotocol not in self.subprotocols:
            offered = ", ".join(self.subprotocols) or "none"
            raise InvalidMessage(
                f"Subprotocol {subprotocol!r} was not offered by the client (offered: {offered})"
            )
        headers = message.get("headers")
        if not headers:
            return message
        checked = _checked_accept_headers(headers)
        if self.capabilities.accept_headers:
            return {**message, "headers": checked}
        self._warn_dropped("accept headers", ACCEPT_HEADERS_SPEC)
        return {key: value for key, value in message.items() if key != "headers"}

    def _checked_close(self, message: Mapping[str, Any]) -> Mapping[str, Any]:
        code = message.get("code", NORMAL_CLOSURE)
        reason = message.get("reason")
        validate_close(code, reason)
        quirks = self.capabilities.quirks
        if not quirks.can_close_with(code) and self._app_state is CONNECTED:
            raise InvalidMessage(
                f"{quirks.server} cannot send close code {code}: use 1000 or 3000-4999"
            )
        if not reason or self.capabilities.close_reason:
            return message
        self._warn_dropped("a close reason", CLOSE_REASON_SPEC)
        return {key: value for key, value in message.items() if key != "reason"}

    def _warn_dropped(self, what: str, needed: tuple[int, int]) -> None:
        """Say that ``what`` was not sent because it could not reach the client."""
        capabilities = self.capabilities
        if capabilities.spec_declared and capabilities.spec_version < needed:
            major, minor = capabilities.spec_version
            why = f"the server declares ASGI spec {major}.{minor}, it needs {needed[0]}.{needed[1]}"
        else:
            why = f"{capabilities.quirks.server} drops it"
        warnings.warn(f"Not sending {what}: {why}", ServerCapabilityWarning, stacklevel=4)

    @staticmethod
    def _checked_payload(message: Mapping[str, Any]) -> str | bytes:
        text, data = message.get("text"), message.get("bytes")
        if (text is None) == (data is None):
            raise InvalidMessage('"websocket.send" needs exactly one of "text" and "bytes"')
        if text is not None:
            if not isinstance(text, str):
                raise InvalidMessage(f'"text" must be a str, not {type(text).__name__}')
            return text
        if not isinstance(data, bytes):
            raise InvalidMessage(f'"bytes" must be bytes, not {type(data).__name__}')
        return data

    def _check_send_size(self, payload: str | bytes | bytearray | memoryview) -> None:
        """Refuse what the server would drop (empty) or fail on (too big), before sending."""
        quirks = self.capabilities.quirks
        if not payload and quirks.drops_empty_messages:
            raise InvalidMessage(
                f"{quirks.server} drops empty messages: this one would never reach the client"
            )
        limit = quirks.max_send_size
        size = len(payload.encode("utf-8")) if isinstance(payload, str) else len(payload)
        if limit is not None and size > limit:
            raise InvalidMessage(
                f"A {size}-byte message is over {quirks.server}'s limit of {limit} bytes"
            )


def _checked_accept_headers(headers: Iterable[tuple[bytes, bytes]]) -> list[tuple[bytes, bytes]]:
    """Accept headers as ASGI wants them: lowercase ASCII names, no CR/LF anywhere.

    ``sec-websocket-protocol`` is refused: the subprotocol argument sets it.
    """
    checked: list[tuple[bytes, bytes]] = []
    for pair in headers:
        if not (isinstance(pair, tuple) and len(pair) == 2):
            raise InvalidMessage(f"Accept headers must be (bytes, bytes) pairs, got {pair!r}")
        name, value = pair
        if not isinstance(name, bytes) or not isinstance(value, bytes):
            raise InvalidMessage(f"Accept header names and values must be bytes, got {pair!r}")
        if name == b"sec-websocket-protocol":
            raise InvalidMessage("Set the subprotocol with accept(subprotocol=...), not a header")
        try:
            encode_headers([(name.decode("ascii"), value.decode("latin-1"))])
        except UnicodeDecodeError:
            raise InvalidMessage(f"Accept header name {name!r} is not ASCII") from None
        if name != name.lower():
            raise InvalidMessage(f"Accept header name {name!r} must be lowercase")
        checked.append((name, value))
    return checked


class WebSocketClose:
    """An ASGI app that closes the WebSocket (HTTP 403 when sent before accept).

    Example: ``await WebSocketClose(code=1008)(scope, receive, send)``.
    """

    __slots__ = ("code", "reason")

    def __init__(self, code: int = NORMAL_CLOSURE, reason: str | None = None) -> None:
        validate_close(code, reason)
        self.code = code
        self.reason = reason

    async def __call__(self, scope: Mapping[str, Any], receive: AnyReceive, send: AnySend) -> None:
        await WebSocket(scope, receive, send).send(
            {"type": "websocket.close", "code": self.code, "reason": self.reason}
        )
