"""The WebSocket: the seed's operations over one ASGI connection, the same on every server.

Each operation moves the connection through ``channel.py`` (both sides' states,
by the tables of ``states.py``, and a send after the peer left that fails the
same everywhere); what the application sends is checked by ``validation.py``
and ``close_codes.py``; what differs between servers is decided in
``capabilities.py`` and applied here: payload keys set to ``None``, close
codes given as ``IntEnum``, limits a server would fail on, and a dead
connection whose next ``receive()`` would never return.

``send()`` passes accept and close messages to ``accept()`` and ``close()``, so
each operation is written once. Those two, which every connection makes, test their
state and hand their message to the server written out, without the table lookup
and ``Channel._deliver``'s coroutine (``bench/README.md``, connect).

The data methods are made by ``fastpaths.py`` (one fast path per direction, taken
while both sides are open and nothing needs a check) and fall back to the checked
methods here.
"""

from __future__ import annotations

import contextlib
import enum
import warnings
from collections.abc import AsyncGenerator, Callable, Iterable, Mapping
from typing import TYPE_CHECKING, Any, Final, Literal, TypeVar, overload

from lilya_ws.capabilities import identify_quirks, is_peer_gone
from lilya_ws.channel import CLOSE_TIMEOUT, IDLE_AFTER, Channel
from lilya_ws.close_codes import ABNORMAL_CLOSURE, NORMAL_CLOSURE, close_for_error, validate_close
from lilya_ws.concurrency import IdleTimer, call_soon, checkpoint
from lilya_ws.errors import (
    DenialResponseUnsupported,
    InvalidJSON,
    InvalidMessage,
    InvalidMode,
    MessageTooLarge,
    NoSubprotocolWarning,
    UnexpectedMessageType,
    WebSocketDisconnect,
    WebSocketStateError,
)
from lilya_ws.fastpaths import iterator, receiver, sender
from lilya_ws.json import JSONCodec, StdlibCodec
from lilya_ws.responses import DenialResponse
from lilya_ws.states import (
    BODY_END,
    CONNECTED,
    CONNECTING,
    DISCONNECTED,
    RESPONSE,
    WebSocketState,
)
from lilya_ws.validation import (
    check_send_size,
    checked_accept,
    checked_close,
    checked_denial_start,
    checked_payload,
    text_checked,
)

if TYPE_CHECKING:
    from collections.abc import MutableMapping
    from typing import TypeAlias

    from lilya_ws.types import AnyReceive, AnySend, WebSocketReceiveMessage

__all__ = [
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


class _Unset(enum.Enum):
    """``receive_json``'s default decoder: the JSON value as it is (an enum member, so
    that ``is`` tells it apart: an ``isinstance`` call cost every message 100
    instructions)."""

    AS_IS = "as is"


_AS_IS: Final = _Unset.AS_IS
"""Loaded as a global: ``_Unset.AS_IS`` is an attribute lookup on the enum class."""


def _as_given(data: str) -> str:
    """``send_text``'s slow path checks the payload as given."""
    return data


def _as_bytes(data: bytes | bytearray | memoryview) -> bytes:
    """``send_bytes``'s slow path copies a ``bytearray`` or ``memoryview`` to bytes;
    anything else goes to ``send()`` as given, which refuses it with a typed error."""
    return bytes(data) if isinstance(data, (bytearray, memoryview)) else data


class WebSocket(Channel):
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

    __slots__ = ("_codec",)

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
        # Called by name, positionally: super() and keywords cost a tenth of a connect.
        Channel.__init__(self, scope, receive, send, max_message_size, receive_timeout)
        self._codec: JSONCodec = json_codec or _DEFAULT_CODEC

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

    async def send(self, message: Mapping[str, Any]) -> None:
        """Send a raw ASGI message after checking it against the state machine.

        Accept and close messages go through ``accept()`` and ``close()``: they
        are validated (subprotocol offered, header names, close code and reason)
        and stripped of keys the server's spec version cannot carry, with a
        ``ServerCapabilityWarning``.
        """
        mtype = message.get("type")
        if not isinstance(mtype, str):
            raise InvalidMessage(f"An ASGI message needs a str 'type', got {message!r}")
        if mtype == "websocket.accept":
            await self.accept(message.get("subprotocol"), message.get("headers"))
            return
        if mtype == "websocket.close":
            await self.close(message.get("code", NORMAL_CLOSURE), message.get("reason"))
            return
        if mtype == "websocket.send" and self._note_send():
            await checkpoint()  # a pending receive takes a departure first (_sent_again)
        event = (
            BODY_END
            if mtype == "websocket.http.response.body" and not message.get("more_body", False)
            else mtype
        )
        if mtype == "websocket.http.response.start":
            checked_denial_start(message)
        next_state = self._next_app_state(event)
        if mtype == "websocket.send":
            if self._client_state is DISCONNECTED:
                self._raise_closed()
            check_send_size(checked_payload(message), self._quirks)
        await self._deliver(message, next_state)
        if next_state is DISCONNECTED and self.close_code is None:  # a denial response's end
            self.close_code, self.close_reason = ABNORMAL_CLOSURE, ""

    # Handshake.

    async def accept(
        self,
        subprotocol: str | None = None,
        headers: Iterable[tuple[bytes, bytes]] | None = None,
    ) -> None:
        """Complete the handshake, optionally choosing a subprotocol and adding headers.

        ``subprotocol`` must be one the client offered; ``headers`` are raw byte
        pairs (lowercase names, none the server writes itself, such as ``upgrade``).
        Raises ``InvalidMessage`` before sending otherwise.
        Choosing none of the offered subprotocols warns (``NoSubprotocolWarning``):
        browsers fail that handshake.

        A client that left before the handshake completed does not make this raise:
        two of uvicorn's configurations refuse such an accept, the other servers take
        it, so on every server the next send or receive raises ``WebSocketDisconnect``.
        """
        if self._app_state is not CONNECTING:  # APP_NEXT's one accept, tested directly
            self._refuse_send("websocket.accept")
        message: Mapping[str, Any] = {
            "type": "websocket.accept",
            "subprotocol": None,
            "headers": [],
        }
        if subprotocol is not None or headers:
            message = checked_accept(subprotocol, headers, self)
        elif self.scope.get("subprotocols") and self.subprotocols:  # empty items: none offered
            warnings.warn(
                f"The client offered subprotocols {self.subprotocols} and accept() chose none:"
                " browsers fail this handshake. Pass accept(subprotocol=...) with one of them.",
                NoSubprotocolWarning,
                stacklevel=2,
            )
        if self._client_state is CONNECTING:  # the server's websocket.connect, consumed
            receive = self._receive  # an attribute, not a method: loaded as one is cheaper
            connect = await receive()
            if connect.get("type") == "websocket.connect":  # CLIENT_NEXT's move, not looked up
                self._client_state = CONNECTED
            else:
                self._take(connect)  # a departure is recorded; anything else is refused
        elif self._client_state is not CONNECTED:  # the application knew the client had left
            self._raise_closed()
        quirks = self._quirks = identify_quirks(self.scope)  # once: the flags follow from it
        if self._client_state is CONNECTED:
            send = self._send  # Channel._deliver, written out (see close())
            try:
                await send(message)
            except Exception as exc:
                if not is_peer_gone(exc):
                    raise
                # The client left during the handshake: recorded, for the next send or
                # receive to raise, as where the server accepts it silently.
                with contextlib.suppress(WebSocketDisconnect):
                    await self._send_failed(exc)
        self._app_state = CONNECTED  # the application_state setter, written out (see close())
        self._accepted = True
        self._refresh()
        if quirks.empties_unencodable_text:
            self._send = text_checked(self._send)
        if quirks.watches_idle:
            self._idle = IdleTimer(self._idle_check, IDLE_AFTER)
            call_soon(self._idle_check)

    async def close(self, code: int = NORMAL_CLOSURE, reason: str | None = None) -> None:
        """Close the connection; before ``accept()`` every server answers HTTP 403.

        Once the peer has left this only marks the connection closed, on every server
        (uvicorn refuses the close of a departed peer, the others take it silently).
        """
        state = self._app_state
        if state is not CONNECTED and state is not CONNECTING:  # APP_NEXT's two closes
            self._refuse_send("websocket.close")
        accepted = state is CONNECTED
        message = checked_close(code, reason, self, accepted)
        # Closed, with this code, before the message is handed over: a receive of another
        # task that takes the server's answer meanwhile raises with this close's code, not
        # with the server's account of it (1000, 1005 or the code echoed, per server), and
        # a send of another task is refused. Set directly, not through the
        # application_state property: 1,300 instructions a connect.
        self._app_state = DISCONNECTED
        self._refresh()
        recorded = self.close_code is None  # else the peer had left first: its code stays
        if recorded:  # what is sent: a reason the server loses is not
            self.close_code, self.close_reason = message["code"], message.get("reason") or ""
        # A running read-ahead goes on: it takes the peer's answer (wait_closed).
        if self._client_state is not DISCONNECTED:
            # Channel._deliver, written out here and in accept(): as a helper, its
            # coroutine cost a connect 2,400 instructions of 24,000.
            send = self._send
            if self._in_flight:  # another task's send: the close goes after it
                await self._wait_to_send()
            self._in_flight = True
            try:
                await send(message)
            except Exception as exc:
                if is_peer_gone(exc):  # a no-op, as where the server takes it silently
                    with contextlib.suppress(WebSocketDisconnect):
                        await self._send_failed(exc)
                    return
                self._app_state = state  # not delivered: the application side is as it was
                self._refresh()
                if recorded:
                    self.close_code = self.close_reason = None
                raise
            finally:
                self._in_flight = False  # Channel._deliver's, written out
                if self._waiters:
                    self._wake_senders()
        if accepted and self._quirks.waits_for_close_reply:
            await self.wait_closed(CLOSE_TIMEOUT)

    async def send_denial_response(self, response: DenialResponse) -> None:
        """Answer the handshake with an HTTP response instead of accepting it.

        Needs the ``websocket.http.response`` extension; without it raises
        ``DenialResponseUnsupported`` (a ``RuntimeError``) and sends nothing. A client
        that left before the response reached it does not make this raise, on any
        server: the rest of the response goes nowhere, as where the server takes it
        silently.
        """
        if self._client_state is DISCONNECTED:  # the application knew the client had left
            self._raise_closed()
        if not self.capabilities.denial_response:
            raise DenialResponseUnsupported(
                "The server doesn't support the Websocket Denial Response extension. "
                "(websocket.http.response is not in the scope's extensions; "
                "close() before accept() answers HTTP 403 instead)"
            )
        self._next_app_state("websocket.http.response.start")  # refused unless CONNECTING

        # Where only one body part reaches the client (granian), the parts are
        # joined and sent as one: the client gets the whole body either way.
        held: list[bytes] | None = None if self.capabilities.streamed_denial else []
        gone = False
        # The start waits for the first body part: a body that disagrees with the
        # declared length is then refused before anything reaches the client.
        start: MutableMapping[str, Any] | None = None
        left: int | None = None  # body bytes the content-length still promises

        async def send_http(message: MutableMapping[str, Any]) -> None:
            nonlocal start, left
            mtype = message.get("type")
            if mtype in ("websocket.http.response.start", "websocket.http.response.body"):
                # Starlette's and Lilya's responses prefix the type themselves.
                mtype = mtype.removeprefix("websocket.")
            if mtype == "http.response.start":
                if start is not None:
                    raise InvalidMessage("A denial response has one start")
                _, left = checked_denial_start(message)
                start = message
                return
            if mtype != "http.response.body":
                raise InvalidMessage(
                    f"A denial response can only send HTTP messages, not {mtype!r}"
                )
            if start is None:
                raise InvalidMessage("A denial response's body came before its start")
            body, more = message.get("body", b""), message.get("more_body", False)
            if left is not None:
                left -= len(body)
                if left < 0 or (left and not more):
                    raise InvalidMessage(
                        "The denial response's body does not match its content-length "
                        "(a 204 or 304 has none)"
                    )
            if held is not None:
                held.append(body)
                if more:
                    return
                message = {**message, "body": b"".join(held)}
            if self._app_state is CONNECTING:  # the start, held until now
                await deliver({**start, "type": "websocket.http.response.start"})
            await deliver({**message, "type": "websocket.http.response.body"})

        async def deliver(message: MutableMapping[str, Any]) -> None:
            nonlocal gone
            if gone:
                return
            try:
                await self.send(message)
            except WebSocketDisconnect:  # the server refused it: the client has left
                gone = True
                self._app_state = DISCONNECTED
                self._refresh()

        async def receive_http() -> MutableMapping[str, Any]:
            # A response only listens for the client leaving; skip the pending connect.
            while (await self._receive()).get("type") != "websocket.disconnect":
                pass
            return {"type": "http.disconnect"}

        await response(dict(self.scope), receive_http, send_http)
        if self._app_state in (CONNECTING, RESPONSE):
            raise InvalidMessage("The denial response ended without its last body part")

    # Sending data.

    send_text = sender(
        "text", str, _as_given, "Send a text message; checks and errors are those of ``send()``."
    )
    send_bytes = sender(
        "bytes",
        bytes,
        _as_bytes,
        "Send a binary message (``bytearray`` and ``memoryview`` are copied to bytes).",
    )

    async def send_json(self, data: Any, mode: Mode = "text") -> None:
        """Send ``data`` as JSON in a text frame, or a binary one with ``mode="binary"``."""
        if mode == "text":
            await self.send_text(self._codec.encode_text(data))
        elif mode == "binary":
            await self.send_bytes(self._codec.encode_bytes(data))
        else:
            raise InvalidMode(f'mode must be "text" or "binary", not {mode!r}')

    # Receiving data.

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

    receive_text = receiver(
        "text", str, "Receive a text message; a binary one raises ``UnexpectedMessageType``."
    )
    receive_bytes = receiver(
        "bytes", bytes, "Receive a binary message; a text one raises ``UnexpectedMessageType``."
    )

    @overload
    async def receive_json(self, mode: Mode = "text") -> Any: ...

    @overload
    async def receive_json(self, mode: Mode = "text", *, decoder: Callable[[Any], T]) -> T: ...

    async def receive_json(
        self,
        mode: Mode = "text",
        *,
        decoder: Callable[[Any], Any] | Literal[_Unset.AS_IS] = _AS_IS,
    ) -> Any:
        """Receive a JSON message from a text frame, or a binary one with ``mode="binary"``.

        ``decoder`` turns the decoded value into a typed one (for example a
        dataclass constructor or a pydantic ``model_validate``). Invalid JSON
        raises ``InvalidJSON`` carrying the raw payload; the connection stays open.
        """
        payload: str | bytes
        if mode == "text":
            payload = await self.receive_text()
        elif mode == "binary":
            payload = await self.receive_bytes()
        else:
            raise InvalidMode(f'mode must be "text" or "binary", not {mode!r}')
        decode = self._codec.decode  # an attribute, not a method: loaded as one is cheaper
        try:
            value = decode(payload)
        except ValueError as exc:
            raise InvalidJSON(payload, str(exc)) from None
        return value if decoder is _AS_IS else decoder(value)

    iter_text = iterator(
        "text",
        str,
        "Yield text messages until the peer disconnects (the code stays on ``close_code``).",
    )
    iter_bytes = iterator("bytes", bytes, "Yield binary messages until the peer disconnects.")

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

    async def _check_size(self, payload: str | bytes, limit: int) -> None:
        """Close with 1009 and raise when the payload's wire size (UTF-8 for text) is over."""
        size = len(payload.encode("utf-8")) if isinstance(payload, str) else len(payload)
        if size > limit:
            error = MessageTooLarge(size, limit)
            await self.close_for(error)
            raise error


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
