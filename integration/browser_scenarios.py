"""The browser's rows as data: what a page can express, one expectation for every server.

Same shapes as ``integration.scenarios``: a scenario has ONE expected outcome
(``app``: what the application observed; ``client``: what the page, and CDP's
Network domain for a handshake's status, observed); an inherent row holds each
server's value where the server decides before the application can act, with
its evidence in ``adapters/DIALECTS.md`` under the row's id. The checks of the
same names are in ``integration.browser_checks``.
"""

from __future__ import annotations

from typing import Final

from integration.scenarios import JSON, Inherent, Outcome, Scenario

__all__ = ["BROWSER_INHERENT", "BROWSER_SCENARIOS"]

_CLOSED_1000: Final[JSON] = [1000, "", True]
_REFUSED_403: Final[JSON] = {
    "events": ["error", "close"],
    "handshake": "HTTP 403",
    "close": [1006, "", False],
}
_JSON_ECHO: Final = '{"echo":{"message":"hi","n":[1,2]}}'

BROWSER_SCENARIOS: Final[tuple[Scenario, ...]] = (
    {
        "name": "echo-text",
        "title": "the page sends text (non-ASCII too); iter_text/send_text echo it",
        "transport": "ws",
        "expect": {
            "app": {"received": ["hello", "wörld ✓"], "ended": "returned"},
            "client": {"received": ["hello", "wörld ✓"], "close": _CLOSED_1000},
        },
    },
    {
        "name": "echo-bytes",
        "title": "the page sends ArrayBuffers, iter_bytes/send_bytes echo them (hex)",
        "transport": "ws",
        "expect": {
            "app": {"received": ["0001ff", "6279746573"], "ended": "returned"},
            "client": {
                "received": ["binary: 0001ff", "binary: 6279746573"],
                "close": _CLOSED_1000,
            },
        },
    },
    {
        "name": "echo-json",
        "title": 'receive_json/send_json with mode="text" and mode="binary", from the page',
        "transport": "ws",
        "expect": {
            "app": {
                "mode=text": [{"message": "hi", "n": [1, 2]}],
                "mode=binary": [{"message": "hi", "n": [1, 2]}],
            },
            "client": {"mode=text": [_JSON_ECHO], "mode=binary": ["binary: " + _JSON_ECHO]},
        },
    },
    {
        "name": "subprotocol",
        "title": "the page offers chat.v2, chat.v1; the app accepts chat.v1 (not an unoffered one)",
        "transport": "ws",
        "expect": {
            "app": {
                "offered": ["chat.v2", "chat.v1"],
                "accept(unoffered)": "InvalidMessage (ValueError)",
            },
            "client": {"protocol": "chat.v1", "close": _CLOSED_1000},
        },
    },
    {
        "name": "no-subprotocol-chosen",
        "title": "the page offers a subprotocol, the app accepts none: Chromium fails the "
        "handshake (why accept() warns NoSubprotocolWarning)",
        "transport": "ws",
        "expect": {
            "app": None,
            "client": {
                "events": ["error", "close"],
                "handshake": "Sent non-empty 'Sec-WebSocket-Protocol' header but no response "
                "was received",
                "close": [1006, "", False],
            },
        },
    },
    {
        "name": "close-code-reason",
        "title": "the app closes 4002 with a reason: the page's close event's code",
        "transport": "ws",
        "expect": {"app": None, "client": {"events": ["open", "close"], "code": 4002}},
        "see": ["close-reason-dropped", "app-close-was-clean"],
    },
    {
        "name": "close-before-accept",
        "title": "close() before accept(): the page sees an error, CDP sees HTTP 403",
        "transport": "ws",
        "expect": {"app": {"close()": "returned"}, "client": _REFUSED_403},
    },
    {
        "name": "origin-refused",
        "title": "enforce_origin: the page's Origin (http://127.0.0.1:<port>) allowed; "
        "refused with HTTP 403 when another is",
        "transport": "ws",
        "expect": {
            "app": {
                "page's origin allowed": "returned",
                "another allowed": "OriginNotAllowed (OSError)",
            },
            "client": {
                "page's origin allowed": {
                    "events": ["open", "message", "close"],
                    "handshake": "HTTP 101",
                    "the app saw the page's Origin": True,
                },
                "another allowed": {"events": ["error", "close"], "handshake": "HTTP 403"},
            },
        },
    },
)
"""Every browser scenario, in the order of the report."""

_REASON_KEPT: Final[Outcome] = {"app": {"warnings": []}, "client": {"reason": "app says bye ✓"}}
_DENIED_401: Final[Outcome] = {
    "app": {"send_denial_response()": "sent"},
    "client": {
        "events": ["error", "close"],
        # Chromium's words for a 401 without credentials: the status is not in them.
        "handshake": "HTTP Authentication failed; no valid credentials available",
    },
}
_SOME_CLEAN: Final[Outcome] = {"app": None, "client": {"wasClean in any of 50 closes": True}}

BROWSER_INHERENT: Final[tuple[Inherent, ...]] = (
    {
        "id": "close-reason-dropped",
        "title": 'the reason of the app\'s close (4002, "app says bye ✓") as the page sees it',
        "transport": "ws",
        "reason": "daphne sends its close frame without the reason (lilya_ws warns "
        "ServerCapabilityWarning)",
        "expect": {
            "uvicorn-websockets": _REASON_KEPT,
            "uvicorn-websockets-sansio": _REASON_KEPT,
            "uvicorn-wsproto": _REASON_KEPT,
            "hypercorn-asyncio": _REASON_KEPT,
            "hypercorn-trio": _REASON_KEPT,
            "daphne": {"app": {"warnings": ["ServerCapabilityWarning"]}, "client": {"reason": ""}},
            "granian": _REASON_KEPT,
        },
    },
    {
        "id": "app-close-was-clean",
        "title": "whether the page's close event ever says wasClean after the app's close (4002)",
        "transport": "ws",
        "reason": "daphne resets TCP after its close frame, before the app can act, so "
        "Chromium never calls the close clean (granian ends TCP with its close frame, so "
        "the client's answer races it: how many of its closes are clean varies from run "
        "to run, and this row asks only whether any is)",
        "expect": {
            "uvicorn-websockets": _SOME_CLEAN,
            "uvicorn-websockets-sansio": _SOME_CLEAN,
            "uvicorn-wsproto": _SOME_CLEAN,
            "hypercorn-asyncio": _SOME_CLEAN,
            "hypercorn-trio": _SOME_CLEAN,
            "daphne": {"app": None, "client": {"wasClean in any of 50 closes": False}},
            "granian": _SOME_CLEAN,
        },
    },
    {
        "id": "no-denial-response",
        "title": "send_denial_response(401) as the page and CDP see it",
        "transport": "ws",
        "reason": "daphne has no websocket.http.response extension: lilya_ws raises "
        "DenialResponseUnsupported and the app's close() refuses with 403",
        "expect": {
            "uvicorn-websockets": _DENIED_401,
            "uvicorn-websockets-sansio": _DENIED_401,
            "uvicorn-wsproto": _DENIED_401,
            "hypercorn-asyncio": _DENIED_401,
            "hypercorn-trio": _DENIED_401,
            "daphne": {
                "app": {"send_denial_response()": "lilya_ws.errors.DenialResponseUnsupported"},
                "client": {"events": ["error", "close"], "handshake": "HTTP 403"},
            },
            "granian": _DENIED_401,
        },
    },
)
"""Every browser inherent difference, in the order of the report."""
