"""The scale chart: drawn from ``bench.scale``'s JSON, one row of plots per server.

Columns: server memory (RSS) per connection, server CPU per message (median over
windows, the bars their range), and lilya_ws over raw ASGI for both, each against
the connection count on a log scale.

Example: ``python -m bench.scale --chart-only`` redraws ``bench/scale.png`` from
``bench/scale.json``.
"""

from __future__ import annotations

from collections.abc import Sequence
from pathlib import Path
from typing import TYPE_CHECKING, Final

import matplotlib

matplotlib.use("Agg")  # files only, no display

import matplotlib.pyplot as plt
from matplotlib.axes import Axes

if TYPE_CHECKING:
    from bench.scale import Point, Report, Run

COLOURS: Final = {
    "raw": "#555555",
    "lilya_ws": "#1f77b4",
    "raw_push": "#999999",
    "lilya_ws_push": "#9467bd",
}
MEMORY_FROM: Final = 100
"""Memory per connection is drawn from this count up: one connection's few KiB are below
what the allocators and the page size resolve (the JSON keeps it)."""
LABELS: Final = {
    "raw": "raw ASGI",
    "lilya_ws": "lilya_ws",
    "raw_push": "raw ASGI push (idle)",
    "lilya_ws_push": "lilya_ws push (read-ahead)",
}


def _points(run: Run) -> list[Point]:
    return [point for point in run["points"] if point["opened"]]


def _memory_kib(point: Point) -> float | None:
    value = point["rss_per_connection"]
    return None if value is None else value / 1024


def _draw_memory(axes: Axes, runs: Sequence[Run]) -> None:
    for run in runs:
        points = [(p["opened"], _memory_kib(p)) for p in _points(run) if p["opened"] >= MEMORY_FROM]
        xs = [x for x, y in points if y is not None]
        ys = [y for _, y in points if y is not None]
        axes.plot(xs, ys, "o-", color=COLOURS.get(run["app"]), label=LABELS.get(run["app"]))
    axes.set_ylabel("KiB per connection")
    axes.axhline(0, color="#cccccc", linewidth=0.8)


def _draw_cpu(axes: Axes, runs: Sequence[Run]) -> None:
    for run in runs:
        points = [p for p in _points(run) if p["us_per_msg"] is not None]
        xs = [p["opened"] for p in points]
        ys = [p["us_per_msg"] or 0.0 for p in points]
        low = [
            y - min(w["us_per_msg"] for w in p["windows"]) for y, p in zip(ys, points, strict=True)
        ]
        high = [
            max(w["us_per_msg"] for w in p["windows"]) - y for y, p in zip(ys, points, strict=True)
        ]
        axes.errorbar(
            xs,
            ys,
            yerr=[low, high],
            fmt="o-",
            capsize=3,
            color=COLOURS.get(run["app"]),
            label=LABELS.get(run["app"]),
        )
    axes.set_ylabel("server CPU µs per message")
    axes.set_ylim(bottom=0)


def _draw_ratio(axes: Axes, runs: Sequence[Run]) -> None:
    by_app = {run["app"]: {p["connections"]: p for p in _points(run)} for run in runs}
    raw, ours = by_app.get("raw", {}), by_app.get("lilya_ws", {})
    counts = sorted(set(raw) & set(ours))
    memory: list[tuple[int, float]] = []
    cpu: list[tuple[int, float]] = []
    for count in counts:
        base_memory, our_memory = _memory_kib(raw[count]), _memory_kib(ours[count])
        if base_memory and our_memory is not None and count >= MEMORY_FROM:
            memory.append((count, our_memory / base_memory))
        base_cpu, our_cpu = raw[count]["us_per_msg"], ours[count]["us_per_msg"]
        if base_cpu and our_cpu is not None:
            cpu.append((count, our_cpu / base_cpu))
    if memory:
        xs, ys = [x for x, _ in memory], [y for _, y in memory]
        axes.plot(xs, ys, "s--", color="#2ca02c", label=f"memory/conn (N >= {MEMORY_FROM})")
    if cpu:
        xs, ys = [x for x, _ in cpu], [y for _, y in cpu]
        axes.plot(xs, ys, "o-", color="#d62728", label="CPU/msg")
    axes.axhline(1.0, color="#999999", linewidth=0.8)
    ratios = [ratio for _, ratio in memory + cpu]
    axes.set_ylim(min([0.8, *ratios]) - 0.02, max([1.2, *ratios]) + 0.02)  # noise to scale
    axes.set_ylabel("lilya_ws / raw")


def draw(report: Report, path: Path) -> None:
    """Write the chart of ``report`` to ``path`` (PNG)."""
    servers = list(dict.fromkeys(run["server"] for run in report["runs"]))
    figure, grid = plt.subplots(
        len(servers), 3, figsize=(15, 3.2 * len(servers)), squeeze=False, sharex=True
    )
    settings = report["settings"]
    for row, server in enumerate(servers):
        runs = [run for run in report["runs"] if run["server"] == server]
        memory_axes, cpu_axes, ratio_axes = grid[row]
        _draw_memory(memory_axes, runs)
        _draw_cpu(cpu_axes, runs)
        _draw_ratio(ratio_axes, runs)
        memory_axes.set_title(f"{server}: memory per idle connection (RSS)", fontsize=10)
        cpu_axes.set_title(f"{server}: CPU per message", fontsize=10)
        ratio_axes.set_title(f"{server}: lilya_ws / raw ASGI", fontsize=10)
        for axes in grid[row]:
            axes.set_xscale("log")
            axes.set_xticks(settings["counts"], [f"{c:,}" for c in settings["counts"]])
            axes.grid(True, which="major", alpha=0.3)
            axes.legend(fontsize=8)
    for axes in grid[-1]:
        axes.set_xlabel("concurrent connections")
    figure.suptitle(
        f"One server process per configuration and app; {settings['rate']:,} msg/s over up to"
        f" {settings['active']:,} active connections, the rest idle"
        f" ({settings['windows']} windows of {settings['window_seconds']:g} s per count)",
        fontsize=11,
    )
    figure.tight_layout(rect=(0, 0, 1, 0.985))
    figure.savefig(path, dpi=80)
    plt.close(figure)
