"""Render a matrix run: the headline, the scenario table, the inherent differences (Markdown, JSON).

The README's generated block (between the matrix markers) is the headline and
the two tables; ``integration-report.md`` adds each row's expectation and every
cell that differs, with what was observed; ``integration-report.json`` holds every
cell, observed and expected. The browser's rows are a column group of their own
(a headline and tables headed by the browser and its version), in both.
"""

from __future__ import annotations

import dataclasses
import json
import re
from pathlib import Path
from typing import Final, TypedDict

from integration.results import BrowserGroup, Cell, Report, ServerRun, Status
from integration.scenarios import EVIDENCE, JSON, Inherent

__all__ = ["render_json", "render_markdown", "render_tables", "update_readme"]

MATRIX_START: Final = "<!-- matrix:start -->"
MATRIX_END: Final = "<!-- matrix:end -->"
_MARKS: Final[dict[Status, str]] = {
    "as expected": "✔",
    "differs": "✘",
    "failed": "✘",
    "not run": "n/r",
}
ABBREVIATIONS: Final = {
    "uvicorn-websockets": "uv-ws",
    "uvicorn-websockets-sansio": "uv-sansio",
    "uvicorn-wsproto": "uv-wsproto",
    "hypercorn-asyncio": "hc-asyncio",
    "hypercorn-trio": "hc-trio",
}


def _short(name: str) -> str:
    return ABBREVIATIONS.get(name, name)


def _escape(text: str) -> str:
    return text.replace("|", "\\|").replace("\n", " ")


def _compact(value: object) -> str:
    return json.dumps(value, ensure_ascii=False, separators=(", ", ": "))


def _leaves(value: JSON, *, top: bool = True) -> list[str]:
    """The scalar values of ``value``, in order (an inherent cell's observed values);
    a side that observes nothing (None at the top) has none."""
    if isinstance(value, dict):
        return [leaf for item in value.values() for leaf in _leaves(item, top=False)]
    if isinstance(value, list) and any(isinstance(v, dict | list) for v in value):
        return [leaf for item in value for leaf in _leaves(item, top=False)]
    return [] if value is None and top else [_compact(value)]


def _leaf_names(value: JSON, prefix: str) -> list[str]:
    """The names of :func:`_leaves`' values, in the same order (``side: key/key``)."""
    if isinstance(value, dict):
        return [
            name
            for key, item in value.items()
            for name in _leaf_names(item, f"{prefix}/{key}" if prefix else key)
        ]
    if isinstance(value, list) and any(isinstance(v, dict | list) for v in value):
        return [name for i, item in enumerate(value) for name in _leaf_names(item, f"{prefix}/{i}")]
    return [prefix]


def _observed_short(cell: Cell) -> str:
    if cell.observed is None:
        return cell.error or cell.status
    return " · ".join(_leaves(cell.observed["app"]) + _leaves(cell.observed["client"]))


def render_tables(report: Report) -> str:
    """The headline, the scenario-by-server table and the inherent-differences table."""
    ran = report.ran
    notes: dict[str, int] = {}

    def mark(run: ServerRun, row: str, *, browser: bool = False) -> str:
        cell = run.browser_cell(row) if browser else run.cell(row)
        if cell is None:
            return " "
        symbol = _MARKS[cell.status]
        if cell.status == "as expected":
            return symbol
        detail = cell.error if cell.observed is None else f"observed {_compact(cell.observed)}"
        number = notes.setdefault(f"{cell.status}: {detail}", len(notes) + 1)
        return f"{symbol} [{number}]"

    servers = " | ".join(_short(run.name) for run in ran)
    lines = [f"**{report.headline}**", ""]
    if report.scenarios:
        lines += [f"| scenario | {servers} |", "|---|" + "---|" * len(ran)]
        for scenario in report.scenarios:
            marks = " | ".join(mark(run, scenario["name"]) for run in ran)
            lines.append(f"| {scenario['name']} | {marks} |")
    if report.inherent:
        lines += ["", "Inherent differences (each server's observed values):", ""]
        lines += [f"| difference | {servers} | why |", "|---|" + "---|" * (len(ran) + 1)]
        for row in report.inherent:
            lines.append(_inherent_line(row, ran))
    group = report.browser
    if group is not None:
        lines += ["", f"**{report.browser_headline}**"]
    if group is not None and group.status == "ran":
        if group.scenarios:
            lines += ["", f"| {group.browser} | {servers} |", "|---|" + "---|" * len(ran)]
            for scenario in group.scenarios:
                marks = " | ".join(mark(run, scenario["name"], browser=True) for run in ran)
                lines.append(f"| {scenario['name']} | {marks} |")
        if group.inherent:
            lines += ["", f"Inherent differences seen by {group.browser}:", ""]
            lines += [f"| difference | {servers} | why |", "|---|" + "---|" * (len(ran) + 1)]
            for row in group.inherent:
                lines.append(_inherent_line(row, ran, browser=True))
    if notes:
        lines.append("")
        lines += [f"{number}. {_escape(text)}" for text, number in notes.items()]
    skipped = [run for run in report.servers if run.status != "ran"]
    if skipped:
        lines.append("")
        for run in skipped:
            first = (run.error or "").splitlines()[0] if run.error else ""
            lines.append(f"- **{run.name}**: {run.status}: {_escape(first)}")
    return "\n".join(lines) + "\n"


def _inherent_line(row: Inherent, ran: tuple[ServerRun, ...], *, browser: bool = False) -> str:
    values = []
    for run in ran:
        cell = run.browser_cell(row["id"]) if browser else run.cell(row["id"])
        if cell is None:
            values.append(" ")
            continue
        values.append(f"{_MARKS[cell.status]} {_escape(_observed_short(cell))}")
    link = f"[{row['id']}]({EVIDENCE}#{row['id']})"
    first = next(iter(row["expect"].values()))
    names = [
        f"{side}: {name}"
        for side in ("app", "client")
        if first[side] is not None
        for name in _leaf_names(first[side], "")
    ]
    what = f"{link}: {_escape(row['title'])} ({_escape(' · '.join(names))})"
    return f"| {what} | " + " | ".join(values) + f" | {_escape(row['reason'])} |"


def _browser_rows(group: BrowserGroup) -> list[str]:
    """The browser's rows with their expectations (its own section of the report)."""
    lines = ["", f"## Browser ({group.browser}): the one expected outcome of each", ""]
    if group.status != "ran":
        lines += [f"Not run: {group.status}: {_escape(group.error or '')}", ""]
    lines += [
        "The page is served from 127.0.0.1 (its Origin is `http://127.0.0.1:<port>`); a "
        "handshake's outcome is what CDP's Network domain saw.",
        "",
    ]
    for scenario in group.scenarios:
        see = scenario.get("see", [])
        also = f" (see {', '.join(see)})" if see else ""
        lines.append(f"- `{scenario['name']}`: {_escape(scenario['title'])}{also}")
        lines.append(f"  - expected: `{_compact(scenario['expect'])}`")
    for row in group.inherent:
        lines.append(
            f"- `{row['id']}` (inherent): {_escape(row['title'])}. {_escape(row['reason'])}"
        )
        for server, outcome in row["expect"].items():
            lines.append(f"  - {server}: `{_compact(outcome)}`")
    return lines


def render_markdown(report: Report) -> str:
    """The full report: tables, then every row's expectation and every unexpected cell."""
    lines = [
        "# lilya_ws integration matrix",
        "",
        "✔ observed as expected on a real server in this run; ✘ differs (or the check "
        "failed); n/r not run (needs a local server or a wss:// URL).",
        "",
        render_tables(report),
        "## Servers",
        "",
    ]
    for run in report.servers:
        where = " and ".join(s for s, url in (("ws://", run.url), ("wss://", run.tls_url)) if url)
        restarted = f"; restarted after {', '.join(run.restarts)}" if run.restarts else ""
        line = f"- **{run.name}** ({run.version or 'not installed'}): {where or run.status}"
        lines.append(line + restarted)
    lines += ["", "## Scenarios: the one expected outcome of each", ""]
    for scenario in report.scenarios:
        see = scenario.get("see", [])
        also = f" (see {', '.join(see)})" if see else ""
        lines.append(f"- `{scenario['name']}`: {_escape(scenario['title'])}{also}")
        lines.append(f"  - expected: `{_compact(scenario['expect'])}`")
    lines += ["", "## Inherent differences: each server's expected outcome", ""]
    for row in report.inherent:
        lines.append(f"- `{row['id']}`: {_escape(row['title'])}. {_escape(row['reason'])}")
        for server, outcome in row["expect"].items():
            lines.append(f"  - {server}: `{_compact(outcome)}`")
    if report.browser is not None:
        lines += _browser_rows(report.browser)
    lines += ["", "## Cells not as expected", ""]
    unexpected = [
        (group, c)
        for run in report.servers
        for group, cells in (("", run.cells), ("browser: ", run.browser_cells))
        for c in cells
        if not c.as_expected
    ]
    for group, cell in unexpected:
        lines.append(f"- {group}{cell.server} / {cell.row}: {cell.status}")
        if cell.observed is not None:
            lines.append(f"  - observed: `{_compact(cell.observed)}`")
        else:
            lines.append(f"  - error: {_escape(cell.error or '')}")
        lines.append(f"  - expected: `{_compact(cell.expected)}`")
    if not unexpected:
        lines.append("None.")
    return "\n".join(lines) + "\n"


class ServerJSON(TypedDict):
    name: str
    version: str | None
    transports: list[str]
    status: str
    error: str | None
    restarted_after: list[str]


class BrowserJSON(TypedDict):
    browser: str
    status: str
    error: str | None
    headline: str | None
    scenarios: list[str]
    inherent: list[str]
    identical: list[str]
    cells: list[dict[str, object]]
    """Every browser :class:`~integration.results.Cell`'s fields."""


class ReportJSON(TypedDict):
    ok: bool
    headline: str
    scenarios: list[str]
    inherent: list[str]
    identical: list[str]
    servers: list[ServerJSON]
    cells: list[dict[str, object]]
    """Every :class:`~integration.results.Cell`'s fields."""
    browser: BrowserJSON | None


def report_json(report: Report) -> ReportJSON:
    """The report as JSON-ready data."""
    return {
        "ok": report.ok,
        "headline": report.headline,
        "scenarios": [s["name"] for s in report.scenarios],
        "inherent": [row["id"] for row in report.inherent],
        "identical": [s["name"] for s in report.scenarios if report.identical(s["name"])],
        "servers": [
            {
                "name": run.name,
                "version": run.version,
                "transports": [s for s, url in (("ws", run.url), ("wss", run.tls_url)) if url],
                "status": run.status,
                "error": run.error,
                "restarted_after": list(run.restarts),
            }
            for run in report.servers
        ],
        "cells": [dataclasses.asdict(cell) for run in report.servers for cell in run.cells],
        "browser": _browser_json(report),
    }


def _browser_json(report: Report) -> BrowserJSON | None:
    group = report.browser
    if group is None:
        return None
    return {
        "browser": group.browser,
        "status": group.status,
        "error": group.error,
        "headline": report.browser_headline,
        "scenarios": [s["name"] for s in group.scenarios],
        "inherent": [row["id"] for row in group.inherent],
        "identical": [s["name"] for s in group.scenarios if report.browser_identical(s["name"])],
        "cells": [dataclasses.asdict(cell) for run in report.servers for cell in run.browser_cells],
    }


def render_json(report: Report) -> str:
    """The JSON report: nothing in it varies between runs with the same outcomes (no ports,
    no timings)."""
    return json.dumps(report_json(report), indent=2, ensure_ascii=False) + "\n"


def update_readme(path: Path, report: Report) -> None:
    """Replace the block between the matrix markers in ``path`` with the generated tables."""
    text = path.read_text(encoding="utf-8")
    pattern = re.compile(re.escape(MATRIX_START) + r".*?" + re.escape(MATRIX_END), re.DOTALL)
    if not pattern.search(text):
        raise ValueError(f"{path} has no {MATRIX_START} ... {MATRIX_END} block")
    block = (
        f"{MATRIX_START}\n<!-- generated by `python -m integration --update-readme`; "
        f"do not edit -->\n\n{render_tables(report)}\n{MATRIX_END}"
    )
    path.write_text(pattern.sub(lambda _: block, text, count=1), encoding="utf-8")
