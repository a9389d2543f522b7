"""The suite's two rules (tests/conftest.py), run on a small project with pytester: a missing
server fails under CI and with --require-servers and skips elsewhere; a heavy test runs
only when the -m expression asks for it by name."""

from __future__ import annotations

from pathlib import Path

import pytest

pytest_plugins = ("pytester",)

CONFTEST = (Path(__file__).parent / "conftest.py").read_text(encoding="utf-8")
INI = """
[pytest]
asyncio_default_fixture_loop_scope = function
markers =
    integration: starts real servers
    heavy: too big for CI
"""
TESTS = """
import pytest

pytestmark = pytest.mark.integration


@pytest.mark.heavy
def test_heavy():
    pass


def test_light():
    pass


def test_needs_nginx(require_server):
    require_server("nginx", "not installed")
"""


@pytest.fixture
def project(pytester: pytest.Pytester, monkeypatch: pytest.MonkeyPatch) -> pytest.Pytester:
    monkeypatch.delenv("CI", raising=False)
    pytester.makeconftest(CONFTEST)
    pytester.makeini(INI)
    pytester.makepyfile(test_rules=TESTS)
    return pytester


def _outcome(result: pytest.RunResult, test: str) -> str:
    """PASSED, FAILED, SKIPPED, or "deselected" when the test did not run at all."""
    for line in result.outlines:
        if line.startswith(f"test_rules.py::{test} "):
            return line.split()[1]
    return "deselected"


@pytest.mark.parametrize(
    ("markexpr", "heavy_runs"),
    [
        (None, False),
        ("heavy", True),
        ("not heavy", False),
        ("integration", False),
        ("heavy and integration", True),
        ("heavy or integration", True),
    ],
)
def test_a_heavy_test_runs_only_when_m_names_it(
    project: pytest.Pytester, markexpr: str | None, heavy_runs: bool
) -> None:
    args = ["-m", markexpr] if markexpr is not None else []
    result = project.runpytest_subprocess("-v", "-p", "no:cacheprovider", *args)
    assert _outcome(result, "test_heavy") == ("PASSED" if heavy_runs else "deselected")
    assert "SKIPPED" not in _outcome(result, "test_heavy")


@pytest.mark.parametrize(
    ("ci", "option", "outcome"),
    [
        (None, False, "SKIPPED"),
        ("false", False, "SKIPPED"),
        ("true", False, "FAILED"),
        (None, True, "FAILED"),
    ],
)
def test_a_missing_server_fails_under_ci_or_when_required(
    project: pytest.Pytester,
    monkeypatch: pytest.MonkeyPatch,
    ci: str | None,
    option: bool,
    outcome: str,
) -> None:
    if ci is not None:
        monkeypatch.setenv("CI", ci)
    args = ["--require-servers"] if option else []
    result = project.runpytest_subprocess(
        "-v", "-p", "no:cacheprovider", "-rs", "-k", "nginx", *args
    )
    assert _outcome(result, "test_needs_nginx") == outcome
    result.stdout.fnmatch_lines(["*nginx unavailable: not installed*"])
