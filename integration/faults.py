"""Reliability under faults, client side: a reset or a shutdown mid-stream, a slow consumer.

The drivers of ``integration.load_app:app``'s ``/stream`` and ``/flood`` routes
(:func:`stream_fault`, :func:`flood_slow_consumer`); ``integration.load`` re-exports
them beside the load driver.
"""

from __future__ import annotations

import asyncio
import json
import socket
import struct
import time
from collections.abc import Callable
from dataclasses import asdict, dataclass
from pathlib import Path
from typing import Any
from urllib.parse import quote, urlsplit

from websockets.asyncio.client import connect as ws_client_connect
from websockets.exceptions import ConnectionClosed

from adapters.handshake import open_handshake
from adapters.process import group_rss_bytes

__all__ = [
    "FaultReport",
    "FloodReport",
    "flood_slow_consumer",
    "group_rss_bytes",
    "read_reports",
    "split_url",
    "stream_fault",
    "wait_for_report",
]

# The side channel, read.


def read_reports(path: Path) -> list[dict[str, Any]]:
    """Every complete JSON line written to ``path`` so far."""
    try:
        text = path.read_text(encoding="utf-8")
    except FileNotFoundError:
        return []
    return [json.loads(line) for line in text.splitlines(keepends=True) if line.endswith("\n")]


def wait_for_report(path: Path, event: str, timeout: float) -> dict[str, Any] | None:
    """The first report line whose ``event`` is ``event``, waiting up to ``timeout``.

    The app writes from another process and nothing announces it, so this polls
    the file: a bounded loop with 10 ms pauses, not a fixed sleep.
    """
    deadline = time.monotonic() + timeout
    while True:
        for record in read_reports(path):
            if record.get("event") == event:
                return record
        if time.monotonic() >= deadline:
            return None
        time.sleep(0.01)  # the poll's pace: the file is what is waited on


# Client side: faults.


@dataclass
class FaultReport:
    """What the app saw when its connection failed, as it reported it."""

    fault: str
    exception: str | None
    code: int | None
    side: str | None
    detect_seconds: float | None
    """From the fault (client side) to the app's exception; None without a report."""
    tasks_started: int | None
    tasks_left: int | None
    client_close_code: int | None
    """The close code the client saw (shutdown), None for a reset (the client left)."""
    stop_seconds: float | None
    """How long the server took to exit after SIGTERM (shutdown)."""
    raw: dict[str, Any] | None

    def as_row(self) -> dict[str, object]:
        row = asdict(self)
        row.pop("raw")
        return row


def _with_report(url: str, path: str, report: Path) -> str:
    return f"{url}{path}?report={quote(str(report))}"


async def stream_fault(
    url: str,
    report: Path,
    fault: str,
    stop_server: Callable[[], None] | None = None,
    *,
    warmup: int = 5,
    time_limit: float = 10.0,
) -> FaultReport:
    """Stream with ``/stream``, then fault: ``"reset"`` (TCP RST) or ``"shutdown..."``.

    Before the fault both directions are flowing: the client has sent
    ``warmup`` messages and seen the app count them. A reset sets
    ``SO_LINGER {1, 0}`` and aborts the transport; a shutdown calls
    ``stop_server`` in a thread while the client keeps reading. It must return
    only once every server process is gone (``RunningServer.stop()`` does).
    """
    flowing = asyncio.Event()
    close_code: list[int | None] = []
    async with ws_client_connect(
        _with_report(url, "/stream", report), open_timeout=time_limit, close_timeout=1
    ) as client:

        async def read() -> None:
            try:
                async for message in client:
                    if json.loads(message)["got"] >= warmup:
                        flowing.set()
            except ConnectionClosed:
                pass
            close_code.append(client.close_code)

        reader = asyncio.create_task(read())
        try:
            for index in range(warmup):
                await client.send(f"c{index}")
            await asyncio.wait_for(flowing.wait(), time_limit)
            stop_seconds: float | None = None
            if fault == "reset":
                sock = client.transport.get_extra_info("socket")
                sock.setsockopt(socket.SOL_SOCKET, socket.SO_LINGER, struct.pack("ii", 1, 0))
                fault_at = time.time()
                client.transport.abort()
            elif fault.startswith("shutdown") and stop_server is not None:
                fault_at = time.time()
                await asyncio.to_thread(stop_server)
                stop_seconds = time.time() - fault_at
            else:
                raise ValueError(f"unknown fault {fault!r}")
            await asyncio.wait_for(reader, time_limit)
        finally:
            reader.cancel()
            client.transport.abort()
    # After a shutdown the server's processes are gone: what the app wrote is all there is.
    wait = time_limit if fault == "reset" else 0.0
    ended = await asyncio.to_thread(wait_for_report, report, "ended", wait)
    return FaultReport(
        fault=fault,
        exception=None if ended is None else ended["exception"],
        code=None if ended is None else ended["code"],
        side=None if ended is None else ended.get("side"),
        detect_seconds=None if ended is None else ended["t"] - fault_at,
        tasks_started=None if ended is None else ended["tasks_started"],
        tasks_left=None if ended is None else ended["tasks_left"],
        client_close_code=close_code[0] if close_code and fault != "reset" else None,
        stop_seconds=stop_seconds,
        raw=ended,
    )


# Client side: the slow consumer.


@dataclass
class FloodReport:
    """A client that never reads while the app sends as fast as it can."""

    size: int
    total: int
    seconds: float
    sent: int
    """Bytes the app's ``send()`` calls returned for."""
    outcome: str
    longest_send: float
    deadline_honoured: bool
    """The app's deadline could interrupt its blocked ``send()`` (False: only the reset did)."""
    disconnect_code: int | None
    """What the app saw after the reset (None: no disconnect within the wait)."""
    rss_start: int
    rss_peak: int
    rss_end: int
    """After the client reset the connection and the app saw it."""
    samples: list[tuple[float, int]]

    @property
    def backpressure(self) -> bool:
        """A ``send()`` of the app waited (0.5 s or more) for the client to read."""
        return self.longest_send >= 0.5

    @property
    def growth(self) -> int:
        return self.rss_peak - self.rss_start

    def as_row(self) -> dict[str, object]:
        return {
            "sent_MiB": round(self.sent / 2**20, 1),
            "outcome": self.outcome,
            "longest_send_s": round(self.longest_send, 2),
            "deadline_honoured": self.deadline_honoured,
            "disconnect_code": self.disconnect_code,
            "rss_start_MiB": round(self.rss_start / 2**20, 1),
            "rss_peak_MiB": round(self.rss_peak / 2**20, 1),
            "rss_end_MiB": round(self.rss_end / 2**20, 1),
            "backpressure": self.backpressure,
        }


def flood_slow_consumer(
    host: str,
    port: int,
    pgid: int,
    report: Path,
    *,
    size: int = 65536,
    total: int = 200 * 2**20,
    seconds: float = 20.0,
    goodbye: float = 3.0,
    sample_every: float = 0.1,
) -> FloodReport:
    """Connect to ``/flood``, never read, and sample the server group's RSS while the app sends.

    Sampling is a measurement, every ``sample_every`` seconds, until the app
    reports that it stopped or ``seconds`` plus a margin have passed (a
    server's blocked send may ignore the app's own deadline: hypercorn-trio
    shields it). The connection then ends with an RST, and the app's report of
    how its sends ended, and of the disconnect, is awaited (bounded).
    """
    rss_start = group_rss_bytes(pgid)
    samples: list[tuple[float, int]] = [(0.0, rss_start)]
    path = (
        f"/flood?report={quote(str(report))}&size={size}&total={total}"
        f"&seconds={seconds}&goodbye={goodbye}"
    )
    handshake = open_handshake(host, port, path, timeout=10.0)
    try:
        if handshake.status != 101:
            raise ConnectionError(f"/flood answered HTTP {handshake.status}")
        start = time.monotonic()
        deadline = start + seconds + 2.0
        done: dict[str, Any] | None = None
        while done is None and time.monotonic() < deadline:
            samples.append((time.monotonic() - start, group_rss_bytes(pgid)))
            done = wait_for_report(report, "done", sample_every)
        samples.append((time.monotonic() - start, group_rss_bytes(pgid)))
    finally:
        handshake.abort(reset=True)
    done_before_reset = done is not None
    done = done or wait_for_report(report, "done", seconds + goodbye)
    if done is None:
        raise TimeoutError("/flood never reported how its sends ended, even after the reset")
    closed = wait_for_report(report, "closed", goodbye + 2.0)
    return FloodReport(
        size=size,
        total=total,
        seconds=seconds,
        sent=done["sent"],
        outcome=done["outcome"],
        longest_send=done["longest_send"],
        deadline_honoured=done_before_reset,
        disconnect_code=None if closed is None else closed["code"],
        rss_start=rss_start,
        rss_peak=max(rss for _, rss in samples),
        rss_end=group_rss_bytes(pgid),
        samples=samples,
    )


def split_url(ws_url: str) -> tuple[str, int]:
    """Host and port of ``ws://host:port``."""
    parts = urlsplit(ws_url)
    if parts.hostname is None or parts.port is None:
        raise ValueError(f"not a ws://host:port URL: {ws_url!r}")
    return parts.hostname, parts.port
