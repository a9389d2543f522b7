"""The pytest plugin's fixtures: the user's ASGI app served by each selected configuration.

``lilya_ws_pytest`` (the ``pytest11`` entry point) registers this module. A test
that asks for ``lilya_ws_client``, ``lilya_ws_url`` or ``lilya_ws_server`` runs once
per configuration (``test_echo[daphne]``). Each server starts on first use, on
127.0.0.1 and a free port, is shared by the tests that ask for the same app,
and stops, with its whole process group, when the session ends. A failed
test's report gets a section with what the server wrote during that test.
"""

from __future__ import annotations

from collections.abc import Generator, Iterator
from dataclasses import dataclass
from pathlib import Path
from typing import Final

import pytest
from websockets.sync.client import ClientConnection, connect

from .base import ServerAdapter
from .errors import ServerStartError
from .process import RunningServer
from .registry import get, names

OPEN_TIMEOUT: Final = 10.0
"""Seconds ``lilya_ws_client`` waits for the opening handshake."""
SECTION: Final = "lilya_ws server output"
LOG_LINES: Final = 200
"""At most this many of the server's lines go into a failed test's report."""


@dataclass(frozen=True)
class Selection:
    """The configurations the tests run on, and whether the user named them.

    A configuration named on purpose (``--lilya-ws-servers=daphne``) whose server
    is not installed fails its tests; under ``all`` it is skipped with the reason.
    """

    names: tuple[str, ...]
    named: bool


def select(value: str) -> Selection:
    """Parse ``all`` or names separated by commas; :class:`pytest.UsageError` on an unknown one."""
    if value.strip() == "all":
        return Selection(names(), named=False)
    chosen = tuple(dict.fromkeys(part.strip() for part in value.split(",") if part.strip()))
    unknown = [name for name in chosen if name not in names()]
    if unknown or not chosen:
        raise pytest.UsageError(
            f"--lilya-ws-servers / lilya_ws_servers: unknown configuration "
            f"{', '.join(map(repr, unknown)) or 'list (empty)'}; use 'all' or names from: "
            f"{', '.join(names())}"
        )
    return Selection(chosen, named=True)


class ServerPool:
    """One server per (configuration, app, path), started on first use and stopped at the end.

    Starting a server takes a second or more, so tests share it; a start that
    failed is remembered, so every later test of that cell fails at once with
    the same reason instead of waiting out the startup timeout again.
    """

    def __init__(self, cwd: Path) -> None:
        self.cwd = cwd
        self._servers: dict[tuple[str, str, str], RunningServer | ServerStartError] = {}

    def serve(self, adapter: ServerAdapter, app: str, path: str) -> RunningServer:
        """The running server for this cell; raises :class:`ServerStartError`."""
        key = (adapter.name, app, path)
        found = self._servers.get(key)
        if isinstance(found, ServerStartError):
            raise found
        if found is not None:
            if found.poll() is None:
                return found
            found.stop()  # it died during an earlier test, which failed with its output
        try:
            server = adapter.start(app, cwd=self.cwd, ready_path=path)
        except ServerStartError as error:
            self._servers[key] = error
            raise
        self._servers[key] = server
        return server

    def stop(self) -> None:
        """Stop every server (each one's whole process group)."""
        for found in self._servers.values():
            if isinstance(found, RunningServer):
                found.stop()


_SELECTION: Final = pytest.StashKey[Selection]()
_SERVED: Final = pytest.StashKey[tuple[RunningServer, int]]()
"""The server a test used and the length of its log when the test began."""


def pytest_configure(config: pytest.Config) -> None:
    option: str | None = config.getoption("lilya_ws_servers")
    ini: str = config.getini("lilya_ws_servers")
    config.stash[_SELECTION] = select(option if option is not None else ini)


def pytest_generate_tests(metafunc: pytest.Metafunc) -> None:
    if "lilya_ws_configuration" in metafunc.fixturenames:
        chosen = metafunc.config.stash[_SELECTION].names
        metafunc.parametrize("lilya_ws_configuration", chosen, indirect=True, ids=chosen)


@pytest.hookimpl(wrapper=True)
def pytest_runtest_makereport(
    item: pytest.Item, call: pytest.CallInfo[None]
) -> Generator[None, pytest.TestReport, pytest.TestReport]:
    report = yield
    served = item.stash.get(_SERVED, None)
    if served is not None and report.failed:
        server, start = served
        lines = server.log()[start:].splitlines()[-LOG_LINES:]
        report.sections.append((f"{SECTION} ({server.name})", "\n".join(lines) or "(nothing)"))
    return report


@pytest.fixture
def lilya_ws_configuration(request: pytest.FixtureRequest) -> str:
    """The server configuration this test runs under (the test's id says which)."""
    name: str = request.param
    return name


@pytest.fixture
def lilya_ws_app(pytestconfig: pytest.Config) -> str:
    """The app to serve, as ``module:attr``: ``--lilya-ws-app``, else the ``lilya_ws_app``
    ini value. Override this fixture to serve another app in some tests."""
    option: str | None = pytestconfig.getoption("lilya_ws_app")
    ini: str = pytestconfig.getini("lilya_ws_app")
    app = option or ini
    if not app:
        pytest.fail(
            "no app to serve: set lilya_ws_app = module:attr in the pytest configuration, "
            "pass --lilya-ws-app module:attr, or override the lilya_ws_app fixture",
            pytrace=False,
        )
    return app


@pytest.fixture
def lilya_ws_path(pytestconfig: pytest.Config) -> str:
    """Where the readiness check and ``lilya_ws_client`` connect (``lilya_ws_path`` ini value)."""
    path: str = pytestconfig.getini("lilya_ws_path")
    return path


@pytest.fixture(scope="session")
def lilya_ws_server_pool(pytestconfig: pytest.Config) -> Iterator[ServerPool]:
    """Every server this session started, stopped when it ends. Apps import from the rootdir."""
    pool = ServerPool(pytestconfig.rootpath)
    try:
        yield pool
    finally:
        pool.stop()


@pytest.fixture
def lilya_ws_server(
    request: pytest.FixtureRequest,
    lilya_ws_configuration: str,
    lilya_ws_app: str,
    lilya_ws_path: str,
    lilya_ws_server_pool: ServerPool,
) -> RunningServer:
    """The app under this test's configuration: ``ws_url``, ``name``, ``pid``, ``log()``."""
    adapter = get(lilya_ws_configuration)
    if (reason := adapter.unavailable_reason()) is not None:
        message = f"{adapter.name} is not installed here ({reason})"
        if request.config.stash[_SELECTION].named:
            pytest.fail(f"{message}, but --lilya-ws-servers names it", pytrace=False)
        pytest.skip(message)
    try:
        server = lilya_ws_server_pool.serve(adapter, lilya_ws_app, lilya_ws_path)
    except ServerStartError as error:
        pytest.fail(f"cannot serve {lilya_ws_app}: {error}", pytrace=False)
    request.node.stash[_SERVED] = (server, len(server.log()))
    return server


@pytest.fixture
def lilya_ws_url(lilya_ws_server: RunningServer, lilya_ws_path: str) -> str:
    """``ws://127.0.0.1:PORT`` plus the ``lilya_ws_path``, for a client of the test's own."""
    return lilya_ws_server.ws_url + lilya_ws_path


@pytest.fixture
def lilya_ws_client(lilya_ws_url: str) -> Iterator[ClientConnection]:
    """A ``websockets`` client connected to ``lilya_ws_url``, closed after the test."""
    with connect(lilya_ws_url, open_timeout=OPEN_TIMEOUT) as client:
        yield client
