"""The pytest plugin as a user meets it: pytester runs pytest on the sample project in
``tests/plugin_user`` (an app, its tests, a ``pytest.ini``), against real servers on
127.0.0.1, and every server it started is gone afterwards."""

from __future__ import annotations

import importlib.metadata
import os
import re
import shutil
from collections.abc import Iterator
from pathlib import Path

import psutil
import pytest

import lilya_ws_pytest
from adapters import names

pytest_plugins = ("pytester",)

SAMPLE = Path(__file__).parent / "plugin_user"
SUBPROCESS_TIMEOUT = 120.0
"""Seconds a pytest subprocess may take; the ones run that way start no server."""
QUIET = ("-p", "no:asyncio", "-p", "no:cacheprovider")
"""Plugins of this environment that a user's project does not have (pytest-asyncio warns
about its unset loop scope)."""


@pytest.fixture
def project(pytester: pytest.Pytester) -> Iterator[pytest.Pytester]:
    """The sample user project in pytester's directory; afterwards, no process runs there."""
    shutil.copytree(
        SAMPLE, pytester.path, dirs_exist_ok=True, ignore=shutil.ignore_patterns("__pycache__")
    )
    yield pytester
    assert left_in(pytester.path) == [], "a server outlived the pytest session that started it"


def left_in(directory: Path) -> list[str]:
    """Processes other than this one whose working directory is ``directory`` (the servers
    the plugin started there)."""
    found = []
    for process in psutil.process_iter():
        try:
            if process.pid != os.getpid() and Path(process.cwd()) == directory:
                found.append(f"{process.pid} {' '.join(process.cmdline())}")
        except (psutil.NoSuchProcess, psutil.AccessDenied, psutil.ZombieProcess):
            continue
    return found


def outcomes(result: pytest.RunResult) -> dict[str, str]:
    """Each test's outcome by node id, from the ``-rA`` summary (PASSED, FAILED, ERROR)."""
    found = {}
    for line in result.outlines:
        if match := re.fullmatch(r"(PASSED|FAILED|ERROR) (\S+)( - .*)?", line):
            found[match.group(2)] = match.group(1)
    return found


def cells(outcome: str, *configurations: str) -> dict[str, str]:
    return {
        f"test_chat.py::{test}[{name}]": outcome
        for test in ("test_echo", "test_two_clients")
        for name in configurations
    }


def test_the_entry_point_is_the_plugin() -> None:
    (entry_point,) = importlib.metadata.entry_points(group="pytest11", name="lilya_ws")
    assert entry_point.load() is lilya_ws_pytest


def test_each_test_runs_once_under_every_configuration(project: pytest.Pytester) -> None:
    result = project.runpytest(*QUIET, "-rA")
    assert outcomes(result) == cells("PASSED", *names())
    assert result.ret == pytest.ExitCode.OK


def test_an_app_that_fails_on_one_server_fails_only_its_cells_with_the_servers_output(
    project: pytest.Pytester,
) -> None:
    chosen = ("uvicorn-websockets", "hypercorn-asyncio", "hypercorn-trio")
    result = project.runpytest(
        *QUIET,
        "-rA",
        "--tb=short",
        "--lilya-ws-app=chat:asyncio_only",
        f"--lilya-ws-servers={','.join(chosen)}",
    )
    assert outcomes(result) == {**cells("PASSED", *chosen[:2]), **cells("FAILED", chosen[2])}
    output = result.stdout.str()
    assert output.count("lilya_ws server output (hypercorn-trio)") == 2
    assert "lilya_ws server output (hypercorn-asyncio)" not in output
    assert 'chat.py", line 23, in asyncio_only' in output
    assert "RuntimeError: no running event loop" in output


def test_a_server_that_cannot_start_fails_with_its_reason(project: pytest.Pytester) -> None:
    project.makeconftest(
        """
        import pytest

        @pytest.fixture
        def lilya_ws_app() -> str:
            return "chat:missing"
        """
    )
    chosen = ("uvicorn-wsproto", "daphne")
    result = project.runpytest(*QUIET, "-rA", f"--lilya-ws-servers={','.join(chosen)}")
    assert outcomes(result) == cells("ERROR", *chosen)
    result.stdout.fnmatch_lines(
        [
            "*cannot serve chat:missing: uvicorn-wsproto: exited with code * before it was ready",
            '*Attribute "missing" not found in module "chat"*',
            "*cannot serve chat:missing: daphne: exited with code * before it was ready",
            "*AttributeError: module 'chat' has no attribute 'missing'*",
        ]
    )


def test_a_test_without_the_fixtures_starts_no_server(project: pytest.Pytester) -> None:
    project.makepyfile(test_plain="def test_plain() -> None:\n    assert True\n")
    result = project.runpytest(*QUIET, "-rA", "test_plain.py")
    assert outcomes(result) == {"test_plain.py::test_plain": "PASSED"}


def test_no_app_configured_fails_saying_how_to_name_one(pytester: pytest.Pytester) -> None:
    shutil.copy(SAMPLE / "test_chat.py", pytester.path)
    result = pytester.runpytest(
        *QUIET, "-rA", "--lilya-ws-servers=uvicorn-wsproto", "-k", "test_echo"
    )
    assert outcomes(result) == {"test_chat.py::test_echo[uvicorn-wsproto]": "ERROR"}
    result.stdout.fnmatch_lines(["*no app to serve: set lilya_ws_app = module:attr*"])


def test_dash_p_no_lilya_ws_disables_it(project: pytest.Pytester) -> None:
    result = project.runpytest(*QUIET, "-p", "no:lilya_ws", "-k", "test_echo")
    result.assert_outcomes(errors=1)
    result.stdout.fnmatch_lines(["*fixture 'lilya_ws_client' not found*"])


def test_an_unknown_configuration_is_a_usage_error(project: pytest.Pytester) -> None:
    result = project.runpytest(*QUIET, "--lilya-ws-servers=uvicorn-wsproto,nginx")
    assert result.ret == pytest.ExitCode.USAGE_ERROR
    result.stderr.fnmatch_lines(
        ["*unknown configuration 'nginx'; use 'all' or names from: *daphne*"]
    )


BLOCK_GRANIAN = "import sys\n\nsys.modules['granian'] = None  # as if granian were not installed\n"


def test_a_server_not_installed_is_skipped_with_its_reason_under_all(
    project: pytest.Pytester,
) -> None:
    project.makeconftest(BLOCK_GRANIAN)
    result = project.runpytest_subprocess(
        *QUIET, "-rA", "-k", "granian", timeout=SUBPROCESS_TIMEOUT
    )
    result.assert_outcomes(skipped=2)
    result.stdout.re_match_lines(
        [r"SKIPPED \[1\] test_chat.py:\d+: granian is not installed here \(cannot import granian: "]
        * 2
    )


def test_a_server_not_installed_fails_when_named(project: pytest.Pytester) -> None:
    project.makeconftest(BLOCK_GRANIAN)
    result = project.runpytest_subprocess(
        *QUIET, "-rA", "--lilya-ws-servers=granian", timeout=SUBPROCESS_TIMEOUT
    )
    assert outcomes(result) == cells("ERROR", "granian")
    result.stdout.fnmatch_lines(
        ["*granian is not installed here (*), but --lilya-ws-servers names it"]
    )


def test_without_the_servers_extra_the_fixtures_fail_with_the_install_command(
    project: pytest.Pytester,
) -> None:
    project.makeconftest("import sys\n\nsys.modules['psutil'] = None  # not installed\n")
    result = project.runpytest_subprocess(
        *QUIET, "-rA", "-k", "test_echo", timeout=SUBPROCESS_TIMEOUT
    )
    assert outcomes(result) == {"test_chat.py::test_echo": "ERROR"}
    assert (
        "the lilya_ws fixtures need the servers extra (pip install 'lilya-ws[servers]'): "
        "cannot import lilya_ws_adapters.pytest_plugin: ModuleNotFoundError: import of psutil"
    ) in result.stdout.str()
