"""The data fast paths, each written once and made into the method of every payload type.

``send_text``/``send_bytes``, ``receive_text``/``receive_bytes`` and
``iter_text``/``iter_bytes`` are built here from one definition per direction and
shape, with the payload's key and type fixed. Calling one shared helper instead
would cost every message a coroutine (about 1,000 instructions, more than all the
checks; see bench/README.md). A fast path runs while both sides are open and nothing
needs a check; anything else takes the WebSocket's checked path.

The server's ``send`` and ``receive`` are loaded into a local before the call:
``self._send(...)`` on an attribute that is not a method is looked up the slow way
(CPython specialises method calls, not calls of a callable attribute). The payload
is read by subscript, a ``KeyError`` meaning "not a data message": ``message.get()``
is a method call, about 50 instructions more on every message.
"""

from __future__ import annotations

from collections.abc import AsyncGenerator, Callable, Coroutine, Sized
from typing import TYPE_CHECKING, Any, Literal, Protocol, TypeVar, overload

from lilya_ws.concurrency import checkpoint
from lilya_ws.errors import WebSocketDisconnect

if TYPE_CHECKING:
    from lilya_ws.websockets import WebSocket

__all__ = ["iterator", "receiver", "sender"]

P = TypeVar("P", str, bytes)
D = TypeVar("D", bound=Sized)
D_contra = TypeVar("D_contra", contravariant=True)


class BoundSend(Protocol[D_contra]):
    """``send_text`` or ``send_bytes`` of one WebSocket."""

    def __call__(self, data: D_contra) -> Coroutine[Any, Any, None]: ...


class Send(Protocol[D_contra]):
    """A made send method: bound like a function, so ``data`` keeps its name when typed."""

    @overload
    def __get__(
        self, websocket: None, owner: type[WebSocket], /
    ) -> Callable[[WebSocket, D_contra], Coroutine[Any, Any, None]]: ...

    @overload
    def __get__(self, websocket: WebSocket, owner: type[WebSocket], /) -> BoundSend[D_contra]: ...


def _name(method: Callable[..., Any], name: str, doc: str) -> None:
    """Name the made method as if it had been written in the class."""
    method.__name__ = name
    method.__qualname__ = f"WebSocket.{name}"
    method.__doc__ = doc


def sender(
    key: Literal["text", "bytes"], kind: type[P], payload: Callable[[D], P], doc: str
) -> Send[D]:
    """The send method of ``kind``; ``payload`` turns what it is given into what
    ``send()`` checks on the slow path (``send_bytes`` copies a ``bytearray``)."""

    async def send_data(self: WebSocket, data: D) -> None:
        if (
            data.__class__ is kind
            and not self._in_flight  # else the checked path waits its turn
            and (self._fast_send or (data and len(data) <= self._longest_unchecked))
        ):
            if self._last == "received":  # Channel._note_send, written out
                self._last = "sent"
            elif self._sent_again():
                await checkpoint()  # the loop turns: the checked path sees what it brought
                await self.send({"type": "websocket.send", key: data})
                return
            send = self._send
            self._in_flight = True  # Channel._deliver, written out
            try:
                await send({"type": "websocket.send", key: data})
            except Exception as exc:
                await self._send_failed(exc)
                raise
            finally:
                self._in_flight = False
                if self._waiters:
                    self._wake_senders()
        else:
            await self.send({"type": "websocket.send", key: payload(data)})

    _name(send_data, f"send_{key}", doc)
    return send_data


def receiver(
    key: Literal["text", "bytes"], kind: type[P], doc: str
) -> Callable[[WebSocket], Coroutine[Any, Any, P]]:
    """The receive method of ``kind``."""

    async def receive_data(self: WebSocket) -> P:
        if self._fast_receive and self._last != "receiving":  # else refused if concurrent
            self._last = "receiving"
            receive = self._receive
            try:
                message = await receive()
            finally:
                self._last = "received"
                if self._idle is not None:
                    self._idle.note()
            try:
                data = message[key]
            except KeyError:  # not a data message: the checked path says what it is
                data = None
            if data.__class__ is kind:
                return data
            return await self._payload_of(self._take(message), kind)
        return await self._receive_checked(kind)

    _name(receive_data, f"receive_{key}", doc)
    return receive_data


def iterator(
    key: Literal["text", "bytes"], kind: type[P], doc: str
) -> Callable[[WebSocket], AsyncGenerator[P, None]]:
    """The iterate method of ``kind``: ``receiver``'s path in a generator's shape (a
    generator cannot await a receive method without paying its coroutine)."""

    async def iterate_data(self: WebSocket) -> AsyncGenerator[P, None]:
        receive = self._receive
        idle = self._idle  # set by accept() alone, which comes first
        try:
            while True:
                if self._fast_receive and self._last != "receiving":
                    self._last = "receiving"
                    try:
                        message = await receive()
                    finally:
                        self._last = "received"
                        if idle is not None:
                            idle.note()
                    try:
                        data = message[key]
                    except KeyError:  # not a data message
                        data = None
                    if data.__class__ is not kind:
                        data = await self._payload_of(self._take(message), kind)
                    yield data
                else:
                    yield await self._receive_checked(kind)
        except WebSocketDisconnect:
            return  # the peer left: the code stays on close_code

    _name(iterate_data, f"iter_{key}", doc)
    return iterate_data
