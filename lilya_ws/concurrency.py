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
from collections.abc import Awaitable, Callable, Coroutine
from typing import Any, Final, Protocol, TypeVar

from lilya_ws.errors import ReceiveTimeout

__all__ = [
    "Event",
    "IdleTimer",
    "Task",
    "call_soon",
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
    read for each. Once noted, the timer ticks every ``delay`` seconds: a tick that
    finds new notes ticks again, one that finds none calls back and stops (the
    callback runs outside any task; under trio, in a system task of its own). The
    call comes ``delay`` to ``2 * delay`` seconds after the last note.
    """

    __slots__ = ("_callback", "_delay", "_loop", "_notes", "_seen", "_ticking")

    def __init__(self, callback: Callable[[], None], delay: float) -> None:
        self._callback = callback
        self._delay = delay
        self._notes = self._seen = 0
        self._ticking = False
        self._loop = asyncio.get_running_loop() if _running_asyncio() else None

    def note(self) -> None:
        """Something happened: the callback waits for ``delay`` seconds without one."""
        self._notes += 1
        if not self._ticking:
            self._ticking = True
            self._seen = self._notes
            self._tick_later()

    def _tick_later(self) -> None:
        if self._loop is not None:
            self._loop.call_later(self._delay, self._tick, context=_NO_CONTEXT)
        else:
            start_task(self._trio_ticks, "lilya_ws idle timer")

    def _tick(self) -> None:
        if self._ticks_on():
            self._tick_later()

    async def _trio_ticks(self) -> None:
        """trio has no timed callback: one task ticks for as long as the timer does."""
        import trio

        ticking = True
        while ticking:  # a clock, not a wait for a condition: no event could replace it
            await trio.sleep(self._delay)
            ticking = self._ticks_on()

    def _ticks_on(self) -> bool:
        """A tick: notes since the last one keep the timer ticking; none call back."""
        if self._notes != self._seen:
            self._seen = self._notes
            return True
        self._ticking = False
        self._callback()
        return False
