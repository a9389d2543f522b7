"""Every error lilya_ws raises, each a subclass of the builtin you would catch.

    LilyaWSError
    ├── WebSocketDisconnect            the peer is gone (close code and reason kept)
    │   └── ConnectionClosed           ... and the app used the connection again (also a
    │                                  WebSocketStateError, so a RuntimeError)
    ├── WebSocketStateError            RuntimeError: not allowed in the current state
    │   └── DenialResponseUnsupported  the server lacks ``websocket.http.response``
    ├── InvalidMessage                 ValueError: the app asked to send something invalid
    │   └── InvalidMode                ... a JSON mode other than "text"/"binary" (also a
    │                                  WebSocketStateError, as Starlette and Lilya raise)
    ├── UnexpectedMessageType          TypeError: text arrived where bytes were expected,
    │                                  or the reverse (the payload is kept)
    ├── InvalidJSON                    ValueError: the payload is not JSON (payload kept)
    ├── MessageTooLarge                ValueError: over the application's size limit
    ├── ReceiveTimeout                 TimeoutError: nothing arrived in time
    └── OriginNotAllowed               PermissionError: cross-site handshake refused

And two warnings:

    UserWarning
    ├── ServerCapabilityWarning        the server cannot carry something the app asked
    │                                  for (an accept header, a close reason)
    └── NoSubprotocolWarning           the client offered subprotocols and ``accept()``
                                       chose none: browsers fail that handshake
"""

from __future__ import annotations

__all__ = [
    "ConnectionClosed",
    "DenialResponseUnsupported",
    "InvalidJSON",
    "InvalidMessage",
    "InvalidMode",
    "LilyaWSError",
    "MessageTooLarge",
    "NoSubprotocolWarning",
    "OriginNotAllowed",
    "ReceiveTimeout",
    "ServerCapabilityWarning",
    "UnexpectedMessageType",
    "WebSocketDisconnect",
    "WebSocketStateError",
]


class LilyaWSError(Exception):
    """Base class of every lilya_ws error."""


class WebSocketDisconnect(LilyaWSError):
    """The connection is closed; ``code`` and ``reason`` say how.

    An ordinary exception class on purpose: test clients subclass it together
    with their own bases. ``code`` is always a plain ``int`` (1006 when the
    connection dropped without a close frame), ``reason`` a ``str``.
    """

    # Class defaults for test clients that subclass it without calling __init__.
    code: int = 1000
    reason: str = ""

    def __init__(self, code: int = 1000, reason: str | None = None) -> None:
        self.code = int(code)
        self.reason = reason or ""
        super().__init__(self.code, self.reason)

    def __str__(self) -> str:
        if self.reason:
            return f"WebSocket closed with code {self.code}: {self.reason}"
        return f"WebSocket closed with code {self.code}"


class WebSocketStateError(LilyaWSError, RuntimeError):
    """The operation is not allowed in the connection's current state."""


class DenialResponseUnsupported(WebSocketStateError):
    """The server does not advertise the ``websocket.http.response`` extension."""


class InvalidMessage(LilyaWSError, ValueError):
    """The application asked to send something the protocol forbids.

    Raised before anything reaches the server: nothing was sent.
    """


class InvalidMode(InvalidMessage, WebSocketStateError):
    """A JSON ``mode`` other than ``"text"`` or ``"binary"``.

    Also a ``RuntimeError``, which is what Starlette and Lilya raise for it.
    """


class ConnectionClosed(WebSocketDisconnect, WebSocketStateError):
    """The connection is over and the application tried to use it again.

    A ``WebSocketDisconnect`` (loops that end on it still end) and a
    ``RuntimeError``, which is what Starlette and Lilya raise on a second
    receive after a disconnect. lilya_ws raises it at once: it never waits on
    a server that will not answer.
    """


class UnexpectedMessageType(LilyaWSError, TypeError):
    """A frame of the other type arrived (bytes for ``receive_text`` or the reverse).

    The frame is consumed; its payload is kept on ``payload`` so nothing is lost.
    """

    def __init__(self, expected: str, payload: str | bytes) -> None:
        self.expected = expected
        self.payload = payload
        received = "text" if isinstance(payload, str) else "bytes"
        super().__init__(f"Expected a {expected} message, received a {received} message")


class InvalidJSON(LilyaWSError, ValueError):
    """The message is not valid JSON; the raw ``payload`` is kept.

    ``WebSocket.close_for(error)`` closes with 1007, as RFC 6455 section 7.4.1 asks.
    """

    def __init__(self, payload: str | bytes, detail: str) -> None:
        self.payload = payload
        super().__init__(f"Invalid JSON message: {detail}")


class MessageTooLarge(LilyaWSError, ValueError):
    """A received message exceeds the application's ``max_message_size``.

    The connection has been closed with 1009.
    """

    def __init__(self, size: int, limit: int) -> None:
        self.size = size
        self.limit = limit
        super().__init__(f"Message of {size} bytes exceeds the limit of {limit} bytes")


class ReceiveTimeout(LilyaWSError, TimeoutError):
    """No message arrived within the timeout; the connection is still open."""


class OriginNotAllowed(LilyaWSError, PermissionError):
    """The handshake's Origin is not on the allow-list; the handshake was denied."""


class ServerCapabilityWarning(UserWarning):
    """The server's ASGI spec version cannot carry what the application sent."""


class NoSubprotocolWarning(UserWarning):
    """The client offered subprotocols and ``accept()`` chose none.

    RFC 6455 §4.1 lets a client fail such a handshake, and browsers do
    ("Sent non-empty 'Sec-WebSocket-Protocol' header but no response was
    received"). Choose one of ``websocket.subprotocols``, or silence it where the
    clients cope (``warnings.filterwarnings("ignore", category=NoSubprotocolWarning)``).
    """
