"""The seven server configurations, by name."""

from __future__ import annotations

from collections.abc import Mapping
from types import MappingProxyType
from typing import Final, Literal, get_args

from . import daphne, granian, hypercorn, uvicorn
from .base import ServerAdapter
from .errors import UnknownAdapterError

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


SHORT_NAMES: Final[Mapping[str, str]] = MappingProxyType(
    {
        "uvicorn-websockets": "uv-ws",
        "uvicorn-websockets-sansio": "uv-sansio",
        "uvicorn-wsproto": "uv-wsproto",
        "hypercorn-asyncio": "hc-asyncio",
        "hypercorn-trio": "hc-trio",
        "daphne": "daphne",
        "granian": "granian",
    }
)
"""Column headings for tables of every configuration (``adapters/DIALECTS.md``)."""


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
