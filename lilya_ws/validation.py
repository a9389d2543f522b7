"""What the application may send, checked before anything reaches the server.

Accept headers follow the ASGI spec (lowercase byte names, no
``sec-websocket-protocol``), close codes and reasons ``close_codes.py``, and
each message what its server can carry. Every violation is an
``InvalidMessage`` (a ``ValueError``): nothing was sent.
"""

from __future__ import annotations

import warnings
from collections.abc import Awaitable, Callable, Iterable, Mapping
from typing import TYPE_CHECKING, Any, Final

from lilya_ws.capabilities import (
    ACCEPT_HEADERS_SPEC,
    CLOSE_REASON_SPEC,
    Capabilities,
    ServerQuirks,
)
from lilya_ws.close_codes import NORMAL_CLOSURE, validate_close
from lilya_ws.errors import InvalidMessage, ServerCapabilityWarning
from lilya_ws.responses import encode_headers

if TYPE_CHECKING:
    from lilya_ws.connection import Connection

__all__ = [
    "check_send_size",
    "checked_accept",
    "checked_accept_headers",
    "checked_close",
    "checked_denial_start",
    "checked_payload",
    "text_checked",
    "unencodable_text",
]

_NORMAL_CLOSE: Final[Mapping[str, Any]] = {"type": "websocket.close", "code": NORMAL_CLOSURE}
"""The plain close every server sends as it is (never mutated: servers only read it)."""


def checked_payload(message: Mapping[str, object]) -> str | bytes:
    """The payload of a ``websocket.send``: exactly one of ``text`` (str) and ``bytes``."""
    text, data = message.get("text"), message.get("bytes")
    if (text is None) == (data is None):
        raise InvalidMessage('"websocket.send" needs exactly one of "text" and "bytes"')
    if text is not None:
        if not isinstance(text, str):
            raise InvalidMessage(f'"text" must be a str, not {type(text).__name__}')
        return text
    if not isinstance(data, bytes):
        raise InvalidMessage(f'"bytes" must be bytes, not {type(data).__name__}')
    return data


SERVER_WRITTEN_HEADERS: Final = frozenset(
    {
        b"connection",
        b"content-length",
        b"date",
        b"sec-websocket-accept",
        b"sec-websocket-extensions",
        b"sec-websocket-version",
        b"transfer-encoding",
        b"upgrade",
    }
)
"""Headers of a 101 that the server writes itself. A second one from the app failed the
handshake under uvicorn and hypercorn (the client refuses two ``Sec-WebSocket-Accept``,
an ``Upgrade`` that is not only ``websocket``, extensions it did not negotiate; uvicorn's
websockets implementation answers 500 to a second ``Date``) and vanished under daphne
and granian (``adapters/DIALECTS.md``, accept-headers-dropped)."""


def checked_accept_headers(headers: Iterable[object]) -> list[tuple[bytes, bytes]]:
    """Accept headers as ASGI wants them: lowercase ASCII names, no CR/LF anywhere.

    ``sec-websocket-protocol`` is refused (the subprotocol argument sets it), and so is
    any of ``SERVER_WRITTEN_HEADERS``.
    """
    checked: list[tuple[bytes, bytes]] = []
    for pair in headers:
        if not (isinstance(pair, tuple) and len(pair) == 2):
            raise InvalidMessage(f"Accept headers must be (bytes, bytes) pairs, got {pair!r}")
        name, value = pair
        if not isinstance(name, bytes) or not isinstance(value, bytes):
            raise InvalidMessage(f"Accept header names and values must be bytes, got {pair!r}")
        if name == b"sec-websocket-protocol":
            raise InvalidMessage("Set the subprotocol with accept(subprotocol=...), not a header")
        try:
            encode_headers([(name.decode("ascii"), value.decode("latin-1"))])
        except UnicodeDecodeError:
            raise InvalidMessage(f"Accept header name {name!r} is not ASCII") from None
        if name != name.lower():
            raise InvalidMessage(f"Accept header name {name!r} must be lowercase")
        if name in SERVER_WRITTEN_HEADERS:
            raise InvalidMessage(f"Accept header {name!r} is written by the server itself")
        checked.append((name, value))
    return checked


FRAMING_HEADERS: Final = frozenset({b"connection", b"transfer-encoding", b"upgrade"})
"""Headers of a denial response that decide how it is framed and what becomes of the
connection: the server's to write. Sent by the app, uvicorn passed ``transfer-encoding``
on beside its own ``content-length``, hypercorn and uvicorn's wsproto implementation
chunked the body, and granian sent no response at all (``adapters/DIALECTS.md`` §5)."""
BODILESS_STATUSES: Final = frozenset({204, 304})


def checked_denial_start(message: Mapping[str, object]) -> tuple[int, int | None]:
    """The status of a denial's ``http.response.start`` and the body length its
    ``content-length`` declares (``0`` for a status that has no body, ``None`` when not
    declared); ``InvalidMessage`` for headers that are not ASGI's byte pairs, hold CR,
    LF or NUL, or are among ``FRAMING_HEADERS``, and for a ``content-length`` that is
    not a length."""
    status = message.get("status")
    if not isinstance(status, int) or not 200 <= status <= 599:
        raise InvalidMessage(f"A denial response's status must be 200-599, not {status!r}")
    declared: int | None = 0 if status in BODILESS_STATUSES else None
    headers = message.get("headers") or ()
    if not isinstance(headers, Iterable):
        raise InvalidMessage(f"Response headers must be (bytes, bytes) pairs, not {headers!r}")
    for pair in headers:
        if not (isinstance(pair, tuple | list) and len(pair) == 2):
            raise InvalidMessage(f"Response headers must be (bytes, bytes) pairs, got {pair!r}")
        name, value = pair
        if not isinstance(name, bytes) or not isinstance(value, bytes):
            raise InvalidMessage(f"Response header names and values must be bytes, got {pair!r}")
        lowered = name.lower()
        if lowered in FRAMING_HEADERS:
            raise InvalidMessage(f"Response header {name!r} is written by the server itself")
        encode_headers([(name.decode("latin-1"), value.decode("latin-1"))])
        if lowered == b"content-length":
            if not value.isdigit():
                raise InvalidMessage(f"content-length must be a number of bytes, not {value!r}")
            if declared is None:
                declared = int(value)
    return status, declared


def checked_accept(
    subprotocol: str | None, headers: Iterable[object] | None, connection: Connection
) -> Mapping[str, Any]:
    """The accept message for the connection's server, or ``InvalidMessage`` for what
    the client could not take (a subprotocol it did not offer, malformed headers)."""
    offered = connection.subprotocols
    if subprotocol is not None and subprotocol not in offered:
        offers = ", ".join(offered) or "none"
        raise InvalidMessage(
            f"Subprotocol {subprotocol!r} was not offered by the client (offered: {offers})"
        )
    if not headers:
        return {"type": "websocket.accept", "subprotocol": subprotocol, "headers": []}
    checked = checked_accept_headers(headers)
    capabilities = connection.capabilities
    if capabilities.accept_headers:
        return {"type": "websocket.accept", "subprotocol": subprotocol, "headers": checked}
    _warn_dropped("accept headers", ACCEPT_HEADERS_SPEC, capabilities)
    return {"type": "websocket.accept", "subprotocol": subprotocol}


def checked_close(
    code: int, reason: str | None, connection: Connection, accepted: bool
) -> Mapping[str, Any]:
    """The close message for the connection's server, or ``InvalidMessage`` for a code
    or reason that cannot be sent (a reason the server would lose is left out, with a
    warning)."""
    if code == NORMAL_CLOSURE and not reason and code.__class__ is int:
        return _NORMAL_CLOSE  # nothing to check
    validate_close(code, reason)
    capabilities = connection.capabilities
    quirks = capabilities.quirks
    if accepted and not quirks.can_close_with(code):
        raise InvalidMessage(
            f"{quirks.server} cannot send close code {code}: use 1000 or 3000-4999"
        )
    if not reason or capabilities.close_reason:
        return {"type": "websocket.close", "code": code, "reason": reason or ""}
    _warn_dropped("a close reason", CLOSE_REASON_SPEC, capabilities)
    return {"type": "websocket.close", "code": code}


def _warn_dropped(what: str, needed: tuple[int, int], capabilities: Capabilities) -> None:
    """Say that ``what`` was not sent because it could not reach the client."""
    if capabilities.spec_declared and capabilities.spec_version < needed:
        major, minor = capabilities.spec_version
        why = f"the server declares ASGI spec {major}.{minor}, it needs {needed[0]}.{needed[1]}"
    else:
        why = f"{capabilities.quirks.server} drops it"
    # The caller's caller: the application's accept() or close().
    warnings.warn(f"Not sending {what}: {why}", ServerCapabilityWarning, stacklevel=4)


def unencodable_text(error: UnicodeEncodeError) -> InvalidMessage:
    """The error for a text with no UTF-8 (a lone surrogate): no server can send it."""
    return InvalidMessage(
        f"The text cannot be sent: no UTF-8 for {error.object[error.start : error.end]!r}"
        f" at {error.start} ({error.reason})"
    )


def text_checked(send: Callable[[Any], Awaitable[object]]) -> Callable[[Any], Awaitable[object]]:
    """``send``, refusing a text with no UTF-8 before the server gets it: granian sends
    one as an empty text (``adapters/DIALECTS.md``, unencodable-text), where the other
    servers raise ``UnicodeEncodeError`` (which ``Channel._send_failed`` turns into the
    same ``InvalidMessage``). A plain function returning the server's awaitable: no
    coroutine of its own per message."""

    def send_checked(message: Mapping[str, Any]) -> Awaitable[object]:
        text = message.get("text")
        if text is not None and not text.isascii():  # isascii: O(1) on a str
            try:
                text.encode("utf-8")
            except UnicodeEncodeError as exc:
                raise unencodable_text(exc) from exc
        return send(message)

    return send_checked


def check_send_size(payload: str | bytes, quirks: ServerQuirks) -> None:
    """Refuse what the server would drop (empty) or fail on (too big), before sending."""
    if not payload and quirks.drops_empty_messages:
        raise InvalidMessage(
            f"{quirks.server} drops empty messages: this one would never reach the client"
        )
    limit = quirks.max_send_size
    if limit is None:
        return  # a text with no UTF-8 is the server's to refuse (Channel._send_failed)
    try:
        size = len(payload.encode("utf-8")) if isinstance(payload, str) else len(payload)
    except UnicodeEncodeError as error:
        raise unencodable_text(error) from error
    if size > limit:
        raise InvalidMessage(
            f"A {size}-byte message is over {quirks.server}'s limit of {limit} bytes"
        )
