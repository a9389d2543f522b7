"""pytest plugin: run your own ASGI app's WebSocket tests under every installed server.

Registered through the ``pytest11`` entry point as ``lilya_ws`` (``-p no:lilya_ws``
turns it off). It is opt-in: only a test that asks for ``lilya_ws_client``,
``lilya_ws_url`` or ``lilya_ws_server`` is parametrised, once per server
configuration, and only then is a server started. This module is deliberately
light (options only), so that installing ``lilya-ws`` without its ``servers``
extra never breaks pytest; the fixtures live in ``lilya_ws_adapters.pytest_plugin``
and, when that cannot import, stand-ins fail with the install command.
"""

from __future__ import annotations

import importlib
from typing import Final, NoReturn

import pytest

FIXTURES_MODULE: Final = "lilya_ws_adapters.pytest_plugin"
INSTALL_HINT: Final = "pip install 'lilya-ws[servers]'"


def pytest_addoption(parser: pytest.Parser) -> None:
    group = parser.getgroup("lilya_ws", "lilya_ws: your ASGI app under real servers")
    group.addoption(
        "--lilya-ws-app",
        dest="lilya_ws_app",
        metavar="MODULE:ATTR",
        default=None,
        help="the ASGI app the lilya_ws fixtures serve (overrides the lilya_ws_app ini value)",
    )
    group.addoption(
        "--lilya-ws-servers",
        dest="lilya_ws_servers",
        metavar="NAMES",
        default=None,
        help=(
            "server configurations to run on: 'all' (every installed one; the default) "
            "or names separated by commas, such as uvicorn-websockets,daphne"
        ),
    )
    parser.addini("lilya_ws_app", "the ASGI app the lilya_ws fixtures serve (MODULE:ATTR)")
    parser.addini(
        "lilya_ws_servers", "'all' or configuration names separated by commas", default="all"
    )
    parser.addini(
        "lilya_ws_path",
        "the path the servers' readiness check and lilya_ws_client connect to",
        default="/",
    )


def pytest_configure(config: pytest.Config) -> None:
    try:
        fixtures: object = importlib.import_module(FIXTURES_MODULE)
    except ImportError as error:
        fixtures = ServersNotInstalled(error)
    config.pluginmanager.register(fixtures, "lilya_ws.fixtures")


class ServersNotInstalled:
    """The fixtures, when the adapters cannot import: each use fails, saying what to install."""

    def __init__(self, error: ImportError) -> None:
        self.message = (
            f"the lilya_ws fixtures need the servers extra ({INSTALL_HINT}): "
            f"cannot import {FIXTURES_MODULE}: {type(error).__name__}: {error}"
        )

    def fail(self) -> NoReturn:
        pytest.fail(self.message, pytrace=False)

    @pytest.fixture
    def lilya_ws_server(self) -> NoReturn:
        self.fail()

    @pytest.fixture
    def lilya_ws_url(self) -> NoReturn:
        self.fail()

    @pytest.fixture
    def lilya_ws_client(self) -> NoReturn:
        self.fail()
