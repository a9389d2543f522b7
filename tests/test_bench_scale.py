"""``bench.scale`` runs at a tiny size, saves its JSON and draws its chart from it.

No figure is asserted: only the report's shape, that every connection opened and
every echo came back right, and that the chart is a PNG (redrawn by ``--chart-only``).
"""

from __future__ import annotations

import json
import subprocess
import sys
from pathlib import Path

import pytest

ROOT = Path(__file__).resolve().parent.parent
PNG_MAGIC = b"\x89PNG\r\n\x1a\n"
TINY = ("--counts", "1,10", "--active", "10", "--rate", "200", "--window", "0.5")
TINY_WINDOWS = ("--windows", "2", "--idle-seconds", "0.2")


def run_scale(*arguments: str, timeout: float) -> None:
    completed = subprocess.run(
        [sys.executable, "-m", "bench.scale", *arguments],
        cwd=ROOT,
        capture_output=True,
        text=True,
        timeout=timeout,
        check=False,
    )
    assert completed.returncode == 0, completed.stdout + completed.stderr


@pytest.mark.integration
def test_scale_smoke_reports_every_count_and_draws_the_chart(tmp_path: Path) -> None:
    out, chart = tmp_path / "scale.json", tmp_path / "scale.png"
    run_scale(
        *("--servers", "uvicorn-websockets", *TINY, *TINY_WINDOWS),
        *("--out", str(out), "--chart", str(chart)),
        timeout=120,
    )
    report = json.loads(out.read_text(encoding="utf-8"))
    assert report["verified"] is True
    assert report["settings"]["counts"] == [1, 10]
    runs = report["runs"]
    assert [(run["server"], run["app"]) for run in runs] == [
        ("uvicorn-websockets", "raw"),
        ("uvicorn-websockets", "lilya_ws"),
    ]
    for run in runs:
        assert run["problems"] == []
        assert run["baseline"]["rss"] > 0
        assert [point["connections"] for point in run["points"]] == [1, 10]
        for point in run["points"]:
            assert point["opened"] == point["connections"]
            assert point["failures"] == point["dropped"] == point["mismatches"] == 0
            assert point["active"] == point["connections"]
            assert len(point["windows"]) == 2
            assert all(window["messages"] == 100 for window in point["windows"])
            assert point["us_per_msg"] > 0
            assert isinstance(point["rss_per_connection"], float)
    assert chart.read_bytes().startswith(PNG_MAGIC)

    chart.unlink()
    run_scale("--chart-only", "--out", str(out), "--chart", str(chart), timeout=60)
    assert chart.read_bytes().startswith(PNG_MAGIC)


@pytest.mark.integration
def test_scale_push_apps_report_memory_only(tmp_path: Path) -> None:
    out = tmp_path / "push.json"
    run_scale(
        *("--servers", "hypercorn-asyncio", "--apps", "raw_push,lilya_ws_push"),
        *("--counts", "4", "--windows", "0", "--idle-seconds", "0.2"),
        *("--out", str(out), "--no-chart"),
        timeout=120,
    )
    report = json.loads(out.read_text(encoding="utf-8"))
    assert report["verified"] is True
    assert [run["app"] for run in report["runs"]] == ["raw_push", "lilya_ws_push"]
    for run in report["runs"]:
        (point,) = run["points"]
        assert point["opened"] == 4
        assert point["windows"] == []
        assert point["us_per_msg"] is None


@pytest.mark.integration
def test_scale_paired_alternates_both_apps_in_one_process(tmp_path: Path) -> None:
    out = tmp_path / "paired.json"
    completed = subprocess.run(
        [
            *(sys.executable, "-m", "bench.scale_paired", "--servers", "uvicorn-wsproto"),
            *("--counts", "2,8", "--pairs", "2", "--window", "0.5", "--rate", "400"),
            *("--out", str(out)),
        ],
        cwd=ROOT,
        capture_output=True,
        text=True,
        timeout=120,
        check=False,
    )
    assert completed.returncode == 0, completed.stdout + completed.stderr
    report = json.loads(out.read_text(encoding="utf-8"))
    assert report["verified"] is True
    (run,) = report["runs"]
    assert [point["connections"] for point in run["points"]] == [2, 8]
    for point in run["points"]:
        assert len(point["pairs"]) == 2
        assert point["mismatches"] == point["failures"] == 0
        assert point["ratio"] is None or point["ratio"] > 0  # None: too few CPU ticks
