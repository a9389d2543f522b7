"""The integration matrix under pytest: every row on every server configuration.

Each configuration is started once for the session (``adapters``), on 127.0.0.1
and a free port, over ``ws://`` and ``wss://`` (a certificate made for the
session), and stopped by PID when its tests are done. Select a family with
``-k``: ``pytest -m integration -k hypercorn``; a row with ``-k close-race``.
"""

from __future__ import annotations

import json
import subprocess
import sys
from collections.abc import Iterator
from pathlib import Path
from typing import TYPE_CHECKING

import pytest

from adapters import get, names
from adapters.process import group_alive
from integration.browser import Chromium, PageServer, chromium_executable
from integration.browser_scenarios import BROWSER_INHERENT, BROWSER_SCENARIOS
from integration.client import REPO_ROOT, Target
from integration.outcomes import CHECKS, kind
from integration.protocol import CallOutcome
from integration.report import MATRIX_END, MATRIX_START, render_tables
from integration.results import Cell, Report, ServerRun, Status
from integration.runner import (
    Browser,
    Row,
    Servers,
    execution_order,
    make_tls,
    row_name,
    run_browser_rows,
    run_cell,
)
from integration.scenarios import INHERENT, SCENARIOS, Scenario

if TYPE_CHECKING:
    from conftest import RequireServer

    from adapters.process import TLSFiles

RUNNER_TIMEOUT = 300.0
"""A bound on a hung ``python -m integration``, not a speed test: --target with five rows
took 0.2 s and the usage errors 0.3 s (2026-11-30, 2 busy cores), headroom over 900x."""
ROWS: dict[str, Row] = {row_name(row): row for row in execution_order(SCENARIOS, INHERENT)}
"""Every row, in the order the runner runs them (those that stress the server last)."""


# The table itself (no server).


def test_every_row_has_one_check_and_every_check_a_row() -> None:
    assert len(ROWS) == len(SCENARIOS) + len(INHERENT), "a name is used twice"
    assert set(ROWS) == set(CHECKS)


def test_scenario_rows_have_one_expectation_and_inherent_rows_one_per_server() -> None:
    for scenario in SCENARIOS:
        assert set(scenario["expect"]) == {"app", "client"}, scenario["name"]
        for seen in scenario.get("see", []):
            assert seen in {row["id"] for row in INHERENT}, (scenario["name"], seen)
    for row in INHERENT:
        assert set(row["expect"]) == set(names()), row["id"]
        assert row["reason"], row["id"]
        outcomes = [json.dumps(outcome, sort_keys=True) for outcome in row["expect"].values()]
        assert len(set(outcomes)) > 1, f"{row['id']}: the same on every server is a scenario"


def _run(server: str, scenario: Scenario, status: Status) -> ServerRun:
    cell = Cell(server, scenario["name"], status, scenario["expect"], scenario["expect"], None)
    return ServerRun(server, None, "ws://127.0.0.1:1", None, "ran", None, (cell,))


def test_headline_counts_scenarios_identical_on_every_server() -> None:
    scenario = SCENARIOS[0]
    same = Report((scenario,), (), (_run("a", scenario, "as expected"),) * 2)
    assert same.headline.startswith("identical on every server: 1/1 scenarios;")
    assert same.ok
    one_differs = Report((scenario,), (), (same.servers[0], _run("b", scenario, "differs")))
    assert one_differs.headline == (
        "identical on every server: 0/1 scenarios; inherent differences: 0 (0 as expected)"
    )
    assert "✘ [1]" in render_tables(one_differs)
    assert not one_differs.ok


@pytest.mark.parametrize(
    ("outcome", "builtin", "word"),
    [
        ({"result": "ok"}, False, "returned"),
        ({"result": "hung"}, False, "hung"),
        (
            {
                "result": "raised",
                "error": "lilya_ws.errors.ConnectionClosed",
                "lilya_classes": [
                    "lilya_ws.errors.ConnectionClosed",
                    "lilya_ws.errors.WebSocketDisconnect",
                ],
                "builtin_bases": ["RuntimeError"],
            },
            True,
            "WebSocketDisconnect",
        ),
        (
            {
                "result": "raised",
                "error": "lilya_ws.errors.InvalidMessage",
                "lilya_classes": ["lilya_ws.errors.InvalidMessage"],
                "builtin_bases": ["ValueError"],
            },
            True,
            "InvalidMessage (ValueError)",
        ),
        (
            {"result": "raised", "error": "trio.BusyResourceError", "builtin_bases": []},
            True,
            "trio.BusyResourceError",
        ),
    ],
)
def test_kind_names_an_outcome_the_same_on_every_server(
    outcome: CallOutcome, builtin: bool, word: str
) -> None:
    assert kind(outcome, builtin=builtin) == word


# Every row on every real server.


@pytest.fixture(scope="session")
def tls(tmp_path_factory: pytest.TempPathFactory) -> TLSFiles | None:
    """One certificate for the session (None without trustme: the wss:// rows skip)."""
    return make_tls(tmp_path_factory.mktemp("tls"))


def _start(name: str, require_server: RequireServer, tls: TLSFiles | None) -> Iterator[Servers]:
    adapter = get(name)
    require_server(name, adapter.unavailable_reason())
    with Servers(adapter, tls) as servers:
        yield servers
    for server in servers.running:
        assert server.poll() is not None, f"{name} (pid {server.pid}) survived its stop"


@pytest.fixture(scope="session", params=names())
def servers(
    request: pytest.FixtureRequest, require_server: RequireServer, tls: TLSFiles | None
) -> Iterator[Servers]:
    """One running server per configuration (ws:// and wss://), shared by all its rows."""
    yield from _start(request.param, require_server, tls)


@pytest.mark.integration
@pytest.mark.parametrize("row", list(ROWS))
async def test_row(servers: Servers, row: str) -> None:
    cell = await run_cell(servers.target(), ROWS[row])
    if cell.status != "as expected" and not servers.serving():
        servers.restart()  # the row took the server down: the next rows get a fresh one
    if cell.status == "not run":
        pytest.skip(cell.error or "not run")
    assert cell.status == "as expected", (
        f"{cell.server} / {cell.row}: {cell.status}: "
        f"observed {cell.observed if cell.observed is not None else cell.error}, "
        f"expected {cell.expected}"
    )


# The browser's rows on every real server, from one Chromium for the session.

_BROWSER_ROWS: list[Row] = [*BROWSER_SCENARIOS, *BROWSER_INHERENT]
BROWSER_ROWS: dict[str, Row] = {row_name(row): row for row in _BROWSER_ROWS}


@pytest.fixture(scope="session")
def browser(require_server: RequireServer) -> Iterator[Browser]:
    """Debian's chromium, started once (missing: a skip, or a failure under CI)."""
    missing = None if chromium_executable() else "not installed (apt-get install chromium)"
    require_server("chromium", missing)
    with Chromium() as chromium, PageServer() as pages:
        yield Browser(chromium.devtools_url, pages.url)
    assert not group_alive(chromium.pid), f"chromium (pid {chromium.pid}) survived its stop"


@pytest.mark.integration
@pytest.mark.parametrize("browser_row", list(BROWSER_ROWS))
async def test_browser_row(servers: Servers, browser: Browser, browser_row: str) -> None:
    (cell,) = await run_browser_rows(browser, servers.target(), [BROWSER_ROWS[browser_row]])
    assert cell.status == "as expected", (
        f"{cell.server} / browser {cell.row}: {cell.status}: "
        f"observed {cell.observed if cell.observed is not None else cell.error}, "
        f"expected {cell.expected}"
    )


# The runner itself, once, against one locally started server.

RUNNER_SERVER = "uvicorn-wsproto"


@pytest.fixture(scope="module")
def runner_target(require_server: RequireServer, tls: TLSFiles | None) -> Iterator[Target]:
    for servers in _start(RUNNER_SERVER, require_server, tls):
        yield servers.target()


@pytest.mark.integration
async def test_a_wrong_expectation_fails_its_cell(runner_target: Target) -> None:
    """A cell is ✔ only when the observation equals the expectation."""
    row = next(s for s in SCENARIOS if s["name"] == "close-before-accept")
    wrong: Scenario = {
        **row,
        "expect": {"app": row["expect"]["app"], "client": {"http_status": 500}},
    }
    cell = await run_cell(runner_target, wrong)
    assert cell.status == "differs", cell
    assert cell.observed == row["expect"]


@pytest.mark.integration
def test_target_mode_and_readme(runner_target: Target, tmp_path: Path) -> None:
    """``--target`` checks running servers (ws:// and wss://); reports and README block written."""
    readme = tmp_path / "README.md"
    readme.write_text(f"# x\n\n{MATRIX_START}\nstale\n{MATRIX_END}\n\nafter\n", encoding="utf-8")
    rows = "echo-text,close-before-accept,connection-data-tls,endpoint-http-and-lifespan,tls-scheme"
    if runner_target.tls_url is None or runner_target.cafile is None:
        pytest.skip("trustme is not installed: no wss:// server")
    result = subprocess.run(
        [
            *(sys.executable, "-m", "integration"),
            *("--target", f"{RUNNER_SERVER}={runner_target.url}"),
            *("--target", f"{RUNNER_SERVER}={runner_target.tls_url}"),
            *("--cafile", str(runner_target.cafile)),
            *("--scenarios", rows, "--out", str(tmp_path)),
            *("--update-readme", str(readme)),
        ],
        cwd=REPO_ROOT,
        capture_output=True,
        text=True,
        timeout=RUNNER_TIMEOUT,
        check=False,
    )
    assert result.returncode == 0, result.stdout + result.stderr
    assert f"{RUNNER_SERVER}: " in result.stderr  # the progress line
    assert "integration-report.md" in result.stdout
    assert "integration-report.json" in result.stdout
    report = json.loads((tmp_path / "integration-report.json").read_text(encoding="utf-8"))
    assert report["ok"] is True
    statuses = {cell["row"]: cell["status"] for cell in report["cells"]}
    assert statuses == {
        "echo-text": "as expected",
        "close-before-accept": "as expected",
        "connection-data-tls": "as expected",
        "endpoint-http-and-lifespan": "not run",  # starts its own server: local runs only
        "tls-scheme": "as expected",
    }
    assert report["headline"].startswith("identical on every server: 3/4 scenarios;")
    text = readme.read_text(encoding="utf-8")
    assert "stale" not in text
    assert text.startswith("# x\n")
    assert text.endswith("after\n")
    assert "**identical on every server: 3/4 scenarios; inherent differences: 1" in text
    assert "| scenario | uv-wsproto |" in text


def test_runner_usage_errors() -> None:
    for argv in (["--servers", "nginx"], ["--scenarios", "nope"]):
        result = subprocess.run(
            [sys.executable, "-m", "integration", *argv],
            cwd=REPO_ROOT,
            capture_output=True,
            text=True,
            timeout=RUNNER_TIMEOUT,
            check=False,
        )
        assert result.returncode == 2, result.stderr
        assert "error:" in result.stderr
