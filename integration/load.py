"""Reliability under load and faults: the server-side app and the client-side drivers.

The app (``integration.load:app``, written with lilya_ws, runs on asyncio and
on trio through anyio) routes on the path:

- ``/echo``: echo every text message until the client leaves.
- ``/stream?report=PATH``: send a small message every millisecond while
  receiving the client's, until either side sees ``WebSocketDisconnect``; then
  say what ended it (exception, code, when, on which side) and whether a task
  it started is still running.
- ``/flood?report=PATH&size=N&total=N&seconds=N&goodbye=N``: send
  ``size``-byte messages as fast as the server takes them, up to ``total``
  bytes or ``seconds``; report progress, the longest single ``send()`` and how
  it ended; then wait up to ``goodbye`` seconds for the client to leave.

What the app sees after the client or the server went away cannot travel back
over the connection, so it is appended as JSON lines to ``PATH`` (flushed and
closed at once): a side channel that survives a reset and a shutdown.
``PATH`` must be an absolute ``.jsonl`` path inside the system temporary
directory; anything else is refused before accept (HTTP 403).

The drivers: :func:`run_load` (picows, every echo checked for content and
order), :func:`stream_fault` (websockets client, then a reset or a server
shutdown), :func:`flood_slow_consumer` (a raw socket that never reads, with
the server's RSS sampled). :func:`raise_open_files` lifts ``RLIMIT_NOFILE``.
"""

from __future__ import annotations

import asyncio
import contextlib
import json
import resource
import socket
import struct
import tempfile
import threading
import time
from collections.abc import Awaitable, Callable, Mapping, MutableMapping
from dataclasses import asdict, dataclass, field
from pathlib import Path
from typing import Any, Final, TypeAlias
from urllib.parse import quote, urlsplit

import anyio
from picows import WSCloseCode, WSFrame, WSListener, WSMsgType, WSTransport, ws_connect
from websockets.asyncio.client import connect as ws_client_connect
from websockets.exceptions import ConnectionClosed

from adapters.handshake import open_handshake
from adapters.process import group_processes
from adapters.raw_asgi import websocket_only
from lilya_ws import WebSocket, WebSocketDisconnect

__all__ = [
    "APP",
    "FaultReport",
    "FloodReport",
    "LoadResult",
    "app",
    "flood_slow_consumer",
    "group_rss_bytes",
    "raise_open_files",
    "read_reports",
    "run_load",
    "stream_fault",
    "wait_for_report",
]

APP: Final = "integration.load:app"

RawMessage: TypeAlias = Mapping[str, Any]
RawReceive: TypeAlias = Callable[[], Awaitable[RawMessage]]
RawSend: TypeAlias = Callable[[MutableMapping[str, Any]], Awaitable[None]]

STREAM_INTERVAL: Final = 0.001
"""Seconds between two messages of ``/stream``: a steady stream, not a flood."""
STREAM_DEADLINE: Final = 60.0
"""No ``/stream`` app lives longer than this, whatever happens to its client."""
FLOOD_PROGRESS_BYTES: Final = 4 * 1024 * 1024
"""``/flood`` appends a progress line every this many bytes sent."""
FLOOD_GOODBYE_WAIT: Final = 15.0
"""How long ``/flood`` waits for the client to leave after it stopped sending."""
_TEMP_ROOT: Final = Path(tempfile.gettempdir()).resolve()
_CLOCK_TICK: Final = threading.Event()
"""Never set: ``_CLOCK_TICK.wait(t)`` is the pause of a bounded polling loop."""


# The side channel.


def _report_path(websocket: WebSocket) -> Path | None:
    """The ``report`` query parameter, if it names a ``.jsonl`` file in the temp directory."""
    raw = websocket.query_params.get("report")
    if not raw:
        return None
    path = Path(raw)
    if not path.is_absolute() or path.suffix != ".jsonl":
        return None
    try:
        path.parent.resolve().relative_to(_TEMP_ROOT)
    except ValueError:
        return None
    return path


def _append(path: Path, record: Mapping[str, object]) -> None:
    """Append one JSON line and close the file: it is on disk for any reader at once."""
    with path.open("a", encoding="utf-8") as file:
        file.write(json.dumps(record) + "\n")
        file.flush()


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
        _CLOCK_TICK.wait(0.01)


def _describe(exc: BaseException) -> str:
    """The class name, or for an exception group the leaves' names: ``Group[A, B]``."""
    leaves = getattr(exc, "exceptions", None)
    if isinstance(leaves, tuple):
        return f"{type(exc).__name__}[{', '.join(_describe(leaf) for leaf in leaves)}]"
    return type(exc).__name__


# The app.


@websocket_only
async def app(scope: MutableMapping[str, Any], receive: RawReceive, send: RawSend) -> None:
    """The three WebSocket routes (lifespan and plain HTTP: ``websocket_only``)."""
    websocket = WebSocket(scope, receive, send)
    route = websocket.url.path
    if route == "/stream" or route == "/flood":
        report = _report_path(websocket)
        if report is None:
            await websocket.close(1008)
        elif route == "/stream":
            await _stream(websocket, report)
        else:
            await _flood(websocket, report)
        return
    # "/echo", and any other path (the adapters' readiness check lands on "/").
    await websocket.accept()
    async for text in websocket.iter_text():
        await websocket.send_text(text)


@dataclass
class _StreamState:
    sent: int = 0
    received: int = 0
    started: list[int] = field(default_factory=list)
    """anyio task ids of the tasks the app started."""
    ended_by: dict[str, object] | None = None


async def _stream(websocket: WebSocket, report: Path) -> None:
    """Send and receive concurrently until the connection ends; report how it ended."""
    await websocket.accept()
    state = _StreamState()
    tasks_before = len(anyio.get_running_tasks())
    _append(report, {"event": "accepted", "t": time.time()})

    def observe(side: str, exc: WebSocketDisconnect) -> None:
        if state.ended_by is None:
            state.ended_by = {
                "exception": type(exc).__name__,
                "code": exc.code,
                "side": side,
                "t": time.time(),
            }

    async def receiver(group: anyio.abc.TaskGroup) -> None:
        state.started.append(anyio.get_current_task().id)
        try:
            while True:
                await websocket.receive_text()
                state.received += 1
        except WebSocketDisconnect as exc:
            observe("receive", exc)
        group.cancel_scope.cancel()

    async def sender(group: anyio.abc.TaskGroup) -> None:
        state.started.append(anyio.get_current_task().id)
        try:
            while True:
                await websocket.send_text(f'{{"n":{state.sent},"got":{state.received}}}')
                state.sent += 1
                await anyio.sleep(STREAM_INTERVAL)
        except WebSocketDisconnect as exc:
            observe("send", exc)
        group.cancel_scope.cancel()

    def result(outcome: dict[str, object]) -> dict[str, object]:
        try:
            alive: set[int] | None = {task.id for task in anyio.get_running_tasks()}
        except Exception:  # no event loop left (GeneratorExit at interpreter exit)
            alive = None
        return {
            "event": "ended",
            **outcome,
            "sent": state.sent,
            "received": state.received,
            "tasks_started": len(state.started),
            "tasks_left": None if alive is None else len(alive.intersection(state.started)),
            "tasks_before": tasks_before,
            "tasks_after": None if alive is None else len(alive),
        }

    try:
        with anyio.move_on_after(STREAM_DEADLINE):
            async with anyio.create_task_group() as group:
                group.start_soon(receiver, group)
                group.start_soon(sender, group)
    except BaseException as exc:  # the server cancelled the app, or a server error escaped
        _append(report, result({"exception": _describe(exc), "code": None, "t": time.time()}))
        raise
    _append(report, result(state.ended_by or {"exception": None, "code": None, "t": time.time()}))


async def _flood(websocket: WebSocket, report: Path) -> None:
    """Send as fast as the server accepts; report whether a ``send()`` ever blocked."""
    params = websocket.query_params
    size, total = int(params.get("size", "65536")), int(params.get("total", str(2**27)))
    seconds = float(params.get("seconds", "5"))
    goodbye = float(params.get("goodbye", str(FLOOD_GOODBYE_WAIT)))
    await websocket.accept()
    chunk = b"x" * size
    sent = 0
    longest = 0.0
    outcome = "total"
    mark = FLOOD_PROGRESS_BYTES
    started = send_started = time.monotonic()
    _append(report, {"event": "accepted", "t": time.time()})
    with anyio.move_on_after(seconds) as deadline:
        try:
            while sent < total:
                send_started = time.monotonic()
                await websocket.send_bytes(chunk)
                longest = max(longest, time.monotonic() - send_started)
                sent += size
                if sent >= mark:
                    mark += FLOOD_PROGRESS_BYTES
                    _append(report, {"event": "progress", "sent": sent, "t": time.time()})
        except WebSocketDisconnect as exc:
            outcome = f"WebSocketDisconnect {exc.code}"
    stopped = time.monotonic()
    pending = 0.0
    if deadline.cancelled_caught:
        outcome = "deadline"
        pending = stopped - send_started  # how long the send cut by the deadline had waited
    _append(
        report,
        {
            "event": "done",
            "outcome": outcome,
            "sent": sent,
            "elapsed": stopped - started,
            "longest_send": max(longest, pending),
            "pending_send": pending,
            "t": time.time(),
        },
    )
    code: int | None = None
    with anyio.move_on_after(goodbye):
        try:
            while True:
                await websocket.receive_bytes()
        except WebSocketDisconnect as exc:
            code = exc.code
    _append(report, {"event": "closed", "code": code, "t": time.time()})


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


def group_rss_bytes(pgid: int) -> int:
    """Resident memory (``VmRSS``) summed over every process of group ``pgid``, in bytes."""
    total = 0
    for pid, _ in group_processes(pgid):
        try:
            with open(f"/proc/{pid}/status", encoding="ascii") as status:
                for line in status:
                    if line.startswith("VmRSS:"):
                        total += int(line.split()[1]) * 1024
                        break
        except OSError:  # the process exited while we looked
            continue
    return total


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
