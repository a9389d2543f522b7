"""The scope a dialect's server builds for a handshake, from a URL and headers."""

from __future__ import annotations

import base64
import os
from collections.abc import Iterable, Mapping, Sequence
from typing import Any
from urllib.parse import unquote, urlsplit

from lilya_ws.servers import DENIAL_RESPONSE_EXTENSION
from lilya_ws.testing._dialects import Dialect


def build_scope(
    url: str,
    dialect: Dialect,
    headers: Mapping[str, str] | Iterable[tuple[str, str]] = (),
    subprotocols: Sequence[str] = (),
) -> dict[str, Any]:
    """The scope ``dialect``'s server would build for a handshake to ``url``."""
    parts = urlsplit(url if "://" in url else "ws://testserver" + url)
    host = parts.netloc or "testserver"
    key = base64.b64encode(os.urandom(16))
    raw_headers = [
        (b"host", host.encode("latin-1")),
        (b"connection", b"upgrade"),
        (b"upgrade", b"websocket"),
        (b"sec-websocket-version", b"13"),
        (b"sec-websocket-key", key),
    ]
    pairs = headers.items() if isinstance(headers, Mapping) else headers
    raw_headers += [(k.lower().encode("latin-1"), v.encode("latin-1")) for k, v in pairs]
    if subprotocols:
        raw_headers.append((b"sec-websocket-protocol", ", ".join(subprotocols).encode("latin-1")))
    asgi: dict[str, str] = {"version": "3.0"}
    if dialect.spec_version is not None:
        asgi["spec_version"] = dialect.spec_version
    scope: dict[str, Any] = {
        "type": "websocket",
        "asgi": asgi,
        "path": unquote(parts.path) or "/",  # servers decode the path; raw_path keeps it
        "raw_path": (parts.path or "/").encode("latin-1"),
        "root_path": "",
        "query_string": parts.query.encode("latin-1"),
        "headers": raw_headers,
        "client": _pair(dialect, "127.0.0.1", 51000),
        "server": _pair(dialect, parts.hostname or "testserver", parts.port or 80),
        "subprotocols": list(subprotocols),
    }
    if dialect.has_state:
        scope["state"] = {}
    if dialect.has_scheme:
        scope["scheme"] = parts.scheme or "ws"
    if dialect.has_http_version:
        scope["http_version"] = "1.1"
    if dialect.has_extensions:
        names = (
            *dialect.extra_extensions,
            *([DENIAL_RESPONSE_EXTENSION] * dialect.denial_extension),
        )
        scope["extensions"] = {name: {} for name in names}
    return scope


def _pair(dialect: Dialect, host: str, port: int) -> object:
    if dialect.client_as == "list":
        return [host, port]
    return (host, str(port)) if dialect.client_as == "str-port" else (host, port)
