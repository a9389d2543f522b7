"""One receive kept pending while the application is not receiving, so its sends learn
that the peer left.

hypercorn, daphne and granian accept a send silently after the client has gone
(``adapters/DIALECTS.md`` §7): an application that only sends would never notice.
While a ``ReadAhead`` runs, the server's ``receive()`` is always awaited, so its
``websocket.disconnect`` reaches lilya_ws as soon as the server has it and the next
send raises ``WebSocketDisconnect`` with the server's code. Messages read this way
are kept, in order, for the application's next receive: nothing is lost.

It reads no further once it has handed a message to a waiting receive (the
application is receiving by itself again, so an alternating echo loop pays
nothing per message), after a ``websocket.disconnect``, and once it holds
``MAX_HELD`` messages or ``MAX_HELD_BYTES`` nobody took (the server's own queue then
holds the rest, as it would without lilya_ws): a client cannot park more than that,
plus one message, in a server that would have held none (granian).
"""

from __future__ import annotations

from collections.abc import Awaitable, Callable, Mapping
from typing import TYPE_CHECKING, Final

from lilya_ws.concurrency import Event, Task, new_event, start_task

if TYPE_CHECKING:
    from lilya_ws.types import WebSocketReceiveMessage

__all__ = ["MAX_HELD", "MAX_HELD_BYTES", "ReadAhead"]

MAX_HELD: Final = 16
"""Messages read ahead and not yet taken before reading stops."""
MAX_HELD_BYTES: Final = 1 << 20
"""Payload (characters of a text, bytes of a binary message) read ahead and not yet taken
before reading stops: sixteen messages of 8 MiB had let a client park 136 MiB in a
granian process where the app was not receiving (4 MiB without lilya_ws)."""


class ReadAhead:
    """Reads the server's messages in a background task until someone takes one.

    Each message goes to ``on_message`` first (the WebSocket's state machine), at
    arrival: a departure is known before the application receives it, and
    ``on_departure`` runs then.
    """

    __slots__ = (
        "_error",
        "_held",
        "_on_departure",
        "_on_message",
        "_receive",
        "_task",
        "_waiter",
        "_waiting",
        "started",
    )

    def __init__(
        self,
        receive: Callable[[], Awaitable[Mapping[str, object]]],
        on_message: Callable[[Mapping[str, object]], WebSocketReceiveMessage],
        on_departure: Callable[[], Awaitable[None]],
    ) -> None:
        self._receive = receive
        self._on_message = on_message
        self._on_departure = on_departure
        # Made by the first message read: an idle connection never has one. Rarely more
        # than one message: a list.
        self._held: list[WebSocketReceiveMessage] | None = None
        self._error: Exception | None = None
        self._waiting = False
        self._waiter: Event | None = None  # made by the first wait: most connections never do
        self.started = False
        """The task has run: a receive of the server's may be pending. Until then,
        ``cancel`` costs nothing and the application may receive by itself."""
        self._task: Task | None = start_task(self._run, "lilya_ws read-ahead")

    @property
    def running(self) -> bool:
        """Still reading (a receive of the server's is pending)."""
        return self._task is not None

    @property
    def drained(self) -> bool:
        """Stopped, and everything it read has been taken."""
        return self._task is None and not self._held and self._error is None

    async def _run(self) -> None:
        if self._task is None:
            return  # cancelled before it ran: nothing to undo (cheaper than trio's Cancelled)
        self.started = True
        read = 0  # payload read, characters or bytes
        try:
            while True:
                message = self._on_message(await self._receive())
                held = self._held
                if held is None:
                    held = self._held = []
                held.append(message)
                if message["type"] == "websocket.disconnect":
                    self._task = None  # reading is over: the departure hook may cancel nothing
                    await self._on_departure()
                    break
                if message["type"] == "websocket.receive":
                    read += len(message.get("text") or message.get("bytes") or b"")
                if self._waiting or len(held) >= MAX_HELD or read >= MAX_HELD_BYTES:
                    break
                self._wake()
        except Exception as exc:  # kept for the application's next receive
            self._error = exc
        finally:
            self._task = None
            self._wake()

    def _wake(self) -> None:
        waiter = self._waiter
        if waiter is not None:
            self._waiter = None  # one-shot (trio events cannot be cleared)
            waiter.set()

    async def _next_change(self) -> None:
        """Wait until a message arrives or reading stops."""
        if self._waiter is None:
            self._waiter = new_event()
        await self._waiter.wait()

    async def take(self) -> WebSocketReceiveMessage | None:
        """The next message read ahead, waiting while reading; None once drained.

        An error the server's ``receive()`` raised is raised here, in order.
        """
        while not self._held:  # None or empty
            if self._error is not None:
                error, self._error = self._error, None
                raise error
            if self._task is None:
                return None
            self._waiting = True
            try:
                await self._next_change()
            finally:
                self._waiting = False
        return self._held.pop(0)

    async def stopped(self) -> None:
        """Wait until reading stops (a departure, an error, or ``MAX_HELD`` messages)."""
        while self._task is not None:
            await self._next_change()

    def cancel(self) -> None:
        """Stop reading; what was read stays available to ``take``."""
        task = self._task
        if task is not None:
            self._task = None
            if self.started:
                task.cancel()
            else:  # it returns as soon as it runs; a take() waiting on it returns now
                self._wake()
