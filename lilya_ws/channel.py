"""One ASGI WebSocket channel: both sides moved through the state tables, and knowing
when the peer left.

``Channel`` is what every operation of ``WebSocket`` stands on: it takes the
server's messages through the client table (``_take``), moves the application
side through its table (``_next_app_state``, ``_deliver``), keeps the flags the hot
paths test, and makes a send after the peer left fail the same on every server.
hypercorn, daphne and granian accept such a send silently (``adapters/DIALECTS.md``
§7); there a ``ReadAhead`` keeps a receive pending while the application only
sends, so the departure is known before the next send.
"""

from __future__ import annotations

import contextlib
from collections.abc import Callable, Mapping
from typing import TYPE_CHECKING, Any, Final, Literal, NoReturn, TypeAlias

from lilya_ws.capabilities import NO_QUIRKS, is_peer_gone
from lilya_ws.close_codes import ABNORMAL_CLOSURE, NO_STATUS_RECEIVED, NORMAL_CLOSURE
from lilya_ws.concurrency import Event, IdleTimer, new_event, wait_with_timeout
from lilya_ws.connection import Connection
from lilya_ws.errors import (
    ConnectionClosed,
    InvalidMessage,
    ReceiveTimeout,
    WebSocketDisconnect,
    WebSocketStateError,
)
from lilya_ws.readahead import ReadAhead
from lilya_ws.states import (
    APP_NEXT,
    BODY_END,
    CLIENT_NEXT,
    CONNECTED,
    CONNECTING,
    DISCONNECTED,
    RESPONSE,
    WebSocketState,
    refused_receive,
    refused_send,
)
from lilya_ws.validation import unencodable_text

if TYPE_CHECKING:
    from lilya_ws.types import AnyReceive, AnySend, WebSocketReceiveMessage

__all__ = ["CLOSE_TIMEOUT", "DEPARTURE_WAIT", "SENDS_PER_TURN", "Channel"]

_NOTHING_UNCHECKED: Final = -1
"""``_longest_unchecked`` while the connection is not open: every send is checked."""
CLOSE_TIMEOUT: Final = 5.0
"""Seconds ``close()`` (where the server needs it) and ``endpoint()`` wait for the
peer to answer a close."""
DEPARTURE_WAIT: Final = 1.0
"""Seconds a failed send waits for the server's ``websocket.disconnect`` and its code."""

LastStep: TypeAlias = Literal["sent", "receiving", "received"]
"""What the application did last, for the read-ahead (``Channel._last``): it reads
ahead only while the app is not receiving, and an alternating echo loop (receive,
send, receive...) never starts it. "sent" is also nothing since the handshake;
"receiving" is a receive of the application's waiting, on the server or on the
read-ahead: a second one is refused (``_next_message``). Literal
strings, not named constants: the hot paths test and set it on every message, and
a constant costs a global lookup each time."""
SENDS_PER_TURN: Final = 32
"""Of the sends that do not follow the application's own receive, one in this many lets the
event loop run first (``Channel._sent_again``)."""
IDLE_AFTER: Final = 0.05
"""Seconds (to twice as many) after the application's last receive from which, where the
server needs it (``ServerQuirks.watches_idle``), a receive is kept pending for it: an
echo loop is back sooner, and never pays for one."""


def _disconnect_fields(message: Mapping[str, Any]) -> tuple[int, str]:
    """Code and reason of a ``websocket.disconnect``, as plain ``int`` and ``str``."""
    code = message.get("code")
    return (NO_STATUS_RECEIVED if code is None else int(code)), (message.get("reason") or "")


class Channel(Connection):
    """The states of both sides of one connection, and the departure of the peer."""

    __slots__ = (
        "_accepted",
        "_ahead",
        "_app_state",
        "_client_state",
        "_close_answered",
        "_departed",
        "_fast_receive",
        "_fast_send",
        "_idle",
        "_in_flight",
        "_last",
        "_longest_unchecked",
        "_max_message_size",
        "_quirks",
        "_receive",
        "_receive_timeout",
        "_send",
        "_sends_since_turn",
        "_waiters",
        "close_code",
        "close_reason",
    )

    _departed: Event
    """Set once the server's ``websocket.disconnect`` is taken, for what waits on another
    task's receive to take it (``_await_pending_receive``); made by the first, unset until
    then."""

    def __init__(
        self,
        scope: Mapping[str, Any],
        receive: AnyReceive,
        send: AnySend,
        max_message_size: int | None,
        receive_timeout: float | None,
    ) -> None:
        if scope.get("type") != "websocket":
            raise InvalidMessage(f"WebSocket needs a 'websocket' scope, not {scope.get('type')!r}")
        self.scope = scope
        self._receive = receive
        # The one place the typing schools meet: every message passed is ASGI-valid.
        self._send: Callable[[Any], Any] = send
        self._max_message_size = max_message_size
        self._receive_timeout = receive_timeout
        self._client_state = CONNECTING
        self._app_state = CONNECTING
        self._fast_send = self._fast_receive = False
        self._longest_unchecked = _NOTHING_UNCHECKED
        self._ahead: ReadAhead | None = None
        self._quirks = NO_QUIRKS  # the server's, recognised once, by accept()
        self._last: LastStep = "sent"
        self._idle: IdleTimer | None = None  # made by accept() where the server needs it
        self._sends_since_turn = 0  # of the sends not following a receive, since a turn
        self._in_flight = False  # a send is in the server
        self._waiters: list[Event] | None = None  # sends waiting for it to return
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
        check. A send may skip the checks for a payload that is not empty and at most
        ``_longest_unchecked`` characters or bytes long (an int: testing ``in range``
        cost a send about 470 instructions more); ``_fast_send`` says any payload may,
        as a flag because every send tests it. A receive is fast when nothing was read
        ahead and there is no limit to apply."""
        if self._app_state is CONNECTED and self._client_state is CONNECTED:
            quirks = self._quirks
            self._fast_send = quirks.sends_as_given
            self._longest_unchecked = quirks.longest_unchecked
            self._fast_receive = (
                self._ahead is None
                and self._receive_timeout is None
                and self._max_message_size is None
            )
        else:
            self._fast_send = self._fast_receive = False
            self._longest_unchecked = _NOTHING_UNCHECKED

    def __repr__(self) -> str:
        return (
            f"<WebSocket {self.scope.get('path', '')!r} client={self.client_state.name}"
            f" application={self.application_state.name}>"
        )

    # Through the tables.

    async def _next_message(self, timeout: float | None) -> WebSocketReceiveMessage:
        """The next message through the client table: what was read ahead, else the server's.

        One receive at a time: servers differ on a second one (it raises, waits forever,
        or takes every other message), so it is refused."""
        if self._last == "receiving":
            raise WebSocketStateError(
                "Another receive is already waiting on this WebSocket: receive from one task"
            )
        ahead = self._ahead
        if ahead is not None and not ahead.started and timeout is None:
            self._stop_reading()  # the app receives before the read-ahead ever ran: no hop
            ahead = None
        elif ahead is None and timeout is not None and self._app_state is CONNECTED:
            # A timed receive never cancels the server's: granian loses the message a
            # receive cancelled on its way back had taken (adapters/DIALECTS.md,
            # cancelled-receive). A read-ahead's receive runs on, for the next receive.
            self._read_ahead()
            ahead = self._ahead
        if ahead is not None:
            taking = ahead.take()
            self._last = "receiving"
            try:
                message = await (taking if timeout is None else wait_with_timeout(taking, timeout))
            finally:
                self._last = "received"
                if self._idle is not None:
                    self._idle.note()
            if ahead.drained:  # the application receives by itself again: the fast paths may
                self._ahead = None
                self._refresh()
            if message is not None:
                return message
        if self._client_state is DISCONNECTED or self._app_state in (DISCONNECTED, RESPONSE):
            self._raise_closed()
        receiving = self._receive()
        self._last = "receiving"
        try:
            raw = await (receiving if timeout is None else wait_with_timeout(receiving, timeout))
        finally:
            self._last = "received"
            if self._idle is not None:
                self._idle.note()
        return self._take(raw)

    def _take(self, message: Mapping[str, Any]) -> WebSocketReceiveMessage:
        """Move the client side through the table for a server message, and normalise it."""
        state = self._client_state
        mtype = message.get("type")
        if not isinstance(mtype, str):
            raise WebSocketStateError(f"The server sent a message without a type: {message!r}")
        next_state = CLIENT_NEXT[state].get(mtype)
        if next_state is None:
            raise WebSocketStateError(
                f'Unexpected "{mtype}" from the server while the client is {state.name}'
            )
        if next_state is not state:
            self._client_state = next_state
            self._refresh()
        if mtype == "websocket.receive":
            text = message.get("text")
            if text is not None:
                return {"type": "websocket.receive", "text": text}
            return {"type": "websocket.receive", "bytes": message.get("bytes")}
        if mtype == "websocket.disconnect":
            code, reason = self._record_disconnect(message)
            return {"type": "websocket.disconnect", "code": code, "reason": reason}
        return {"type": "websocket.connect"}  # the one other message the table allows

    def _next_app_state(self, event: str) -> WebSocketState:
        """Where sending ``event`` moves the application side; refused if nowhere."""
        next_state = APP_NEXT[self._app_state].get(event)
        if next_state is None:
            self._refuse_send("websocket.http.response.body" if event == BODY_END else event)
        return next_state

    async def _deliver(self, message: Mapping[str, Any], next_state: WebSocketState) -> None:
        """Hand a checked message to the server, then move the application side.

        A send the server fails because the peer left raises ``WebSocketDisconnect``
        (``_send_failed``); any other error propagates unchanged."""
        send = self._send  # an attribute, not a method: loaded as one is cheaper
        if self._in_flight:
            await self._wait_to_send()
            if self._app_state is DISCONNECTED:  # closed by another task meanwhile
                self._refuse_send(str(message.get("type")))
        self._in_flight = True
        try:
            await send(message)
        except Exception as exc:
            await self._send_failed(exc)
            raise
        finally:
            self._in_flight = False
            if self._waiters:
                self._wake_senders()
        if next_state is not self._app_state:
            self._app_state = next_state
            self._refresh()

    async def _wait_to_send(self) -> None:
        """Wait until no other task's send is in the server: one send at a time, on every
        server. uvicorn's websockets implementation fails a second send that meets its
        flow control while the first waits there (``AssertionError`` in the app), the
        other servers take both (``adapters/DIALECTS.md``, concurrent-sends)."""
        while self._in_flight:
            turn = new_event()
            if self._waiters is None:
                self._waiters = [turn]
            else:
                self._waiters.append(turn)
            await turn.wait()

    def _wake_senders(self) -> None:
        """The send in the server returned or failed: the waiting sends may go (the first
        to run takes the turn, the others wait again)."""
        waiters, self._waiters = self._waiters, None
        for turn in waiters or ():
            turn.set()

    # Knowing that the peer left.

    def _read_ahead(self) -> None:
        """Keep a receive pending while the application only sends, so a send can tell
        that the peer left (``readahead.py``)."""
        if self._client_state is CONNECTED and self._ahead is None and self._last != "receiving":
            self._ahead = ReadAhead(self._receive, self._take, self._answer_close)
            self._fast_receive = False

    def _idle_check(self) -> None:
        """Once the application lets the loop run after the handshake, and ``IDLE_AFTER``
        (to twice that) after its last receive: unless it is receiving, keep a receive pending
        for it, so a send after the peer left can tell, and granian answers pings and
        close frames while the application works (``adapters/DIALECTS.md``, busy-app)."""
        if self._app_state is CONNECTED:
            self._read_ahead()

    def _note_send(self) -> bool:
        """A send; whether it must let the loop run first (``_sent_again``)."""
        if self._last == "received":
            self._last = "sent"
            return False
        return self._sent_again()

    def _sent_again(self) -> bool:
        """A send that does not follow the application's own receive: whether it must let
        the event loop run first, through the checked path (``send()``); one in
        ``SENDS_PER_TURN`` does.

        A loop of sends that waits for nothing else never lets the server read, so no
        server would learn that the client left, and the sends would go on (hypercorn,
        daphne, granian and uvicorn's sans-I/O configurations return at once once it
        has; uvicorn's websockets one raises on a write to a reset socket). A turn of
        the loop lets the server see the departure, and the receive kept pending take
        it: the read-ahead, started here where a send after the peer left is silent, or
        the application's own in another task. Counted, not tested against the loop:
        one turn in 32 sends costs about what any test of whether the loop ran would."""
        if self._idle is not None and self._last == "sent" and self._ahead is None:
            self._read_ahead()
        sends = self._sends_since_turn + 1
        if sends < SENDS_PER_TURN:
            self._sends_since_turn = sends
            return False
        self._sends_since_turn = 0
        return True

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
            and self._quirks.defers_close_reply
        ):
            # The app has not closed: its state stays, and close() stays a no-op.
            self._close_answered = True
            with contextlib.suppress(Exception):  # the reply is a courtesy to a departed peer
                await self._send({"type": "websocket.close", "code": NORMAL_CLOSURE})

    async def _send_failed(self, error: Exception) -> None:
        """Raise ``WebSocketDisconnect`` when the server's ``send`` failed because the peer
        is gone, with the code the server reports for the departure, and
        ``InvalidMessage`` for a text with no UTF-8 (the server sent nothing); return
        otherwise."""
        if isinstance(error, UnicodeEncodeError):
            raise unencodable_text(error) from error
        if not is_peer_gone(error):
            return
        if self._client_state is CONNECTED:  # wait for the server's code: the disconnect
            self._read_ahead()  # taken by a read-ahead, or by a receive already pending
            with contextlib.suppress(ReceiveTimeout):
                await wait_with_timeout(self._await_pending_receive(), DEPARTURE_WAIT)
        if self._client_state is not DISCONNECTED:
            if self._last == "receiving":  # still pending: it will get the server's code
                raise WebSocketDisconnect(ABNORMAL_CLOSURE) from error
            self._stop_reading()  # the server never said: 1006
            self._record_disconnect({"code": ABNORMAL_CLOSURE})
            self.client_state = DISCONNECTED
        raise self._closed() from error

    async def _await_pending_receive(self) -> bool:
        """Wait for the receive already pending at the server, if any (there is never a
        second): the read-ahead's, to its end; the application's own, in another task,
        until it takes the server's disconnect (a message it takes instead leaves the wait
        to the caller's timeout). Whether one was pending."""
        ahead = self._ahead
        if ahead is not None:
            await ahead.stopped()
        elif self._last == "receiving" and self._client_state is not DISCONNECTED:
            try:
                departed = self._departed
            except AttributeError:  # the first to wait for it (an unset slot)
                departed = self._departed = new_event()
            await departed.wait()
        else:
            return False
        return True

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
            if await self._await_pending_receive():
                self._ahead = None  # what a read-ahead held is discarded: the app has closed
            else:
                self._take(await self._receive())

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
        """Record the server's disconnect; the connection's code and reason, which stay
        the first recorded: the application's own close, when it closed first."""
        code, reason = self.close_code, self.close_reason
        if code is None:
            code, reason = self.close_code, self.close_reason = _disconnect_fields(message)
        with contextlib.suppress(AttributeError):  # no send waits for it (an unset slot)
            self._departed.set()
        return code, reason or ""
