"""Record one WebSocket scope per configuration from the real servers, for the tests.

``python -m adapters record-scopes`` starts each available configuration on
127.0.0.1 with the probe app, records the scope of one handshake (each key's
type shape and value, as ``adapters.probe`` sees it) and writes them to
``tests/recorded_scopes.json``. Ports and the random handshake key are
normalised so that a re-recording differs only where a server changed.
"""

from __future__ import annotations

import asyncio
import json
from collections.abc import Iterable
from pathlib import Path
from typing import Final

from .base import ServerAdapter
from .probe import PROBE_APP, Probe, ScopeEntry

FIXTURE: Final = Path(__file__).resolve().parents[1] / "tests" / "recorded_scopes.json"
_HOST_HEADER: Final = repr(b"host")
_KEY_HEADER: Final = repr(b"sec-websocket-key")


def normalise(scope: dict[str, ScopeEntry]) -> dict[str, ScopeEntry]:
    """``scope`` with every port 0 (its type kept), the Host header's port 0 and a
    fixed ``sec-websocket-key``."""
    result = dict(scope)
    for key in ("client", "server"):
        if isinstance(address := scope[key]["value"], list):
            host, port = address
            result[key] = {"shape": scope[key]["shape"], "value": [host, type(port)(0)]}
    headers = scope["headers"]["value"]
    assert isinstance(headers, list)
    fixed = {_HOST_HEADER: repr(b"127.0.0.1:0"), _KEY_HEADER: repr(b"A" * 22 + b"==")}
    result["headers"] = {
        "shape": scope["headers"]["shape"],
        "value": [[name, fixed.get(name, value)] for name, value in headers],
    }
    return result


async def _record(adapter: ServerAdapter) -> dict[str, ScopeEntry]:
    with adapter.start(PROBE_APP) as server:
        return normalise(await Probe(server).scope())


def record(adapters: Iterable[ServerAdapter], path: Path = FIXTURE) -> None:
    """Record the scope of each of ``adapters`` into ``path``, keeping the other entries."""
    recorded = json.loads(path.read_text(encoding="utf-8")) if path.exists() else {}
    for adapter in adapters:
        recorded[adapter.name] = asyncio.run(_record(adapter))
    ordered = dict(sorted(recorded.items()))  # each scope keeps its server's key order
    path.write_text(json.dumps(ordered, indent=1) + "\n", encoding="utf-8")


def load(path: Path = FIXTURE) -> dict[str, dict[str, object]]:
    """The recorded scopes by configuration, each as a plain scope (key to value)."""
    recorded: dict[str, dict[str, ScopeEntry]] = json.loads(path.read_text(encoding="utf-8"))
    return {
        name: {key: entry["value"] for key, entry in scope.items()}
        for name, scope in recorded.items()
    }
