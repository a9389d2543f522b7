"""The test client's dialect presets are named as the adapters' configurations, and
each builds the scope its real server builds (recorded in ``recorded_scopes.json``).
The presets are derived from ``lilya_ws.servers`` (``tests/test_servers.py``)."""

from __future__ import annotations

from typing import Any

import pytest

from adapters.registry import names
from adapters.scopes import load
from lilya_ws.testing import ALIASES, DIALECTS, build_scope, get_dialect

PRESETS = sorted(name for name in DIALECTS if name != "spec")
RECORDED = load()


def test_presets_are_named_as_the_adapters_configurations() -> None:
    assert sorted(names()) == PRESETS
    assert {get_dialect(old).name for old in ALIASES} <= set(PRESETS)


def _shape(scope: dict[str, Any]) -> dict[str, object]:
    """What a preset must reproduce of a scope: its keys, ``asgi``, the extension names
    in order, and the type of the client's port."""
    return {
        "keys": sorted(scope),
        "asgi": scope["asgi"],
        "extensions": list(scope["extensions"]) if "extensions" in scope else None,
        "client": [type(part).__name__ for part in scope["client"]],
    }


@pytest.mark.parametrize("server", PRESETS)
def test_preset_builds_the_scope_its_server_builds(server: str) -> None:
    built = build_scope("/scope?probe=1", DIALECTS[server], subprotocols=["probe.one"])
    assert _shape(built) == _shape(RECORDED[server])
