"""In-process benchmark: what each WebSocket layer costs per message, with no server.

Raw ASGI (the floor), Starlette's, Lilya's and lilya_ws's ``WebSocket`` echo
the same messages through the cheapest possible ``receive``/``send`` pair (a
pre-built list read through an iterator, a list ``append``), so the harness
costs the same for every app and the differences are the layers' own. Each
round runs every app once per workload, in an order rotated every round; the
ratio to raw is taken within a round, then the median over rounds is reported
with its min-max spread. Every run's output is checked against its input, so
a broken app cannot look fast.

Run it with ``python -m bench.inprocess`` (``--smoke`` for a quick check,
``--json PATH`` to save the results).
"""

from __future__ import annotations

import argparse
import asyncio
import gc
import importlib.metadata
import json
import os
import platform
import subprocess
import sys
import tempfile
import time
import tracemalloc
from collections.abc import Awaitable, Callable, Iterator, Mapping, Sequence
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any, Final, Literal, TypeAlias

from lilya.websockets import WebSocket as LilyaWebSocket
from starlette.websockets import WebSocket as StarletteWebSocket

from bench import table
from bench.apps import (
    APPS,
    FRAMEWORKS,
    PUSHED,
    WORKLOADS,
    ASGIApp,
    Framework,
    Message,
    Scope,
    Workload,
)
from lilya_ws import WebSocket as LilyaWSWebSocket

MESSAGES: Final = 2_000
CONNECTIONS: Final = 1_000
ROUNDS: Final = 9
REPEATS: Final = 5
MEMORY_INSTANCES: Final = 10_000

TARGETS: Final[Mapping[Workload, float]] = {
    "text": 1.10,
    "bytes": 1.10,
    "iter_text": 1.10,
    "json_orjson": 1.10,
    "connect": 1.15,
}
"""Most lilya_ws may cost, in instructions, as a ratio to the ``wrapper`` floor of the
same run (issue 14): ``--instructions`` says whether each is met."""
MEMORY_TARGET: Final = 2048
"""Most Python heap, in bytes, one accepted idle lilya_ws ``WebSocket`` may hold."""

CONNECT: Final[Message] = {"type": "websocket.connect"}
DISCONNECT: Final[Message] = {"type": "websocket.disconnect", "code": 1000, "reason": ""}

_compact_dumps: Final = json.JSONEncoder(separators=(",", ":"), ensure_ascii=False).encode


def make_scope() -> Scope:
    """A WebSocket scope like uvicorn's, so constructors read what they would in production."""
    return {
        "type": "websocket",
        "asgi": {"version": "3.0", "spec_version": "2.4"},
        "http_version": "1.1",
        "scheme": "ws",
        "server": ("127.0.0.1", 8000),
        "client": ("127.0.0.1", 51000),
        "root_path": "",
        "path": "/ws",
        "raw_path": b"/ws",
        "query_string": b"",
        "headers": [
            (b"host", b"127.0.0.1:8000"),
            (b"upgrade", b"websocket"),
            (b"connection", b"Upgrade"),
            (b"sec-websocket-version", b"13"),
            (b"sec-websocket-key", b"dGhlIHNhbXBsZSBub25jZQ=="),
        ],
        "subprotocols": [],
        "state": {},
        "extensions": {"websocket.http.response": {}},
    }


@dataclass(frozen=True)
class Case:
    """One workload: what ``receive`` returns, and how to check what the app sent."""

    workload: Workload
    inputs: tuple[Message, ...]
    connections: int
    """How many times the app is called per run (1, or one per connection)."""
    units: int
    """What the elapsed time is divided by: messages echoed, or connections."""
    check: Callable[[Sequence[Message]], str | None]
    """None when the sent messages are right, else what is wrong."""


def _text_value(i: int) -> str:
    return f"message {i:07d}: héllo wörld"


def _json_value(i: int) -> dict[str, Any]:
    return {"id": i, "user": f"user-{i}", "tags": ["a", "ö"], "score": i / 4, "ok": True}


def _echo_checker(
    key: str, expected: Sequence[object], decode: Callable[[Any], object] | None = None
) -> Callable[[Sequence[Message]], str | None]:
    """Check an accept followed by one ``websocket.send`` per expected payload, in order."""
    other = "bytes" if key == "text" else "text"
    kind = str if key == "text" else bytes

    def check(sent: Sequence[Message]) -> str | None:
        if len(sent) != len(expected) + 1:
            return f"sent {len(sent)} messages, expected {len(expected) + 1}"
        if sent[0].get("type") != "websocket.accept":
            return f"first message is {sent[0]!r}, not an accept"
        for index, (message, want) in enumerate(zip(sent[1:], expected, strict=True)):
            payload = message.get(key)
            if (
                message.get("type") != "websocket.send"
                or type(payload) is not kind
                or message.get(other) is not None
            ):
                return f"message {index} is {message!r}"
            got = payload if decode is None else decode(payload)
            if got != want:
                return f"message {index}: sent {got!r}, expected {want!r}"
        return None

    return check


def _connect_checker(connections: int) -> Callable[[Sequence[Message]], str | None]:
    """Check one accept then one close (code 1000) per connection."""

    def check(sent: Sequence[Message]) -> str | None:
        if len(sent) != 2 * connections:
            return f"sent {len(sent)} messages, expected {2 * connections}"
        for index in range(0, len(sent), 2):
            accept, close = sent[index], sent[index + 1]
            if accept.get("type") != "websocket.accept":
                return f"connection {index // 2}: {accept!r} is not an accept"
            if close.get("type") != "websocket.close" or close.get("code", 1000) != 1000:
                return f"connection {index // 2}: {close!r} is not a close with code 1000"
        return None

    return check


def build_case(workload: Workload, messages: int, connections: int) -> Case:
    """The inputs and the output check of ``workload``."""
    if workload == "connect":
        return Case(
            workload,
            (CONNECT,) * connections,
            connections,
            connections,
            _connect_checker(connections),
        )
    if workload == "push":
        go: Message = {"type": "websocket.receive", "text": str(messages)}
        return Case(
            workload, (CONNECT, go), 1, messages, _echo_checker("text", [PUSHED] * messages)
        )
    if workload == "bytes":
        blobs = [_text_value(i).encode() for i in range(messages)]
        received = [{"type": "websocket.receive", "bytes": blob} for blob in blobs]
        check = _echo_checker("bytes", blobs)
    elif workload in ("json", "json_orjson"):
        values = [_json_value(i) for i in range(messages)]
        received = [{"type": "websocket.receive", "text": _compact_dumps(v)} for v in values]
        check = _echo_checker("text", values, json.loads)
    else:
        texts = [_text_value(i) for i in range(messages)]
        received = [{"type": "websocket.receive", "text": text} for text in texts]
        check = _echo_checker("text", texts)
    return Case(workload, (CONNECT, *received, DISCONNECT), 1, messages, check)


async def run_once(app: ASGIApp, scope: Scope, case: Case) -> tuple[int, str | None]:
    """Time one run of ``app`` over ``case``: elapsed ns, and the problem found, if any.

    The garbage collector is off while timing (as in ``timeit``): the kept
    output would otherwise trigger collections whose cost depends on history.
    """
    sent: list[Message] = []
    feed: Iterator[Message] = iter(case.inputs)
    next_input = feed.__next__
    keep = sent.append

    async def receive() -> Message:
        return next_input()

    async def send(message: Message) -> None:
        keep(message)

    gc.collect()
    gc.disable()
    try:
        start = time.perf_counter_ns()
        for _ in range(case.connections):
            await app(scope, receive, send)
        elapsed = time.perf_counter_ns() - start
    except Exception as exc:
        return 0, f"raised {type(exc).__name__}: {exc}"
    finally:
        gc.enable()
    left = sum(1 for _ in feed)
    problem = case.check(sent)
    if problem is None and left:
        problem = f"returned with {left} input messages not received"
    return elapsed, problem


@dataclass
class Row:
    """One app on one workload, over all rounds."""

    workload: Workload
    app: Framework
    ns_per_unit: list[float] = field(default_factory=list)
    ratios: list[float] = field(default_factory=list)
    problems: list[str] = field(default_factory=list)

    @property
    def verified(self) -> bool:
        return not self.problems and bool(self.ns_per_unit)

    def summary(self) -> dict[str, Any]:
        median_ratio = table.median(self.ratios)
        return {
            "workload": self.workload,
            "app": self.app,
            "ns_per_unit_median": table.median(self.ns_per_unit),
            "ns_per_unit": self.ns_per_unit,
            "ratio_median": median_ratio,
            "ratios": self.ratios,
            "ratio_min": min(self.ratios, default=None),
            "ratio_max": max(self.ratios, default=None),
            "verified": self.verified,
            "problems": self.problems[:3],
        }


async def measure(
    workloads: Sequence[Workload], messages: int, connections: int, rounds: int, repeats: int
) -> list[Row]:
    """Run every app on every workload for ``rounds`` rounds, rotating the app order.

    Within a round each app runs ``repeats`` times, interleaved with the others,
    and keeps its fastest run: on a shared machine the minimum is the estimate
    least disturbed by other processes (as ``timeit`` advises).
    """
    scope = make_scope()
    rows = {(w, a): Row(w, a) for w in workloads for a in FRAMEWORKS}
    cases = [build_case(w, messages, connections) for w in workloads]
    # The inputs live for the whole run: keep them out of every later collection.
    gc.collect()
    gc.freeze()
    try:
        for case in cases:  # warm-up: caches, specialisation, lazy imports
            for app in FRAMEWORKS:
                await run_once(APPS[app][case.workload], scope, case)
        for round_index in range(rounds):
            shift = round_index % len(FRAMEWORKS)
            order = FRAMEWORKS[shift:] + FRAMEWORKS[:shift]
            for case in cases:
                best: dict[Framework, int] = {}
                for _ in range(repeats):
                    for app in order:
                        ns, problem = await run_once(APPS[app][case.workload], scope, case)
                        if problem is not None:
                            rows[case.workload, app].problems.append(
                                f"round {round_index}: {problem}"
                            )
                        else:
                            best[app] = min(best.get(app, ns), ns)
                for app, fastest in best.items():
                    rows[case.workload, app].ns_per_unit.append(fastest / case.units)
                    if "raw" in best:
                        rows[case.workload, app].ratios.append(fastest / best["raw"])
    finally:
        gc.unfreeze()
    return list(rows.values())


async def idle_memory(instances: int) -> dict[str, float]:
    """Python heap per accepted, idle WebSocket object, beyond the (shared) scope.

    After the connect message the server has nothing to deliver: a ``receive()``
    waits, as on a real idle connection (lilya_ws keeps one pending, its read-ahead,
    which is counted).
    """
    scope = make_scope()
    idle = asyncio.Event()

    def receiver() -> Callable[[], Awaitable[Message]]:
        """One connection's ``receive``: the connect message, then nothing."""
        connected = False

        async def receive() -> Message:
            nonlocal connected
            if not connected:
                connected = True
                return CONNECT
            await idle.wait()
            return DISCONNECT

        return receive

    async def send(message: Message) -> None:
        pass

    # hypercorn's shape (spec 2.3, extensions): a server whose send after the peer left
    # is silent, so lilya_ws reads ahead there (capabilities.identify_quirks).
    silent_scope: Scope = {**scope, "asgi": {"version": "3.0", "spec_version": "2.3"}}
    classes: dict[str, tuple[Callable[[Scope, Any, Any], Any], Scope]] = {
        "lilya_ws": (LilyaWSWebSocket, scope),
        "lilya_ws, reading ahead": (LilyaWSWebSocket, silent_scope),
        "starlette": (StarletteWebSocket, scope),
        "lilya": (LilyaWebSocket, scope),
    }
    sizes: dict[str, float] = {}
    for name, (cls, scope_of) in classes.items():
        keep: list[Any] = [None] * instances  # allocated before tracing starts
        await _accepted(cls(scope_of, receiver(), send))  # warm-up outside the trace
        gc.collect()
        tracemalloc.start()
        try:
            base, _ = tracemalloc.get_traced_memory()
            for index in range(instances):
                keep[index] = await _accepted(cls(scope_of, receiver(), send))
            for _ in range(3):  # the read-ahead's call_soon, its task's start, its wait
                await asyncio.sleep(0)
            gc.collect()
            current, _ = tracemalloc.get_traced_memory()
        finally:
            tracemalloc.stop()
        sizes[name] = (current - base) / instances
        idle.set()  # the pending receives end: a close then waits for nothing
        for websocket in keep:
            await websocket.close()
        idle.clear()
    return sizes


async def _accepted(websocket: Any) -> Any:
    """``websocket`` after its handshake: the connect message, then the accept."""
    await websocket.accept()
    return websocket


INSTRUCTION_SCALES: Final = (1, 3)
"""Each count runs the workload at these multiples of its size; the difference per unit
is the figure, so start-up, imports and warm-up cancel out."""


Counted: TypeAlias = Framework | Literal["harness"]
HARNESS: Final = "harness"
"""``--single harness WORKLOAD`` builds and checks a workload's case with no app run
(its output check fails): what ``count_instructions`` subtracts from every app."""


def run_single(framework: Counted, workload: Workload, messages: int, connections: int) -> int:
    """Run one app over one workload once (the child process of ``count_instructions``)."""
    case = build_case(workload, messages, connections)
    if framework == HARNESS:
        case.check([])
        return 0
    _, problem = asyncio.run(run_once(APPS[framework][workload], make_scope(), case))
    if problem is not None:
        print(f"NOT VERIFIED {workload} {framework}: {problem}", file=sys.stderr)
        return 1
    return 0


def count_instructions(framework: Counted, workload: Workload, units: int) -> float:
    """Instructions per message (per connection for connect) of one app, by callgrind.

    Instruction counts repeat within a fraction of a per cent where timings swing
    by tens of per cent, so differences of a few per cent between layers show.
    """
    totals: list[int] = []
    with tempfile.TemporaryDirectory() as tmp:
        for scale in INSTRUCTION_SCALES:
            out = Path(tmp) / f"callgrind.{scale}"
            size = str(units * scale)
            subprocess.run(
                [
                    "valgrind",
                    "--tool=callgrind",
                    f"--callgrind-out-file={out}",
                    sys.executable,
                    "-m",
                    "bench.inprocess",
                    "--single",
                    framework,
                    workload,
                    "--messages",
                    size,
                    "--connections",
                    size,
                ],
                check=True,
                capture_output=True,
                # The same string hashes every run: dict probes, hence counts, repeat.
                env={**os.environ, "PYTHONHASHSEED": "0"},
            )
            totals.append(_callgrind_total(out))
    return (totals[1] - totals[0]) / (units * (INSTRUCTION_SCALES[1] - INSTRUCTION_SCALES[0]))


def _callgrind_total(path: Path) -> int:
    for line in path.read_text().splitlines():
        if line.startswith(("summary:", "totals:")):
            return int(line.split()[1])
    raise ValueError(f"no total in {path}")


def instruction_table(workloads: Sequence[Workload], units: int) -> list[dict[str, Any]]:
    """Instructions per unit of every app on every workload (the harness's own work
    subtracted), with ratios to raw and to the ``wrapper`` floor of the same run."""
    rows: list[dict[str, Any]] = []
    for workload in workloads:
        harness = count_instructions(HARNESS, workload, units)
        counts = {app: count_instructions(app, workload, units) - harness for app in FRAMEWORKS}
        for app, count in counts.items():
            ratio = count / counts["wrapper"]
            target = TARGETS.get(workload) if app == "lilya_ws" else None
            rows.append(
                {
                    "workload": workload,
                    "app": app,
                    "instructions": round(count),
                    "ratio_raw": count / counts["raw"],
                    "ratio_wrapper": ratio,
                    "target_wrapper": target,
                    "met": None if target is None else ratio <= target,
                }
            )
            verdict = "" if target is None else f"  target <= x{target:.2f}: "
            verdict += "" if target is None else ("met" if ratio <= target else "MISSED")
            print(
                f"{workload:<12} {app:<10} {count:>9,.0f} x{count / counts['raw']:.3f} raw"
                f"  x{ratio:.3f} wrapper{verdict}",
                flush=True,
            )
    return rows


def versions() -> dict[str, str]:
    """The interpreter and the package versions the numbers belong to."""
    found = {"python": platform.python_version(), "platform": platform.platform()}
    for dist in ("lilya-ws", "starlette", "lilya", "orjson"):
        try:
            found[dist] = importlib.metadata.version(dist)
        except importlib.metadata.PackageNotFoundError:
            found[dist] = "not installed"
    return found


COLUMNS: Final[Sequence[table.Column]] = (
    ("workload", "<12"),
    ("app", "<10"),
    ("ns/msg", ">9"),
    ("x raw", ">6"),
    ("(min-max)", ">13"),
    ("verified", "<8"),
)


def format_table(rows: Sequence[Row]) -> str:
    """The results as a fixed-width table: ns per message and ratio to raw."""
    lines = []
    for row in rows:
        s = row.summary()
        lines.append(
            (
                row.workload,
                row.app,
                table.number(s["ns_per_unit_median"], ".0f"),
                table.number(s["ratio_median"], ".2f"),
                table.extent(row.ratios, ".2f"),
                table.verdict(row.verified),
            )
        )
    return table.render(COLUMNS, lines)


def main(argv: Sequence[str] | None = None) -> int:
    """Run the benchmark, print the table; exit 1 only if some app's output was wrong."""
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0] if __doc__ else None)
    parser.add_argument("--smoke", action="store_true", help="tiny sizes, one round")
    parser.add_argument("--messages", type=int, default=MESSAGES)
    parser.add_argument("--connections", type=int, default=CONNECTIONS)
    parser.add_argument("--rounds", type=int, default=ROUNDS)
    parser.add_argument("--repeats", type=int, default=REPEATS, help="runs per app per round")
    parser.add_argument("--memory-instances", type=int, default=MEMORY_INSTANCES)
    parser.add_argument("--workload", action="append", choices=WORKLOADS, dest="workloads")
    parser.add_argument("--json", type=Path, metavar="PATH", help="save the results as JSON")
    parser.add_argument(
        "--instructions",
        action="store_true",
        help="count instructions per message with valgrind's callgrind instead of timing",
    )
    parser.add_argument(
        "--single", nargs=2, metavar=("APP", "WORKLOAD"), help=argparse.SUPPRESS
    )  # one counted run, in callgrind's child process
    args = parser.parse_args(argv)
    if args.single is not None:
        framework, workload = args.single
        if framework not in (*FRAMEWORKS, HARNESS) or workload not in WORKLOADS:
            parser.error(f"--single takes one of {FRAMEWORKS} and one of {WORKLOADS}")
        return run_single(framework, workload, args.messages, args.connections)
    if args.smoke:
        args.messages, args.connections, args.rounds, args.repeats = 200, 100, 1, 1
        args.memory_instances = 200
    workloads: list[Workload] = args.workloads or list(WORKLOADS)
    if args.instructions:
        units = args.messages if args.smoke else 1_000
        table = instruction_table(workloads, units)
        if args.json is not None:
            report = {"environment": versions(), "units": units, "instructions": table}
            args.json.write_text(json.dumps(report, indent=2) + "\n", encoding="utf-8")
        return 0

    rows = asyncio.run(
        measure(workloads, args.messages, args.connections, args.rounds, args.repeats)
    )
    memory = asyncio.run(idle_memory(args.memory_instances))
    env = versions()
    print(", ".join(f"{k} {v}" for k, v in env.items()))
    print(
        f"{args.rounds} rounds x best of {args.repeats} runs, {args.messages} messages per"
        f" echo run, {args.connections} connections per connect run; ns/msg is the median"
        " over rounds (per connection for connect)"
    )
    print(format_table(rows))
    print(f"idle accepted WebSocket, bytes of Python heap ({args.memory_instances} instances):")
    for name, size in memory.items():
        print(f"  {name:<24} {size:8.0f}")
    share = memory["lilya_ws, reading ahead"] - memory["lilya_ws"]
    print(f"  departure detection's share {share:8.0f}  target <= {MEMORY_TARGET}")
    verified = all(row.verified for row in rows)
    if not verified:
        for row in rows:
            for problem in row.problems[:3]:
                print(f"NOT VERIFIED {row.workload} {row.app}: {problem}", file=sys.stderr)
    if args.json is not None:
        report = {
            "environment": env,
            "settings": {
                "rounds": args.rounds,
                "repeats": args.repeats,
                "messages": args.messages,
                "connections": args.connections,
                "memory_instances": args.memory_instances,
                "smoke": args.smoke,
            },
            "verified": verified,
            "results": [row.summary() for row in rows],
            "memory_bytes_per_idle_websocket": memory,
            "memory_target": MEMORY_TARGET,
        }
        args.json.write_text(json.dumps(report, indent=2) + "\n", encoding="utf-8")
    return 0 if verified else 1


if __name__ == "__main__":
    sys.exit(main())
