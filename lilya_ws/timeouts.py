"""Bounded waits that work under asyncio and trio (hypercorn runs apps on either).

A timed-out wait cancels the server's pending ``receive()``; every server
measured (see ``adapters/DIALECTS.md``) takes its messages from a queue whose
``get`` loses nothing when cancelled.
"""

from __future__ import annotations

import asyncio
from collections.abc import Awaitable
from typing import TypeVar

from lilya_ws.errors import ReceiveTimeout

__all__ = ["wait_with_timeout"]

T = TypeVar("T")


async def wait_with_timeout(awaitable: Awaitable[T], seconds: float) -> T:
    """Await ``awaitable``, raising ``ReceiveTimeout`` after ``seconds``."""
    try:
        asyncio.get_running_loop()
    except RuntimeError:
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
