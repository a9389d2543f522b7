"""An Origin allow-list against cross-site WebSocket hijacking.

Browsers send ``Origin`` on every WebSocket handshake (RFC 6455 §10.2) but do
not apply the same-origin policy to it: the server must. The check runs before
``accept()`` and denies with HTTP 403 (a denial response where the server
supports one, else a close before accept).

Example:
    policy = OriginPolicy(["https://example.com", "https://*.example.com"])
    app = OriginMiddleware(app, policy)
"""

from __future__ import annotations

from collections.abc import Awaitable, Callable, Iterable, Mapping
from typing import TYPE_CHECKING, Any, Final
from urllib.parse import urlsplit

from lilya_ws.errors import InvalidMessage, OriginNotAllowed
from lilya_ws.responses import Response
from lilya_ws.websockets import WebSocket

if TYPE_CHECKING:
    from lilya_ws.types import AnyReceive, AnySend

__all__ = ["OriginMiddleware", "OriginPolicy", "enforce_origin"]

_DEFAULT_PORTS: Final = {"http": 80, "https": 443, "ws": 80, "wss": 443}
_DENIAL_BODY: Final = "Origin not allowed"


def normalise_origin(origin: str) -> str | None:
    """``scheme://host[:port]`` in lowercase, default port dropped; None if malformed."""
    if origin == "null":
        return "null"
    try:
        parts = urlsplit(origin.strip())
        port = parts.port
    except ValueError:
        return None
    scheme, host = parts.scheme.lower(), (parts.hostname or "").rstrip(".")
    if not scheme or not host or parts.path not in ("", "/") or parts.query or parts.username:
        return None
    if port is None or port == _DEFAULT_PORTS.get(scheme):
        return f"{scheme}://{host}"
    return f"{scheme}://{host}:{port}"


class OriginPolicy:
    """Which ``Origin`` values may open a WebSocket.

    Entries are exact origins (``https://example.com``; default ports are
    equivalent to none) or wildcard subdomains (``https://*.example.com``,
    which matches ``https://a.example.com`` and ``https://a.b.example.com``
    but not ``https://example.com``). A handshake without ``Origin`` (a
    non-browser client) is refused unless ``allow_missing=True``.
    """

    __slots__ = ("_exact", "_suffixes", "allow_missing")

    def __init__(self, allowed: Iterable[str], *, allow_missing: bool = False) -> None:
        self._exact: set[str] = set()
        self._suffixes: set[tuple[str, str, str]] = set()
        self.allow_missing = allow_missing
        for entry in allowed:
            scheme, sep, rest = entry.partition("://")
            if sep and rest.startswith("*."):
                wildcard = normalise_origin(f"{scheme}://{rest[2:]}")
                if wildcard is None:
                    raise InvalidMessage(f"Invalid wildcard origin {entry!r}")
                base_scheme, _, host_port = wildcard.partition("://")
                host, _, port = host_port.partition(":")
                self._suffixes.add((base_scheme, "." + host, port))
                continue
            normalised = normalise_origin(entry)
            if normalised is None:
                raise InvalidMessage(f"Invalid origin {entry!r}: use scheme://host[:port]")
            self._exact.add(normalised)

    def allows(self, origin: str | None) -> bool:
        """Whether a handshake carrying ``origin`` (None: no header) may proceed."""
        if origin is None:
            return self.allow_missing
        normalised = normalise_origin(origin)
        if normalised is None:
            return False
        if normalised in self._exact:
            return True
        scheme, _, host_port = normalised.partition("://")
        host, _, port = host_port.partition(":")
        return any(
            scheme == s and port == p and host.endswith(suffix) for s, suffix, p in self._suffixes
        )


async def enforce_origin(websocket: WebSocket, policy: OriginPolicy) -> None:
    """Deny the handshake (HTTP 403) and raise ``OriginNotAllowed`` unless allowed.

    Call it before ``accept()``. The denial body says only that the origin is
    not allowed; the offending value is on the exception, not sent back.
    """
    origins = websocket.headers.getall("origin", [])
    origin = origins[0] if len(origins) == 1 else None
    if len(origins) <= 1 and policy.allows(origin):
        return
    if websocket.capabilities.denial_response:
        await websocket.send_denial_response(Response(_DENIAL_BODY, status_code=403))
    else:
        await websocket.close()
    raise OriginNotAllowed(f"Origin {origin!r} is not allowed")


class OriginMiddleware:
    """ASGI middleware: WebSocket handshakes from other origins never reach the app."""

    __slots__ = ("app", "policy")

    def __init__(
        self,
        # Any ASGI app, whatever typing school its signature follows.
        app: Callable[[Any, Any, Any], Awaitable[None]],
        policy: OriginPolicy,
    ) -> None:
        self.app = app
        self.policy = policy

    async def __call__(self, scope: Mapping[str, Any], receive: AnyReceive, send: AnySend) -> None:
        if scope.get("type") == "websocket":
            try:
                await enforce_origin(WebSocket(scope, receive, send), self.policy)
            except OriginNotAllowed:
                return
        await self.app(scope, receive, send)
