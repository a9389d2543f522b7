"""What the application may send, checked before anything reaches the server.

Close codes follow RFC 6455 §7.4, close reasons §5.5, and accept headers the
ASGI spec (lowercase byte names, no ``sec-websocket-protocol``). Every
violation is an ``InvalidMessage`` (a ``ValueError``): nothing was sent.
"""

from __future__ import annotations

from collections.abc import Iterable, Mapping
from typing import Final

from lilya_ws.errors import (
    InvalidJSON,
    InvalidMessage,
    MessageTooLarge,
    ReceiveTimeout,
    UnexpectedMessageType,
)
from lilya_ws.responses import encode_headers

__all__ = [
    "ABNORMAL_CLOSURE",
    "INTERNAL_ERROR",
    "MAX_CLOSE_REASON_BYTES",
    "NORMAL_CLOSURE",
    "NO_STATUS_RECEIVED",
    "checked_accept_headers",
    "checked_payload",
    "close_for_error",
    "validate_close",
]

NORMAL_CLOSURE: Final = 1000
NO_STATUS_RECEIVED: Final = 1005
ABNORMAL_CLOSURE: Final = 1006
INTERNAL_ERROR: Final = 1011
MAX_CLOSE_REASON_BYTES: Final = 123  # RFC 6455 §5.5: control frame payload ≤ 125 bytes

_CLOSE_REASONS: Final[Mapping[type[BaseException], tuple[int, str]]] = {
    InvalidJSON: (1007, "Invalid JSON"),
    UnexpectedMessageType: (1003, "Unsupported data"),
    MessageTooLarge: (1009, "Message too big"),
    ReceiveTimeout: (1001, "Idle timeout"),
}


def close_for_error(error: BaseException) -> tuple[int, str]:
    """The close code that fits ``error`` and a fixed reason that leaks nothing of it."""
    return _CLOSE_REASONS.get(type(error), (INTERNAL_ERROR, "Internal error"))


def validate_close(code: int, reason: str | None) -> None:
    """Check a close code and reason against RFC 6455 §7.4 and §5.5.

    Raises ``InvalidMessage`` for a code outside 1000-4999, a reserved code
    (1004-1006, 1015, and the unassigned 1016-2999) or a reason over 123 bytes.
    """
    if isinstance(code, bool) or not isinstance(code, int):
        raise InvalidMessage(f"Close code must be an int, not {type(code).__name__}")
    if not (1000 <= code <= 1003 or 1007 <= code <= 1014 or 3000 <= code <= 4999):
        raise InvalidMessage(
            f"Close code {code} cannot be sent: use 1000-1003, 1007-1014 or 3000-4999 "
            "(RFC 6455 §7.4)"
        )
    if reason is not None:
        if not isinstance(reason, str):
            raise InvalidMessage(f"Close reason must be a str, not {type(reason).__name__}")
        size = len(reason.encode("utf-8"))
        if size > MAX_CLOSE_REASON_BYTES:
            raise InvalidMessage(
                f"Close reason is {size} bytes in UTF-8; at most "
                f"{MAX_CLOSE_REASON_BYTES} fit in a close frame (RFC 6455 §5.5)"
            )


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


def checked_accept_headers(headers: Iterable[object]) -> list[tuple[bytes, bytes]]:
    """Accept headers as ASGI wants them: lowercase ASCII names, no CR/LF anywhere.

    ``sec-websocket-protocol`` is refused: the subprotocol argument sets it.
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
        checked.append((name, value))
    return checked
