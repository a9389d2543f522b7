"""A read-ahead stopped before its task ran reads nothing and leaves nobody waiting."""

from __future__ import annotations

from collections.abc import Mapping
from typing import cast

import anyio
import pytest

from lilya_ws.readahead import MAX_HELD, MAX_HELD_BYTES, ReadAhead
from lilya_ws.types import WebSocketReceiveMessage


@pytest.mark.parametrize("backend", ["asyncio", "trio"])
def test_a_read_ahead_cancelled_before_it_ran_never_calls_the_server_s_receive(
    backend: str,
) -> None:
    if backend == "trio":
        pytest.importorskip("trio")

    async def main() -> tuple[int, bool, bool, WebSocketReceiveMessage | None]:
        receives = 0

        async def receive() -> Mapping[str, object]:
            nonlocal receives
            receives += 1
            return {"type": "websocket.receive", "text": "read ahead"}

        def on_message(message: Mapping[str, object]) -> WebSocketReceiveMessage:
            return {"type": "websocket.receive", "text": str(message["text"])}

        async def on_departure() -> None:
            raise AssertionError("no message was read, so no departure")

        ahead = ReadAhead(receive, on_message, on_departure)
        ahead.cancel()
        for _ in range(10):  # turns enough for the task to run, had it not returned
            await anyio.lowlevel.checkpoint()
        return receives, ahead.started, ahead.drained, await ahead.take()

    receives, started, drained, taken = anyio.run(main, backend=backend)
    assert (receives, started, drained, taken) == (0, False, True, None)


@pytest.mark.parametrize("backend", ["asyncio", "trio"])
def test_a_take_waiting_on_a_read_ahead_cancelled_before_it_ran_returns_none(
    backend: str,
) -> None:
    if backend == "trio":
        pytest.importorskip("trio")

    async def main() -> tuple[WebSocketReceiveMessage | None, bool]:
        never = anyio.Event()

        async def receive() -> Mapping[str, object]:
            await never.wait()
            raise AssertionError("a cancelled read-ahead's receive never returns")

        def on_message(message: Mapping[str, object]) -> WebSocketReceiveMessage:
            raise AssertionError(f"nothing was read, yet {message!r}")

        async def on_departure() -> None:
            raise AssertionError("nothing was read, so no departure")

        aheads: list[ReadAhead] = []
        async with anyio.create_task_group() as tasks:

            async def cancel() -> None:
                aheads[0].cancel()

            tasks.start_soon(cancel)  # asyncio runs it before the read-ahead's own task
            aheads.append(ReadAhead(receive, on_message, on_departure))
            with anyio.fail_after(5):
                taken = await aheads[0].take()
        return taken, aheads[0].started

    taken, started = anyio.run(main, backend=backend)
    assert taken is None
    if backend == "asyncio":  # trio may run the read-ahead first: then it is cancelled running
        assert not started


@pytest.mark.parametrize(
    ("size", "read"),
    [(10, MAX_HELD), (MAX_HELD_BYTES // 4, 4), (MAX_HELD_BYTES, 1), (8 * MAX_HELD_BYTES, 1)],
)
def test_a_read_ahead_stops_at_its_count_or_its_bytes_whichever_comes_first(
    size: int, read: int
) -> None:
    """Messages nobody takes are held: at most ``MAX_HELD`` of them, or ``MAX_HELD_BYTES``
    plus the last one read (a client must not park 16 large messages in a server that
    would have held one)."""

    async def main() -> tuple[int, int]:
        receives = 0

        async def receive() -> Mapping[str, object]:
            nonlocal receives
            receives += 1
            return {"type": "websocket.receive", "bytes": bytes(size)}

        def on_message(message: Mapping[str, object]) -> WebSocketReceiveMessage:
            return {"type": "websocket.receive", "bytes": bytes(cast(bytes, message["bytes"]))}

        async def on_departure() -> None:
            raise AssertionError("the client never left")

        ahead = ReadAhead(receive, on_message, on_departure)
        with anyio.fail_after(5):
            await ahead.stopped()
        held = 0
        while await ahead.take() is not None:
            held += 1
        return receives, held

    assert anyio.run(main) == (read, read)
