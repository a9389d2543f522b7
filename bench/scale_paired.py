"""lilya_ws over raw ASGI at a few connection counts, both apps in one server process.

``bench.scale`` runs each app in its own server process, minutes apart: on this
shared 2-vCPU VM two such runs differ by ±15 % in CPU per message, more than the
layer itself costs. Here one server serves both echoes (``bench.apps.echo_by_path``),
half of the connections on ``/raw`` and half on ``/lilya_ws``, and the paced windows
alternate between the halves (``bench.scale.Fleet.paced``: ``--rate`` messages per
second over up to ``--active`` connections of one half, the rest idle). Both apps
see the same process, with all its connections open, and the same minute; the
ratio is taken within each pair of windows, and its median and range reported.

Run it with ``python -m bench.scale_paired`` (about 10 minutes for all seven servers).
"""

from __future__ import annotations

import argparse
import platform
import sys
import time
from collections.abc import Sequence
from pathlib import Path
from typing import Final, Literal, TypedDict

from adapters import ServerAdapter
from adapters.errors import AdapterError
from bench import table
from bench.apps import ECHO_PATHS
from bench.scale import (
    ACTIVE,
    NO_PINGS,
    OPEN_CONCURRENCY,
    PAYLOAD,
    RATE,
    ROOT,
    Fleet,
    describe_commit,
    finish,
    run_selected,
    start,
)

COUNTS: Final = (2, 10_000)
"""Connections in all, half per app."""
PAIRS: Final = 4
WINDOW: Final = 3.0
PairedApp = Literal["raw", "lilya_ws"]
PAIRED_APPS: Final[tuple[PairedApp, PairedApp]] = ("raw", "lilya_ws")


class Pair(TypedDict):
    """One window of each app, back to back (the order alternates pair by pair)."""

    raw_us_per_msg: float
    lilya_ws_us_per_msg: float
    ratio: float | None
    """None when raw's window read no CPU time at all (a window shorter than a few ticks)."""


class PairedPoint(TypedDict):
    connections: int
    """Open in all when the windows ran (half per app, each verified by one echo)."""
    active: int
    """Connections of the measured app that send in a window."""
    pairs: list[Pair]
    raw_us_per_msg: float | None
    lilya_ws_us_per_msg: float | None
    ratio: float | None
    """Median over pairs of lilya_ws's CPU per message over raw's."""
    ratio_min: float | None
    ratio_max: float | None
    failures: int
    mismatches: int
    errors: list[str]


class PairedRun(TypedDict):
    server: str
    server_version: str | None
    points: list[PairedPoint]
    problems: list[str]
    seconds: float


class PairedSettings(TypedDict):
    counts: list[int]
    active: int
    rate: int
    window_seconds: float
    pairs: int
    payload: int
    pings: Literal["off", "default"]


class PairedReport(TypedDict):
    settings: PairedSettings
    commit: str
    python: str
    seconds: float
    verified: bool
    runs: list[PairedRun]


class Options(argparse.Namespace):
    servers: list[str] | None
    counts: list[int]
    active: int
    rate: int
    window: float
    pairs: int
    pings: Literal["off", "default"]
    out: Path


async def measure(
    fleets: dict[PairedApp, Fleet], pid: int, count: int, options: Options
) -> PairedPoint:
    """Grow both halves to ``count // 2``, then alternate their paced windows."""
    for fleet in fleets.values():
        already = len(fleet.clients)
        await fleet.grow(count // 2)
        await fleet.echo_once(fleet.clients[already:])
    active = min([options.active, *(len(fleet.clients) for fleet in fleets.values())])
    pairs: list[Pair] = []
    for index in range(options.pairs if active else 0):
        order = PAIRED_APPS if index % 2 == 0 else PAIRED_APPS[::-1]
        cost = {
            app: (await fleets[app].paced(pid, active, options.rate, options.window))["us_per_msg"]
            for app in order
        }
        pairs.append(
            Pair(
                raw_us_per_msg=cost["raw"],
                lilya_ws_us_per_msg=cost["lilya_ws"],
                ratio=cost["lilya_ws"] / cost["raw"] if cost["raw"] else None,
            )
        )
    ratios = [pair["ratio"] for pair in pairs if pair["ratio"] is not None]
    return PairedPoint(
        connections=sum(len(fleet.clients) for fleet in fleets.values()),
        active=active,
        pairs=pairs,
        raw_us_per_msg=table.median([pair["raw_us_per_msg"] for pair in pairs]),
        lilya_ws_us_per_msg=table.median([pair["lilya_ws_us_per_msg"] for pair in pairs]),
        ratio=table.median(ratios),
        ratio_min=min(ratios, default=None),
        ratio_max=max(ratios, default=None),
        failures=sum(fleet.failures for fleet in fleets.values()),
        mismatches=sum(fleet.mismatches for fleet in fleets.values()),
        errors=[error for fleet in fleets.values() for error in fleet.errors],
    )


async def run_server(adapter: ServerAdapter, options: Options) -> PairedRun:
    """One server process serving both echoes; every count in turn, growing."""
    started = time.perf_counter()
    run = PairedRun(
        server=adapter.name,
        server_version=adapter.version(),
        points=[],
        problems=[],
        seconds=0.0,
    )
    pings = NO_PINGS.get(adapter.name, ()) if options.pings == "off" else ()
    try:
        server = start(adapter, "bench.apps:echo_by_path", pings)
    except AdapterError as exc:
        run["problems"].append(f"server did not start: {exc}")
        return run
    with server:
        fleets: dict[PairedApp, Fleet] = {
            app: Fleet(server.ws_url + ECHO_PATHS[app], PAYLOAD, OPEN_CONCURRENCY)
            for app in PAIRED_APPS
        }
        try:
            for count in sorted(options.counts):
                print(f"  {adapter.name}: {count} connections", file=sys.stderr, flush=True)
                point = await measure(fleets, server.pid, count, options)
                run["points"].append(point)
                if point["connections"] < count // 2 * 2 or point["mismatches"]:
                    run["problems"].append(
                        f"{count}: {point['connections']} open, {point['failures']} failed"
                        f" attempts, {point['mismatches']} wrong or missing echoes"
                    )
                    break
        finally:
            for fleet in fleets.values():
                await fleet.close()
    run["seconds"] = time.perf_counter() - started
    return run


async def run_all(servers: Sequence[ServerAdapter], options: Options) -> list[PairedRun]:
    runs = []
    for adapter in servers:
        print(f"pairing {adapter.name} ...", file=sys.stderr, flush=True)
        runs.append(await run_server(adapter, options))
    return runs


COLUMNS: Final[Sequence[table.Column]] = (
    ("server", "<26"),
    ("conns", ">6"),
    ("raw us/msg", ">10"),
    ("lilya_ws us/msg", ">15"),
    ("x raw", ">6"),
    ("(pairs' range)", ">14"),
    ("ok", ">4"),
)


def format_table(runs: Sequence[PairedRun]) -> str:
    rows = [
        (
            run["server"],
            str(point["connections"]),
            table.number(point["raw_us_per_msg"], ".1f"),
            table.number(point["lilya_ws_us_per_msg"], ".1f"),
            table.number(point["ratio"], ".3f"),
            table.extent([p["ratio"] for p in point["pairs"] if p["ratio"] is not None], ".2f"),
            table.verdict(not point["mismatches"] and not point["failures"]),
        )
        for run in runs
        for point in run["points"]
    ]
    return table.render(COLUMNS, rows)


def main(argv: Sequence[str] | None = None) -> int:
    """Run the paired comparison, print its table and save its JSON; exit 1 on any failure."""
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0] if __doc__ else None)
    parser.add_argument("--servers", type=lambda s: s.split(","), help="adapter names, a,b,...")
    parser.add_argument(
        "--counts", type=lambda s: [int(c) for c in s.split(",")], default=list(COUNTS)
    )
    parser.add_argument("--active", type=int, default=ACTIVE, help="connections that send")
    parser.add_argument("--rate", type=int, default=RATE, help="messages per second")
    parser.add_argument("--window", type=float, default=WINDOW, help="seconds per window")
    parser.add_argument("--pairs", type=int, default=PAIRS, help="pairs of windows per count")
    parser.add_argument("--pings", choices=("off", "default"), default="off")
    parser.add_argument("--out", type=Path, default=ROOT / "bench" / "scale_paired.json")
    options = parser.parse_args(argv, namespace=Options())
    runs, seconds, verified = run_selected(options.servers, options.counts, run_all, options)
    commit = describe_commit()
    report = PairedReport(
        settings=PairedSettings(
            counts=sorted(options.counts),
            active=options.active,
            rate=options.rate,
            window_seconds=options.window,
            pairs=options.pairs,
            payload=PAYLOAD,
            pings=options.pings,
        ),
        commit=commit,
        python=platform.python_version(),
        seconds=seconds,
        verified=verified,
        runs=runs,
    )
    summary = (
        f"{options.rate} msg/s over up to {options.active} connections of one app, the rest"
        f" idle; {options.pairs} pairs of {options.window:g} s windows per count;"
        f" took {seconds:.0f} s"
    )
    return finish(options.out, report, summary, format_table(runs), runs, verified)


if __name__ == "__main__":
    sys.exit(main())
