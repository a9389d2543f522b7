"""What each server configuration does, as measured: the one place each fact lives.

Every other view is derived from :data:`SERVERS`, never written again: the
library's quirks (``capabilities.quirks_of``), the test client's presets
(``testing.preset``), the adapters' declarations (``adapters``, which the
library does not ship) and the summary table of ``adapters/DIALECTS.md``
(``python -m adapters dialects-md``). Data flows one way, from here out.

The facts are observed by ``python -m adapters probe`` against the real
servers; ``tests/test_adapters.py`` re-measures them on every run. Measured with
uvicorn 0.54.0 (websockets 17.4, wsproto 1.3.2), hypercorn 0.18.0 (wsproto
1.3.2, trio 0.35.0), daphne 4.2.3 (twisted 26.10.0, autobahn 26.10.2), granian 2.8.9.
"""

from __future__ import annotations

from collections.abc import Mapping
from dataclasses import dataclass, replace
from typing import Final, Literal

__all__ = [
    "DENIAL_RESPONSE_EXTENSION",
    "PROBE_CLOSE_CODE",
    "SERVERS",
    "SendAfterClose",
    "Server",
    "ServerCapabilities",
]

SendAfterClose = Literal["oserror", "runtimeerror", "silent"]

DENIAL_RESPONSE_EXTENSION: Final = "websocket.http.response"
PROBE_CLOSE_CODE: Final = 4001
"""The code the probe's client closes with: a ``clean_close_code`` equal to it means
the server passes the client's own code to the app."""
MIB: Final = 1024 * 1024


@dataclass(frozen=True)
class ServerCapabilities:
    """The ASGI WebSocket dialect of one server configuration, as measured.

    Every field is a fact observed by ``adapters.probe`` against the real server,
    not a reading of its documentation.
    """

    spec_version: str | None
    """``scope["asgi"]["spec_version"]``, or None when the key is missing (means 2.0)."""
    scope_has_scheme: bool
    scope_has_http_version: bool
    extensions: tuple[str, ...] | None
    """The keys of ``scope["extensions"]`` in the server's order; None when it is absent."""
    scope_has_state: bool
    address_shape: str
    """Type shape of ``scope["client"]`` and ``scope["server"]``, e.g. ``tuple[str, int]``."""
    denial_response: bool
    """A single-body denial response reaches the client with its status and body."""
    streamed_denial: bool
    """A denial body sent in several ``more_body`` parts reaches the client complete."""
    close_before_accept_status: int | None
    """HTTP status the client gets when the app closes before accepting (None: no answer)."""
    accept_headers: bool
    """``headers`` in ``websocket.accept`` reach the client."""
    close_reason: bool
    """``reason`` in ``websocket.close`` reaches the client."""
    receive_has_both_keys: bool
    """``websocket.receive`` carries both ``text`` and ``bytes``, the unused one None."""
    empty_text_delivered: bool
    """An empty text frame from the client reaches the app as a ``websocket.receive``."""
    empty_bytes_delivered: bool
    empty_text_sent: bool
    """An app's ``websocket.send`` with ``text=""`` reaches the client."""
    empty_bytes_sent: bool
    max_message_size: int | None
    """Largest inbound message accepted by default; None if none was found."""
    max_send_size: int | None
    """Largest message the app can send; None if every size tried (16 MiB + 1) went out."""
    clean_close_code: int
    """Disconnect code the app sees when the client closes with :data:`PROBE_CLOSE_CODE`."""
    disconnect_reason: bool
    """That ``websocket.disconnect`` carries the client's close ``reason``."""
    abrupt_close_code: int
    """Disconnect code the app sees when the client drops TCP without a close frame."""
    disconnect_code_types: frozenset[str]
    """Classes of the disconnect codes seen: ``int``, or an ``IntEnum`` like ``CloseCode``."""
    second_receive_hangs: bool
    """After ``websocket.disconnect`` another ``receive()`` can block forever."""
    answers_close_without_receive: bool
    """The server answers a client's close frame while the app is not in ``receive()``."""
    answers_ping_without_receive: bool
    """The server answers a client's ping while the app is not in ``receive()``."""
    send_after_close: SendAfterClose
    """What ``send()`` does after the client closed, before the app saw the disconnect."""
    send_after_close_error: str | None
    """Qualified class of the exception ``send()`` raises then, if any."""
    standard_close_codes: bool
    """The server sends a registered RFC 6455 code (1011) the app closes with."""
    unencodable_text_raises: bool
    """An app's ``websocket.send`` of a text with no UTF-8 (a lone surrogate) raises
    ``UnicodeEncodeError``; otherwise the client gets an empty text instead."""

    @property
    def scope_has_extensions(self) -> bool:
        """``scope["extensions"]`` is present."""
        return self.extensions is not None

    @property
    def http_response_extension(self) -> bool:
        """``"websocket.http.response"`` is advertised in ``scope["extensions"]``."""
        return DENIAL_RESPONSE_EXTENSION in (self.extensions or ())


@dataclass(frozen=True)
class Server:
    """One server configuration: its measured dialect and what the probe cannot see."""

    name: str
    """The configuration's name, as the adapters and the test client's presets know it."""
    family: str
    """The server the library recognises from the scope (configurations of one family
    share a scope shape, so they share their quirks)."""
    capabilities: ServerCapabilities
    close_codes: tuple[range, ...] | None = None
    """The only close codes the server sends, when it restricts them (read in its
    source; the probe sees only that 1011 fails)."""
    waits_for_close_reply: bool = False
    """The app returning before the peer answered its close can kill the server's
    worker (``adapters/DIALECTS.md``, close race; ``adapters/repro_close_race.py``)."""


_UVICORN_WEBSOCKETS: Final = ServerCapabilities(
    spec_version="2.4",
    scope_has_scheme=True,
    scope_has_http_version=True,
    extensions=(DENIAL_RESPONSE_EXTENSION,),
    scope_has_state=True,
    address_shape="tuple[str, int]",
    denial_response=True,
    streamed_denial=True,
    close_before_accept_status=403,
    accept_headers=True,
    close_reason=True,
    receive_has_both_keys=False,
    empty_text_delivered=True,
    empty_bytes_delivered=True,
    empty_text_sent=True,
    empty_bytes_sent=True,
    max_message_size=16 * MIB,
    max_send_size=None,
    clean_close_code=4001,
    disconnect_reason=True,
    abrupt_close_code=1006,
    disconnect_code_types=frozenset({"int", "CloseCode"}),
    second_receive_hangs=False,
    answers_close_without_receive=True,
    answers_ping_without_receive=True,
    send_after_close="oserror",
    send_after_close_error="uvicorn.protocols.utils.ClientDisconnected",
    standard_close_codes=True,
    unencodable_text_raises=True,
)
"""``--ws websockets`` (legacy): an abrupt drop's 1006 is a ``websockets.frames.CloseCode``.
The other records but daphne's are written as their differences from this one."""

_UVICORN_SANSIO: Final = replace(
    _UVICORN_WEBSOCKETS,
    abrupt_close_code=1005,
    disconnect_code_types=frozenset({"int"}),
    second_receive_hangs=True,
)
"""``--ws websockets-sansio`` and ``--ws wsproto`` (measured identical): an abrupt drop
is a plain 1005 and leaves the next ``receive()`` hanging."""

_HYPERCORN: Final = replace(
    _UVICORN_WEBSOCKETS,
    spec_version="2.3",
    receive_has_both_keys=True,
    clean_close_code=1006,
    disconnect_reason=False,
    disconnect_code_types=frozenset({"int"}),
    second_receive_hangs=True,
    send_after_close="silent",
    send_after_close_error=None,
)
"""Both worker classes (the WebSocket layer is shared)."""

_DAPHNE: Final = ServerCapabilities(
    spec_version=None,
    scope_has_scheme=False,
    scope_has_http_version=False,
    extensions=None,
    scope_has_state=False,
    address_shape="list[int | str]",
    denial_response=False,
    streamed_denial=False,
    close_before_accept_status=403,
    accept_headers=False,
    close_reason=False,
    receive_has_both_keys=False,
    empty_text_delivered=True,
    empty_bytes_delivered=True,
    empty_text_sent=False,  # daphne tests the payload for truthiness
    empty_bytes_sent=False,
    max_message_size=MIB,
    max_send_size=MIB,  # autobahn's default; more raises PayloadExceededError
    clean_close_code=4001,
    disconnect_reason=False,
    abrupt_close_code=1006,
    disconnect_code_types=frozenset({"int"}),
    second_receive_hangs=True,
    answers_close_without_receive=True,
    answers_ping_without_receive=True,
    send_after_close="silent",
    send_after_close_error=None,
    standard_close_codes=False,
    unencodable_text_raises=True,
)

_GRANIAN: Final = replace(
    _UVICORN_WEBSOCKETS,
    spec_version="2.3",
    extensions=("http.response.pathsend", DENIAL_RESPONSE_EXTENSION),
    address_shape="tuple[str, str]",
    streamed_denial=False,
    accept_headers=False,  # declares 2.3 but never sends them
    disconnect_reason=False,
    abrupt_close_code=1005,
    disconnect_code_types=frozenset({"int"}),
    answers_close_without_receive=False,  # adapters/DIALECTS.md: defers-close-reply
    answers_ping_without_receive=False,  # adapters/DIALECTS.md: busy-app
    send_after_close="silent",
    send_after_close_error=None,
    unencodable_text_raises=False,  # adapters/DIALECTS.md: unencodable-text
)

SERVERS: Final[Mapping[str, Server]] = {
    server.name: server
    for server in (
        Server("uvicorn-websockets", "uvicorn", _UVICORN_WEBSOCKETS),
        Server("uvicorn-websockets-sansio", "uvicorn", _UVICORN_SANSIO),
        Server("uvicorn-wsproto", "uvicorn", _UVICORN_SANSIO),
        Server("hypercorn-asyncio", "hypercorn", _HYPERCORN),
        Server("hypercorn-trio", "hypercorn", _HYPERCORN, waits_for_close_reply=True),
        Server(
            "daphne",
            "daphne",
            _DAPHNE,
            close_codes=(range(1000, 1001), range(3000, 5000)),  # autobahn refuses the rest
        ),
        Server("granian", "granian", _GRANIAN),
    )
}
"""Every configuration by name, in the adapters' order."""
