"""Shared fixtures, and the two rules for tests that need more than Python.

Missing servers. A test that needs a server, a browser or valgrind calls
``require_server(name, reason)``, ``reason`` being None when the thing is there.
A missing one *fails* the test under CI (the ``CI`` variable set, as CI services
and ``.ci/run`` set it, to anything but ``""``, ``0``, ``false`` or ``no``) and
with ``--require-servers``: CI installs every server, so a missing one is a
broken install, never a pass. Elsewhere the test is skipped with the reason
(a developer without chromium or valgrind still runs the rest).

Heavy tests. A ``@pytest.mark.heavy`` test runs only when the ``-m`` expression
asks for it by name (``-m heavy``, ``-m "heavy and integration"``). An
expression that merely lets it through (no ``-m``, ``-m integration``) or
excludes it (``-m "not heavy"``) deselects it: it is neither run nor counted as
skipped. :func:`heavy_selected` evaluates the expression as pytest does.
"""

from __future__ import annotations

import itertools
import os
import re
from collections.abc import Callable
from typing import Final

import pytest
from _pytest.mark.expression import Expression  # pytest's own -m parser (no public API)

from lilya_ws.testing import DIALECTS

HEAVY: Final = "heavy"
FALSE_WORDS: Final = frozenset({"", "0", "false", "no"})
IDENTIFIER: Final = re.compile(r"(?:\w|:|\+|-|\.|\[|\]|\\|/)+")
"""A name in a ``-m`` expression, as pytest's scanner reads one."""
KEYWORDS: Final = frozenset({"and", "or", "not", "True", "False", "None"})


def pytest_addoption(parser: pytest.Parser) -> None:
    parser.addoption(
        "--require-servers",
        action="store_true",
        help="fail, not skip, a test whose server (or browser, or valgrind) is missing "
        "(the default under CI)",
    )


@pytest.fixture(params=sorted(DIALECTS))
def dialect(request: pytest.FixtureRequest) -> str:
    """Each server dialect the test client can reproduce."""
    name: str = request.param
    return name


# Missing servers.

RequireServer = Callable[[str, "str | None"], None]


def servers_required(config: pytest.Config) -> bool:
    """Whether a missing server fails (under CI or ``--require-servers``) or skips."""
    under_ci = os.environ.get("CI", "").strip().lower() not in FALSE_WORDS
    return under_ci or bool(config.getoption("--require-servers"))


@pytest.fixture(scope="session")
def require_server(pytestconfig: pytest.Config) -> RequireServer:
    """Fail (CI, ``--require-servers``) or skip a test whose ``name`` is missing for ``reason``."""
    required = servers_required(pytestconfig)

    def require(name: str, reason: str | None) -> None:
        if reason is None:
            return
        message = f"{name} unavailable: {reason}"
        if required:
            pytest.fail(f"{message} (a missing server fails under CI and --require-servers)")
        pytest.skip(message)

    return require


# Heavy tests.


def _markers(names: frozenset[str]) -> Callable[..., bool]:
    """A matcher for :meth:`Expression.evaluate`: a test carrying exactly ``names``."""

    def matches(name: str, /, **_: object) -> bool:
        return name in names

    return matches


def heavy_selected(config: pytest.Config) -> bool:
    """Whether ``-m`` asks for heavy tests: for some set of the expression's other names,
    adding ``heavy`` turns it from false to true (``not heavy`` never does)."""
    markexpr = str(config.getoption("markexpr") or "")
    if not markexpr:
        return False
    expression = Expression.compile(markexpr)
    # Names outside the expression cannot change its value: trying its own is exhaustive.
    others = sorted(set(IDENTIFIER.findall(markexpr)) - KEYWORDS - {HEAVY})
    for size in range(len(others) + 1):
        for subset in itertools.combinations(others, size):
            if expression.evaluate(_markers(frozenset({HEAVY, *subset}))) and not (
                expression.evaluate(_markers(frozenset(subset)))
            ):
                return True
    return False


def pytest_collection_modifyitems(config: pytest.Config, items: list[pytest.Item]) -> None:
    """Deselect the heavy tests unless ``-m`` asks for them (see the module docstring)."""
    if heavy_selected(config):
        return
    heavy = [item for item in items if item.get_closest_marker(HEAVY) is not None]
    if heavy:
        config.hook.pytest_deselected(items=heavy)
        items[:] = [item for item in items if item.get_closest_marker(HEAVY) is None]
