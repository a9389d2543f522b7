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
        except psutil.Error:  # gone, or not ours to inspect
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
    result = project.runpytest(
        *QUIET, "-rA", "--lilya-ws-app=chat:app", f"--lilya-ws-servers={','.join(chosen)}"
    )
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
    project.makepyfile(
        test_plain="""
        import contextlib
        from pathlib import Path

        import psutil


        def test_plain() -> None:
            here = Path(__file__).parent
            started = []
            for child in psutil.Process().children(recursive=True):
                with contextlib.suppress(psutil.Error):  # it may exit as we look
                    if Path(child.cwd()) == here:
                        started.append(child.pid)
            assert started == []
        """
    )
    result = project.runpytest(*QUIET, "-rA", "test_plain.py")
    assert outcomes(result) == {"test_plain.py::test_plain": "PASSED"}


def test_the_fixtures_and_ini_options(
    pytester: pytest.Pytester, monkeypatch: pytest.MonkeyPatch
) -> None:
    """The ini options choose the app, the configurations and the path; the server runs in the
    rootdir (not where pytest was started) and serves every test of the session."""
    pytester.makeini(
        """
        [pytest]
        lilya_ws_app = rooms:app
        lilya_ws_servers = uvicorn-wsproto
        lilya_ws_path = /rooms/lobby?x=1
        """
    )
    pytester.makepyfile(
        rooms="""
        from lilya_ws import WebSocket, endpoint


        @endpoint
        async def app(websocket: WebSocket) -> None:
            if websocket.url.path != "/rooms/lobby":
                await websocket.close()  # before accept(): HTTP 403, so not ready
                return
            await websocket.accept()
            await websocket.send_text(websocket.url.query)
        """,
        test_rooms="""
        from pathlib import Path

        import psutil

        pids = []


        def test_fixtures(lilya_ws_server, lilya_ws_url, lilya_ws_client) -> None:
            assert lilya_ws_server.name == "uvicorn-wsproto"
            assert lilya_ws_url == f"ws://127.0.0.1:{lilya_ws_server.port}/rooms/lobby?x=1"
            assert lilya_ws_client.recv(timeout=5) == "x=1"
            assert Path(psutil.Process(lilya_ws_server.pid).cwd()) == Path(__file__).parent
            assert isinstance(lilya_ws_server.log(), str)
            pids.append(lilya_ws_server.pid)


        def test_the_same_server(lilya_ws_server) -> None:
            assert pids == [lilya_ws_server.pid]
        """,
    )
    monkeypatch.chdir(pytester.mkdir("elsewhere"))
    result = pytester.runpytest(*QUIET, "-rA", str(pytester.path))
    assert outcomes(result) == {
        "../test_rooms.py::test_fixtures[uvicorn-wsproto]": "PASSED",
        "../test_rooms.py::test_the_same_server[uvicorn-wsproto]": "PASSED",
    }
    assert left_in(pytester.path) == []


def test_no_app_configured_fails_saying_how_to_name_one(pytester: pytest.Pytester) -> None:
    shutil.copy(SAMPLE / "test_chat.py", pytester.path)
    result = pytester.runpytest(
        *QUIET, "-rA", "--lilya-ws-servers=uvicorn-wsproto", "-k", "test_echo"
    )
    assert outcomes(result) == {"test_chat.py::test_echo[uvicorn-wsproto]": "ERROR"}
    result.stdout.fnmatch_lines(["*no app to serve: set lilya_ws_app = module:attr*"])


def test_a_server_that_died_is_started_again_for_the_next_test(pytester: pytest.Pytester) -> None:
    pytester.makeini("[pytest]\nlilya_ws_app = mortal:app\nlilya_ws_servers = uvicorn-wsproto\n")
    pytester.makepyfile(
        mortal="""
        import os

        from lilya_ws import WebSocket, endpoint


        @endpoint
        async def app(websocket: WebSocket) -> None:
            await websocket.accept()
            async for text in websocket.iter_text():
                if text == "exit":
                    os._exit(3)
                await websocket.send_text(text)
        """,
        test_mortal="""
        import pytest
        from websockets.exceptions import ConnectionClosed

        pids = []


        def test_exit(lilya_ws_server, lilya_ws_client) -> None:
            pids.append(lilya_ws_server.pid)
            lilya_ws_client.send("exit")
            with pytest.raises(ConnectionClosed):
                lilya_ws_client.recv(timeout=5)
            assert lilya_ws_server.wait(timeout=5) == 3


        def test_echo(lilya_ws_server, lilya_ws_client) -> None:
            assert lilya_ws_server.pid not in pids
            lilya_ws_client.send("hello")
            assert lilya_ws_client.recv(timeout=5) == "hello"
        """,
    )
    result = pytester.runpytest(*QUIET, "-rA")
    assert outcomes(result) == {
        "test_mortal.py::test_exit[uvicorn-wsproto]": "PASSED",
        "test_mortal.py::test_echo[uvicorn-wsproto]": "PASSED",
    }
    assert left_in(pytester.path) == []


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


def readme_section() -> str:
    text = (Path(__file__).parent.parent / "README.md").read_text()
    start = text.index("### Your app under every server: the pytest plugin")
    return text[start : text.index("\n## ", start)]


def test_the_readme_section_is_the_sample_project() -> None:
    """The README's example is tests/plugin_user (its ini and test), which the tests above
    and .ci/wheel-plugin run; the options it names are the plugin's."""
    section = readme_section()
    (ini,) = re.findall(r"```ini\n(.*?)```", section, flags=re.DOTALL)
    assert ini == (SAMPLE / "pytest.ini").read_text()
    (code,) = re.findall(r"```python\n(.*?)```", section, flags=re.DOTALL)
    test_echo = code[code.index("def test_echo") :]
    assert code[: code.index("\n")] in (SAMPLE / "test_chat.py").read_text()
    assert test_echo in (SAMPLE / "test_chat.py").read_text()
    root = Path(__file__).parent.parent
    assert "bash .ci/wheel-plugin" in (root / ".ci" / "run").read_text().splitlines()
    assert "cp -r tests/plugin_user" in (root / ".ci" / "wheel-plugin").read_text()
    named = set(re.findall(r"--lilya-ws-[a-z]+|lilya_ws_[a-z]+", section))
    assert named == {
        "--lilya-ws-servers",
        "--lilya-ws-app",
        "lilya_ws_servers",
        "lilya_ws_app",
        "lilya_ws_path",
        "lilya_ws_client",
        "lilya_ws_url",
        "lilya_ws_server",
    }


def test_the_options_are_in_pytest_help(pytester: pytest.Pytester) -> None:
    result = pytester.runpytest(*QUIET, "--help")
    result.stdout.fnmatch_lines(
        [
            "*--lilya-ws-app=MODULE:ATTR*",
            "*--lilya-ws-servers=NAMES*",
            "*lilya_ws_app (string):*",
            "*lilya_ws_servers (string):*",
            "*lilya_ws_path (string):*",
        ]
    )


def test_the_servers_extra_installs_the_four_servers_and_what_the_plugin_needs() -> None:
    requirements = importlib.metadata.requires("lilya-ws") or []
    servers = {
        re.split(r"[<>=!~; \[]", requirement)[0].lower()
        for requirement in requirements
        if re.search(r"""extra == ["']servers["']""", requirement)
    }
    needed = {"uvicorn", "hypercorn", "daphne", "granian", "psutil", "h11", "wsproto", "websockets"}
    assert needed <= servers
