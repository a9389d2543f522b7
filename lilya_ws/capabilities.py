"""What the server behind a scope can do, read once from the scope.

Every server difference the application could trip over is decided here (and
applied in ``websockets.py``), never in scattered per-server branches.

ASGI spec versions (https://asgi.readthedocs.io/en/latest/specs/www.html):
``headers`` in ``websocket.accept`` need 2.1, ``reason`` in
``websocket.close`` needs 2.3, and a missing ``spec_version`` means 2.0.

Some servers lose things their declared version says they carry. Those are
``ServerQuirks``, recognised by the shape of the scope and derived from the
measured facts of ``lilya_ws.servers`` (``quirks_of``).
"""

from __future__ import annotations

import sys
from collections.abc import Mapping
from dataclasses import dataclass, field, replace
from typing import Any, Final

from lilya_ws.servers import DENIAL_RESPONSE_EXTENSION, SERVERS

__all__ = [
    "ACCEPT_HEADERS_SPEC",
    "CLOSE_REASON_SPEC",
    "DAPHNE",
    "DENIAL_RESPONSE_EXTENSION",
    "GRANIAN",
    "HYPERCORN",
    "NO_QUIRKS",
    "Capabilities",
    "ServerQuirks",
    "identify_quirks",
    "is_peer_gone",
    "parse_spec_version",
    "quirks_of",
]

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
class ServerQuirks:
    """Ways one server loses what the application sends, whatever it declares."""

    server: str
    drops_accept_headers: bool = False
    drops_close_reason: bool = False
    drops_empty_messages: bool = False
    """An empty ``text``/``bytes`` never reaches the client."""
    streams_denial_body: bool = True
    """Several ``more_body`` parts of a denial response reach the client."""
    max_send_size: int | None = None
    """Largest message (bytes) the server will send; bigger ones fail in the server."""
    close_codes: tuple[range, ...] | None = None
    """The only close codes the server will send, when it restricts them."""
    waits_for_close_reply: bool = False
    """The application must not return before the peer has answered its close: the
    server closes the socket without its send lock, and the race kills its trio
    worker (``adapters/DIALECTS.md``, close race). ``close()`` waits for the answer."""
    defers_close_reply: bool = False
    """The server answers a client's close frame only once the application sends its
    own close or returns: until then the client waits."""
    reads_only_while_receiving: bool = False
    """The server reads the client's frames only while the application awaits a
    receive: a ping or a close frame waits unanswered while it works on something
    else."""
    silent_after_departure: bool = False
    """A send after the peer left returns as if delivered: only a pending receive can
    tell (``readahead.py``). The ASGI spec asks servers to raise instead."""
    empties_unencodable_text: bool = False
    """A text with no UTF-8 (a lone surrogate) reaches the client as an empty text,
    where the other servers' ``send`` raises ``UnicodeEncodeError``."""
    watches_idle: bool = field(init=False)
    """lilya_ws keeps a receive of the server's pending while the application is not
    receiving (``Channel._idle_check``): where the server reads the client's frames
    only while one is pending, and where a send after the peer left is silent (only a
    pending receive can tell)."""
    sends_as_given: bool = field(init=False)
    """Every payload reaches the client as sent: a send needs no check at all."""
    longest_unchecked: int = field(init=False)
    """Otherwise, the longest payload (``str`` characters or bytes) that passes both
    limits above whatever the content, so a send of one that is not empty needs no
    check: a character is at most 4 bytes in UTF-8."""

    def __post_init__(self) -> None:
        limit = self.max_send_size
        # frozen: derived once, here
        watches = self.reads_only_while_receiving or self.silent_after_departure
        object.__setattr__(self, "watches_idle", watches)
        object.__setattr__(self, "sends_as_given", not self.drops_empty_messages and limit is None)
        object.__setattr__(self, "longest_unchecked", sys.maxsize if limit is None else limit // 4)

    def can_close_with(self, code: int) -> bool:
        """Whether the server will send ``code`` in its close frame."""
        return self.close_codes is None or any(code in codes for codes in self.close_codes)


NO_QUIRKS: Final = ServerQuirks("")


def quirks_of(family: str) -> ServerQuirks:
    """The quirks of one server family, derived from its configurations' measured facts
    (``lilya_ws.servers``): what any configuration of the family loses, the family loses,
    since the scope cannot tell them apart. ``NO_QUIRKS`` when it loses nothing."""
    members = [server for server in SERVERS.values() if server.family == family]
    facts = [server.capabilities for server in members]
    limits = [fact.max_send_size for fact in facts if fact.max_send_size is not None]
    quirks = ServerQuirks(
        family,
        drops_accept_headers=not all(fact.accept_headers for fact in facts),
        drops_close_reason=not all(fact.close_reason for fact in facts),
        drops_empty_messages=not all(f.empty_text_sent and f.empty_bytes_sent for f in facts),
        streams_denial_body=all(fact.streamed_denial for fact in facts),
        max_send_size=min(limits, default=None),
        close_codes=next((s.close_codes for s in members if s.close_codes is not None), None),
        waits_for_close_reply=any(server.waits_for_close_reply for server in members),
        defers_close_reply=not all(fact.answers_close_without_receive for fact in facts),
        reads_only_while_receiving=not all(
            fact.answers_ping_without_receive and fact.answers_close_without_receive
            for fact in facts
        ),
        silent_after_departure=any(fact.send_after_close == "silent" for fact in facts),
        empties_unencodable_text=not all(fact.unencodable_text_raises for fact in facts),
    )
    return NO_QUIRKS if replace(quirks, server="") == NO_QUIRKS else quirks


DAPHNE: Final = quirks_of("daphne")
GRANIAN: Final = quirks_of("granian")
HYPERCORN: Final = quirks_of("hypercorn")


PEER_GONE_ERRORS: Final[Mapping[str, str]] = {
    "uvicorn.protocols.utils.ClientDisconnected": "uvicorn (all three): a send after the peer left",
    "lilya_ws.testing._client.ClientGone": (
        "lilya_ws.testing: its uvicorn presets' ClientDisconnected"
    ),
    "trio.BusyResourceError": "hypercorn (trio): a send while hypercorn closes the socket",
    "autobahn.exception.Disconnected": "daphne: a send while the closing handshake runs",
    "builtins.OSError": "Starlette's and Lilya's convention for a departed client (their tests)",
}
"""What a server's ``send`` raises when the peer is gone, by exact ``module.qualname``.

Only these become ``WebSocketDisconnect``; any other error, subclasses included
(a bug in a middleware's ``send``), propagates unchanged. Otherwise hypercorn,
daphne and granian accept a send silently once the client has left
(``adapters/DIALECTS.md`` §7, send-while-closing).
"""


def is_peer_gone(error: BaseException) -> bool:
    """Whether ``error``, raised by the server's ``send``, means the peer has left."""
    cls = type(error)
    return (
        f"{cls.__module__}.{cls.__qualname__}" in PEER_GONE_ERRORS
        or _closes_unopened(error)
        or (cls is RuntimeError and error.args == (_GRANIAN_DENIAL_GONE,))
    )


_GRANIAN_DENIAL_GONE: Final = "ASGI flow error: Connection already upgraded"
"""What granian's ``send`` of a denial's body raises once the client has left (its
``RuntimeError`` for any misuse, with this text; ``adapters/DIALECTS.md``,
accept-after-leave). lilya_ws never sends a body out of order."""


def _closes_unopened(error: BaseException) -> bool:
    """uvicorn's websockets implementation closes a connection whose handshake the client
    left with the ``close()`` of websockets' legacy protocol, which needs a task only an
    opened connection has (``adapters/DIALECTS.md``, accept-after-leave)."""
    return (
        type(error) is AttributeError
        and error.name == "transfer_data_task"
        and type(error.obj).__module__.startswith("uvicorn.")
    )


def identify_quirks(scope: Mapping[str, Any]) -> ServerQuirks:
    """Recognise a server with known quirks from the shape of its scope.

    daphne 4 is the only server measured whose WebSocket scope has neither
    ``extensions`` nor ``scheme`` nor a ``spec_version``; granian 2 is the only
    one that advertises its HTTP-only ``http.response.pathsend`` extension on
    WebSocket scopes; hypercorn 0.18 the only one with extensions that declares
    ASGI spec 2.3 without it.
    """
    extensions = scope.get("extensions")
    if extensions is None:
        asgi = scope.get("asgi") or {}
        if "scheme" not in scope and "spec_version" not in asgi:
            return DAPHNE
        return NO_QUIRKS
    if "http.response.pathsend" in extensions:
        return GRANIAN
    if (scope.get("asgi") or {}).get("spec_version") == "2.3":
        return HYPERCORN
    return NO_QUIRKS


@dataclass(frozen=True, slots=True)
class Capabilities:
    """What reaches the client through one connection's server.

    A server that declares an older spec than a feature needs does not get it.
    One that declares nothing (ASGI: 2.0) still gets it unless its quirks say
    otherwise: servers ignore keys they do not know, and test clients that
    omit the version carry everything.
    """

    spec_version: tuple[int, int]
    spec_declared: bool
    extensions: frozenset[str]
    quirks: ServerQuirks

    @classmethod
    def from_scope(cls, scope: Mapping[str, Any]) -> Capabilities:
        asgi = scope.get("asgi") or {}
        raw_version = asgi.get("spec_version")
        return cls(
            spec_version=parse_spec_version(raw_version),
            spec_declared=raw_version is not None,
            extensions=frozenset(scope.get("extensions") or ()),
            quirks=identify_quirks(scope),
        )

    def _declares(self, needed: tuple[int, int]) -> bool:
        return not self.spec_declared or self.spec_version >= needed

    @property
    def denial_response(self) -> bool:
        """The server can send an HTTP response instead of the handshake."""
        return DENIAL_RESPONSE_EXTENSION in self.extensions

    @property
    def streamed_denial(self) -> bool:
        """A denial body sent in several parts reaches the client as sent."""
        return self.denial_response and self.quirks.streams_denial_body

    @property
    def accept_headers(self) -> bool:
        """``headers`` given in ``websocket.accept`` reach the client."""
        return self._declares(ACCEPT_HEADERS_SPEC) and not self.quirks.drops_accept_headers

    @property
    def close_reason(self) -> bool:
        """The ``reason`` given in ``websocket.close`` reaches the client."""
        return self._declares(CLOSE_REASON_SPEC) and not self.quirks.drops_close_reason
