"""The WebSocket's two state machines, written as tables (h11's ``_state.py`` is the model).

One table per side of the connection::

    application (what the app sends)           client (what the server delivers)
    CONNECTING --accept--------> CONNECTED      CONNECTING --connect----> CONNECTED
    CONNECTING --close---------> DISCONNECTED   CONNECTING --disconnect-> DISCONNECTED
    CONNECTING --response.start> RESPONSE       CONNECTED  --receive----> CONNECTED
    CONNECTED  --send----------> CONNECTED      CONNECTED  --disconnect-> DISCONNECTED
    CONNECTED  --close---------> DISCONNECTED
    RESPONSE   --body (more)---> RESPONSE
    RESPONSE   --body (last)---> DISCONNECTED

A lookup that finds nothing is a refusal; ``refused_send`` and ``refused_receive``
say why and what to do instead.
"""

from __future__ import annotations

import enum
from collections.abc import Mapping
from typing import Final

__all__ = [
    "APP_NEXT",
    "APP_TRANSITIONS",
    "BODY_END",
    "CLIENT_NEXT",
    "CLIENT_TRANSITIONS",
    "CONNECTED",
    "CONNECTING",
    "DISCONNECTED",
    "RESPONSE",
    "WebSocketState",
    "refused_receive",
    "refused_send",
]


class WebSocketState(enum.Enum):
    """Where one side of the connection stands."""

    CONNECTING = 0
    CONNECTED = 1
    DISCONNECTED = 2
    RESPONSE = 3

    # Members are singletons: identity is their equality, so it may be their hash too.
    # Enum's own hashes the name in Python, and every table lookup hashes a state.
    __hash__ = object.__hash__


CONNECTING: Final = WebSocketState.CONNECTING
CONNECTED: Final = WebSocketState.CONNECTED
DISCONNECTED: Final = WebSocketState.DISCONNECTED
RESPONSE: Final = WebSocketState.RESPONSE

BODY_END: Final = "websocket.http.response.body(last)"
"""The last body part of a denial response, told apart from ``more_body`` parts."""

APP_TRANSITIONS: Final[Mapping[tuple[WebSocketState, str], WebSocketState]] = {
    (CONNECTING, "websocket.accept"): CONNECTED,
    (CONNECTING, "websocket.close"): DISCONNECTED,
    (CONNECTING, "websocket.http.response.start"): RESPONSE,
    (CONNECTED, "websocket.send"): CONNECTED,
    (CONNECTED, "websocket.close"): DISCONNECTED,
    (RESPONSE, "websocket.http.response.body"): RESPONSE,
    (RESPONSE, BODY_END): DISCONNECTED,
}
"""What the application may send in each of its states, and where it leads."""

CLIENT_TRANSITIONS: Final[Mapping[tuple[WebSocketState, str], WebSocketState]] = {
    (CONNECTING, "websocket.connect"): CONNECTED,
    (CONNECTING, "websocket.disconnect"): DISCONNECTED,
    (CONNECTED, "websocket.receive"): CONNECTED,
    (CONNECTED, "websocket.disconnect"): DISCONNECTED,
}
"""What the server may deliver in each client state, and where it leads."""


def _by_state(
    table: Mapping[tuple[WebSocketState, str], WebSocketState],
) -> Mapping[WebSocketState, Mapping[str, WebSocketState]]:
    """A table keyed state first: looking up an event then makes no tuple."""
    return {
        state: {event: after for (before, event), after in table.items() if before is state}
        for state in WebSocketState
    }


APP_NEXT: Final = _by_state(APP_TRANSITIONS)
"""``APP_TRANSITIONS`` as ``APP_NEXT[state][event]``, for the hot paths."""
CLIENT_NEXT: Final = _by_state(CLIENT_TRANSITIONS)
"""``CLIENT_TRANSITIONS`` as ``CLIENT_NEXT[state][event]``, for the hot paths."""


_SENDABLE: Final[Mapping[WebSocketState, list[str]]] = {
    state: list(
        dict.fromkeys(
            "websocket.http.response.body" if event == BODY_END else event
            for from_state, event in APP_TRANSITIONS
            if from_state is state
        )
    )
    for state in WebSocketState
}
"""The message types the application may send in each state, from the table."""

_SEND_HINTS: Final[Mapping[WebSocketState, str]] = {
    CONNECTING: "the handshake is not done: call accept() (or close()) first",
    CONNECTED: "the connection is already accepted",
    RESPONSE: "a denial response is being sent: only its body parts may follow",
    DISCONNECTED: "the application has already closed the connection",
}

_RECEIVE_HINTS: Final[Mapping[WebSocketState, str]] = {
    CONNECTING: "the connection is not accepted yet: call accept() first",
    CONNECTED: "the server's connect message is still pending",
    RESPONSE: "the connection was denied with an HTTP response",
    DISCONNECTED: "the application has closed the connection",
}


def refused_send(state: WebSocketState, mtype: str) -> str:
    """Why the application cannot send ``mtype`` in ``state``, and what it may send."""
    allowed = [f'"{name}"' for name in _SENDABLE[state]]
    expected = (
        " or ".join((", ".join(allowed[:-1]), allowed[-1])) if allowed[1:] else "".join(allowed)
    )
    prefix = f"Expected ASGI message {expected}, but got {mtype!r}. " if allowed else ""
    return f'{prefix}Cannot send "{mtype}": {_SEND_HINTS[state]} (state {state.name})'


def refused_receive(state: WebSocketState) -> str:
    """Why the application cannot receive data in ``state``."""
    return f"Cannot receive data: {_RECEIVE_HINTS[state]} (state {state.name})"
