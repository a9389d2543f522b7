"""Shared fixtures: the dialects every in-process test runs under."""

from __future__ import annotations

import os
from collections.abc import Callable

import pytest

from lilya_ws.testing import DIALECTS

# A user's sample project for the pytest plugin, run by tests/test_plugin.py with its own
# pytest.ini; collected here it would have no app to serve.
collect_ignore = ["plugin_user"]


@pytest.fixture(params=sorted(DIALECTS))
def dialect(request: pytest.FixtureRequest) -> str:
    """Each server dialect the test client can reproduce."""
    name: str = request.param
    return name


RequireServer = Callable[[str, "str | None"], None]


def _require_server(name: str, reason: str | None) -> None:
    if reason is None:
        return
    message = f"{name} unavailable: {reason}"
    if os.environ.get("CI"):
        pytest.fail(message)
    pytest.skip(message)


@pytest.fixture(scope="session")
def require_server() -> RequireServer:
    """Skip a test whose server is not installed, with the reason; under CI (``CI`` set),
    fail instead: CI installs every server, so a missing one is a broken install."""
    return _require_server
