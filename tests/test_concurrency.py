"""The idle timer under asyncio and trio: one call once the notes stop for a while."""

from __future__ import annotations

import asyncio
import gc
import time
import weakref
from collections.abc import Callable

import anyio
import pytest

from lilya_ws.concurrency import IdleTimer

DELAY = 0.05
NOTES = 20
"""Notes a quarter ``DELAY`` apart: five delays of an owner that is never idle."""


@pytest.mark.parametrize("backend", ["asyncio", "trio"])
def test_the_callback_waits_until_notes_stop_then_comes_once(backend: str) -> None:
    if backend == "trio":
        pytest.importorskip("trio")

    async def main() -> tuple[int, float, int, int]:
        calls: list[float] = []
        called = anyio.Event()

        def callback() -> None:
            calls.append(time.monotonic())  # no task runs it: no anyio clock
            called.set()

        timer = IdleTimer(callback, DELAY)
        for _ in range(NOTES):
            timer.note()
            await anyio.sleep(DELAY / 4)  # the owner's pace, not a synchronisation
        while_noting = len(calls)
        last_note = time.monotonic()
        timer.note()
        with anyio.fail_after(10 * DELAY):
            await called.wait()
        await anyio.sleep(3 * DELAY)  # long enough for a second call, were there one
        once = len(calls)
        called = anyio.Event()
        timer.note()  # noted again after the call: ticking again
        with anyio.fail_after(10 * DELAY):
            await called.wait()
        return while_noting, calls[0] - last_note, once, len(calls)

    while_noting, after, once, again = anyio.run(main, backend=backend)
    assert while_noting == 0
    assert DELAY <= after <= 3 * DELAY
    assert (once, again) == (1, 2)


@pytest.mark.parametrize("backend", ["asyncio", "trio"])
def test_timers_of_one_loop_go_idle_each_on_its_own(backend: str) -> None:
    if backend == "trio":
        pytest.importorskip("trio")

    async def main() -> tuple[list[str], list[str]]:
        calls: list[str] = []
        quiet_called = anyio.Event()
        busy_called = anyio.Event()

        def calling(name: str, called: anyio.Event) -> Callable[[], None]:
            def callback() -> None:
                calls.append(name)
                called.set()

            return callback

        busy = IdleTimer(calling("busy", busy_called), DELAY)
        quiet = IdleTimer(calling("quiet", quiet_called), DELAY)
        quiet.note()
        with anyio.fail_after(10 * DELAY):
            while not quiet_called.is_set():  # the busy owner's pace, not a synchronisation
                busy.note()
                await anyio.sleep(DELAY / 4)
        while_busy = list(calls)
        with anyio.fail_after(10 * DELAY):
            await busy_called.wait()
        return while_busy, calls

    while_busy, calls = anyio.run(main, backend=backend)
    assert while_busy == ["quiet"]
    assert calls == ["quiet", "busy"]


def test_a_closed_loop_is_not_kept_by_its_clock() -> None:
    """The clock of a loop that closed while a timer ticked goes with the loop."""
    loop = asyncio.new_event_loop()

    async def noted() -> None:
        IdleTimer(lambda: None, DELAY).note()

    loop.run_until_complete(noted())
    loop.close()
    gone = weakref.ref(loop)
    del loop
    gc.collect()
    assert gone() is None


@pytest.mark.parametrize("backend", ["asyncio", "trio"])
def test_a_tick_late_by_more_than_a_delay_decides_nothing(backend: str) -> None:
    """A congested loop makes an owner look idle that is only queued: late ticks wait."""
    if backend == "trio":
        pytest.importorskip("trio")

    async def main() -> tuple[int, int]:
        calls = 0
        called = anyio.Event()

        def callback() -> None:
            nonlocal calls
            calls += 1
            called.set()

        timer = IdleTimer(callback, DELAY)
        for _ in range(NOTES):
            timer.note()
            await anyio.sleep(DELAY / 4)  # the owner's pace, not a synchronisation
        for _ in range(3):  # three ticks, each late: without the rule two would decide
            time.sleep(3 * DELAY)  # noqa: ASYNC251 (the congestion itself: the loop held)
            for _ in range(10):  # turns enough for the late tick to run
                await anyio.lowlevel.checkpoint()
        while_late = calls
        timer.note()  # the owner, its turn come at last
        with anyio.fail_after(10 * DELAY):
            await called.wait()  # on time again: the ticks decide as before
        return while_late, calls

    assert anyio.run(main, backend=backend) == (0, 1)
