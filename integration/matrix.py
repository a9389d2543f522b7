"""Run scenarios against servers and render the compatibility table (Markdown and JSON).

Data flows one way: scenario → adapter → server → app → client check → :class:`Cell`.
A cell is as expected when a supported feature passed, or when a feature the
server lacks showed its documented fallback (n/a, with the reason).
"""

from __future__ import annotations

import asyncio
import dataclasses
import json
import re
import time
from collections.abc import Iterable, Sequence
from dataclasses import dataclass
from pathlib import Path
from typing import Final, Literal, TypedDict

from websockets.exceptions import WebSocketException

from adapters import ServerAdapter, ServerStartError, get, names
from integration.checks import SCENARIOS, CheckFailed, Scenario, Target, bounded, open_ws

__all__ = [
    "APP",
    "Cell",
    "Report",
    "ServerRun",
    "render_json",
    "render_markdown",
    "run_cell",
    "run_local",
    "run_target",
    "update_readme",
]

APP: Final = "integration.apps:app"
REPO_ROOT: Final = Path(__file__).resolve().parent.parent
CHECK_TIMEOUT: Final = 60.0
"""No cell takes longer than this (the 8 MiB echo on a slow machine is the longest)."""
READY_TIMEOUT: Final = 30.0
MATRIX_START: Final = "<!-- matrix:start -->"
MATRIX_END: Final = "<!-- matrix:end -->"

Expected = Literal["pass", "n/a"]
Observed = Literal["pass", "n/a", "fail"]
RunStatus = Literal["ran", "unavailable", "start-failed"]
_MARKS: Final[dict[Observed, str]] = {"pass": "✔", "n/a": "n/a", "fail": "✘"}


@dataclass(frozen=True)
class Cell:
    """One scenario on one server: what was expected and what happened."""

    server: str
    scenario: str
    expected: Expected
    observed: Observed
    reason: str | None
    """Why the server lacks the feature (for n/a), from its declared capabilities."""
    detail: str
    """What the check observed, or how it failed."""
    seconds: float

    @property
    def as_expected(self) -> bool:
        return self.expected == self.observed


@dataclass(frozen=True)
class ServerRun:
    """One server configuration in a run: how it went and its cells."""

    name: str
    version: str | None
    url: str | None
    status: RunStatus
    error: str | None
    cells: tuple[Cell, ...]


@dataclass(frozen=True)
class Report:
    """A whole run: the scenarios in order and every server's cells."""

    scenarios: tuple[Scenario, ...]
    servers: tuple[ServerRun, ...]

    @property
    def ok(self) -> bool:
        """Every cell as expected and no server that should have run failed to start."""
        return all(
            run.status != "start-failed" and all(cell.as_expected for cell in run.cells)
            for run in self.servers
        )


async def run_cell(target: Target, scenario: Scenario) -> Cell:
    """Run one check against ``target``, bounded by :data:`CHECK_TIMEOUT`."""
    reason = scenario.lacks(target.capabilities)
    expected: Expected = "n/a" if reason else "pass"
    started = time.monotonic()
    observed: Observed
    try:
        detail = await bounded(scenario.check(target), CHECK_TIMEOUT)
        observed = expected
    except CheckFailed as exc:
        observed, detail = "fail", str(exc)
    except Exception as exc:  # a crashed check is a failed cell, never a crashed run
        observed, detail = "fail", f"{type(exc).__name__}: {exc}"
    return Cell(
        server=target.name,
        scenario=scenario.name,
        expected=expected,
        observed=observed,
        reason=reason,
        detail=detail,
        seconds=round(time.monotonic() - started, 3),
    )


async def run_scenarios(target: Target, scenarios: Sequence[Scenario]) -> tuple[Cell, ...]:
    """Run ``scenarios`` one after the other (the apps' side channel assumes it)."""
    return tuple([await run_cell(target, scenario) for scenario in scenarios])


def select_scenarios(selected: Iterable[str] | None) -> tuple[Scenario, ...]:
    """The named scenarios in report order, or all; unknown names raise ``KeyError``."""
    if selected is None:
        return tuple(SCENARIOS.values())
    wanted = set(selected)
    unknown = wanted - SCENARIOS.keys()
    if unknown:
        raise KeyError(f"unknown scenarios: {', '.join(sorted(unknown))}")
    return tuple(scenario for scenario in SCENARIOS.values() if scenario.name in wanted)


def run_local(
    servers: Iterable[str] | None = None, scenarios: Iterable[str] | None = None
) -> Report:
    """Start each server configuration in turn on 127.0.0.1 and run the scenarios on it."""
    chosen = select_scenarios(scenarios)
    runs = [_run_adapter(get(name), chosen) for name in (servers or names())]
    return Report(chosen, tuple(runs))


def _run_adapter(adapter: ServerAdapter, scenarios: Sequence[Scenario]) -> ServerRun:
    version = adapter.version()
    if (reason := adapter.unavailable_reason()) is not None:
        return ServerRun(adapter.name, version, None, "unavailable", reason, ())
    try:
        server = adapter.start(APP, cwd=REPO_ROOT)
    except ServerStartError as exc:
        return ServerRun(adapter.name, version, None, "start-failed", str(exc), ())
    with server:
        target = Target(adapter.name, server.ws_url, adapter.capabilities)
        cells = asyncio.run(run_scenarios(target, scenarios))
    return ServerRun(adapter.name, version, server.ws_url, "ran", None, cells)


def run_target(
    targets: Sequence[tuple[str, str]],
    scenarios: Iterable[str] | None = None,
    ready_timeout: float = READY_TIMEOUT,
) -> Report:
    """Run the scenarios against already running servers, given as (configuration, URL)."""
    chosen = select_scenarios(scenarios)
    runs = []
    for name, url in targets:
        adapter = get(name)
        target = Target(name, url.rstrip("/"), adapter.capabilities)
        error = asyncio.run(_wait_ready(target, ready_timeout))
        if error is not None:
            runs.append(ServerRun(name, None, url, "start-failed", error, ()))
            continue
        cells = asyncio.run(run_scenarios(target, chosen))
        runs.append(ServerRun(name, adapter.version(), url, "ran", None, cells))
    return Report(chosen, tuple(runs))


async def _wait_ready(target: Target, timeout: float) -> str | None:
    """Wait until ``target`` completes a handshake; the last error on timeout."""
    deadline = time.monotonic() + timeout
    last = "no attempt"
    while time.monotonic() < deadline:
        try:
            async with open_ws(target, "/"):
                return None
        except (OSError, WebSocketException, TimeoutError) as exc:
            last = f"{type(exc).__name__}: {exc}"
        # A refused connect returns at once: pace the retries (this is polling, bounded above).
        await asyncio.sleep(0.2)
    return f"{target.url} not ready within {timeout:g}s ({last})"


# Rendering.


class CellJSON(TypedDict):
    server: str
    scenario: str
    expected: Expected
    observed: Observed
    as_expected: bool
    reason: str | None
    detail: str
    seconds: float


class ServerJSON(TypedDict):
    name: str
    version: str | None
    url: str | None
    status: RunStatus
    error: str | None
    capabilities: dict[str, object] | None


class ScenarioJSON(TypedDict):
    name: str
    title: str


class ReportJSON(TypedDict):
    ok: bool
    scenarios: list[ScenarioJSON]
    servers: list[ServerJSON]
    cells: list[CellJSON]


def report_json(report: Report) -> ReportJSON:
    """The report as JSON-ready data."""
    servers: list[ServerJSON] = []
    for run in report.servers:
        caps = dataclasses.asdict(get(run.name).capabilities)
        caps = {key: sorted(v) if isinstance(v, frozenset) else v for key, v in caps.items()}
        servers.append(
            {
                "name": run.name,
                "version": run.version,
                "url": run.url,
                "status": run.status,
                "error": run.error,
                "capabilities": caps,
            }
        )
    cells: list[CellJSON] = [
        {
            "server": cell.server,
            "scenario": cell.scenario,
            "expected": cell.expected,
            "observed": cell.observed,
            "as_expected": cell.as_expected,
            "reason": cell.reason,
            "detail": cell.detail,
            "seconds": cell.seconds,
        }
        for run in report.servers
        for cell in run.cells
    ]
    return {
        "ok": report.ok,
        "scenarios": [{"name": s.name, "title": s.title} for s in report.scenarios],
        "servers": servers,
        "cells": cells,
    }


def render_json(report: Report) -> str:
    return json.dumps(report_json(report), indent=2, ensure_ascii=False) + "\n"


def render_table(report: Report) -> str:
    """The scenario-by-server table with numbered notes for n/a and ✘ cells."""
    ran = [run for run in report.servers if run.status == "ran"]
    notes: dict[str, int] = {}

    def mark(cell: Cell | None) -> str:
        if cell is None:
            return " "
        text = cell.reason if cell.observed == "n/a" else cell.detail
        symbol = _MARKS[cell.observed]
        if cell.observed == "pass":
            return symbol
        if not cell.as_expected:
            text = f"expected {cell.expected}: {text}"
        key = f"{symbol} {text}"
        number = notes.setdefault(key, len(notes) + 1)
        return f"{symbol} [{number}]"

    header = "| scenario | " + " | ".join(run.name for run in ran) + " |"
    lines = [header, "|---|" + "---|" * len(ran)]
    for scenario in report.scenarios:
        cells = [
            mark(next((c for c in run.cells if c.scenario == scenario.name), None)) for run in ran
        ]
        lines.append(f"| {scenario.name} | " + " | ".join(cells) + " |")
    if notes:
        lines.append("")
        lines += [f"{number}. {_escape(key)}" for key, number in notes.items()]
    skipped = [run for run in report.servers if run.status != "ran"]
    if skipped:
        lines.append("")
        lines += [f"- **{run.name}**: {run.status}: {_first_line(run.error)}" for run in skipped]
    return "\n".join(lines) + "\n"


def render_markdown(report: Report) -> str:
    """The full Markdown report: verdict, table, servers and scenario descriptions."""
    cells = [cell for run in report.servers for cell in run.cells]
    differ = sum(not cell.as_expected for cell in cells)
    verdict = "every cell as expected" if report.ok else f"{differ} cell(s) differ from expected"
    lines = [
        "# lilya_ws integration matrix",
        "",
        f"{len(cells)} cells, {verdict}. ✔ passed; n/a: the server lacks the feature "
        "(its documented fallback was checked); ✘ differs from the expectation.",
        "",
        render_table(report),
        "## Servers",
        "",
    ]
    for run in report.servers:
        caps = get(run.name).capabilities
        spec = caps.spec_version or "missing (2.0)"
        lines.append(f"- **{run.name}** ({run.version or 'not installed'}): ASGI spec {spec}")
    lines += ["", "## Scenarios", ""]
    lines += [f"- `{s.name}`: {_escape(s.title)}" for s in report.scenarios]
    lines += ["", "## Every cell: expected and observed", ""]
    lines += ["| server | scenario | expected | observed | detail |", "|---|---|---|---|---|"]
    for cell in cells:
        expected = f"n/a: {cell.reason}" if cell.reason else "pass"
        lines.append(
            f"| {cell.server} | {cell.scenario} | {_escape(expected)} | "
            f"{_MARKS[cell.observed]} {cell.observed} | {_escape(cell.detail)} |"
        )
    return "\n".join(lines) + "\n"


def _escape(text: str) -> str:
    return text.replace("|", "\\|").replace("\n", " ")


def _first_line(text: str | None) -> str:
    return _escape((text or "").splitlines()[0] if text else "")


def update_readme(path: Path, report: Report) -> None:
    """Replace the block between the matrix markers in ``path`` with the generated table."""
    text = path.read_text(encoding="utf-8")
    pattern = re.compile(re.escape(MATRIX_START) + r".*?" + re.escape(MATRIX_END), re.DOTALL)
    if not pattern.search(text):
        raise ValueError(f"{path} has no {MATRIX_START} ... {MATRIX_END} block")
    block = (
        f"{MATRIX_START}\n<!-- generated by `python -m integration --update-readme`; "
        f"do not edit -->\n\n{render_table(report)}\n{MATRIX_END}"
    )
    path.write_text(pattern.sub(lambda _: block, text, count=1), encoding="utf-8")
