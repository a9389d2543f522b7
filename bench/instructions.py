"""Instructions per message: the same text echo under each real server, counted by callgrind.

``bench/endtoend.py`` reads the server's CPU time from the kernel; its run-to-run
noise (about ±30 %) hides a 3 % difference. Here each server runs under
valgrind's callgrind, which counts the instructions the server executes
(event ``Ir``, every process and thread of the server, the kernel excluded):
the same work gives the same count whatever else loads the machine.

One server process per configuration serves all five echoes (raw ASGI, the
bare wrapper, Starlette, Lilya, lilya_ws; see ``bench.apps.echo_by_path``).
The picows client of ``bench.endtoend`` (not under valgrind) opens
``--connections`` connections per app and warms them up; then the server's
counters are zeroed, ``--messages`` echoes per connection are sent and checked,
and the counters are dumped, so handshakes, closes and start-up never count.
App order rotates every round. Reported per app: instructions per message
(median over rounds, and the spread), the ratio of medians to raw in the same
server process (and the range of the per-round ratios), and what the layer
adds over raw.

One connection is the default: every message is then one full turn of the
server (wake up, read, run the app, write), the same count run after run.
With several connections the server reads a varying number of messages per
wake-up under valgrind's slow-down, which moves the count by a few per cent.

Valgrind counts each iteration of ``rep stos``/``rep movs`` as an instruction,
which makes glibc's large ``memset``/``memcpy`` (granian zeroes a 128 KiB read
buffer per read) cost one "instruction" per byte; the servers therefore run
with glibc tunables that keep those on vector stores, close to real cost.

Run it with ``python -m bench.instructions`` (``--smoke``: uvicorn only, few
messages). Needs valgrind (Debian: ``apt-get install valgrind``).
"""

from __future__ import annotations

import argparse
import asyncio
import json
import shutil
import subprocess
import sys
import tempfile
import time
from collections.abc import Sequence
from dataclasses import asdict, dataclass, field
from pathlib import Path
from typing import Final, TypedDict

from adapters import ServerAdapter, available, get
from adapters.errors import AdapterError
from bench import table
from bench.apps import ECHO_PATHS, FRAMEWORKS, Framework
from bench.endtoend import (
    ROOT,
    SMOKE_SERVER,
    EchoClient,
    add_arguments,
    connected,
    finished,
    report_failures,
    rotation,
)

CONNECTIONS: Final = 1
MESSAGES: Final = 600
"""Per connection, per measured run: enough that an occasional older-generation pass
of the garbage collector weighs little on a run (in a 150-message run, one added 3 %)."""
WARMUP: Final = 20
"""Per connection, before the counters are zeroed."""
ROUNDS: Final = 5
STARTUP_TIMEOUT: Final = 300.0
"""Under callgrind a server starts 5 to 50 times slower."""
RUN_TIMEOUT: Final = 300.0
CONTROL_TIMEOUT: Final = 60.0
_NO_REP_STRINGS: Final = "0xffffffffffffffff"
GLIBC_TUNABLES: Final = (
    f"glibc.cpu.x86_rep_stosb_threshold={_NO_REP_STRINGS}"
    f":glibc.cpu.x86_rep_movsb_threshold={_NO_REP_STRINGS}"
)
"""No ``rep stosb``/``rep movsb`` in memset/memcpy (see the module docstring)."""
SERVER_ENV: Final = (f"GLIBC_TUNABLES={GLIBC_TUNABLES}", "PYTHONHASHSEED=0")
"""A fixed hash seed: the same dict and set layouts, so the same counts, run after run."""


@dataclass(frozen=True)
class Valgrind:
    """Where valgrind and ``callgrind_control`` are, and valgrind's version."""

    valgrind: str
    control: str
    version: str


def find_valgrind() -> Valgrind | None:
    """Valgrind's tools from PATH, or None if either is missing or does not run."""
    valgrind, control = shutil.which("valgrind"), shutil.which("callgrind_control")
    if valgrind is None or control is None:
        return None
    try:
        completed = subprocess.run(
            [valgrind, "--version"], capture_output=True, text=True, timeout=30, check=True
        )
    except (OSError, subprocess.SubprocessError):
        return None
    return Valgrind(valgrind, control, completed.stdout.strip())


class CallgrindError(RuntimeError):
    """callgrind_control failed, or a dump was missing or unreadable."""


class Callgrind:
    """Callgrind for one server: the argv prefix to run it under, and its counters.

    Every process of the server (workers, helpers: valgrind follows exec) talks
    to ``callgrind_control`` through FIFOs under ``directory``, and dumps there,
    so only this server's processes are ever addressed or counted.
    """

    def __init__(self, tools: Valgrind, directory: Path) -> None:
        self.valgrind = tools.valgrind
        self.control = tools.control
        self.directory = directory
        self.vgdb_prefix = f"--vgdb-prefix={directory / 'vgdb'}"

    def wrapper(self) -> list[str]:
        """Run the server under callgrind, instrumentation off until :meth:`instrument`."""
        return [
            *("env", *SERVER_ENV, self.valgrind, "--tool=callgrind"),
            *("--trace-children=yes", "--instr-atstart=no", self.vgdb_prefix),
            f"--callgrind-out-file={self.directory / 'callgrind.%p.out'}",
        ]

    def _send(self, option: str) -> int:
        """Send ``option`` to every callgrind process of the server; return how many answered."""
        try:
            completed = subprocess.run(
                [self.control, self.vgdb_prefix, option],
                capture_output=True,
                text=True,
                timeout=CONTROL_TIMEOUT,
                check=False,
            )
        except subprocess.TimeoutExpired as exc:
            message = f"callgrind_control {option}: no answer in {exc.timeout:g}s"
            raise CallgrindError(message) from exc
        answered = sum(line.startswith("PID ") for line in completed.stdout.splitlines())
        if completed.returncode != 0 or answered == 0:
            output = (completed.stdout + completed.stderr).strip()
            raise CallgrindError(
                f"callgrind_control {option} (exit {completed.returncode}): {output}"
            )
        return answered

    def instrument(self) -> None:
        """Start counting (start-up ran uninstrumented, several times faster)."""
        self._send("--instr=on")

    def zero(self) -> None:
        self._send("--zero")

    def dump(self) -> int:
        """Instructions executed since :meth:`zero`, summed over the server's processes."""
        processes = self._send("--dump")
        dumps = sorted(self.directory.glob("callgrind.*.out.*"))
        try:
            if len(dumps) != processes:
                raise CallgrindError(f"{processes} processes dumped, {len(dumps)} files found")
            return sum(_instructions(path) for path in dumps)
        finally:
            for path in dumps:
                path.unlink()


def _instructions(dump: Path) -> int:
    """The ``Ir`` total of one callgrind dump (its ``summary:`` or ``totals:`` line)."""
    events: list[str] = []
    with dump.open(encoding="utf-8", errors="replace") as lines:
        for line in lines:
            if line.startswith("events:"):
                events = line.split()[1:]
            elif line.startswith(("summary:", "totals:")) and "Ir" in events:
                return int(line.split()[1 + events.index("Ir")])
    raise CallgrindError(f"no Ir total in {dump.name}")


@dataclass(frozen=True)
class Measurement:
    """One measured run of one app: echoes sent and instructions the server spent."""

    messages: int
    instructions: int
    errors: int

    @property
    def per_message(self) -> float:
        return self.instructions / self.messages


async def measure(
    url: str, callgrind: Callgrind, connections: int, warmup: int, messages: int, size: int
) -> Measurement:
    """Connect, warm up, then count ``messages`` echoes per connection, and only those."""
    clients = [EchoClient(index, warmup, size, []) for index in range(connections)]
    async with connected(url, clients, RUN_TIMEOUT):
        for client in clients:
            client.start()
        await finished(clients, RUN_TIMEOUT)
        callgrind.zero()
        for client in clients:
            client.more(messages)
        await finished(clients, RUN_TIMEOUT)
        instructions = callgrind.dump()
    return Measurement(
        messages=connections * messages,
        instructions=instructions,
        errors=sum(client.errors for client in clients),
    )


class RowSummary(TypedDict):
    server: str
    app: str
    instructions_per_msg: float | None
    spread: float | None
    """(max - min) / median of the instructions per message over rounds."""
    min_per_msg: float | None
    ratio: float | None
    """Median instructions per message over raw's, both under the same server process."""
    ratio_min: float | None
    """The lowest and highest per-round ratio (this app and raw in the same round)."""
    ratio_max: float | None
    added_per_msg: float | None
    """Instructions per message over raw's (medians)."""
    messages_per_run: int
    rounds: int
    verified: bool
    problems: list[str]


@dataclass
class Row:
    """One app under one server, over all rounds."""

    server: str
    app: Framework
    runs: list[Measurement] = field(default_factory=list)
    ratios: list[float] = field(default_factory=list)
    problems: list[str] = field(default_factory=list)

    @property
    def verified(self) -> bool:
        return bool(self.runs) and not self.problems and all(r.errors == 0 for r in self.runs)

    @property
    def median(self) -> float | None:
        return table.median([run.per_message for run in self.runs])

    def summary(self, raw: float | None) -> RowSummary:
        """The row's figures; ``raw`` is the raw app's median under the same server."""
        counts = [run.per_message for run in self.runs]
        middle = table.median(counts)
        return {
            "server": self.server,
            "app": self.app,
            "instructions_per_msg": middle,
            "spread": (max(counts) - min(counts)) / middle if middle else None,
            "min_per_msg": min(counts, default=None),
            "ratio": middle / raw if middle and raw else None,
            "ratio_min": min(self.ratios, default=None),
            "ratio_max": max(self.ratios, default=None),
            "added_per_msg": middle - raw if middle and raw else None,
            "messages_per_run": self.runs[0].messages if self.runs else 0,
            "rounds": len(self.runs),
            "verified": self.verified,
            "problems": self.problems[:3],
        }


@dataclass(frozen=True)
class Settings:
    """Per app and round: ``connections`` x (``warmup`` uncounted + ``messages`` counted)."""

    connections: int
    messages: int
    warmup: int
    rounds: int
    payload: int


async def bench_server(adapter: ServerAdapter, tools: Valgrind, settings: Settings) -> list[Row]:
    """All five echoes under one server process run by callgrind, app order rotated each round."""
    rows = {app: Row(adapter.name, app) for app in FRAMEWORKS}
    with tempfile.TemporaryDirectory(prefix="bench-callgrind-") as directory:
        callgrind = Callgrind(tools, Path(directory))
        try:
            server = adapter.start(
                "bench.apps:echo_by_path",
                cwd=ROOT,
                timeout=STARTUP_TIMEOUT,
                wrapper=callgrind.wrapper(),
            )
        except AdapterError as exc:
            return _failed(rows, f"server did not start under callgrind: {exc}")
        with server:
            try:
                callgrind.instrument()
            except CallgrindError as exc:
                return _failed(rows, str(exc))
            for app in FRAMEWORKS:  # warm-up, and a first check that every echo works
                try:
                    run = await measure(
                        server.ws_url + ECHO_PATHS[app],
                        callgrind,
                        settings.connections,
                        settings.warmup,
                        settings.warmup,
                        settings.payload,
                    )
                    if run.errors:
                        rows[app].problems.append(f"warm-up: {run.errors} wrong or missing echoes")
                except Exception as exc:
                    rows[app].problems.append(f"warm-up: {type(exc).__name__}: {exc}")
            for round_index in range(settings.rounds):
                await _round(server.ws_url, callgrind, settings, round_index, rows)
    return list(rows.values())


def _failed(rows: dict[Framework, Row], problem: str) -> list[Row]:
    for row in rows.values():
        row.problems.append(problem)
    return list(rows.values())


async def _round(
    base_url: str, callgrind: Callgrind, settings: Settings, index: int, rows: dict[Framework, Row]
) -> None:
    results: dict[Framework, Measurement] = {}
    for app in rotation(index):
        if rows[app].problems:
            continue
        try:
            results[app] = await measure(
                base_url + ECHO_PATHS[app],
                callgrind,
                settings.connections,
                settings.warmup,
                settings.messages,
                settings.payload,
            )
        except Exception as exc:
            rows[app].problems.append(f"round {index}: {type(exc).__name__}: {exc}")
            continue
        rows[app].runs.append(results[app])
    if "raw" in results:
        raw = results["raw"].per_message
        for app, result in results.items():
            rows[app].ratios.append(result.per_message / raw)


def summaries(rows: Sequence[Row]) -> list[RowSummary]:
    """Every row's figures, each app against the raw row of its own server."""
    raw = {row.server: row.median for row in rows if row.app == "raw"}
    return [row.summary(raw.get(row.server)) for row in rows]


COLUMNS: Final[Sequence[table.Column]] = (
    ("server", "<26"),
    ("app", "<10"),
    ("Ir/msg", ">9"),
    ("spread", ">7"),
    ("x raw", ">6"),
    ("(rounds)", ">13"),
    ("+Ir/msg", ">8"),
    ("ok", ">4"),
)


def format_table(rows: Sequence[Row]) -> str:
    """Instructions per message, their spread, the ratio to raw and what the layer adds."""
    lines = [
        (
            s["server"],
            s["app"],
            table.number(s["instructions_per_msg"], ",.0f"),
            table.number(s["spread"], ".2%"),
            table.number(s["ratio"], ".3f"),
            table.extent(row.ratios, ".3f"),
            table.number(s["added_per_msg"], "+,.0f"),
            table.verdict(s["verified"]),
        )
        for row, s in zip(rows, summaries(rows), strict=True)
    ]
    return table.render(COLUMNS, lines)


async def run(servers: Sequence[ServerAdapter], tools: Valgrind, settings: Settings) -> list[Row]:
    rows: list[Row] = []
    for adapter in servers:
        print(f"counting {adapter.name} ...", file=sys.stderr, flush=True)
        rows.extend(await bench_server(adapter, tools, settings))
    return rows


def main(argv: Sequence[str] | None = None) -> int:
    """Run the count and print the table; exit 1 if some echo was wrong or failed, 2 if
    valgrind is missing."""
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0] if __doc__ else None)
    add_arguments(parser, CONNECTIONS, MESSAGES, ROUNDS)
    parser.add_argument("--warmup", type=int, default=WARMUP, help="per connection, not counted")
    args = parser.parse_args(argv)
    tools = find_valgrind()
    if tools is None:
        print(
            "bench.instructions needs valgrind and callgrind_control on PATH"
            " (Debian: apt-get install valgrind)",
            file=sys.stderr,
        )
        return 2
    if args.smoke:
        args.servers = args.servers or [SMOKE_SERVER]
        args.connections, args.messages, args.warmup, args.rounds = 1, 20, 5, 1
    servers = [get(name) for name in args.servers] if args.servers else list(available())
    settings = Settings(args.connections, args.messages, args.warmup, args.rounds, args.payload)

    started = time.perf_counter()
    rows = asyncio.run(run(servers, tools, settings))
    elapsed = time.perf_counter() - started
    print(
        f"{args.rounds} rounds, {args.connections} connections x {args.messages} counted messages"
        f" of {args.payload} bytes per run; instructions (callgrind Ir) per message, medians"
        f" over rounds; took {elapsed:.0f} s"
    )
    print(format_table(rows))
    verified = report_failures(rows)
    if args.json is not None:
        report = {
            "settings": {
                **asdict(settings),
                "smoke": args.smoke,
                "server_env": list(SERVER_ENV),
                "valgrind": tools.version,
            },
            "elapsed_s": elapsed,
            "verified": verified,
            "results": summaries(rows),
        }
        args.json.write_text(json.dumps(report, indent=2) + "\n", encoding="utf-8")
    return 0 if verified else 1


if __name__ == "__main__":
    sys.exit(main())
