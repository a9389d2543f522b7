"""Close codes: which may be sent (RFC 6455 §7.4), how long a reason may be
(§5.5), and the code that fits an error the application closes for.
"""

from __future__ import annotations

from collections.abc import Mapping
from typing import Final

from lilya_ws.errors import (
    InvalidJSON,
    InvalidMessage,
    MessageTooLarge,
    ReceiveTimeout,
    UnexpectedMessageType,
)

__all__ = [
    "ABNORMAL_CLOSURE",
    "INTERNAL_ERROR",
    "MAX_CLOSE_REASON_BYTES",
    "NORMAL_CLOSURE",
    "NO_STATUS_RECEIVED",
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
    (1004-1006, 1015, and the unassigned 1016-2999), or a reason over 123 bytes in
    UTF-8 or with no UTF-8 at all (a lone surrogate).
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
        try:
            size = len(reason.encode("utf-8"))
        except UnicodeEncodeError as exc:  # a lone surrogate: no UTF-8 for it
            raise InvalidMessage(f"Close reason is not valid Unicode text: {exc.reason}") from exc
        if size > MAX_CLOSE_REASON_BYTES:
            raise InvalidMessage(
                f"Close reason is {size} bytes in UTF-8; at most "
                f"{MAX_CLOSE_REASON_BYTES} fit in a close frame (RFC 6455 §5.5)"
            )
