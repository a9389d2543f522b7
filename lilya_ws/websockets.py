"""The WebSocket: the seed's operations over one ASGI connection, the same on every server.

Both sides of the connection follow the tables in ``states.py``; what the
application sends is checked by ``validation.py``; what differs between servers
is decided in ``capabilities.py`` and applied here: payload keys set to ``None``,
close codes given as ``IntEnum``, a send after the peer left that raises
``OSError`` or nothing (a ``ReadAhead`` keeps a receive pending so it raises
everywhere), and a dead connection whose next ``receive()`` would never return.

Each direction has one fast path, taken while both sides are open and nothing
needs a check: a receive awaits the server's ``receive()`` directly, a send
hands its message over.
"""

from __future__ import annotations

import contextlib
import warnings
from collections.abc import AsyncGenerator, Callable, Iterable, Mapping
from typing import TYPE_CHECKING, Any, Final, Literal, NoReturn, TypeVar, overload

from lilya_ws.capabilities import (
    ACCEPT_HEADERS_SPEC,
    CLOSE_REASON_SPEC,
    EVERY_LENGTH,
    identify_quirks,
    is_peer_gone,
)
from lilya_ws.concurrency import call_soon, wait_with_timeout
from lilya_ws.connection import Connection
from lilya_ws.errors import (
    ConnectionClosed,
    DenialResponseUnsupported,
    InvalidJSON,
    InvalidMessage,
    InvalidMode,
    MessageTooLarge,
    NoSubprotocolWarning,
    ReceiveTimeout,
    ServerCapabilityWarning,
    UnexpectedMessageType,
    WebSocketDisconnect,
    WebSocketStateError,
)
from lilya_ws.json import JSONCodec, StdlibCodec
from lilya_ws.readahead import ReadAhead
from lilya_ws.responses import DenialResponse
from lilya_ws.states import (
    APP_TRANSITIONS,
    BODY_END,
    CLIENT_TRANSITIONS,
    CONNECTED,
    CONNECTING,
    DISCONNECTED,
    RESPONSE,
    WebSocketState,
    refused_receive,
    refused_send,
)
from lilya_ws.validation import (
    ABNORMAL_CLOSURE,
    NO_STATUS_RECEIVED,
    NORMAL_CLOSURE,
    checked_accept_headers,
    checked_payload,
    close_for_error,
    validate_close,
)

if TYPE_CHECKING:
    from collections.abc import MutableMapping
    from typing import TypeAlias

    from lilya_ws.types import AnyReceive, AnySend, WebSocketReceiveMessage

__all__ = [
    "APP_TRANSITIONS",
    "CLIENT_TRANSITIONS",
    "CLOSE_TIMEOUT",
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

_DEFAULT_CODEC: Final = StdlibCodec()
_NO_LENGTHS: Final = range(0)
"""``_send_lengths`` while the connection is not open: every send is checked."""
CLOSE_TIMEOUT: Final = 5.0
"""Seconds ``close()`` (where the server needs it) and ``endpoint()`` wait for the
peer to answer a close."""
DEPARTURE_WAIT: Final = 1.0
"""Seconds a failed send waits for the server's ``websocket.disconnect`` and its code."""

# What the application did last, for the read-ahead (``WebSocket._last``): it reads
# ahead only while the app is not receiving, and an alternating echo loop (receive,
# send, receive...) never starts it.
_SENT: Final = 0
"""A send, or nothing since the handshake."""
_RECEIVING: Final = 1
"""A receive of the application's is waiting on the server."""
_RECEIVED: Final = 2
"""A receive that has returned."""


class _Unset:
    """``receive_json``'s default decoder: the JSON value as it is."""


_AS_IS: Final = _Unset()


def _disconnect_fields(message: Mapping[str, Any]) -> tuple[int, str]:
    """Code and reason of a ``websocket.disconnect``, as plain ``int`` and ``str``."""
    code = message.get("code")
    return (NO_STATUS_RECEIVED if code is None else int(code)), (message.get("reason") or "")


class WebSocket(Connection):
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
        "_accepted",
        "_ahead",
        "_app_state",
        "_client_state",
        "_close_answered",
        "_codec",
        "_fast_receive",
        "_fast_send",
        "_last",
        "_max_message_size",
        "_receive",
        "_receive_timeout",
        "_send",
        "_send_lengths",
        "close_code",
        "close_reason",
    )

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
        self._ahead: ReadAhead | None = None
        self._last = _SENT
        self._accepted = False
        self._close_answered = False
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
        ``_fast_send`` says it is every length, as a flag because every send tests it.
        A receive is fast when nothing was read ahead and there is no limit to apply."""
        if self._app_state is CONNECTED and self._client_state is CONNECTED:
            self._send_lengths = identify_quirks(self.scope).unchecked_lengths
            self._fast_send = self._send_lengths is EVERY_LENGTH
            self._fast_receive = (
                self._ahead is None
                and self._receive_timeout is None
                and self._max_message_size is None
            )
        else:
            self._fast_send = self._fast_receive = False
            self._send_lengths = _NO_LENGTHS

    def __repr__(self) -> str:
        return (
            f"<WebSocket {self.scope.get('path', '')!r} client={self.client_state.name}"
            f" application={self.application_state.name}>"
        )

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
        message = await self._next_message(self._receive_timeout if timeout is None else timeout)
        if message["type"] == "websocket.disconnect":
            await self._answer_close()
        return message

    async def _next_message(self, timeout: float | None) -> WebSocketReceiveMessage:
        """The next message through the client table: what was read ahead, else the server's."""
        ahead = self._ahead
        if ahead is not None and not ahead.started:
            self._stop_reading()  # the app receives before the read-ahead ever ran: no hop
        elif ahead is not None:
            taking = ahead.take()
            message = await (taking if timeout is None else wait_with_timeout(taking, timeout))
            if ahead.drained:  # the application receives by itself again: the fast paths may
                self._ahead = None
                self._refresh()
            if message is not None:
                self._last = _RECEIVED
                return message
        if self._client_state is DISCONNECTED or self._app_state in (DISCONNECTED, RESPONSE):
            self._raise_closed()
        receiving = self._receive()
        self._last = _RECEIVING
        try:
            raw = await (receiving if timeout is None else wait_with_timeout(receiving, timeout))
        finally:
            self._last = _RECEIVED
        return self._take(raw)

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
        state = self._app_state
        event = (
            BODY_END
            if mtype == "websocket.http.response.body" and not message.get("more_body", False)
            else mtype
        )
        next_state = APP_TRANSITIONS.get((state, event))
        if next_state is None:
            self._refuse_send(mtype)
        if mtype == "websocket.send":
            if self._client_state is DISCONNECTED:
                self._raise_closed()
            self._check_send_size(checked_payload(message))
            self._note_send()
        elif mtype == "websocket.accept":
            message = self._checked_accept(message)
            if self._client_state is CONNECTING:
                await self._await_connect()
        elif mtype == "websocket.close":
            message = self._checked_close(message)
            # A running read-ahead goes on: it takes the peer's answer (wait_closed).
            if self._client_state is DISCONNECTED:
                # The peer already left: the connection is closed, as asked.
                self.application_state = DISCONNECTED
                return
        await self._emit(message, next_state)

    async def _emit(self, message: Mapping[str, Any], next_state: WebSocketState) -> None:
        """Hand a checked message to the server and move the application side."""
        try:
            await self._send(message)
        except Exception as exc:
            await self._send_failed(exc)
            raise
        if next_state is not self._app_state:  # the setter re-derives the hot-path flags
            self.application_state = next_state
        if next_state is CONNECTED and message["type"] == "websocket.accept":
            self._accepted = True
            call_soon(self._read_ahead_if_idle)
        if next_state is DISCONNECTED and self.close_code is None:
            closing = message["type"] == "websocket.close"
            self.close_code = message.get("code", NORMAL_CLOSURE) if closing else ABNORMAL_CLOSURE
            self.close_reason = message.get("reason") or ""

    async def _await_connect(self) -> None:
        """Consume the server's ``websocket.connect``; the client may have left already."""
        self._take(await self._receive())
        if self._client_state is DISCONNECTED:
            self._raise_closed()

    # Knowing that the peer left.

    def _read_ahead(self) -> None:
        """Keep a receive pending while the application only sends, so a send can tell
        that the peer left (``readahead.py``)."""
        if self._client_state is CONNECTED and self._ahead is None and self._last != _RECEIVING:
            self._ahead = ReadAhead(self._receive, self._take, self._answer_close)
            self._fast_receive = False

    def _read_ahead_if_idle(self) -> None:
        """Soon after the handshake: read ahead unless the application has received."""
        if self._last == _SENT and self._app_state is CONNECTED:
            self._read_ahead()

    def _note_send(self) -> None:
        """A send: the second in a row, with nothing received between, reads ahead."""
        last = self._last
        if last == _RECEIVED:
            self._last = _SENT
        elif last == _SENT and self._ahead is None:
            self._read_ahead()

    def _stop_reading(self) -> None:
        """Stop the read-ahead: the peer is gone, or it never ran."""
        ahead = self._ahead
        if ahead is not None:
            self._ahead = None
            ahead.cancel()
            self._refresh()

    async def _answer_close(self) -> None:
        """The client has closed: where the server answers only once the application
        closes (granian), close now, so the client is not left waiting on the app.

        Not for 1005 or 1006: that is the server failing the connection itself (an
        oversized or malformed frame), which it ends its own way."""
        if (
            self._app_state is CONNECTED
            and not self._close_answered
            and self.close_code not in (NO_STATUS_RECEIVED, ABNORMAL_CLOSURE)
            and self.capabilities.quirks.defers_close_reply
        ):
            # The app has not closed: its state stays, and close() stays a no-op.
            self._close_answered = True
            with contextlib.suppress(Exception):  # the reply is a courtesy to a departed peer
                await self._send({"type": "websocket.close", "code": NORMAL_CLOSURE})

    async def _send_failed(self, error: Exception) -> None:
        """Raise ``WebSocketDisconnect`` when the server's ``send`` failed because the peer
        is gone, with the code the server reports for the departure; return otherwise."""
        if not is_peer_gone(error):
            return
        if self._client_state is CONNECTED:
            self._read_ahead()
            ahead = self._ahead
            if ahead is not None:
                with contextlib.suppress(ReceiveTimeout):
                    await wait_with_timeout(ahead.stopped(), DEPARTURE_WAIT)
        if self._client_state is not DISCONNECTED:
            if self._last == _RECEIVING:  # the app's own receive will get the server's code
                raise WebSocketDisconnect(ABNORMAL_CLOSURE) from error
            self._stop_reading()  # the server never said: 1006
            self._record_disconnect({"code": ABNORMAL_CLOSURE})
            self.client_state = DISCONNECTED
        raise self._closed() from error

    async def wait_closed(self, timeout: float) -> None:
        """Once the application has closed an accepted connection, wait at most ``timeout``
        seconds for the server to report that the peer answered; messages still
        arriving are discarded.

        hypercorn's trio worker dies when an app returns while it closes the socket
        (``adapters/DIALECTS.md``): return from the ASGI app after this, not before.
        ``endpoint()`` does.
        """
        if not self._accepted or self._app_state is not DISCONNECTED:
            return
        with contextlib.suppress(ReceiveTimeout):
            await wait_with_timeout(self._drain(), timeout)

    async def _drain(self) -> None:
        """Take the server's messages until its disconnect; one receive at a time."""
        while self._client_state is not DISCONNECTED:
            ahead = self._ahead
            if ahead is None:
                self._take(await self._receive())
            else:  # the read-ahead's receive is the pending one: let it finish
                await ahead.stopped()
                self._ahead = None  # what it held is discarded: the app has closed

    # Handshake.

    async def accept(
        self,
        subprotocol: str | None = None,
        headers: Iterable[tuple[bytes, bytes]] | None = None,
    ) -> None:
        """Complete the handshake, optionally choosing a subprotocol and adding headers.

        ``subprotocol`` must be one the client offered; ``headers`` are raw byte
        pairs (lowercase names). Raises ``InvalidMessage`` before sending otherwise.
        Choosing none of the offered subprotocols warns (``NoSubprotocolWarning``):
        browsers fail that handshake.
        """
        if subprotocol is None and self._app_state is CONNECTING and self.scope.get("subprotocols"):
            warnings.warn(
                f"The client offered subprotocols {self.subprotocols} and accept() chose none:"
                " browsers fail this handshake. Pass accept(subprotocol=...) with one of them.",
                NoSubprotocolWarning,
                stacklevel=2,
            )
        await self.send(
            {"type": "websocket.accept", "subprotocol": subprotocol, "headers": list(headers or ())}
        )

    async def close(self, code: int = NORMAL_CLOSURE, reason: str | None = None) -> None:
        """Close the connection; before ``accept()`` every server answers HTTP 403.

        Once the peer has left this only marks the connection closed.
        """
        accepted = self._app_state is CONNECTED
        await self.send({"type": "websocket.close", "code": code, "reason": reason or ""})
        if accepted and identify_quirks(self.scope).waits_for_close_reply:
            await self.wait_closed(CLOSE_TIMEOUT)

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
        if self._app_state is not CONNECTING:
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
        if self._app_state in (CONNECTING, RESPONSE):
            raise InvalidMessage("The denial response ended without its last body part")

    # Sending data.

    async def send_text(self, data: str) -> None:
        """Send a text message; checks and errors are those of ``send()``."""
        if data.__class__ is str and (self._fast_send or len(data) in self._send_lengths):
            # The fast path: both sides open and a payload nothing needs to check.
            last = self._last  # _note_send, written out
            if last == _RECEIVED:
                self._last = _SENT
            elif last == _SENT and self._ahead is None:
                self._read_ahead()  # a second send in a row: keep a receive pending
            try:
                await self._send({"type": "websocket.send", "text": data})
            except Exception as exc:
                await self._send_failed(exc)
                raise
        else:
            await self.send({"type": "websocket.send", "text": data})

    async def send_bytes(self, data: bytes | bytearray | memoryview) -> None:
        """Send a binary message (``bytearray`` and ``memoryview`` are copied to bytes)."""
        if data.__class__ is bytes and (self._fast_send or len(data) in self._send_lengths):
            # send_text's fast path, for bytes.
            last = self._last
            if last == _RECEIVED:
                self._last = _SENT
            elif last == _SENT and self._ahead is None:
                self._read_ahead()
            try:
                await self._send({"type": "websocket.send", "bytes": data})
            except Exception as exc:
                await self._send_failed(exc)
                raise
        else:
            await self.send({"type": "websocket.send", "bytes": bytes(data)})

    async def send_json(self, data: Any, mode: Mode = "text") -> None:
        """Send ``data`` as JSON in a text frame, or a binary one with ``mode="binary"``."""
        if mode == "text":
            await self.send_text(self._codec.encode_text(data))
        elif mode == "binary":
            await self.send_bytes(self._codec.encode_bytes(data))
        else:
            raise InvalidMode(f'mode must be "text" or "binary", not {mode!r}')

    # Receiving data.

    async def _receive_payload(self, key: Literal["text", "bytes"], kind: type[P]) -> P:
        """The receive fast path, for every data receive: one message's ``key`` payload,
        or the error that explains why there is none."""
        if self._fast_receive:
            self._last = _RECEIVING
            try:
                message = await self._receive()
            finally:
                self._last = _RECEIVED
            payload = message.get(key)
            if payload.__class__ is kind:
                return payload
            return await self._payload_of(self._take(message), kind)
        return await self._receive_checked(kind)

    async def _receive_checked(self, kind: type[P]) -> P:
        """Off the fast path: state, read-ahead, timeout and size checked."""
        if self._app_state is not CONNECTED:
            self._refuse_receive()
        return await self._payload_of(await self._next_message(self._receive_timeout), kind)

    async def _payload_of(self, message: WebSocketReceiveMessage, kind: type[P]) -> P:
        """Off the fast path: the payload of ``kind``, or the error that explains why not."""
        if message["type"] == "websocket.disconnect":
            await self._answer_close()
            raise WebSocketDisconnect(message["code"], message["reason"])
        if message["type"] != "websocket.receive":
            raise WebSocketStateError(f'Unexpected "{message["type"]}" while receiving data')
        payload: str | bytes | None = message.get("text")
        if payload is None:
            payload = message.get("bytes")
        if not isinstance(payload, (str, bytes)):
            raise WebSocketStateError(f"The server sent a message without payload: {message!r}")
        limit = self._max_message_size
        if limit is not None and len(payload) > limit // 4:
            await self._check_size(payload, limit)
        if not isinstance(payload, kind):
            raise UnexpectedMessageType("text" if kind is str else "bytes", payload)
        return payload

    async def receive_text(self) -> str:
        """Receive a text message; a binary one raises ``UnexpectedMessageType``."""
        if self._fast_receive:  # _receive_payload's fast path, written out: one coroutine less
            self._last = _RECEIVING
            try:
                message = await self._receive()
            finally:
                self._last = _RECEIVED
            text = message.get("text")
            if text.__class__ is str:
                return text
            return await self._payload_of(self._take(message), str)
        return await self._receive_checked(str)

    async def receive_bytes(self) -> bytes:
        """Receive a binary message; a text one raises ``UnexpectedMessageType``."""
        return await self._receive_payload("bytes", bytes)

    @overload
    async def receive_json(self, mode: Mode = "text") -> Any: ...

    @overload
    async def receive_json(self, mode: Mode = "text", *, decoder: Callable[[Any], T]) -> T: ...

    async def receive_json(
        self, mode: Mode = "text", *, decoder: Callable[[Any], Any] | _Unset = _AS_IS
    ) -> Any:
        """Receive a JSON message from a text frame, or a binary one with ``mode="binary"``.

        ``decoder`` turns the decoded value into a typed one (for example a
        dataclass constructor or a pydantic ``model_validate``). Invalid JSON
        raises ``InvalidJSON`` carrying the raw payload; the connection stays open.
        """
        payload: str | bytes
        if mode == "text":
            payload = await self._receive_payload("text", str)
        elif mode == "binary":
            payload = await self._receive_payload("bytes", bytes)
        else:
            raise InvalidMode(f'mode must be "text" or "binary", not {mode!r}')
        try:
            value = self._codec.decode(payload)
        except ValueError as exc:
            raise InvalidJSON(payload, str(exc)) from None
        return value if isinstance(decoder, _Unset) else decoder(value)

    async def iter_text(self) -> AsyncGenerator[str, None]:
        """Yield text messages until the peer disconnects (the code stays on ``close_code``)."""
        with contextlib.suppress(WebSocketDisconnect):
            while True:
                yield await self._receive_payload("text", str)

    async def iter_bytes(self) -> AsyncGenerator[bytes, None]:
        """Yield binary messages until the peer disconnects."""
        with contextlib.suppress(WebSocketDisconnect):
            while True:
                yield await self._receive_payload("bytes", bytes)

    async def iter_json(self, mode: Mode = "text") -> AsyncGenerator[Any, None]:
        """Yield JSON messages until the peer disconnects."""
        with contextlib.suppress(WebSocketDisconnect):
            while True:
                yield await self.receive_json(mode)

    async def close_for(self, error: Exception) -> None:
        """Close with the code that fits ``error`` and a fixed, internals-free reason.

        ``InvalidJSON`` gives 1007, ``UnexpectedMessageType`` 1003,
        ``MessageTooLarge`` 1009, ``ReceiveTimeout`` 1001 "Idle timeout",
        anything else 1011 "Internal error". A server that only sends 1000 and
        3000-4999 (daphne) gets the private-use twin, 4000 + the last three
        digits (1011 becomes 4011). Before ``accept()`` it closes the handshake
        (HTTP 403). Does nothing when the connection is already over.
        """
        if self._app_state not in (CONNECTING, CONNECTED):
            return
        code, reason = close_for_error(error)
        if not self.capabilities.quirks.can_close_with(code):
            code = 4000 + code % 1000  # the private-use twin: 1011 becomes 4011
        with contextlib.suppress(WebSocketDisconnect):
            await self.close(code, reason if self.capabilities.close_reason else None)

    # State-machine helpers, off the hot path.

    def _refuse_send(self, mtype: str) -> NoReturn:
        if self._client_state is DISCONNECTED and self._app_state is not DISCONNECTED:
            self._raise_closed()
        raise WebSocketStateError(refused_send(self._app_state, mtype))

    def _refuse_receive(self) -> NoReturn:
        if self._client_state is DISCONNECTED or self._app_state is DISCONNECTED:
            self._raise_closed()
        raise WebSocketStateError(refused_receive(self._app_state))

    def _closed(self) -> ConnectionClosed:
        code = self.close_code
        return ConnectionClosed(ABNORMAL_CLOSURE if code is None else code, self.close_reason or "")

    def _raise_closed(self) -> NoReturn:
        raise self._closed()

    def _record_disconnect(self, message: Mapping[str, Any]) -> tuple[int, str]:
        code, reason = _disconnect_fields(message)
        if self.close_code is None:
            self.close_code, self.close_reason = code, reason
        return code, reason

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
        checked = checked_accept_headers(headers)
        if self.capabilities.accept_headers:
            return {**message, "headers": checked}
        self._warn_dropped("accept headers", ACCEPT_HEADERS_SPEC)
        return {key: value for key, value in message.items() if key != "headers"}

    def _checked_close(self, message: Mapping[str, Any]) -> Mapping[str, Any]:
        code = message.get("code", NORMAL_CLOSURE)
        reason = message.get("reason")
        if code == NORMAL_CLOSURE and not reason and code.__class__ is int:
            return message  # every server sends a plain 1000: nothing to check
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
        warnings.warn(f"Not sending {what}: {why}", ServerCapabilityWarning, stacklevel=5)

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
