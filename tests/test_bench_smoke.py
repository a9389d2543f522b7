"""The benchmarks still run and every app's echo is verified; no timing is asserted.

The scripts run as subprocesses (``python -m bench...`` from the repository
root), as a user runs them, so their garbage-collector and tracemalloc
settings stay out of the test process.
"""

from __future__ import annotations

import json
import subprocess
import sys
from pathlib import Path
from typing import TYPE_CHECKING, Any

import pytest

from bench.apps import FRAMEWORKS, WORKLOADS
from bench.instructions import find_valgrind

if TYPE_CHECKING:
    from conftest import RequireServer

ROOT = Path(__file__).resolve().parent.parent


def run_module(module: str, *arguments: str, timeout: float) -> None:
    """Run ``python -m module arguments...`` from the repository root; it must succeed."""
    completed = subprocess.run(
        [sys.executable, "-m", module, *arguments],
        cwd=ROOT,
        capture_output=True,
        text=True,
        timeout=timeout,
        check=False,
    )
    assert completed.returncode == 0, completed.stdout + completed.stderr


def run_bench(module: str, output: Path, timeout: float) -> dict[str, object]:
    """Run ``python -m module --smoke --json output`` and return the saved report."""
    run_module(module, "--smoke", "--json", str(output), timeout=timeout)
    report: dict[str, object] = json.loads(output.read_text(encoding="utf-8"))
    return report


def run_scale(module: str, output: Path, *arguments: str) -> Any:
    """Run a ``bench.scale`` module writing ``output``; its report, checked as verified."""
    run_module(module, *arguments, "--out", str(output), timeout=120)
    report = json.loads(output.read_text(encoding="utf-8"))
    assert report["verified"] is True
    return report


def test_inprocess_smoke_verifies_every_app(tmp_path: Path) -> None:
    report = run_bench("bench.inprocess", tmp_path / "inprocess.json", timeout=120)
    results = report["results"]
    assert isinstance(results, list)
    assert {(row["workload"], row["app"]) for row in results} == {
        (workload, app) for workload in WORKLOADS for app in FRAMEWORKS
    }
    assert report["verified"] is True
    assert all(row["verified"] for row in results), [r for r in results if not r["verified"]]
    memory = report["memory_bytes_per_idle_websocket"]
    assert isinstance(memory, dict)
    assert set(memory) == {"lilya_ws", "lilya_ws, reading ahead", "starlette", "lilya"}
    # Reading ahead keeps a task and the server's receive pending: more than without.
    assert memory["lilya_ws, reading ahead"] > memory["lilya_ws"]


@pytest.mark.integration
def test_endtoend_smoke_verifies_every_app(tmp_path: Path) -> None:
    report = run_bench("bench.endtoend", tmp_path / "endtoend.json", timeout=60)
    results = report["results"]
    assert isinstance(results, list)
    assert {row["app"] for row in results} == {"none", *FRAMEWORKS}
    assert report["verified"] is True
    assert all(row["verified"] for row in results), [r for r in results if not r["verified"]]


@pytest.mark.integration
def test_instructions_smoke_verifies_every_app(
    tmp_path: Path, require_server: RequireServer
) -> None:
    # Like a missing server: skipped here, a failure under CI (.ci/run installs valgrind).
    require_server("valgrind", None if find_valgrind() else "valgrind is not installed")
    report = run_bench("bench.instructions", tmp_path / "instructions.json", timeout=300)
    results = report["results"]
    assert isinstance(results, list)
    assert [(row["server"], row["app"]) for row in results] == [
        ("uvicorn-websockets", app) for app in FRAMEWORKS
    ]
    assert report["verified"] is True
    assert all(row["verified"] for row in results), [r for r in results if not r["verified"]]
    assert all(row["instructions_per_msg"] > 0 and row["ratio"] > 0 for row in results)


@pytest.mark.parametrize("app", [*FRAMEWORKS, "harness"])
def test_inprocess_single_run_is_verified(app: str) -> None:
    """The child run that ``--instructions`` counts checks its output like a timed run."""
    completed = subprocess.run(
        [sys.executable, "-m", "bench.inprocess", "--single", app, "text", "--messages", "50"],
        cwd=ROOT,
        capture_output=True,
        text=True,
        timeout=60,
        check=False,
    )
    assert completed.returncode == 0, completed.stdout + completed.stderr


@pytest.mark.integration
def test_inprocess_instruction_count_is_positive(require_server: RequireServer) -> None:
    require_server("valgrind", None if find_valgrind() else "valgrind is not installed")
    from bench.inprocess import count_instructions

    assert count_instructions("lilya_ws", "text", 100) > count_instructions("harness", "text", 100)


# bench.scale at a tiny size: its JSON, every connection opened and every echo right, and
# the chart a PNG (redrawn by --chart-only). No figure is asserted.

PNG_MAGIC = b"\x89PNG\r\n\x1a\n"
TINY = ("--counts", "1,10", "--active", "10", "--rate", "200", "--window", "0.5")
TINY_WINDOWS = ("--windows", "2", "--idle-seconds", "0.2")


@pytest.mark.integration
def test_scale_smoke_reports_every_count_and_draws_the_chart(tmp_path: Path) -> None:
    out, chart = tmp_path / "scale.json", tmp_path / "scale.png"
    report = run_scale(
        "bench.scale",
        out,
        *("--servers", "uvicorn-websockets", *TINY, *TINY_WINDOWS, "--chart", str(chart)),
    )
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
    run_module("bench.scale", "--chart-only", "--out", str(out), "--chart", str(chart), timeout=60)
    assert chart.read_bytes().startswith(PNG_MAGIC)


@pytest.mark.integration
def test_scale_push_apps_report_memory_only(tmp_path: Path) -> None:
    report = run_scale(
        "bench.scale",
        tmp_path / "push.json",
        *("--servers", "hypercorn-asyncio", "--apps", "raw_push,lilya_ws_push"),
        *("--counts", "4", "--windows", "0", "--idle-seconds", "0.2", "--no-chart"),
    )
    assert [run["app"] for run in report["runs"]] == ["raw_push", "lilya_ws_push"]
    for run in report["runs"]:
        (point,) = run["points"]
        assert point["opened"] == 4
        assert point["windows"] == []
        assert point["us_per_msg"] is None


@pytest.mark.integration
def test_scale_paired_alternates_both_apps_in_one_process(tmp_path: Path) -> None:
    report = run_scale(
        "bench.scale_paired",
        tmp_path / "paired.json",
        *("--servers", "uvicorn-wsproto", "--counts", "2,8", "--pairs", "2"),
        *("--window", "0.5", "--rate", "400"),
    )
    (run,) = report["runs"]
    assert [point["connections"] for point in run["points"]] == [2, 8]
    for point in run["points"]:
        assert len(point["pairs"]) == 2
        assert point["mismatches"] == point["failures"] == 0
        assert point["ratio"] is None or point["ratio"] > 0  # None: too few CPU ticks
