"""What the server behind a scope can do, read once from the scope.

Every server difference the application could trip over is decided here (and
applied in ``websockets.py``), never in scattered per-server branches.

ASGI spec versions (https://asgi.readthedocs.io/en/latest/specs/www.html):
``headers`` in ``websocket.accept`` need 2.1, ``reason`` in
``websocket.close`` needs 2.3, and a missing ``spec_version`` means 2.0.
"""

from __future__ import annotations

from collections.abc import Mapping
from dataclasses import dataclass
from typing import Any, Final

__all__ = [
    "ACCEPT_HEADERS_SPEC",
    "CLOSE_REASON_SPEC",
    "DENIAL_RESPONSE_EXTENSION",
    "Capabilities",
    "parse_spec_version",
]

DENIAL_RESPONSE_EXTENSION: Final = "websocket.http.response"
ACCEPT_HEADERS_SPEC: Final = (2, 1)
CLOSE_REASON_SPEC: Final = (2, 3)
_DEFAULT_SPEC: Final = (2, 0)


def parse_spec_version(value: object) -> tuple[int, int]:
    """Parse ``"2.4"`` into ``(2, 4)``; anything missing or malformed is 2.0."""
    if not isinstance(value, str):
        return _DEFAULT_SPEC
    major, _, minor = value.partition(".")
    try:
        return int(major), int(minor or 0)
    except ValueError:
        return _DEFAULT_SPEC


@dataclass(frozen=True, slots=True)
class Capabilities:
    """What one connection's server declares it supports.

    ``spec_declared`` tells a server that said nothing apart from one that said
    "2.0": servers that omit the key (daphne, most test clients) ignore keys
    they do not know, so lilya_ws still sends them there (see ``can_send``).
    """

    spec_version: tuple[int, int]
    spec_declared: bool
    extensions: frozenset[str]

    @classmethod
    def from_scope(cls, scope: Mapping[str, Any]) -> Capabilities:
        asgi = scope.get("asgi") or {}
        raw_version = asgi.get("spec_version")
        extensions = scope.get("extensions") or {}
        return cls(
            spec_version=parse_spec_version(raw_version),
            spec_declared=raw_version is not None,
            extensions=frozenset(extensions),
        )

    @property
    def denial_response(self) -> bool:
        """The server can send an HTTP response instead of the handshake."""
        return DENIAL_RESPONSE_EXTENSION in self.extensions

    @property
    def accept_headers(self) -> bool:
        """The server declares it sends ``headers`` given in ``websocket.accept``."""
        return self.spec_version >= ACCEPT_HEADERS_SPEC

    @property
    def close_reason(self) -> bool:
        """The server declares it sends the ``reason`` given in ``websocket.close``."""
        return self.spec_version >= CLOSE_REASON_SPEC

    def can_send(self, needed: tuple[int, int]) -> bool:
        """Whether a key that needs spec ``needed`` should reach the server.

        A server that declares an older version gets the key stripped; one that
        declares nothing gets it (it ignores what it does not know).
        """
        return not self.spec_declared or self.spec_version >= needed
