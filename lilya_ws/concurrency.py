"""What lilya_ws needs from the event loop, under asyncio and trio alike.

hypercorn runs apps on either, and lilya_ws has no dependency for it: a bounded
wait, a background task that can be cancelled, and an event to wake a waiter.
A timed-out wait cancels what it waits on. On an open connection lilya_ws's timed
receives wait on a read-ahead's ``receive()``, never on the server's: granian loses
the message of a receive cancelled on its way back (``adapters/DIALECTS.md``,
cancelled-receive).
"""

from __future__ import annotations

import asyncio
import contextvars
import weakref
from collections.abc import Awaitable, Callable, Coroutine
from typing import TYPE_CHECKING, Any, Final, Generic, Protocol, TypeVar

from lilya_ws.errors import ReceiveTimeout

if TYPE_CHECKING:
    import trio

__all__ = [
    "Event",
    "IdleTimer",
    "Task",
    "call_soon",
    "checkpoint",
    "new_event",
    "start_task",
    "wait_with_timeout",
]

T = TypeVar("T")


def _running_asyncio() -> bool:
    try:
        asyncio.get_running_loop()
    except RuntimeError:
        return False
    return True


async def wait_with_timeout(awaitable: Awaitable[T], seconds: float) -> T:
    """Await ``awaitable``, raising ``ReceiveTimeout`` after ``seconds``."""
    if not _running_asyncio():
        return await _trio_wait(awaitable, seconds)
    try:
        return await asyncio.wait_for(awaitable, seconds)
    except asyncio.TimeoutError:
        raise ReceiveTimeout(f"No message within {seconds} s") from None


async def _trio_wait(awaitable: Awaitable[T], seconds: float) -> T:
    import trio

    with trio.move_on_after(seconds):
        return await awaitable
    raise ReceiveTimeout(f"No message within {seconds} s")


async def checkpoint() -> None:
    """Let the loop run the tasks that are ready, then carry on."""
    if _running_asyncio():
        await asyncio.sleep(0)
        return
    import trio

    await trio.lowlevel.checkpoint()


class Event(Protocol):
    """A one-shot event: ``asyncio.Event`` or ``trio.Event``."""

    def set(self) -> None: ...

    def is_set(self) -> bool: ...

    async def wait(self) -> Any: ...


class Task(Protocol):
    """A background task that can be stopped."""

    def cancel(self) -> Any: ...


def new_event() -> Event:
    """An event for the running loop."""
    if _running_asyncio():
        return asyncio.Event()
    import trio

    return trio.Event()


def start_task(run: Callable[[], Coroutine[Any, Any, None]], name: str) -> Task:
    """Run ``run()`` in the background as ``name``; ``cancel()`` stops it.

    Under trio there is no nursery to borrow, so it is a system task inside its
    own cancel scope: ``run`` must not raise (a system task's error ends the run).
    A name given spares asyncio a ``Task-<n>`` string per task (170 bytes each).
    """
    if _running_asyncio():
        return asyncio.get_running_loop().create_task(run(), name=name)
    import trio

    scope = trio.CancelScope()

    async def scoped() -> None:
        with scope:
            await run()

    trio.lowlevel.spawn_system_task(scoped, name=name)
    return scope


_NO_CONTEXT: Final = contextvars.Context()
"""``call_soon``'s and the idle timer's callbacks read no context variable: none is
copied for them."""


def call_soon(callback: Callable[[], None]) -> None:
    """Call ``callback()`` once the running task next lets the loop run."""
    if _running_asyncio():
        asyncio.get_running_loop().call_soon(callback, context=_NO_CONTEXT)
        return
    import trio

    trio.lowlevel.current_trio_token().run_sync_soon(callback)


class IdleTimer:
    """Calls ``callback()`` once nothing has been ``note()``-d for ``delay`` seconds.

    Noting only counts, so an owner may note every message: no timer and no clock
    read for each. A noted timer joins its event loop's clock (``_IdleClock``), which
    ticks every ``delay`` seconds for all of them: a tick that finds new notes keeps a
    timer, one that finds none lets it go and calls it back (outside any task; under
    trio, in the clock's system task, so the callback must not raise). The call comes
    ``delay`` to ``2 * delay`` seconds after the last note.
    """

    __slots__ = ("_callback", "_clock", "_delay", "_notes", "_seen", "_ticking")

    def __init__(self, callback: Callable[[], None], delay: float) -> None:
        self._callback = callback
        self._delay = delay
        self._notes = self._seen = 0
        self._ticking = False
        self._clock: _IdleClock | None = None  # the loop's, from the first note on

    def note(self) -> None:
        """Something happened: the callback waits for ``delay`` seconds without one."""
        self._notes += 1
        if not self._ticking:
            self._ticking = True
            self._seen = self._notes - 1  # the clock's next tick, however near, keeps it
            clock = self._clock
            if clock is None:
                clock = self._clock = _IdleClock.of_running_loop(self._delay)
            clock.watch(self)

    def ticks_on(self) -> bool:
        """A tick: whether there were notes since the last one (else the timer stops)."""
        if self._notes != self._seen:
            self._seen = self._notes
            return True
        self._ticking = False
        return False

    def call_back(self) -> None:
        """The notes stopped: call back."""
        self._callback()


class _IdleClock:
    """One event loop's tick for all its idle timers of one delay, while any is noted.

    One clock per loop, not a timer per connection: 10,000 connections that each
    receive once a second would otherwise schedule 20,000 timers a second. A tick late
    by more than a delay decides nothing: the loop is congested, and an application
    whose receive is merely queued behind other tasks would look idle (10,000
    connections that echo at once under hypercorn's trio worker had each start a
    read-ahead, at once cancelled by the app's own receive: a second of CPU).
    """

    __slots__ = ("_delay", "_due", "_on_asyncio", "_running", "_timers", "_wake")

    def __init__(self, delay: float) -> None:
        self._delay = delay
        self._on_asyncio = _running_asyncio()
        self._timers: list[IdleTimer] = []
        self._running = False
        self._due = 0.0  # asyncio: the loop time the next tick is due at
        self._wake: Event | None = None  # trio: set to resume ticking; None: no task yet

    @classmethod
    def of_running_loop(cls, delay: float) -> _IdleClock:
        """The running loop's clock for ``delay``, made by the first timer that needs it."""
        clocks = _IDLE_CLOCKS.get()
        clock = clocks.get(delay)
        if clock is None:
            clock = clocks[delay] = cls(delay)
        return clock

    def watch(self, timer: IdleTimer) -> None:
        """Tick ``timer`` from the next tick on."""
        self._timers.append(timer)
        if not self._running:
            self._running = True
            if self._on_asyncio:
                self._tick_later()
            elif self._wake is None:
                start_task(self._trio_ticks, "lilya_ws idle clock")
            else:
                self._wake.set()

    def _tick_later(self) -> None:
        loop = asyncio.get_running_loop()
        self._due = loop.time() + self._delay
        loop.call_later(self._delay, self._tick, context=_NO_CONTEXT)

    def _tick(self) -> None:
        idle = self._tick_all(asyncio.get_running_loop().time() - self._due > self._delay)
        if self._running:  # before the callbacks: one that raises stops no other timer
            self._tick_later()
        for timer in idle:
            timer.call_back()

    async def _trio_ticks(self) -> None:
        """trio has no timed callback: one system task ticks for the whole run, and
        waits for a note while no timer ticks."""
        import trio

        while True:  # a clock, not a wait for a condition: no event could replace it
            started = trio.current_time()
            await trio.sleep(self._delay)
            idle = self._tick_all(trio.current_time() - started > 2 * self._delay)
            wake = None
            if not self._running:
                wake = self._wake = trio.Event()
            for timer in idle:
                timer.call_back()
            if wake is not None:
                await wake.wait()

    def _tick_all(self, late: bool) -> list[IdleTimer]:
        """Tick every timer, unless ``late``; the ones that stopped, to call back."""
        if late:
            return []  # every timer ticks on, as if noted
        timers, self._timers = self._timers, []
        idle: list[IdleTimer] = []
        for timer in timers:
            (self._timers if timer.ticks_on() else idle).append(timer)
        self._running = bool(self._timers)
        return idle


class _PerLoop(Generic[T]):
    """One ``T`` per asyncio event loop or trio run, made by the first to ask; it holds
    no loop, and goes with its loop."""

    __slots__ = ("_asyncio", "_make", "_name", "_trio")

    def __init__(self, name: str, make: Callable[[], T]) -> None:
        self._name = name
        self._make = make
        self._asyncio: weakref.WeakKeyDictionary[asyncio.AbstractEventLoop, T] = (
            weakref.WeakKeyDictionary()
        )
        self._trio: trio.lowlevel.RunVar[T] | None = None

    def get(self) -> T:
        """The running loop's."""
        if _running_asyncio():
            loop = asyncio.get_running_loop()
            value = self._asyncio.get(loop)
            if value is None:
                value = self._asyncio[loop] = self._make()
            return value
        import trio

        if self._trio is None:
            self._trio = trio.lowlevel.RunVar(self._name)
        try:
            return self._trio.get()
        except LookupError:
            value = self._make()
            self._trio.set(value)
            return value


_IDLE_CLOCKS: Final[_PerLoop[dict[float, _IdleClock]]] = _PerLoop("lilya_ws idle clocks", dict)
