"""Reliability under load and faults, client side: the drivers and measurements.

The app they drive is ``integration.load_app:app`` (:data:`APP`), started under each
server; its routes and its JSON-lines side channel are described there.

The drivers: :func:`run_load` (picows, every echo checked for content and
order), :func:`stream_fault` (websockets client, then a reset or a server
shutdown), :func:`flood_slow_consumer` (a raw socket that never reads, with
the server's RSS sampled). :func:`raise_open_files` lifts ``RLIMIT_NOFILE``.
"""

from __future__ import annotations

import asyncio
import contextlib
import resource
import time
from dataclasses import asdict, dataclass
from typing import Final

from picows import WSCloseCode, WSFrame, WSListener, WSMsgType, WSTransport, ws_connect

from integration.faults import (
    FaultReport,
    FloodReport,
    flood_slow_consumer,
    group_rss_bytes,
    read_reports,
    split_url,
    stream_fault,
    wait_for_report,
)

__all__ = [
    "APP",
    "FaultReport",
    "FloodReport",
    "LoadResult",
    "flood_slow_consumer",
    "group_rss_bytes",
    "raise_open_files",
    "read_reports",
    "run_load",
    "split_url",
    "stream_fault",
    "wait_for_report",
]

APP: Final = "integration.load_app:app"

# Client side: limits and process measurements.


def raise_open_files(needed: int) -> int:
    """Raise the soft ``RLIMIT_NOFILE`` to ``needed`` (capped by the hard limit); the new soft.

    Servers started afterwards inherit it.
    """
    soft, hard = resource.getrlimit(resource.RLIMIT_NOFILE)
    wanted = needed if hard == resource.RLIM_INFINITY else min(needed, hard)
    if soft != resource.RLIM_INFINITY and soft < wanted:
        resource.setrlimit(resource.RLIMIT_NOFILE, (wanted, hard))
        soft = wanted
    return soft


# Client side: the load.


def _message(connection: int, seq: int, size: int) -> bytes:
    return (b"%05d:%08d:" % (connection, seq)).ljust(size, b"x")


class _EchoChecker(WSListener):
    """One connection: keep ``window`` messages in flight, check each echo's content and order."""

    def __init__(self, index: int, messages: int, window: int, size: int) -> None:
        self.index = index
        self.messages = messages
        self.window = window
        self.size = size
        self.sent = 0
        self.received = 0
        self.highest = -1
        self.reordered = 0
        self.duplicated = 0
        self.corrupt = 0
        self.seen = bytearray(messages)
        self.transport: WSTransport | None = None
        self.error: str | None = None
        self.done: asyncio.Future[None] = asyncio.get_running_loop().create_future()

    def on_ws_connected(self, transport: WSTransport) -> None:
        self.transport = transport

    def start(self) -> None:
        if self.messages == 0:
            self._finish()
        for _ in range(min(self.window, self.messages)):
            self._send_next()

    def _send_next(self) -> None:
        assert self.transport is not None
        self.transport.send(WSMsgType.TEXT, _message(self.index, self.sent, self.size))
        self.sent += 1

    def _finish(self, error: str | None = None) -> None:
        if not self.done.done():
            self.error = error
            self.done.set_result(None)

    def on_ws_frame(self, transport: WSTransport, frame: WSFrame) -> None:
        if frame.msg_type is WSMsgType.CLOSE:
            transport.disconnect()
            return
        if frame.msg_type is not WSMsgType.TEXT:
            self.corrupt += 1
            return
        payload = frame.get_payload_as_bytes()
        seq = self._sequence(payload)
        if seq is None:
            self.corrupt += 1
        elif self.seen[seq]:
            self.duplicated += 1
        else:
            self.seen[seq] = 1
            self.received += 1
            if seq < self.highest:
                self.reordered += 1
            self.highest = max(self.highest, seq)
        if self.sent < self.messages:
            self._send_next()
        if self.received == self.messages:
            self._finish()

    def _sequence(self, payload: bytes) -> int | None:
        """The sequence number of a well-formed echo of this connection's message, else None."""
        try:
            seq = int(payload[6:14])
        except ValueError:
            return None
        if 0 <= seq < self.sent and payload == _message(self.index, seq, self.size):
            return seq
        return None

    def on_ws_disconnected(self, transport: WSTransport) -> None:
        self._finish(f"disconnected after {self.received} of {self.messages} echoes")


@dataclass
class LoadResult:
    """One load run: every echo accounted for."""

    connections: int
    messages: int
    """Per connection."""
    connected: int
    sent: int
    received: int
    lost: int
    reordered: int
    duplicated: int
    corrupt: int
    wall: float
    errors: list[str]

    @property
    def expected(self) -> int:
        return self.connections * self.messages

    @property
    def rate(self) -> float:
        """Echoes per second (each one a full round trip)."""
        return self.received / self.wall if self.wall > 0 else 0.0

    @property
    def clean(self) -> bool:
        return (
            self.connected == self.connections
            and self.received == self.expected
            and not (self.lost or self.reordered or self.duplicated or self.corrupt or self.errors)
        )

    def as_row(self) -> dict[str, object]:
        return {**asdict(self), "rate": round(self.rate), "errors": self.errors[:5]}


async def run_load(
    url: str,
    connections: int,
    messages: int,
    *,
    window: int = 4,
    size: int = 32,
    connect_concurrency: int = 64,
    time_limit: float = 60.0,
) -> LoadResult:
    """Open ``connections`` to ``url``, echo ``messages`` on each with ``window`` in flight.

    Connections open ``connect_concurrency`` at a time (listen backlogs are
    small: 100 for hypercorn, 50 for daphne). Every echo is checked: its
    content, that it arrives once, and that no later message overtook it.
    The run is bounded by ``time_limit``; what did not arrive counts as lost.
    """
    checkers = [_EchoChecker(index, messages, window, size) for index in range(connections)]
    gate = asyncio.Semaphore(connect_concurrency)
    errors: list[str] = []

    async def open_one(checker: _EchoChecker) -> WSTransport | None:
        async with gate:
            try:
                transport, _ = await asyncio.wait_for(
                    ws_connect(lambda: checker, url, websocket_handshake_timeout=time_limit),
                    time_limit,
                )
            except (OSError, asyncio.TimeoutError, RuntimeError) as exc:
                errors.append(f"connection {checker.index}: {type(exc).__name__}: {exc}")
                return None
            return transport

    deadline = time.monotonic() + time_limit
    opened = await asyncio.gather(*(open_one(checker) for checker in checkers))
    transports = [transport for transport in opened if transport is not None]
    pairs = zip(checkers, opened, strict=True)
    live = [checker for checker, transport in pairs if transport is not None]
    started = time.perf_counter()
    try:
        for checker in live:
            checker.start()
        pending = [checker.done for checker in live]
        if pending:
            await asyncio.wait(pending, timeout=max(deadline - time.monotonic(), 0.1))
        wall = time.perf_counter() - started
    finally:
        for transport in transports:
            if not transport.is_disconnected:
                transport.send_close(WSCloseCode.OK)
        with contextlib.suppress(asyncio.TimeoutError):
            await asyncio.wait_for(
                asyncio.gather(*(t.wait_disconnected() for t in transports)), 10.0
            )
        for transport in transports:
            transport.disconnect()
    for checker in live:
        if checker.error is not None:
            errors.append(f"connection {checker.index}: {checker.error}")
        elif not checker.done.done():
            errors.append(f"connection {checker.index}: timed out at {checker.received} echoes")
    received = sum(checker.received for checker in checkers)
    return LoadResult(
        connections=connections,
        messages=messages,
        connected=len(live),
        sent=sum(checker.sent for checker in checkers),
        received=received,
        lost=connections * messages - received,
        reordered=sum(checker.reordered for checker in checkers),
        duplicated=sum(checker.duplicated for checker in checkers),
        corrupt=sum(checker.corrupt for checker in checkers),
        wall=wall,
        errors=errors,
    )
