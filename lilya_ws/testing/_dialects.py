"""The presets: what each real server puts in the scope and its messages.

A ``Dialect`` is data only; the test client reads it wherever a server would
differ. The presets are derived from the measured facts in ``lilya_ws.servers``
so that a server fact is written once.
"""

from __future__ import annotations

from collections.abc import Mapping
from dataclasses import dataclass
from typing import Final, Literal

from lilya_ws.servers import (
    DENIAL_RESPONSE_EXTENSION,
    PROBE_CLOSE_CODE,
    SERVERS,
    SendAfterClose,
    Server,
)


@dataclass(frozen=True)
class Dialect:
    """How one server speaks ASGI WebSocket, as measured (``adapters/DIALECTS.md``)."""

    name: str
    spec_version: str | None
    """``scope["asgi"]["spec_version"]``; None leaves the key out (ASGI: 2.0)."""
    denial_extension: bool
    """``websocket.http.response`` is in ``scope["extensions"]``."""
    extra_extensions: tuple[str, ...] = ()
    has_extensions: bool = True
    has_scheme: bool = True
    has_http_version: bool = True
    has_state: bool = True
    client_as: Literal["tuple", "list", "str-port"] = "tuple"
    """How the scope's ``client``/``server`` pairs look (granian: the port is a str)."""
    receive_both_keys: bool = False
    """``websocket.receive`` carries ``text`` and ``bytes``, the unused one None."""
    code_as_intenum: bool = False
    """Disconnect codes arrive as an ``IntEnum`` rather than a plain ``int``."""
    disconnect_reason: bool = True
    """``websocket.disconnect`` carries a ``reason`` key."""
    clean_close_code: int | None = None
    """Code the app sees for a clean client close; None: the client's own code."""
    abrupt_close_code: int = 1006
    """Code the app sees when the client drops the TCP connection."""
    send_after_close: SendAfterClose = "oserror"
    """What the server's ``send`` does once the client has gone."""
    drops_empty_sends: bool = False
    """An empty ``text``/``bytes`` from the app never reaches the client."""
    accept_headers: bool = True
    close_reason: bool = True
    streamed_denial: bool = True
    """Denial body parts with ``more_body`` are sent; otherwise they raise
    ``RuntimeError`` and only the last part reaches the client."""
    close_codes: tuple[range, ...] | None = None
    """The only close codes the server sends after accepting; others make its
    ``send`` raise (daphne's autobahn raises a bare ``Exception``)."""
    empties_unencodable_text: bool = False
    """A text with no UTF-8 (a lone surrogate) goes out empty; otherwise ``send``
    raises ``UnicodeEncodeError``."""


_CLIENT_AS: Final[Mapping[str, Literal["tuple", "list", "str-port"]]] = {
    "tuple[str, int]": "tuple",
    "list[int | str]": "list",
    "tuple[str, str]": "str-port",
}


def preset(server: Server) -> Dialect:
    """The test client's dialect for ``server``, derived from its measured facts."""
    facts = server.capabilities
    extensions = facts.extensions or ()
    clean = facts.clean_close_code
    return Dialect(
        server.name,
        spec_version=facts.spec_version,
        denial_extension=DENIAL_RESPONSE_EXTENSION in extensions,
        extra_extensions=tuple(name for name in extensions if name != DENIAL_RESPONSE_EXTENSION),
        has_extensions=facts.extensions is not None,
        has_scheme=facts.scope_has_scheme,
        has_http_version=facts.scope_has_http_version,
        has_state=facts.scope_has_state,
        client_as=_CLIENT_AS[facts.address_shape],
        receive_both_keys=facts.receive_has_both_keys,
        code_as_intenum=facts.disconnect_code_types != {"int"},
        disconnect_reason=facts.disconnect_reason,
        clean_close_code=None if clean == PROBE_CLOSE_CODE else clean,
        abrupt_close_code=facts.abrupt_close_code,
        send_after_close=facts.send_after_close,
        drops_empty_sends=not (facts.empty_text_sent and facts.empty_bytes_sent),
        accept_headers=facts.accept_headers,
        close_reason=facts.close_reason,
        streamed_denial=facts.streamed_denial,
        close_codes=None if facts.standard_close_codes else server.close_codes,
        empties_unencodable_text=not facts.unencodable_text_raises,
    )


DIALECTS: Final[Mapping[str, Dialect]] = {
    "spec": Dialect("spec", spec_version="2.4", denial_extension=True),
    **{name: preset(server) for name, server in SERVERS.items()},
}
"""Presets by the adapters' configuration names, derived from ``lilya_ws.servers``;
``spec`` is a server that does all the ASGI spec says."""

ALIASES: Final[Mapping[str, str]] = {
    "uvicorn": "uvicorn-websockets",
    "hypercorn": "hypercorn-asyncio",
}
"""The presets' former names, still accepted by ``connect`` and ``get_dialect``."""


def get_dialect(dialect: str | Dialect) -> Dialect:
    """The preset called ``dialect`` (an adapter configuration name, ``spec``, or a
    former name from ``ALIASES``); a ``Dialect`` is returned as it is."""
    if isinstance(dialect, Dialect):
        return dialect
    try:
        return DIALECTS[ALIASES.get(dialect, dialect)]
    except KeyError:
        known = ", ".join(sorted(DIALECTS))
        raise ValueError(f"Unknown dialect {dialect!r}: one of {known}") from None
