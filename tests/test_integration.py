"""The integration matrix under pytest: every scenario on every server configuration.

Each configuration is started once for the session (``adapters``), on 127.0.0.1
and a free port, and stopped by PID when its tests are done. Select a family
with ``-k``: ``pytest -m integration -k hypercorn``.
"""

from __future__ import annotations

import dataclasses
import json
import subprocess
import sys
from collections.abc import Iterator
from pathlib import Path
from typing import TYPE_CHECKING

import pytest

from adapters import ServerCapabilities, get, names
from integration.checks import SCENARIOS, Target
from integration.matrix import APP, MATRIX_END, MATRIX_START, REPO_ROOT, run_cell

if TYPE_CHECKING:
    from conftest import RequireServer

pytestmark = pytest.mark.integration

RUNNER_TIMEOUT = 180.0


def _start(name: str, require_server: RequireServer) -> Iterator[Target]:
    adapter = get(name)
    require_server(name, adapter.unavailable_reason())
    with adapter.start(APP, cwd=REPO_ROOT) as server:
        yield Target(name, server.ws_url, adapter.capabilities)
    assert server.poll() is not None, f"{name} (pid {server.pid}) survived its stop"


@pytest.fixture(scope="session", params=names())
def target(request: pytest.FixtureRequest, require_server: RequireServer) -> Iterator[Target]:
    """One running server per configuration, shared by all its scenarios."""
    yield from _start(request.param, require_server)


@pytest.mark.parametrize("scenario", list(SCENARIOS))
async def test_scenario(target: Target, scenario: str) -> None:
    cell = await run_cell(target, SCENARIOS[scenario])
    expected = f"n/a ({cell.reason})" if cell.reason else "pass"
    assert cell.as_expected, f"{cell.server} / {cell.scenario}: expected {expected}: {cell.detail}"


# The runner itself, once, against one locally started server.

RUNNER_SERVER = "uvicorn-wsproto"


@pytest.fixture(scope="module")
def runner_target(require_server: RequireServer) -> Iterator[Target]:
    yield from _start(RUNNER_SERVER, require_server)


def _lie(caps: ServerCapabilities, scenario: str) -> ServerCapabilities:
    """``caps`` with the one declaration ``scenario`` relies on turned false."""
    if scenario == "accept-headers":
        return dataclasses.replace(caps, accept_headers=not caps.accept_headers)
    if scenario == "denial-plain":
        return dataclasses.replace(caps, http_response_extension=not caps.http_response_extension)
    if scenario == "declared-capabilities":
        return dataclasses.replace(caps, receive_has_both_keys=not caps.receive_has_both_keys)
    return dataclasses.replace(caps, clean_close_code=caps.clean_close_code + 1)


@pytest.mark.parametrize(
    "scenario", ["accept-headers", "denial-plain", "declared-capabilities", "client-close"]
)
async def test_wrong_declaration_fails_its_cell(runner_target: Target, scenario: str) -> None:
    """A capability declared wrongly makes the scenario that relies on it fail."""
    wrong = dataclasses.replace(
        runner_target, capabilities=_lie(runner_target.capabilities, scenario)
    )
    cell = await run_cell(wrong, SCENARIOS[scenario])
    assert cell.observed == "fail", cell


def test_target_mode_and_readme(runner_target: Target, tmp_path: Path) -> None:
    """``--target`` checks a running server; the report files and README block are written."""
    readme = tmp_path / "README.md"
    readme.write_text(f"# x\n\n{MATRIX_START}\nstale\n{MATRIX_END}\n\nafter\n", encoding="utf-8")
    scenarios = "echo-text,close-before-accept,denial-plain,client-close"
    result = subprocess.run(
        [
            *(sys.executable, "-m", "integration"),
            *("--target", f"{RUNNER_SERVER}={runner_target.url}"),
            *("--scenarios", scenarios, "--out", str(tmp_path)),
            *("--update-readme", str(readme)),
        ],
        cwd=REPO_ROOT,
        capture_output=True,
        text=True,
        timeout=RUNNER_TIMEOUT,
        check=False,
    )
    assert result.returncode == 0, result.stdout + result.stderr
    report = json.loads((tmp_path / "integration-report.json").read_text(encoding="utf-8"))
    assert report["ok"] is True
    assert [cell["scenario"] for cell in report["cells"]] == scenarios.split(",")
    assert {cell["observed"] for cell in report["cells"]} == {"pass"}
    assert report["servers"][0]["url"] == runner_target.url
    assert "| echo-text | ✔ |" in (tmp_path / "integration-report.md").read_text(encoding="utf-8")
    text = readme.read_text(encoding="utf-8")
    assert "stale" not in text
    assert text.startswith("# x\n")
    assert text.endswith("after\n")
    assert f"| scenario | {RUNNER_SERVER} |" in text


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
