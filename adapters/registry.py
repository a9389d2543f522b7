"""The seven server configurations, by name."""

from __future__ import annotations

from collections.abc import Mapping
from types import MappingProxyType
from typing import Final, Literal, get_args

from adapters import daphne, granian, hypercorn, uvicorn
from adapters.base import ServerAdapter
from adapters.errors import UnknownAdapterError

AdapterName = Literal[
    "uvicorn-websockets",
    "uvicorn-websockets-sansio",
    "uvicorn-wsproto",
    "hypercorn-asyncio",
    "hypercorn-trio",
    "daphne",
    "granian",
]

ADAPTERS: Final[Mapping[str, ServerAdapter]] = MappingProxyType(
    {
        adapter.name: adapter
        for module in (uvicorn, hypercorn, daphne, granian)
        for adapter in module.ADAPTERS
    }
)


def names() -> tuple[AdapterName, ...]:
    """Every configuration name, in a stable order."""
    return get_args(AdapterName)


def get(name: str) -> ServerAdapter:
    """The adapter called ``name``; raises :class:`UnknownAdapterError` otherwise."""
    try:
        return ADAPTERS[name]
    except KeyError:
        raise UnknownAdapterError(name, ADAPTERS) from None


def available() -> tuple[ServerAdapter, ...]:
    """The adapters whose server imports in this interpreter."""
    return tuple(adapter for adapter in ADAPTERS.values() if adapter.available)


def unavailable() -> dict[str, str]:
    """Name to reason, for each adapter that cannot run here."""
    return {
        adapter.name: reason
        for adapter in ADAPTERS.values()
        if (reason := adapter.unavailable_reason()) is not None
    }
