"""Scale benchmark: server memory per connection and CPU per message, 1 to 10,000 connections.

One server process per configuration and app (raw ASGI's echo, lilya_ws's echo:
``bench.apps.raw_echo`` and ``bench.apps.lilya_ws_echo``, the apps of
``bench.endtoend``). The client (picows, one process, all work in callbacks)
raises the connection count step by step (``--counts``, default 1, 100, 1,000,
10,000), and at each count measures:

- memory: the server's RSS (psutil, summed over its process group; USS recorded
  beside it) with every connection open, idle and verified by one echo, minus the
  same after start-up and a warm-up connection, divided by the connections;
- idle CPU: the server's CPU time over ``--idle-seconds`` with every connection
  idle (its keep-alive pings, timers);
- CPU per message: the server's CPU time (user+system, process group, children
  included) over ``--windows`` windows in which up to ``--active`` of the
  connections send ``--rate`` messages per second in total, evenly paced on the
  loop clock and spread round-robin, divided by the echoes (every one checked).
  ``net`` subtracts the idle rate over the window's wall time.

``--apps raw_push,lilya_ws_push`` measures the idle push apps of
``bench/scale_apps.py`` instead (no echoes: memory and idle CPU only), which is
where lilya_ws keeps a read-ahead ``receive()`` pending per connection.

The JSON (``--out``) holds every reading; the chart (``--chart``, ``bench/scale_chart.py``)
is drawn from it, and ``--chart-only`` redraws it from a saved JSON.

Run it with ``python -m bench.scale`` (about 25 minutes for all seven servers).
"""

from __future__ import annotations

import argparse
import asyncio
import contextlib
import json
import platform
import resource
import subprocess
import sys
import time
from collections.abc import Callable, Coroutine, Mapping, Sequence
from pathlib import Path
from typing import Any, Final, Literal, TypeAlias, TypedDict, TypeVar

import psutil
from picows import WSFrame, WSListener, WSMsgType, WSTransport, ws_connect

from adapters import ServerAdapter, available, get
from adapters.base import HOST, STARTUP_TIMEOUT
from adapters.errors import AdapterError, ServerUnavailableError
from adapters.process import RunningServer, group_cpu_seconds, group_processes, start_server
from bench import scale_chart, table
from bench.endtoend import client_cpu_seconds

OptionsT = TypeVar("OptionsT", bound=argparse.Namespace)
RunT = TypeVar("RunT", bound=Mapping[str, Any])

ROOT: Final = Path(__file__).resolve().parent.parent
COUNTS: Final = (1, 100, 1_000, 10_000)
ACTIVE: Final = 1_000
RATE: Final = 1_000
"""Messages per second in total: under a third of a core for the slowest server here."""
WINDOW: Final = 4.0
WINDOWS: Final = 3
IDLE_WINDOW: Final = 3.0
PAYLOAD: Final = 32
OPEN_CONCURRENCY: Final = 64
"""Handshakes in flight at once: under every server's listen backlog (daphne's is 50
in Twisted's default, hypercorn's 100), so no SYN is dropped and retried."""
ATTEMPTS: Final = 3
"""Tries per connection before it counts as failed (every failure is recorded)."""
ECHO_TIMEOUT: Final = 60.0
"""How long the echoes of one window or one verification may take beyond their sending."""
CLOSE_TIMEOUT: Final = 30.0
READ_BUFFER: Final = 4096
"""picows' initial read buffer per connection (16 KiB by default): the client stays light."""

NO_PINGS: Final[Mapping[str, tuple[str, ...]]] = {
    "uvicorn-websockets": ("--ws-ping-interval", "86400"),
    "uvicorn-websockets-sansio": ("--ws-ping-interval", "86400"),
    "uvicorn-wsproto": ("--ws-ping-interval", "86400"),
    "daphne": ("--ping-interval", "86400"),
}
"""Options appended to a server's command line so that it sends no keep-alive pings during
a run (``--pings off``, the default). uvicorn (every ``--ws``) and daphne ping each idle
connection every 20 s: 500 pings a second at 10,000 connections, in bursts that follow
the order the connections opened in, which no short window averages out. hypercorn and
granian send none unless asked. ``--pings default`` keeps every server's own setting."""

ScaleApp: TypeAlias = Literal["raw", "lilya_ws", "raw_push", "lilya_ws_push"]
APPS: Final[Mapping[ScaleApp, str]] = {
    "raw": "bench.apps:raw_echo",
    "lilya_ws": "bench.apps:lilya_ws_echo",
    "raw_push": "bench.scale_apps:raw_push",
    "lilya_ws_push": "bench.scale_apps:lilya_ws_push",
}
"""What each app name serves: the echoes of ``bench.endtoend``, and the idle push apps
of ``bench/scale_apps.py``, which echo nothing (memory and idle CPU only)."""
ECHOES: Final[frozenset[ScaleApp]] = frozenset({"raw", "lilya_ws"})
BASELINE: Final[Mapping[ScaleApp, ScaleApp]] = {
    "raw": "raw",
    "lilya_ws": "raw",
    "raw_push": "raw_push",
    "lilya_ws_push": "raw_push",
}
"""The raw ASGI app each app is compared with."""


class Memory(TypedDict):
    """The server's memory, summed over its process group, in bytes."""

    rss: int
    """Resident set size: what the tables and the chart use."""
    uss: int | None
    """Unique set size (pages no other process shares); None where psutil cannot read it.
    Summed over a group it misses the pages its processes share with each other: when a
    server forks a short-lived child (daphne once did, mid-run), its USS drops for a moment
    by megabytes while its RSS does not."""


class Window(TypedDict):
    """One paced window of echoes."""

    messages: int
    """Echoes received and checked (the window's sends, unless some went missing)."""
    send_seconds: float
    """From the first send to the last: ``messages / rate`` when the pace was kept."""
    wall_seconds: float
    """From the first send to the last echo."""
    server_cpu_seconds: float
    client_cpu_seconds: float
    us_per_msg: float
    """Server CPU per echo, idle background included."""
    net_us_per_msg: float
    """The same with the idle rate over ``wall_seconds`` subtracted."""


class Point(TypedDict):
    """One connection count under one server and app."""

    connections: int
    """The count asked for."""
    opened: int
    """Connections open and verified (one echo each) when memory was read."""
    failures: int
    """Connection attempts that failed (each retried up to ``ATTEMPTS`` times)."""
    errors: list[str]
    """The first few failures' messages, and any echo that went wrong."""
    dropped: int
    """Connections the server closed while they should have stayed open."""
    memory: Memory
    rss_per_connection: float | None
    uss_per_connection: float | None
    idle_cpu_per_second: float
    active: int
    windows: list[Window]
    us_per_msg: float | None
    """Median over windows of :attr:`Window.us_per_msg`."""
    net_us_per_msg: float | None
    mismatches: int
    """Wrong or missing echoes over the point's verification and windows."""
    client_rss: int


class Run(TypedDict):
    """One server process: one configuration serving one app, every count in turn."""

    server: str
    server_version: str | None
    app: ScaleApp
    baseline: Memory | None
    points: list[Point]
    problems: list[str]
    seconds: float


class Settings(TypedDict):
    counts: list[int]
    active: int
    rate: int
    window_seconds: float
    windows: int
    idle_seconds: float
    payload: int
    open_concurrency: int
    pings: Literal["off", "default"]
    memory: str
    cpu: str


class Report(TypedDict):
    """What ``--out`` holds and ``--chart-only`` reads."""

    settings: Settings
    commit: str
    """``git describe --always --dirty`` of the tree the servers imported lilya_ws from."""
    python: str
    platform: str
    cpus: int
    seconds: float
    verified: bool
    runs: list[Run]


# The client.


class Tally:
    """Echoes received across every connection, and a future for the next target."""

    def __init__(self) -> None:
        self.received = 0
        self.dropped = 0
        self._target = 0
        self._reached: asyncio.Future[None] | None = None

    def expect(self, more: int) -> asyncio.Future[None]:
        """A future done once ``more`` further echoes have come back."""
        self._target = self.received + more
        self._reached = asyncio.get_running_loop().create_future()
        self._check()
        return self._reached

    def echoed(self) -> None:
        self.received += 1
        self._check()

    def _check(self) -> None:
        reached = self._reached
        if reached is not None and self.received >= self._target and not reached.done():
            reached.set_result(None)


class ScaleClient(WSListener):
    """One connection: sends numbered messages when told, checks every echo in order."""

    def __init__(self, index: int, tally: Tally, size: int) -> None:
        self.index = index
        self.tally = tally
        self.size = size
        self.sent = 0
        self.received = 0
        self.mismatches = 0
        self.closing = False
        self.transport: WSTransport | None = None

    def payload(self, sequence: int) -> bytes:
        return (b"%06d:%010d:" % (self.index, sequence)).ljust(self.size, b"x")

    def on_ws_connected(self, transport: WSTransport) -> None:
        self.transport = transport

    def send_next(self) -> None:
        assert self.transport is not None
        self.transport.send(WSMsgType.TEXT, self.payload(self.sent))
        self.sent += 1

    def on_ws_frame(self, transport: WSTransport, frame: WSFrame) -> None:
        if frame.msg_type is WSMsgType.TEXT:
            if frame.get_payload_as_bytes() != self.payload(self.received):
                self.mismatches += 1
            self.received += 1
            self.tally.echoed()
        elif frame.msg_type not in (WSMsgType.PING, WSMsgType.PONG, WSMsgType.CLOSE):
            self.mismatches += 1  # an echo server sends nothing else

    def on_ws_disconnected(self, transport: WSTransport) -> None:
        if not self.closing:
            self.tally.dropped += 1

    @property
    def missing(self) -> int:
        return self.sent - self.received


def _factory(client: ScaleClient) -> Callable[[], ScaleClient]:
    return lambda: client


class Fleet:
    """Every connection to one server, opened step by step with bounded concurrency."""

    def __init__(self, url: str, size: int, concurrency: int) -> None:
        self.url = url
        self.size = size
        self.tally = Tally()
        self.clients: list[ScaleClient] = []
        self.failures = 0
        self.errors: list[str] = []
        self._slots = asyncio.Semaphore(concurrency)
        self._next_index = 0

    def note(self, error: str) -> None:
        if len(self.errors) < 5:
            self.errors.append(error)

    async def grow(self, count: int) -> None:
        """Open connections until ``count`` are open (or their attempts are spent)."""
        await asyncio.gather(*(self._open_one() for _ in range(count - len(self.clients))))

    async def _open_one(self) -> None:
        async with self._slots:
            for _ in range(ATTEMPTS):
                client = ScaleClient(self._next_index, self.tally, self.size)
                self._next_index += 1
                try:
                    await ws_connect(_factory(client), self.url, read_buffer_init_size=READ_BUFFER)
                except Exception as exc:
                    self.failures += 1
                    self.note(f"connect: {type(exc).__name__}: {exc}")
                    continue
                self.clients.append(client)
                return

    async def echo_once(self, clients: Sequence[ScaleClient]) -> None:
        """One echo on each of ``clients`` at once (a verification, not a measurement)."""
        reached = self.tally.expect(len(clients))
        for client in clients:
            client.send_next()
        await self._wait(reached, "verification")

    async def paced(self, pid: int, active: int, rate: int, seconds: float) -> Window:
        """Send ``rate * seconds`` messages over the first ``active`` connections, each at
        its time on the loop clock, and wait for every echo; server CPU around it all."""
        loop = asyncio.get_running_loop()
        clients = self.clients[:active]
        total = round(rate * seconds)
        reached = self.tally.expect(total)
        received_before = self.tally.received
        server_before, client_before = group_cpu_seconds(pid), client_cpu_seconds()
        start = loop.time()
        for sequence in range(total):
            delay = start + sequence / rate - loop.time()
            if delay > 0:
                await asyncio.sleep(delay)  # pacing: the next message's time on the clock
            clients[sequence % len(clients)].send_next()
        sent = loop.time()
        await self._wait(reached, "window")
        wall = loop.time() - start
        server_cpu = group_cpu_seconds(pid) - server_before
        messages = self.tally.received - received_before
        return Window(
            messages=messages,
            send_seconds=sent - start,
            wall_seconds=wall,
            server_cpu_seconds=server_cpu,
            client_cpu_seconds=client_cpu_seconds() - client_before,
            us_per_msg=server_cpu / max(messages, 1) * 1e6,
            net_us_per_msg=0.0,  # filled in once the idle rate is known
        )

    async def _wait(self, reached: asyncio.Future[None], what: str) -> None:
        try:
            await asyncio.wait_for(reached, ECHO_TIMEOUT)
        except asyncio.TimeoutError:
            self.note(f"{what}: echoes missing after {ECHO_TIMEOUT:g} s")

    @property
    def mismatches(self) -> int:
        return sum(client.mismatches + client.missing for client in self.clients)

    async def close(self) -> None:
        """Close every connection (a close frame, then the socket)."""
        for client in self.clients:
            client.closing = True
            if client.transport is not None:
                client.transport.send_close()
                client.transport.disconnect()
        with contextlib.suppress(asyncio.TimeoutError):
            await asyncio.wait_for(
                asyncio.gather(
                    *(c.transport.wait_disconnected() for c in self.clients if c.transport)
                ),
                CLOSE_TIMEOUT,
            )


# The server.


def group_memory(pgid: int) -> Memory:
    """RSS and USS summed over the server's process group (``adapters.process``)."""
    rss, uss = 0, 0
    uss_known = True
    for _, process in group_processes(pgid):
        with contextlib.suppress(psutil.NoSuchProcess):
            try:
                full = process.memory_full_info()
            except psutil.AccessDenied:
                uss_known = False
                rss += int(process.memory_info().rss)
                continue
            rss += int(full.rss)
            uss += int(full.uss)
    return Memory(rss=rss, uss=uss if uss_known else None)


def own_rss() -> int:
    """The client's resident memory, in bytes."""
    return int(psutil.Process().memory_info().rss)


def per_connection(now: int | None, base: int | None, connections: int) -> float | None:
    if now is None or base is None or connections == 0:
        return None
    return (now - base) / connections


async def measure_point(
    fleet: Fleet, server: RunningServer, count: int, options: Options, base: Memory, echoes: bool
) -> Point:
    """Grow to ``count`` connections, read memory, then idle CPU and the paced windows."""
    failures_before, dropped_before = fleet.failures, fleet.tally.dropped
    errors_before = len(fleet.errors)
    already = len(fleet.clients)
    await fleet.grow(count)
    if echoes:
        await fleet.echo_once(fleet.clients[already:])
    opened = len(fleet.clients)
    memory = group_memory(server.pid)

    idle_before = group_cpu_seconds(server.pid)
    idle_start = time.perf_counter()
    await asyncio.sleep(options.idle_seconds)  # the measured idle interval itself
    idle_rate = (group_cpu_seconds(server.pid) - idle_before) / (time.perf_counter() - idle_start)

    active = min(options.active, opened) if echoes else 0
    windows: list[Window] = []
    for _ in range(options.windows if active else 0):
        window = await fleet.paced(server.pid, active, options.rate, options.window)
        net_cpu = window["server_cpu_seconds"] - idle_rate * window["wall_seconds"]
        window["net_us_per_msg"] = net_cpu / max(window["messages"], 1) * 1e6
        windows.append(window)
    return Point(
        connections=count,
        opened=opened,
        failures=fleet.failures - failures_before,
        errors=fleet.errors[errors_before:],
        dropped=fleet.tally.dropped - dropped_before,
        memory=memory,
        rss_per_connection=per_connection(memory["rss"], base["rss"], opened),
        uss_per_connection=per_connection(memory["uss"], base["uss"], opened),
        idle_cpu_per_second=idle_rate,
        active=active,
        windows=windows,
        us_per_msg=table.median([w["us_per_msg"] for w in windows]),
        net_us_per_msg=table.median([w["net_us_per_msg"] for w in windows]),
        mismatches=fleet.mismatches,
        client_rss=own_rss(),
    )


def start(adapter: ServerAdapter, app: str, options: Sequence[str]) -> RunningServer:
    """``adapter.start(app)`` with ``options`` appended to the server's command line."""
    if (reason := adapter.unavailable_reason()) is not None:
        raise ServerUnavailableError(adapter.name, reason)
    return start_server(
        adapter.name,
        lambda port: [*adapter.command(app, HOST, port), *options],
        host=HOST,
        port=None,
        cwd=ROOT,
        ready_path="/",
        timeout=STARTUP_TIMEOUT,
    )


async def run_server(adapter: ServerAdapter, app: ScaleApp, options: Options) -> Run:
    """One fresh server process serving ``app``; every count in turn, growing."""
    started = time.perf_counter()
    run = Run(
        server=adapter.name,
        server_version=adapter.version(),
        app=app,
        baseline=None,
        points=[],
        problems=[],
        seconds=0.0,
    )
    try:
        server = start(
            adapter, APPS[app], NO_PINGS.get(adapter.name, ()) if options.pings == "off" else ()
        )
    except AdapterError as exc:
        run["problems"].append(f"server did not start: {exc}")
        return run
    with server:
        url = server.ws_url + "/"
        # Warm-up: one connection opened, echoed on and closed before the baseline.
        warm = Fleet(url, options.payload, 1)
        await warm.grow(1)
        if warm.clients and app in ECHOES:
            for _ in range(3):
                await warm.echo_once(warm.clients)
        await warm.close()
        if not warm.clients:
            run["problems"].append(f"warm-up failed: {warm.errors}")
            return run
        base = group_memory(server.pid)
        run["baseline"] = base
        fleet = Fleet(url, options.payload, options.open_concurrency)
        try:
            for count in sorted(options.counts):
                print(f"  {adapter.name} {app}: {count} connections", file=sys.stderr, flush=True)
                point = await measure_point(fleet, server, count, options, base, app in ECHOES)
                run["points"].append(point)
                if point["opened"] < count or point["mismatches"] or point["dropped"]:
                    run["problems"].append(
                        f"{count}: opened {point['opened']}, {point['failures']} failed"
                        f" attempts, {point['dropped']} dropped,"
                        f" {point['mismatches']} wrong or missing echoes"
                    )
                if point["opened"] < count:
                    break  # the next count would only measure the same shortfall
        finally:
            await fleet.close()
    run["seconds"] = time.perf_counter() - started
    return run


class Options(argparse.Namespace):
    servers: list[str] | None
    apps: list[ScaleApp]
    counts: list[int]
    active: int
    rate: int
    window: float
    windows: int
    idle_seconds: float
    payload: int
    open_concurrency: int
    pings: Literal["off", "default"]
    out: Path
    chart: Path | None
    chart_only: bool


def raise_file_limit(needed: int) -> None:
    """Raise this process's soft limit on open files (the servers inherit it)."""
    soft, hard = resource.getrlimit(resource.RLIMIT_NOFILE)
    wanted = hard if hard != resource.RLIM_INFINITY else max(soft, needed)
    if soft < wanted:
        resource.setrlimit(resource.RLIMIT_NOFILE, (wanted, hard))
    if wanted < needed:
        print(
            f"warning: {needed} file descriptors needed, the hard limit is {wanted}",
            file=sys.stderr,
        )


async def run_all(servers: Sequence[ServerAdapter], options: Options) -> list[Run]:
    runs: list[Run] = []
    for adapter in servers:
        for app in options.apps:
            print(f"scaling {adapter.name} {app} ...", file=sys.stderr, flush=True)
            runs.append(await run_server(adapter, app, options))
    return runs


COLUMNS: Final[Sequence[table.Column]] = (
    ("server", "<26"),
    ("app", "<13"),
    ("conns", ">6"),
    ("open", ">6"),
    ("rss/conn", ">9"),
    ("uss/conn", ">9"),
    ("idle cpu", ">8"),
    ("us/msg", ">7"),
    ("(min-max)", ">13"),
    ("net", ">6"),
    ("x raw", ">6"),
    ("mem x", ">6"),
    ("ok", ">4"),
)


def _kib(value: float | None) -> str:
    return table.number(None if value is None else value / 1024, ".1f")


def format_markdown(runs: Sequence[Run]) -> str:
    """The README's table: per server and count, each app's memory per connection (RSS,
    from 100 connections up) and CPU per message with its range, and lilya_ws over raw."""
    points = {
        (run["server"], run["app"], point["connections"]): point
        for run in runs
        for point in run["points"]
    }
    lines = [
        "| server | connections | raw KiB/conn | lilya_ws KiB/conn | difference B/conn"
        " | raw µs/msg | lilya_ws µs/msg | lilya_ws / raw |",
        "|---|--:|--:|--:|--:|--:|--:|--:|",
    ]
    for run in runs:
        if run["app"] == "raw":
            continue
        base_app = BASELINE[run["app"]]
        for point in run["points"]:
            base = points.get((run["server"], base_app, point["connections"]))
            if base is None:
                continue
            memory = point["rss_per_connection"], base["rss_per_connection"]
            shown = point["connections"] >= 100 and None not in memory
            ratio = _ratio(point["us_per_msg"], base["us_per_msg"])
            lines.append(
                f"| {run['server']} | {point['connections']:,}"
                f" | {_kib(base['rss_per_connection']) if shown else '-'}"
                f" | {_kib(point['rss_per_connection']) if shown else '-'}"
                f" | {_difference(*memory) if shown else '-'}"
                f" | {_cpu_cell(base)} | {_cpu_cell(point)}"
                f" | {table.number(ratio, '.2f')} |"
            )
    return "\n".join(lines)


def _difference(value: float | None, base: float | None) -> str:
    return "-" if value is None or base is None else f"{value - base:+,.0f}"


def _cpu_cell(point: Point) -> str:
    cell = table.number(point["us_per_msg"], ".1f")
    spread = table.extent([w["us_per_msg"] for w in point["windows"]], ".0f")
    return f"{cell} {spread}" if spread else cell


def _ratio(value: float | None, base: float | None) -> float | None:
    return value / base if value is not None and base else None


def format_table(runs: Sequence[Run]) -> str:
    """Per server, app and count: memory per connection, idle CPU, CPU per message."""
    points = {
        (run["server"], run["app"], point["connections"]): point
        for run in runs
        for point in run["points"]
    }
    lines = []
    for run in runs:
        for point in run["points"]:
            base = points.get((run["server"], BASELINE[run["app"]], point["connections"]))
            ratio = _ratio(point["us_per_msg"], base["us_per_msg"] if base else None)
            memory_ratio = _ratio(
                point["rss_per_connection"], base["rss_per_connection"] if base else None
            )
            lines.append(
                (
                    run["server"],
                    run["app"],
                    str(point["connections"]),
                    str(point["opened"]),
                    _kib(point["rss_per_connection"]),
                    _kib(point["uss_per_connection"]),
                    f"{point['idle_cpu_per_second']:.1%}",
                    table.number(point["us_per_msg"], ".1f"),
                    table.extent([w["us_per_msg"] for w in point["windows"]], ".1f"),
                    table.number(point["net_us_per_msg"], ".1f"),
                    table.number(ratio, ".2f"),
                    table.number(memory_ratio, ".2f"),
                    table.verdict(
                        not point["mismatches"] and point["opened"] == point["connections"]
                    ),
                )
            )
    return table.render(COLUMNS, lines)


def run_selected(
    names: Sequence[str] | None,
    counts: Sequence[int],
    run_all: Callable[[Sequence[ServerAdapter], OptionsT], Coroutine[Any, Any, list[RunT]]],
    options: OptionsT,
) -> tuple[list[RunT], float, bool]:
    """Run ``run_all`` over the named servers (every available one by default), the
    file limit raised for the largest count: the runs, the seconds taken, and whether
    every run has points and no problem."""
    servers = [get(name) for name in names] if names else list(available())
    raise_file_limit(max(counts) + 1024)
    started = time.perf_counter()
    runs = asyncio.run(run_all(servers, options))
    seconds = time.perf_counter() - started
    return runs, seconds, all(not run["problems"] and run["points"] for run in runs)


def finish(
    out: Path,
    report: Mapping[str, Any],
    summary: str,
    table_text: str,
    runs: Sequence[Mapping[str, Any]],
    verified: bool,
) -> int:
    """Save ``report`` as JSON at ``out``, print the summary, the table and every run's
    problems (on stderr, one line each); the exit code: 1 unless ``verified``."""
    out.write_text(json.dumps(report, indent=1) + "\n", encoding="utf-8")
    print(summary)
    print(table_text)
    for run in runs:
        who = " ".join(str(run[key]) for key in ("server", "app") if key in run)
        for problem in run["problems"]:
            print(f"FAILED {who}: {problem}", file=sys.stderr)
    return 0 if verified else 1


def describe_commit() -> str:
    """The checkout's commit, ``-dirty`` when files differ from it ("unknown" without git)."""
    try:
        completed = subprocess.run(
            ["git", "describe", "--always", "--dirty"],
            cwd=ROOT,
            capture_output=True,
            text=True,
            check=True,
            timeout=10,
        )
    except (OSError, subprocess.SubprocessError):
        return "unknown"
    return completed.stdout.strip()


def load(path: Path) -> Report:
    """A report saved by a run (``--out``)."""
    report: Report = json.loads(path.read_text(encoding="utf-8"))
    return report


def parse(argv: Sequence[str] | None) -> Options:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0] if __doc__ else None)
    parser.add_argument("--servers", type=lambda s: s.split(","), help="adapter names, a,b,...")
    parser.add_argument(
        "--apps",
        type=lambda s: s.split(","),
        default=["raw", "lilya_ws"],
        help=f"of {','.join(APPS)} (default raw,lilya_ws)",
    )
    parser.add_argument(
        "--counts", type=lambda s: [int(c) for c in s.split(",")], default=list(COUNTS)
    )
    parser.add_argument("--active", type=int, default=ACTIVE, help="connections that send")
    parser.add_argument("--rate", type=int, default=RATE, help="messages per second in total")
    parser.add_argument("--window", type=float, default=WINDOW, help="seconds per window")
    parser.add_argument("--windows", type=int, default=WINDOWS, help="windows per count")
    parser.add_argument("--idle-seconds", type=float, default=IDLE_WINDOW)
    parser.add_argument("--payload", type=int, default=PAYLOAD, help="bytes per message")
    parser.add_argument("--open-concurrency", type=int, default=OPEN_CONCURRENCY)
    parser.add_argument(
        "--pings",
        choices=("off", "default"),
        default="off",
        help="the servers' keep-alive pings: off (see NO_PINGS) or each server's default",
    )
    parser.add_argument("--out", type=Path, default=ROOT / "bench" / "scale.json")
    parser.add_argument("--chart", type=Path, default=ROOT / "bench" / "scale.png")
    parser.add_argument("--no-chart", dest="chart", action="store_const", const=None)
    parser.add_argument(
        "--chart-only",
        action="store_true",
        help="redraw --chart from --out and print the README's table",
    )
    options = parser.parse_args(argv, namespace=Options())
    for app in options.apps:
        if app not in APPS:
            parser.error(f"unknown app {app!r}: choose from {', '.join(APPS)}")
    return options


def main(argv: Sequence[str] | None = None) -> int:
    """Run the scale benchmark, save the JSON and draw the chart; exit 1 on any failure."""
    options = parse(argv)
    if options.chart_only:
        saved = load(options.out)
        scale_chart.draw(saved, options.chart or ROOT / "bench" / "scale.png")
        print(format_markdown(saved["runs"]))
        return 0
    runs, seconds, verified = run_selected(options.servers, options.counts, run_all, options)
    commit = describe_commit()
    report = Report(
        settings=Settings(
            counts=sorted(options.counts),
            active=options.active,
            rate=options.rate,
            window_seconds=options.window,
            windows=options.windows,
            idle_seconds=options.idle_seconds,
            payload=options.payload,
            open_concurrency=options.open_concurrency,
            pings=options.pings,
            memory="psutil RSS (and USS), summed over the server's process group",
            cpu="psutil user+system, children included, summed over the process group",
        ),
        commit=commit,
        python=platform.python_version(),
        platform=platform.platform(),
        cpus=psutil.cpu_count() or 0,
        seconds=seconds,
        verified=verified,
        runs=runs,
    )
    if options.chart is not None:
        scale_chart.draw(report, options.chart)
    summary = (
        f"{options.rate} msg/s over up to {options.active} connections, {options.windows}"
        f" windows of {options.window:g} s per count; took {seconds:.0f} s"
    )
    return finish(options.out, report, summary, format_table(runs), runs, verified)


if __name__ == "__main__":
    sys.exit(main())
