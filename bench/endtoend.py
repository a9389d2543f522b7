"""End-to-end benchmark: the same text echo under each real server, on 127.0.0.1.

One server process per configuration serves all five echoes (raw ASGI, the
check-free wrapper, Starlette, Lilya, lilya_ws; see ``bench.apps.echo_by_path``). A picows client
keeps ``--connections`` connections each with one message in flight, for a
fixed number of messages, rotating the app order every round. Reported per
app: the server's CPU time per message (user+system, read with psutil,
summed over the server's process group, children included), round-trip
p50/p99, and the server-CPU ratio to raw measured in the same round.

The client's own capacity is measured first against a bare picows echo
server, and its CPU is reported on every row, so a client-bound run shows.

Run it with ``python -m bench.endtoend`` (``--smoke``: uvicorn only, few messages).
"""

from __future__ import annotations

import argparse
import asyncio
import contextlib
import json
import os
import resource
import sys
import time
from collections.abc import AsyncIterator, Callable, Iterable, Sequence
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any, Final, Protocol

from picows import WSCloseCode, WSFrame, WSListener, WSMsgType, WSTransport, ws_connect

from adapters import ServerAdapter, available, get
from adapters.errors import AdapterError
from adapters.process import RunningServer, group_cpu_seconds, start_server
from bench import table
from bench.apps import ECHO_PATHS, FRAMEWORKS, Framework

ROOT: Final = Path(__file__).resolve().parent.parent
HOST: Final = "127.0.0.1"
CONNECTIONS: Final = 32
MESSAGES: Final = 200
"""Per connection, per run."""
ROUNDS: Final = 5
PAYLOAD: Final = 32
RUN_TIMEOUT: Final = 60.0
SMOKE_SERVER: Final = "uvicorn-websockets"
_CLK_TCK: Final = os.sysconf("SC_CLK_TCK")


def client_cpu_seconds() -> float:
    """CPU seconds this process (the load client) has used."""
    usage = resource.getrusage(resource.RUSAGE_SELF)
    return usage.ru_utime + usage.ru_stime


class EchoClient(WSListener):
    """One connection: send a message, check its echo, record the round trip, repeat.

    Everything happens in picows callbacks (no task per message), so the
    client spends as little CPU per message as Python allows.
    """

    def __init__(self, index: int, messages: int, size: int, rtts: list[int]) -> None:
        self.index = index
        self.messages = messages
        self.size = size
        self.rtts = rtts
        self.received = 0
        self.mismatches = 0
        self.expected = b""
        self.sent_at = 0
        self.transport: WSTransport | None = None
        self.done: asyncio.Future[None] = asyncio.get_running_loop().create_future()

    def on_ws_connected(self, transport: WSTransport) -> None:
        self.transport = transport

    def start(self) -> None:
        if self.received >= self.messages:
            self.done.set_result(None)
        else:
            self._send_next()

    def more(self, messages: int) -> None:
        """Echo ``messages`` more on the same connection; a fresh :attr:`done` says when."""
        self.messages = self.received + messages
        self.done = asyncio.get_running_loop().create_future()
        self.start()

    @property
    def errors(self) -> int:
        """Wrong echoes, anything else the server sent, and echoes still missing."""
        return self.mismatches + self.messages - self.received

    def _send_next(self) -> None:
        assert self.transport is not None
        self.expected = (b"%04d:%08d:" % (self.index, self.received)).ljust(self.size, b"x")
        self.sent_at = time.perf_counter_ns()
        self.transport.send(WSMsgType.TEXT, self.expected)

    def on_ws_frame(self, transport: WSTransport, frame: WSFrame) -> None:
        if frame.msg_type is WSMsgType.TEXT:
            self.rtts.append(time.perf_counter_ns() - self.sent_at)
            if frame.get_payload_as_bytes() != self.expected:
                self.mismatches += 1
            self.received += 1
            if self.received < self.messages:
                self._send_next()
            elif not self.done.done():
                self.done.set_result(None)
        elif frame.msg_type is not WSMsgType.CLOSE:
            self.mismatches += 1  # an echo server sends nothing else

    def on_ws_disconnected(self, transport: WSTransport) -> None:
        if not self.done.done():
            self.done.set_exception(
                ConnectionError(f"connection {self.index} closed after {self.received} echoes")
            )


@dataclass
class LoadResult:
    """One load run: what the server and the client spent, and how long a round trip took."""

    messages: int
    wall: float
    server_cpu: float
    client_cpu: float
    p50_us: float
    p99_us: float
    mismatches: int

    @property
    def server_us_per_msg(self) -> float:
        return self.server_cpu / self.messages * 1e6

    @property
    def client_us_per_msg(self) -> float:
        return self.client_cpu / self.messages * 1e6

    @property
    def throughput(self) -> float:
        return self.messages / self.wall

    @property
    def client_utilisation(self) -> float:
        """Share of one core the client used; near 1.0 means the client was the limit."""
        return self.client_cpu / self.wall


@contextlib.asynccontextmanager
async def connected(
    url: str, clients: Sequence[EchoClient], timeout: float = RUN_TIMEOUT
) -> AsyncIterator[None]:
    """Connect every client to ``url``, one after another; close them all on exit."""

    def factory(client: EchoClient) -> Callable[[], EchoClient]:
        return lambda: client

    transports: list[WSTransport] = []
    try:
        for client in clients:
            transport, _ = await ws_connect(factory(client), url)
            transports.append(transport)
        yield
    finally:
        for transport in transports:
            transport.send_close(WSCloseCode.OK)
            transport.disconnect()
        await asyncio.wait_for(
            asyncio.gather(*(t.wait_disconnected() for t in transports)), timeout
        )


async def finished(clients: Sequence[EchoClient], timeout: float = RUN_TIMEOUT) -> None:
    """Wait until every client has all its echoes back (or raise)."""
    await asyncio.wait_for(asyncio.gather(*(c.done for c in clients)), timeout)


async def drive(url: str, pid: int, connections: int, messages: int, size: int) -> LoadResult:
    """Open ``connections``, echo ``messages`` on each, close them; measure in between."""
    rtts: list[int] = []
    clients = [EchoClient(index, messages, size, rtts) for index in range(connections)]
    async with connected(url, clients):
        server_before, client_before = group_cpu_seconds(pid), client_cpu_seconds()
        start = time.perf_counter()
        for client in clients:
            client.start()
        await finished(clients)
        wall = time.perf_counter() - start
        server_after, client_after = group_cpu_seconds(pid), client_cpu_seconds()
    rtts.sort()
    return LoadResult(
        messages=len(rtts),
        wall=wall,
        server_cpu=server_after - server_before,
        client_cpu=client_after - client_before,
        p50_us=table.percentile(rtts, 0.50) / 1000,
        p99_us=table.percentile(rtts, 0.99) / 1000,
        mismatches=sum(c.errors for c in clients),
    )


@dataclass
class Row:
    """One app under one server, over all rounds."""

    server: str
    app: str
    runs: list[LoadResult] = field(default_factory=list)
    ratios: list[float] = field(default_factory=list)
    problems: list[str] = field(default_factory=list)

    @property
    def verified(self) -> bool:
        return bool(self.runs) and not self.problems and all(r.mismatches == 0 for r in self.runs)

    def summary(self) -> dict[str, Any]:
        median = table.median
        return {
            "server": self.server,
            "app": self.app,
            "server_us_per_msg": median([r.server_us_per_msg for r in self.runs]),
            "ratio_median": median(self.ratios),
            "ratio_min": min(self.ratios, default=None),
            "ratio_max": max(self.ratios, default=None),
            "p50_us": median([r.p50_us for r in self.runs]),
            "p99_us": median([r.p99_us for r in self.runs]),
            "throughput": median([r.throughput for r in self.runs]),
            "client_us_per_msg": median([r.client_us_per_msg for r in self.runs]),
            "client_utilisation": median([r.client_utilisation for r in self.runs]),
            "messages_per_run": self.runs[0].messages if self.runs else 0,
            "verified": self.verified,
            "problems": self.problems[:3],
        }


async def bench_server(
    adapter: ServerAdapter, connections: int, messages: int, rounds: int, size: int
) -> list[Row]:
    """All five echoes under one server process, app order rotated each round."""
    rows = {app: Row(adapter.name, app) for app in FRAMEWORKS}
    try:
        server = adapter.start("bench.apps:echo_by_path", cwd=ROOT)
    except AdapterError as exc:
        for row in rows.values():
            row.problems.append(f"server did not start: {exc}")
        return list(rows.values())
    with server:
        for app in FRAMEWORKS:  # warm-up, and a first check that every echo works
            url = server.ws_url + ECHO_PATHS[app]
            try:
                await drive(url, server.pid, connections, max(messages // 10, 1), size)
            except Exception as exc:
                rows[app].problems.append(f"warm-up: {type(exc).__name__}: {exc}")
        for round_index in range(rounds):
            results: dict[Framework, LoadResult] = {}
            for app in rotation(round_index):
                if rows[app].problems:
                    continue
                try:
                    results[app] = await drive(
                        server.ws_url + ECHO_PATHS[app], server.pid, connections, messages, size
                    )
                except Exception as exc:
                    rows[app].problems.append(f"round {round_index}: {type(exc).__name__}: {exc}")
                    continue
                rows[app].runs.append(results[app])
            if "raw" in results and results["raw"].server_cpu > 0:
                base = results["raw"].server_us_per_msg
                for app, result in results.items():
                    rows[app].ratios.append(result.server_us_per_msg / base)
    return list(rows.values())


async def client_capacity(connections: int, messages: int, size: int) -> Row:
    """The client against a bare picows echo server: the most it can drive."""
    row = Row("picows-echo (reference)", "none")
    command = [sys.executable, "-m", "bench.picows_echo", HOST]
    server: RunningServer = start_server(
        "picows-echo",
        lambda port: [*command, str(port)],
        host=HOST,
        port=None,
        cwd=ROOT,
        ready_path="/",
        timeout=20.0,
    )
    with server:
        await drive(server.ws_url, server.pid, connections, max(messages // 10, 1), size)
        for _ in range(2):
            row.runs.append(await drive(server.ws_url, server.pid, connections, messages, size))
    return row


COLUMNS: Final[Sequence[table.Column]] = (
    ("server", "<26"),
    ("app", "<10"),
    ("srv us/msg", ">10"),
    ("x raw", ">6"),
    ("(min-max)", ">11"),
    ("p50 us", ">7"),
    ("p99 us", ">7"),
    ("msg/s", ">7"),
    ("cli us/msg", ">10"),
    ("cli cpu", ">7"),
    ("ok", ">4"),
)


def format_table(rows: Sequence[Row]) -> str:
    """Server CPU per message, ratio to raw, latency, throughput and the client's share."""
    lines = []
    for row in rows:
        s = row.summary()
        lines.append(
            (
                row.server,
                row.app,
                table.number(s["server_us_per_msg"], ".1f"),
                table.number(s["ratio_median"], ".2f"),
                table.extent(row.ratios, ".2f"),
                table.number(s["p50_us"], ".0f"),
                table.number(s["p99_us"], ".0f"),
                table.number(s["throughput"], ".0f"),
                table.number(s["client_us_per_msg"], ".1f"),
                table.number(s["client_utilisation"], ".0%"),
                table.verdict(row.verified),
            )
        )
    return table.render(COLUMNS, lines)


async def run(
    servers: Sequence[ServerAdapter], connections: int, messages: int, rounds: int, size: int
) -> list[Row]:
    """The client reference first, then every server in turn."""
    rows = [await client_capacity(connections, messages, size)]
    for adapter in servers:
        print(f"benchmarking {adapter.name} ...", file=sys.stderr, flush=True)
        rows.extend(await bench_server(adapter, connections, messages, rounds, size))
    return rows


def rotation(round_index: int) -> tuple[Framework, ...]:
    """The apps in round ``round_index``'s order: each round starts one app later."""
    shift = round_index % len(FRAMEWORKS)
    return FRAMEWORKS[shift:] + FRAMEWORKS[:shift]


def add_arguments(
    parser: argparse.ArgumentParser, connections: int, messages: int, rounds: int
) -> None:
    """The options of every script that runs the apps under real servers."""
    parser.add_argument("--smoke", action="store_true", help=f"{SMOKE_SERVER} only, few messages")
    parser.add_argument("--server", action="append", dest="servers", help="adapter name")
    parser.add_argument("--connections", type=int, default=connections)
    parser.add_argument("--messages", type=int, default=messages, help="per connection")
    parser.add_argument("--rounds", type=int, default=rounds)
    parser.add_argument("--payload", type=int, default=PAYLOAD, help="bytes per message")
    parser.add_argument("--json", type=Path, metavar="PATH", help="save the results as JSON")


class Outcome(Protocol):
    """What a result row says about its app: which, where, and what went wrong."""

    @property
    def server(self) -> str: ...
    @property
    def app(self) -> str: ...
    @property
    def problems(self) -> list[str]: ...
    @property
    def verified(self) -> bool: ...


def report_failures(rows: Iterable[Outcome]) -> bool:
    """Print each row's first problems to stderr; True when every row was verified."""
    verified = True
    for row in rows:
        verified = verified and row.verified
        for problem in row.problems[:3]:
            print(f"FAILED {row.server} {row.app}: {problem}", file=sys.stderr)
    return verified


def main(argv: Sequence[str] | None = None) -> int:
    """Run the benchmark and print the table; exit 1 if some echo was wrong or failed."""
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0] if __doc__ else None)
    add_arguments(parser, CONNECTIONS, MESSAGES, ROUNDS)
    args = parser.parse_args(argv)
    if args.smoke:
        args.servers = args.servers or [SMOKE_SERVER]
        args.connections, args.messages, args.rounds = 4, 50, 1
    servers = [get(name) for name in args.servers] if args.servers else list(available())

    started = time.perf_counter()
    rows = asyncio.run(run(servers, args.connections, args.messages, args.rounds, args.payload))
    print(
        f"{args.rounds} rounds, {args.connections} connections x {args.messages} messages of"
        f" {args.payload} bytes per run; medians over rounds; server CPU from psutil"
        f" (tick {1000 / _CLK_TCK:.0f} ms); took {time.perf_counter() - started:.0f} s"
    )
    print(format_table(rows))
    verified = report_failures(rows)
    if args.json is not None:
        report = {
            "settings": {
                "rounds": args.rounds,
                "connections": args.connections,
                "messages": args.messages,
                "payload": args.payload,
                "smoke": args.smoke,
            },
            "verified": verified,
            "results": [row.summary() for row in rows],
        }
        args.json.write_text(json.dumps(report, indent=2) + "\n", encoding="utf-8")
    return 0 if verified else 1


if __name__ == "__main__":
    sys.exit(main())
