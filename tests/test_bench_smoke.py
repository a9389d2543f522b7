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
from typing import TYPE_CHECKING

import pytest

from bench.apps import FRAMEWORKS, WORKLOADS
from bench.instructions import find_valgrind

if TYPE_CHECKING:
    from conftest import RequireServer

ROOT = Path(__file__).resolve().parent.parent


def run_bench(module: str, output: Path, timeout: float) -> dict[str, object]:
    """Run ``python -m module --smoke --json output`` and return the saved report."""
    completed = subprocess.run(
        [sys.executable, "-m", module, "--smoke", "--json", str(output)],
        cwd=ROOT,
        capture_output=True,
        text=True,
        timeout=timeout,
        check=False,
    )
    assert completed.returncode == 0, completed.stdout + completed.stderr
    report: dict[str, object] = json.loads(output.read_text(encoding="utf-8"))
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
