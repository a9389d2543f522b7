"""The matrix as data: every scenario with its one expected outcome, and the inherent differences.

A scenario row holds ONE expectation for all seven server configurations:
what the application observes (``app``) and what the client observes
(``client``), as small JSON values (``None``: nothing to observe on that side).
The check of the same name (``integration.checks``) observes both on a real
server; the cell is ✔ only when the observation equals the expectation.
Nothing here comes from the adapters' declarations.

What a server destroys or refuses before the application can act is not a
scenario: it is an inherent-difference row (``INHERENT``), the only place
with one expectation per server, each with the reason and a link to the
raw-ASGI evidence in ``adapters/DIALECTS.md``. A scenario leaves such a
field out and names the row (``see``).
"""

from __future__ import annotations

from collections.abc import Mapping, Sequence
from typing import Final, Literal, TypeAlias, TypedDict, final

from typing_extensions import NotRequired

from integration import protocol as p
from lilya_ws.servers import SERVERS

JSON: TypeAlias = "bool | int | float | str | Sequence[JSON] | Mapping[str, JSON] | None"
"""A JSON value (read-only containers, so that literals of any shape fit)."""
Transport = Literal["ws", "wss"]
"""``wss``: the check needs the app served over TLS as well."""


class Outcome(TypedDict):
    """What the application observed and what the client observed."""

    app: JSON
    client: JSON


@final  # lets `"name" in row` tell a Scenario from an Inherent row
class Scenario(TypedDict):
    name: str
    title: str
    transport: Transport
    expect: Outcome
    see: NotRequired[list[str]]
    """Inherent rows holding what this scenario leaves out."""
    runs_last: NotRequired[bool]
    """Run after every other row: it stresses the server (the report keeps its place)."""


@final
class Inherent(TypedDict):
    id: str
    """Also the anchor of its evidence: ``adapters/DIALECTS.md#<id>``."""
    title: str
    transport: Transport
    reason: str
    """What the server destroys or refuses before the application can act."""
    expect: dict[str, Outcome]
    """Each server configuration's expected observation."""


EVIDENCE: Final = "adapters/DIALECTS.md"

_DISCONNECTED: Final[JSON] = {
    "first receive_text()": "WebSocketDisconnect",
    "second receive_text()": "WebSocketDisconnect",
    "send_text()": "WebSocketDisconnect",
    "one code everywhere": True,
    "close_code type": "int",
}
_SEND_FIRST: Final[JSON] = {
    "signalled": True,
    "accept()": "returned",
    "sends": ["WebSocketDisconnect", "WebSocketDisconnect"],
    "receive_text() afterwards": "WebSocketDisconnect",
}
_PUSH_ONLY: Final[JSON] = {
    "loop ended by": "WebSocketDisconnect",
    "sends that returned after the client left": 0,
    "close_code = the exception's code": True,
}
_READER_WRITER: Final[JSON] = {
    "reader ended by": "WebSocketDisconnect",
    "writer ended by": "WebSocketDisconnect",
    "one code for both, = close_code": True,
}
_CONNECTION_DATA: Final[Mapping[str, JSON]] = {
    "path": "/connection-data/café",
    "raw_path": "/connection-data/caf%C3%A9",
    "url_path": "/connection-data/café",
    "url_query": "b=2&a=1&a=3&e=%C3%A9t%C3%A9",
    "url_port": "PORT",
    "url_hostname": "HOST",
    "query": [["b", "2"], ["a", "1"], ["a", "3"], ["e", "été"]],
    "query_getall_a": ["1", "3"],
    "query_str": "b=2&a=1&a=3&e=%C3%A9t%C3%A9",
    "header_version": "13",
    "header_host": "HOST:PORT",
    "client_host": "the client's address",
    "client_port_type": "int",
    "subprotocols": [],
    "path_params": {},
    "scope_path_via_mapping": "/connection-data/café",
}
_CLOSED_NO_LEAK: Final[JSON] = {"close frame": True, "secret leaked": False}

_TARGET_READ: Final[Mapping[str, JSON]] = {
    "url.path": "/request-target",
    "url.netloc is the Host header": True,
    "query_params": [["q", "1"]],
}
"""How the app reads ``/request-target?q=1`` (``integration.checks.target_seen``)."""


SCENARIOS: Final[tuple[Scenario, ...]] = (
    {
        "name": "echo-text",
        "title": "iter_text/send_text echo",
        "transport": "ws",
        "expect": {
            "app": {"received": ["hello", "second message"], "ended": "returned"},
            "client": ["hello", "second message"],
        },
    },
    {
        "name": "echo-bytes",
        "title": "iter_bytes/send_bytes echo (hex)",
        "transport": "ws",
        "expect": {
            "app": {"received": ["0001ff", "6279746573"], "ended": "returned"},
            "client": ["0001ff", "6279746573"],
        },
    },
    {
        "name": "echo-json-text",
        "title": 'receive_json/send_json, mode="text": compact encoding in a text frame',
        "transport": "ws",
        "expect": {
            "app": [{"message": "hi", "n": [1, 2]}],
            "client": {"frame": "text", "payload": '{"echo":{"message":"hi","n":[1,2]}}'},
        },
    },
    {
        "name": "echo-json-binary",
        "title": 'receive_json/send_json, mode="binary": compact encoding in a binary frame',
        "transport": "ws",
        "expect": {
            "app": [{"message": "hi"}],
            "client": {"frame": "binary", "payload": '{"echo":{"message":"hi"}}'},
        },
    },
    {
        "name": "non-ascii",
        "title": "non-ASCII text and JSON round trip (ensure_ascii=False)",
        "transport": "ws",
        "expect": {
            "app": None,
            "client": {
                "/echo": "héllo wörld ✓ 日本語 🎉",
                "/echo-json?mode=text": '{"echo":{"text":"héllo wörld ✓ 日本語 🎉"}}',
                "/echo-json?mode=binary": 'binary: {"echo":{"text":"héllo wörld ✓ 日本語 🎉"}}',
            },
        },
    },
    {
        "name": "empty-messages",
        "title": "empty text and binary frames from the client reach the app",
        "transport": "ws",
        "expect": {
            "app": [{"kind": "text", "length": 0}, {"kind": "bytes", "length": 0}],
            "client": None,
        },
        "see": ["empty-messages-dropped"],
    },
    {
        "name": "large-1mib",
        "title": "1 MiB text and binary messages echoed",
        "transport": "ws",
        "expect": {"app": None, "client": {"text": "echoed intact", "bytes": "echoed intact"}},
        "see": ["message-size-limits"],
    },
    {
        "name": "unencodable-text",
        "title": "a text with no UTF-8 (a lone surrogate): refused before the server, nothing sent",
        "transport": "ws",
        "expect": {
            "app": {"send_text": "InvalidMessage", "send_json": "InvalidMessage"},
            "client": {"received before end": []},
        },
    },
    {
        "name": "connection-data",
        "title": "path, query, headers, cookies, url, client as the app sees them",
        "transport": "ws",
        "expect": {
            "app": {
                **_CONNECTION_DATA,
                "url": "ws://HOST:PORT/connection-data/café?b=2&a=1&a=3&e=%C3%A9t%C3%A9",
                "url_scheme": "ws",
            },
            "client": None,
        },
        "see": ["repeated-headers-joined"],
    },
    {
        "name": "connection-data-tls",
        "title": "the same over wss:// (TLS): websocket.url agrees with its scheme",
        "transport": "wss",
        "expect": {
            "app": {
                **_CONNECTION_DATA,
                "url": "SCHEME://HOST:PORT/connection-data/café?b=2&a=1&a=3&e=%C3%A9t%C3%A9",
                "url_agrees_with_scheme": True,
            },
            "client": None,
        },
        "see": ["tls-scheme", "repeated-headers-joined"],
    },
    {
        "name": "absolute-form-target",
        "title": "GET ws://host:port/request-target?q=1 (RFC 9112's absolute form): the "
        "app's url and query",
        "transport": "ws",
        "expect": {"app": _TARGET_READ, "client": None},
        "see": ["request-target"],
    },
    {
        "name": "subprotocol",
        "title": "subprotocol negotiation; accepting an unoffered one is refused",
        "transport": "ws",
        "expect": {
            "app": {
                "offered": ["chat.v2", "chat.v1"],
                "accept(unoffered)": "InvalidMessage (ValueError)",
            },
            "client": {"negotiated": "chat.v1"},
        },
    },
    {
        "name": "accept-server-headers",
        "title": "accept() with a header the server writes itself (upgrade, date, "
        "sec-websocket-accept, ...): refused before anything is sent",
        "transport": "ws",
        "expect": {
            "app": {
                "accept(headers=[(name, ...)])": dict.fromkeys(
                    p.SERVER_HEADERS, "InvalidMessage (ValueError)"
                )
            },
            "client": {"handshake": "completed"},
        },
        "see": ["accept-headers-dropped"],
    },
    {
        "name": "concurrent-sends",
        "title": "three tasks send 50 binary messages of 64 KiB each at once: every "
        "message arrives whole, no send raises",
        "transport": "ws",
        "expect": {
            "app": {"errors raised by the sends": []},
            "client": {"whole messages": 150, "broken": 0},
        },
    },
    {
        "name": "header-values",
        "title": "a header value of an accept or a denial that is not visible ASCII, or has "
        "a space or tab at an end: refused before anything is sent",
        "transport": "ws",
        "expect": {
            "app": {
                "accept(headers=...)": dict.fromkeys(
                    p.ODD_HEADER_VALUES, "InvalidMessage (ValueError)"
                ),
                "send(a denial's start)": dict.fromkeys(
                    p.ODD_HEADER_VALUES, "InvalidMessage (ValueError)"
                ),
            },
            "client": {"handshake": "completed"},
        },
        "see": ["accept-headers-dropped", "no-denial-response"],
    },
    {
        "name": "subprotocol-list",
        "title": 'an offer with an empty item ("chat.v2,,chat.v1"): the app sees none',
        "transport": "ws",
        "expect": {
            "app": {"offered": ["chat.v2", "chat.v1"]},
            "client": {"negotiated": "chat.v1"},
        },
        "see": ["subprotocol-offer"],
    },
    {
        "name": "busy-app",
        "title": "the app works 0.3 s between a receive and its next send: the client's ping "
        "and close are answered, and the send after the client left raises",
        "transport": "ws",
        "expect": {
            "app": {"signalled": True, "send after the client left": "WebSocketDisconnect"},
            "client": {"ping answered": True, "close answered": True},
        },
        "see": ["client-close-code"],
    },
    {
        "name": "close-code-reason",
        "title": "close(4002, reason) after accept: the code",
        "transport": "ws",
        "expect": {"app": None, "client": {"code": 4002}},
        "see": ["close-reason-dropped"],
    },
    {
        "name": "close-before-accept",
        "title": "close() before accept() gives HTTP 403",
        "transport": "ws",
        "expect": {"app": {"close()": "returned"}, "client": {"http_status": 403}},
    },
    {
        "name": "client-close",
        "title": "client closes 4001: receive, receive again, send; nothing hangs",
        "transport": "ws",
        "expect": {"app": _DISCONNECTED, "client": {"closing handshake": "completed"}},
        "see": ["client-close-code", "disconnect-reason-dropped"],
    },
    {
        "name": "client-drop",
        "title": "client drops TCP (FIN) without a close frame: the same",
        "transport": "ws",
        "expect": {"app": _DISCONNECTED, "client": None},
        "see": ["reset-code"],
    },
    {
        "name": "client-close-held-open",
        "title": "client sends a close frame and keeps TCP open: the server answers and ends it",
        "transport": "ws",
        "expect": {
            "app": _DISCONNECTED,
            "client": {"server answered with a close frame": True, "server ended TCP": True},
        },
        "see": ["client-close-code", "close-reply-code"],
    },
    {
        "name": "send-after-close",
        "title": "app sends first after the client's close completed: WebSocketDisconnect",
        "transport": "ws",
        "expect": {"app": _SEND_FIRST, "client": {"closing handshake": "completed"}},
        "see": ["client-close-code"],
    },
    {
        "name": "send-after-drop",
        "title": "app sends first after the client dropped TCP: WebSocketDisconnect",
        "transport": "ws",
        "expect": {"app": _SEND_FIRST, "client": None},
        "see": ["reset-code"],
    },
    {
        "name": "client-left-before-accept",
        "title": "the client drops TCP (FIN; RST) before the app accepts: accept() returns, "
        "then the same",
        "transport": "ws",
        "expect": {"app": {"fin": _SEND_FIRST, "reset": _SEND_FIRST}, "client": None},
        "see": ["reset-code"],
    },
    {
        "name": "close-after-leave",
        "title": "the client drops TCP after the handshake, before the app accepts, or before "
        "it closes instead: close() returns",
        "transport": "ws",
        "expect": {
            "app": {
                "after accept": {"close()": "returned"},
                "before accept": {"accept()": "returned", "close()": "returned"},
                "instead of accepting": {"close()": "returned"},
            },
            "client": None,
        },
    },
    {
        "name": "push-only-after-close",
        "title": "an app that only sends (every 10 ms) ends in WebSocketDisconnect after a close",
        "transport": "ws",
        "expect": {"app": _PUSH_ONLY, "client": {"closing handshake": "completed"}},
        "see": ["client-close-code"],
    },
    {
        "name": "push-only-after-reset",
        "title": "the same after a TCP reset",
        "transport": "ws",
        "expect": {"app": _PUSH_ONLY, "client": None},
        "see": ["reset-code"],
    },
    {
        "name": "push-flat-out-after-close",
        "title": "an app that only sends, as fast as the server takes it and awaiting nothing"
        " else, ends in WebSocketDisconnect after a close",
        "transport": "ws",
        "expect": {"app": _PUSH_ONLY, "client": {"closing handshake": "completed"}},
        "see": ["client-close-code"],
    },
    {
        "name": "push-flat-out-after-reset",
        "title": "the same after a TCP reset",
        "transport": "ws",
        "expect": {"app": _PUSH_ONLY, "client": None},
        "see": ["reset-code"],
    },
    {
        "name": "reader-writer-after-close",
        "title": "one task receives, another sends as fast as it can: both end, one code",
        "transport": "ws",
        "expect": {"app": _READER_WRITER, "client": {"closing handshake": "completed"}},
        "see": ["client-close-code"],
    },
    {
        "name": "reader-writer-after-reset",
        "title": "the same after a TCP reset",
        "transport": "ws",
        "expect": {"app": _READER_WRITER, "client": None},
        "see": ["reset-code"],
    },
    {
        "name": "close-while-receiving",
        "title": "the app closes 4002 while another task's receive is pending: it raises with 4002",
        "transport": "ws",
        "expect": {
            "app": {
                "close()": "returned",
                "pending receive ended by": "WebSocketDisconnect",
                "close_code": 4002,
                "its code and reason = close_code and close_reason": True,
            },
            "client": {"code": 4002},
        },
        "see": ["close-reason-dropped"],
    },
    {
        "name": "two-receivers",
        "title": "two tasks receive at once: the second is refused, nothing is lost or hangs",
        "transport": "ws",
        "expect": {
            "app": {
                "how the two tasks ended": [
                    "WebSocketDisconnect",
                    "WebSocketStateError (RuntimeError)",
                ],
                "every message received, by one or the other": True,
            },
            "client": {"closing handshake": "completed"},
        },
        "see": ["client-close-code"],
    },
    {
        "name": "receive-timeouts",
        "title": "receive(timeout=3 ms) again and again under a stream: no message lost",
        "transport": "ws",
        "expect": {
            "app": {
                "every message, in order": True,
                "some receives timed out": True,
                "ended by": "WebSocketDisconnect",
            },
            "client": {"closing handshake": "completed"},
        },
        "see": ["client-close-code"],
    },
    {
        "name": "iter-close-code",
        "title": "iter_text/iter_bytes/iter_json end on the client's close; close_code an int",
        "transport": "ws",
        "expect": {
            "app": {
                "iter_text": {"messages": 1, "loop": "returned", "close_code type": "int"},
                "iter_bytes": {"messages": 1, "loop": "returned", "close_code type": "int"},
                "iter_json": {"messages": 1, "loop": "returned", "close_code type": "int"},
            },
            "client": None,
        },
        "see": ["client-close-code"],
    },
    {
        "name": "wrong-frame-type",
        "title": "receive_text() gets bytes and the reverse: UnexpectedMessageType, payload kept",
        "transport": "ws",
        "expect": {
            "app": {
                "receive_text() on bytes": "UnexpectedMessageType (TypeError)",
                "kept bytes": "00ff",
                "receive_bytes() on text": "UnexpectedMessageType (TypeError)",
                "kept text": "text!",
            },
            "client": {"close": [1000, ""]},
        },
    },
    {
        "name": "invalid-json",
        "title": "receive_json() on invalid JSON: InvalidJSON with the payload, then close_for()",
        "transport": "ws",
        "expect": {
            "app": {"receive_json()": "InvalidJSON (ValueError)", "kept": "{oops"},
            "client": {"close frame": True},
        },
        "see": ["close-code-range", "close-reason-dropped"],
    },
    {
        "name": "max-message-size",
        "title": "application max_message_size: MessageTooLarge, then a close",
        "transport": "ws",
        "expect": {
            "app": {"receive_bytes()": "MessageTooLarge (ValueError)"},
            "client": {"close frame": True},
        },
        "see": ["close-code-range"],
    },
    {
        "name": "close-for-before-accept",
        "title": "close_for(error) before accept: HTTP 403, nothing leaked",
        "transport": "ws",
        "expect": {
            "app": {"close_for()": "returned"},
            "client": {"http_status": 403, "secret leaked": False},
        },
    },
    {
        "name": "close-for-after-accept",
        "title": "close_for(error) after accept: a close frame, nothing leaked",
        "transport": "ws",
        "expect": {"app": {"close_for()": "returned"}, "client": _CLOSED_NO_LEAK},
        "see": ["close-code-range", "close-reason-dropped"],
    },
    {
        "name": "endpoint-return-after-accept",
        "title": "lilya_ws.endpoint: the handler returns after accept without closing: 1000",
        "transport": "ws",
        "expect": {"app": None, "client": {"close": [1000, ""]}},
    },
    {
        "name": "endpoint-raise-after-accept",
        "title": "lilya_ws.endpoint: the handler raises after accept: closed, nothing leaked",
        "transport": "ws",
        "expect": {"app": None, "client": _CLOSED_NO_LEAK},
        "see": ["close-code-range", "close-reason-dropped"],
    },
    {
        "name": "endpoint-raise-before-accept",
        "title": "lilya_ws.endpoint: the handler raises before accept: refused, nothing leaked",
        "transport": "ws",
        "expect": {"app": None, "client": {"refused over HTTP": True, "secret leaked": False}},
        "see": ["no-denial-response"],
    },
    {
        "name": "denial-framing",
        "title": "send() of a denial's start that names transfer-encoding: refused before "
        "anything is sent; the app's close is then a 403",
        "transport": "ws",
        "expect": {
            "app": {"send(start with transfer-encoding)": "InvalidMessage (ValueError)"},
            "client": {"http_status": 403},
        },
        "see": ["no-denial-response"],
    },
    {
        "name": "endpoint-return-before-accept",
        "title": "lilya_ws.endpoint: the handler returns without accepting: HTTP 403",
        "transport": "ws",
        "expect": {"app": None, "client": {"http_status": 403}},
    },
    {
        "name": "endpoint-http-and-lifespan",
        "title": "an endpoint alone: HTTP GET gets 404, lifespan answered, no app error logged",
        "transport": "ws",
        "expect": {
            "app": {"server log: lifespan, warnings, errors": []},
            "client": {"GET /": [404, "Not Found"], "GET /endpoint/...": 404},
        },
    },
    {
        "name": "endpoint-close-race",
        "runs_last": True,
        "title": "lilya_ws.endpoint returns after accept as the client closes, 200 times: "
        "no exception escapes to the server; the server keeps serving",
        "transport": "ws",
        "expect": {
            "app": {"exceptions escaping the endpoint": []},
            "client": {"connections": 200, "server still serving": True},
        },
    },
    {
        "name": "close-race",
        "runs_last": True,
        "title": "close() as the client's close frame arrives, 200 times: returns or "
        "WebSocketDisconnect only; the server keeps serving",
        "transport": "ws",
        "expect": {
            "app": {"close() outcomes": 200, "other than returned or WebSocketDisconnect": []},
            "client": {"connections": 200, "server still serving": True},
        },
    },
)
"""Every scenario, in the order of the report."""


_REASONS: Final[Outcome] = {
    "app": {"warnings": []},
    "client": {
        "close(4002, reason)": "app says bye ✓",
        "close_for(error)": "Internal error",
        "endpoint raises after accept": "Internal error",
    },
}
_HEADERS: Final[Outcome] = {
    "app": {"warnings": []},
    "client": {"x-lilya-ws": "accepted", "set-cookie": "session=abc"},
}
_NO_HEADERS: Final[Outcome] = {
    "app": {"warnings": ["ServerCapabilityWarning"]},
    "client": {"x-lilya-ws": None, "set-cookie": None},
}
_DENIALS: Final[Outcome] = {
    "app": {
        "send_denial_response(plain)": "sent",
        "send_denial_response(streamed)": "sent",
        "send_denial_response(short-length)": "lilya_ws.errors.InvalidMessage",
        "send_denial_response(plain) after the client left": "sent",
    },
    "client": {
        "plain": [401, "plain", "denied: plain ✓"],
        "streamed": [401, "streamed", "denied: streamed in three parts"],
        "short-length": [403, None, ""],
        "endpoint raises before accept": [500, "Internal Server Error"],
    },
}
_RFC_CODES: Final[Outcome] = {
    "app": None,
    "client": {
        "close_for(error): 1011": 1011,
        "invalid JSON: 1007": 1007,
        "max_message_size: 1009": 1009,
        "endpoint raises after accept: 1011": 1011,
    },
}
_EMPTY_SENT: Final[Outcome] = {
    "app": {'send_text("")': "returned", 'send_bytes(b"")': "returned"},
    "client": {"received": ["str ''", "bytes b''"]},
}
_CODE_4001: Final[Outcome] = {
    "app": {
        "receive_text()": 4001,
        "first send": 4001,
        "push-only send": 4001,
        "iter_text() close_code": 4001,
    },
    "client": None,
}
_CODE_1006: Final[Outcome] = {
    "app": {
        "receive_text()": 1006,
        "first send": 1006,
        "push-only send": 1006,
        "iter_text() close_code": 1006,
    },
    "client": None,
}
_NO_DISCONNECT_REASON: Final[Outcome] = {
    "app": {"exception reason": "", "close_reason": ""},
    "client": None,
}
_DISCONNECT_REASON: Final[Outcome] = {
    "app": {"exception reason": "client bye", "close_reason": "client bye"},
    "client": None,
}
_RESET_1005: Final[Outcome] = {
    "app": {"receive after FIN": 1005, "receive after RST": 1005, "push-only send after RST": 1005},
    "client": None,
}
_RESET_1006: Final[Outcome] = {
    "app": {"receive after FIN": 1006, "receive after RST": 1006, "push-only send after RST": 1006},
    "client": None,
}


def _header_values(utf8: str = "cafÃ©", latin1: str = "café", control: str = "a\x01b") -> Outcome:
    """``request-header-bytes``: the app's reading of each value, or the server's answer."""
    return {"app": {"UTF-8": utf8, "latin-1": latin1, "control byte": control}, "client": None}


def _offer(
    offered: list[str] | None = None, header: list[str] | None = None, alone: JSON = ()
) -> Outcome:
    """``subprotocol-offer``: the app's view of an offer in two headers and of ",";
    the subprotocol every server answers with."""
    return {
        "app": {
            "two headers: offered": offered or ["chat.v2", "chat.v1"],
            "two headers: the header": ["chat.v2", "chat.v1"] if header is None else header,
            '"," alone: offered': list(alone) if isinstance(alone, tuple) else alone,
        },
        "client": {"two headers: negotiated": "chat.v1"},
    }


def _refusals(version_8: int, http_10: int, short_key: int) -> Outcome:
    """``malformed-handshake``: the status each request is answered with."""
    return {
        "app": None,
        "client": {
            "Sec-WebSocket-Version: 8": version_8,
            "HTTP/1.0": http_10,
            "a 5-byte key": short_key,
        },
    }


def _head_limits(long_line: int | str, many: tuple[int | str, int | str, int | str]) -> Outcome:
    """``request-head-limits``: the answer to an 8 KiB header line, and to 120, 200 and 600
    header lines."""
    return {
        "app": None,
        "client": {
            "an 8 KiB header": long_line,
            "120 headers": many[0],
            "200 headers": many[1],
            "600 headers": many[2],
        },
    }


def _hosts(none: str, two: str) -> Outcome:
    """``host-header``: the authority the app's ``url`` names, or the server's answer."""
    return {"app": {"url.netloc": {"no Host": none, "two Host headers": two}}, "client": None}


_SERVER_ADDRESS: Final = "the server's address"


def _targets(double_slash: str = "//request-target//request-target", **refused: str) -> Outcome:
    """``request-target``: how the app reads each target, or the server's answer."""
    return {
        "app": {
            "two leading slashes": {**_TARGET_READ, "url.path": double_slash},
            "a fragment": refused.get("fragment", _TARGET_READ),
            "raw UTF-8": refused.get(
                "utf8",
                {**_TARGET_READ, "url.path": "/request-target/café", "query_params": [["q", "é"]]},
            ),
        },
        "client": None,
    }


def _headers_read(root_path: str = "", *, dropped: bool = False) -> Outcome:
    """``headers-servers-read``: ``root_path``, and the headers the app reads."""
    headers: dict[str, JSON] = {
        "X-Forwarded-For": "203.0.113.9",
        "X-Forwarded-Proto": "https",
        "Daphne-Root-Path": None if dropped else "/root",
        "X_Value": None if dropped else "underscored",
    }
    return {"app": {'websocket["root_path"]': root_path, "headers": headers}, "client": None}


def _early(after_request: JSON, with_request: JSON, *, serving: bool = True) -> Outcome:
    """``early-frames``: what the app receives of a text sent before the 101 (then one
    sent after it), or the server's answer; whether the server serves on."""
    return {
        "app": {"after the request": after_request, "with the request": with_request},
        "client": {"the server still serves": serving},
    }


_BOTH: Final = ["early", "after the 101"]
_LATER_ONLY: Final = ["after the 101"]


def _backpressure(*, waited: bool) -> Outcome:
    """``send-backpressure``: every byte arrives; whether a send waited for the reader."""
    return {"app": {"a send waited for the client": waited}, "client": {"MiB received": 16.0}}


def _flooded(*, taken: bool) -> Outcome:
    """``receive-backpressure``: every message arrives; whether the server took them all
    while the app was not receiving."""
    return {
        "app": {"messages": p.FLOOD_MIB * 16, "all intact": True},
        "client": {f"the server took all {p.FLOOD_MIB} MiB": taken},
    }


def _late(*, gave_up: bool) -> Outcome:
    """``handshake-timeout``: the server's answer to an app that accepts late, and its
    accept and the receive after it (the client sends a text once answered)."""
    return {
        "app": {
            "accept()": "returned",
            "then receive_text()": "WebSocketDisconnect" if gave_up else "returned",
            "its code": 1006 if gave_up else None,
        },
        "client": {"answer": "no answer" if gave_up else 101},
    }


def _unread(*, arrived: bool) -> Outcome:
    """``unread-at-close``: whether everything sent before the close arrived, and the
    server's close frame (None: TCP ended without one)."""
    return {
        "app": None,
        "client": {
            f"all {p.SLOW_READER_MIB} MiB": arrived,
            "server's close frame": p.APP_CLOSE_CODE if arrived else None,
        },
    }


def _daphne_apart(others: Outcome, daphne: Outcome) -> dict[str, Outcome]:
    """One observation on six configurations, another on daphne."""
    return {name: daphne if name == "daphne" else others for name in SERVERS}


_WSS: Final[Outcome] = {"app": {"url.scheme": "wss", 'scope["scheme"]': "wss"}, "client": None}
_HEADERS_APART: Final[Outcome] = {
    "app": {
        'headers.getall("x-multi")': ["one", "two"],
        "cookies of two Cookie headers": {"flavour": "oat", "theme": "dark", "size": "big"},
    },
    "client": None,
}
_ECHOED_CODE: Final[Outcome] = {"app": None, "client": {"server's close frame": 4001}}
_TOO_BIG_1009: Final[Outcome] = {
    "app": {"messages": [], "ended by": "WebSocketDisconnect", "code": 1009},
    "client": {"8 MiB echo": "echoed", "16 MiB + 1: close code": 1009},
}
_TOO_BIG_1009_APP_1006: Final[Outcome] = {
    "app": {"messages": [], "ended by": "WebSocketDisconnect", "code": 1006},
    "client": {"8 MiB echo": "echoed", "16 MiB + 1: close code": 1009},
}
_APP_1006: Final[JSON] = {"messages": 0, "code": 1006}
_APP_1007: Final[JSON] = {"messages": 0, "code": 1007}
_APP_1002: Final[JSON] = {"messages": 0, "code": 1002}
_BOTH_DROPPED: Final[JSON] = {"invalid UTF-8": "dropped", "unmasked": "dropped"}
_MALFORMED_DROPPED: Final[Outcome] = {
    "app": {"invalid UTF-8": _APP_1006, "unmasked": _APP_1006},
    "client": _BOTH_DROPPED,
}

INHERENT: Final[tuple[Inherent, ...]] = (
    {
        "id": "close-reason-dropped",
        "title": "the reason of the app's close reaches the client",
        "transport": "ws",
        "reason": "daphne (autobahn) sends close frames without the reason it is given; "
        "lilya_ws recognises daphne, sends none and warns (ServerCapabilityWarning)",
        "expect": _daphne_apart(
            _REASONS,
            {
                "app": {"warnings": ["ServerCapabilityWarning"]},
                "client": {
                    "close(4002, reason)": "",
                    "close_for(error)": "",
                    "endpoint raises after accept": "",
                },
            },
        ),
    },
    {
        "id": "accept-headers-dropped",
        "title": "the headers of the app's accept() reach the client",
        "transport": "ws",
        "reason": "daphne (ASGI 2.0, no headers in websocket.accept) and granian ignore them; "
        "lilya_ws recognises both, sends none and warns (ServerCapabilityWarning)",
        "expect": {
            "uvicorn-websockets": _HEADERS,
            "uvicorn-websockets-sansio": _HEADERS,
            "uvicorn-wsproto": _HEADERS,
            "hypercorn-asyncio": _HEADERS,
            "hypercorn-trio": _HEADERS,
            "daphne": _NO_HEADERS,
            "granian": _NO_HEADERS,
        },
    },
    {
        "id": "no-denial-response",
        "title": "a denial response (plain, streamed) and an endpoint's HTTP 500 reach the client",
        "transport": "ws",
        "reason": "daphne has no websocket.http.response extension: the only refusal it can "
        "send is 403; send_denial_response raises DenialResponseUnsupported (a RuntimeError)",
        "expect": _daphne_apart(
            _DENIALS,
            {
                "app": {
                    "send_denial_response(plain)": "lilya_ws.errors.DenialResponseUnsupported",
                    "send_denial_response(streamed)": "lilya_ws.errors.DenialResponseUnsupported",
                    "send_denial_response(short-length)": (
                        "lilya_ws.errors.DenialResponseUnsupported"
                    ),
                    "send_denial_response(plain) after the client left": (
                        "lilya_ws.errors.DenialResponseUnsupported"
                    ),
                },
                "client": {
                    "plain": [403, None, ""],
                    "streamed": [403, None, ""],
                    "short-length": [403, None, ""],
                    "endpoint raises before accept": [403, ""],
                },
            },
        ),
    },
    {
        "id": "close-code-range",
        "title": "RFC 6455 codes 1007, 1009, 1011 of the app's close reach the client",
        "transport": "ws",
        "reason": "daphne (autobahn) sends only 1000 and 3000-4999 and raises on other codes; "
        "lilya_ws sends the private-use twin (1011 becomes 4011)",
        "expect": _daphne_apart(
            _RFC_CODES,
            {
                "app": None,
                "client": {
                    "close_for(error): 1011": 4011,
                    "invalid JSON: 1007": 4007,
                    "max_message_size: 1009": 4009,
                    "endpoint raises after accept: 1011": 4011,
                },
            },
        ),
    },
    {
        "id": "empty-messages-dropped",
        "title": "the app's empty text and binary messages reach the client",
        "transport": "ws",
        "reason": "daphne drops empty payloads (it tests them for truthiness); lilya_ws "
        "refuses to send them there (InvalidMessage) instead of losing them silently",
        "expect": _daphne_apart(
            _EMPTY_SENT,
            {
                "app": {
                    'send_text("")': "InvalidMessage (ValueError)",
                    'send_bytes(b"")': "InvalidMessage (ValueError)",
                },
                "client": {"received": []},
            },
        ),
    },
    {
        "id": "client-close-code",
        "title": "the code of the client's close (4001) as the app sees it",
        "transport": "ws",
        "reason": "hypercorn puts 1006 in websocket.disconnect for a clean close: the "
        "client's code never reaches the app",
        "expect": {
            "uvicorn-websockets": _CODE_4001,
            "uvicorn-websockets-sansio": _CODE_4001,
            "uvicorn-wsproto": _CODE_4001,
            "hypercorn-asyncio": _CODE_1006,
            "hypercorn-trio": _CODE_1006,
            "daphne": _CODE_4001,
            "granian": _CODE_4001,
        },
    },
    {
        "id": "disconnect-reason-dropped",
        "title": 'the reason of the client\'s close ("client bye") as the app sees it',
        "transport": "ws",
        "reason": "hypercorn, daphne and granian put no reason in websocket.disconnect",
        "expect": {
            "uvicorn-websockets": _DISCONNECT_REASON,
            "uvicorn-websockets-sansio": _DISCONNECT_REASON,
            "uvicorn-wsproto": _DISCONNECT_REASON,
            "hypercorn-asyncio": _NO_DISCONNECT_REASON,
            "hypercorn-trio": _NO_DISCONNECT_REASON,
            "daphne": _NO_DISCONNECT_REASON,
            "granian": _NO_DISCONNECT_REASON,
        },
    },
    {
        "id": "reset-code",
        "title": "the code the app sees when the client drops TCP (FIN or RST, no close frame)",
        "transport": "ws",
        "reason": "with no close frame there is no code; servers report 1006 or 1005 and "
        "the app cannot tell a 1005 drop from a clean close without a code",
        "expect": {
            "uvicorn-websockets": _RESET_1006,
            "uvicorn-websockets-sansio": _RESET_1005,
            "uvicorn-wsproto": _RESET_1005,
            "hypercorn-asyncio": _RESET_1006,
            "hypercorn-trio": _RESET_1006,
            "daphne": _RESET_1006,
            "granian": _RESET_1005,
        },
    },
    {
        "id": "tls-scheme",
        "title": "over wss://, websocket.url's scheme and the scope's",
        "transport": "wss",
        "reason": "daphne's scope has no scheme (nor anything else that tells TLS apart)",
        "expect": _daphne_apart(
            _WSS,
            {"app": {"url.scheme": "ws", 'scope["scheme"]': None}, "client": None},
        ),
    },
    {
        "id": "repeated-headers-joined",
        "title": "a header the client repeats (X-Multi: one, X-Multi: two; two Cookie "
        "headers) as the app sees it",
        "transport": "ws",
        "reason": "daphne joins repeated headers with a comma before the app sees them: "
        "the second Cookie header's cookies arrive inside the first's last value",
        "expect": _daphne_apart(
            _HEADERS_APART,
            {
                "app": {
                    'headers.getall("x-multi")': ["one,two"],
                    "cookies of two Cookie headers": {"flavour": "oat", "theme": "dark,size=big"},
                },
                "client": None,
            },
        ),
    },
    {
        "id": "request-header-bytes",
        "title": "request header values that are not ASCII (UTF-8, latin-1) or hold a "
        "control byte, as the app reads them",
        "transport": "ws",
        "reason": "the server refuses the handshake before the app runs: uvicorn's "
        "websockets implementation answers 500 to any byte over 0x7F and 400 to a control "
        "byte, granian 400 to a control byte, and uvicorn's sans-I/O one never answers "
        "a control byte; the others pass the bytes on (lilya_ws reads them as latin-1)",
        "expect": {
            "uvicorn-websockets": _header_values("HTTP 500", "HTTP 500", "HTTP 400"),
            "uvicorn-websockets-sansio": _header_values(control="no answer"),
            "uvicorn-wsproto": _header_values(),
            "hypercorn-asyncio": _header_values(),
            "hypercorn-trio": _header_values(),
            "daphne": _header_values(),
            "granian": _header_values(control="HTTP 400"),
        },
    },
    {
        "id": "subprotocol-offer",
        "title": "an offer in two Sec-WebSocket-Protocol headers (chat.v2, chat.v1), and one "
        'of empty items only (","), as the app sees it',
        "transport": "ws",
        "reason": "the server parses the offer before the app runs: hypercorn keeps only the "
        "last header's list (and refuses an accept of anything else), daphne joins the "
        "headers into one, uvicorn's wsproto implementation leaves them out of the scope, and "
        "uvicorn's sans-I/O implementation and daphne answer 400 to an offer of nothing",
        "expect": {
            "uvicorn-websockets": _offer(),
            "uvicorn-websockets-sansio": _offer(alone="HTTP 400"),
            "uvicorn-wsproto": _offer(header=[]),
            "hypercorn-asyncio": _offer(["chat.v1"]),
            "hypercorn-trio": _offer(["chat.v1"]),
            "daphne": _offer(header=["chat.v2,chat.v1"], alone="HTTP 400"),
            "granian": _offer(),
        },
    },
    {
        "id": "malformed-handshake",
        "title": "handshake requests RFC 6455 has a server refuse: the server's answer",
        "transport": "ws",
        "reason": "the server answers the request before the app runs: daphne accepts "
        "version 8, hypercorn refuses HTTP/1.0, and a key that is not 16 bytes is refused by "
        "three configurations and accepted by four; only uvicorn's wsproto implementation "
        "answers a wrong version with 426 as the RFC asks",
        "expect": {
            "uvicorn-websockets": _refusals(400, 101, 400),
            "uvicorn-websockets-sansio": _refusals(400, 101, 400),
            "uvicorn-wsproto": _refusals(426, 101, 101),
            "hypercorn-asyncio": _refusals(400, 400, 101),
            "hypercorn-trio": _refusals(400, 400, 101),
            "daphne": _refusals(101, 101, 400),
            "granian": _refusals(400, 101, 101),
        },
    },
    {
        "id": "request-head-limits",
        "title": "a header line over 8 KiB (a large cookie), and 120, 200, 600 header "
        "lines: the server's answer",
        "transport": "ws",
        "reason": "the server parses the request head before the app runs, each with its "
        "own limits: uvicorn's websockets implementations refuse a line over 8 KiB and more "
        "than 128 headers (the sans-I/O one by never answering), granian more than 100, "
        "daphne more than 500; uvicorn's wsproto implementation and hypercorn take them all",
        "expect": {
            "uvicorn-websockets": _head_limits(400, (101, 400, 400)),
            "uvicorn-websockets-sansio": _head_limits("no answer", (101, "no answer", "no answer")),
            "uvicorn-wsproto": _head_limits(101, (101, 101, 101)),
            "hypercorn-asyncio": _head_limits(101, (101, 101, 101)),
            "hypercorn-trio": _head_limits(101, (101, 101, 101)),
            "daphne": _head_limits(101, (101, 101, 400)),
            "granian": _head_limits(101, (431, 431, 431)),
        },
    },
    {
        "id": "host-header",
        "title": "a request with no Host header, and with two: the authority websocket.url "
        "names, or the server's answer",
        "transport": "ws",
        "reason": "RFC 9112 has a server answer 400 to both; granian passes both requests "
        "on and daphne the second, joining the two values. Where the app runs, url names "
        "the server's address: a Host that is missing, given twice or joined names nothing",
        "expect": {
            **dict.fromkeys(
                ("uvicorn-websockets", "uvicorn-websockets-sansio", "uvicorn-wsproto"),
                _hosts("HTTP 400", "HTTP 400"),
            ),
            **dict.fromkeys(
                ("hypercorn-asyncio", "hypercorn-trio"), _hosts("HTTP 400", "HTTP 400")
            ),
            "daphne": _hosts("HTTP 400", _SERVER_ADDRESS),
            "granian": _hosts(_SERVER_ADDRESS, _SERVER_ADDRESS),
        },
    },
    {
        "id": "request-target",
        "title": "request targets a server reads its own way: two leading slashes, "
        "a fragment, raw UTF-8 bytes; how the app reads each",
        "transport": "ws",
        "reason": "the server parses the request line before the app runs: daphne reads "
        "//request-target//... as an authority and a path and passes only the path on, and "
        "refuses a fragment; six configurations refuse bytes over 0x7F, granian decodes "
        "them. Where the app runs, it reads the same (lilya_ws drops the fragment, which "
        "uvicorn and hypercorn leave in the query, and reads raw UTF-8 as URL does)",
        "expect": {
            "uvicorn-websockets": _targets(utf8="HTTP 400"),
            "uvicorn-websockets-sansio": _targets(utf8="HTTP 400"),
            "uvicorn-wsproto": _targets(utf8="HTTP 400"),
            "hypercorn-asyncio": _targets(utf8="HTTP 400"),
            "hypercorn-trio": _targets(utf8="HTTP 400"),
            "daphne": _targets("//request-target", fragment="HTTP 400", utf8="HTTP 400"),
            "granian": _targets(),
        },
    },
    {
        "id": "headers-servers-read",
        "title": "request headers a server acts on (X-Forwarded-For, X-Forwarded-Proto, "
        "Daphne-Root-Path, X_Value): root_path and the headers as the app reads them",
        "transport": "ws",
        "reason": "daphne sets root_path from a client's Daphne-Root-Path header and drops "
        "header names with _ (CVE-2015-0219) before the app runs; the scope keeps "
        "neither header. (uvicorn takes the client's address and the scheme from "
        "X-Forwarded-* of a client on 127.0.0.1: tests/test_adapters.py)",
        "expect": _daphne_apart(_headers_read(), _headers_read("/root", dropped=True)),
    },
    {
        "id": "early-frames",
        "title": "a text the client sends before the server's 101, just after the request "
        "or in its packet: what the app receives; does the server serve on?",
        "transport": "ws",
        "reason": "RFC 6455 section 4.1 has a client wait for the 101; the server handles "
        "the bytes that do not before the app runs: granian keeps them, uvicorn and daphne "
        "drop them when they share the request's packet (uvicorn's wsproto implementation "
        "always), hypercorn answers 400, and its trio worker then exits: the server stops "
        "serving every client (hypercorn issue 225)",
        "expect": {
            "uvicorn-websockets": _early(_BOTH, _LATER_ONLY),
            "uvicorn-websockets-sansio": _early(_BOTH, _LATER_ONLY),
            "uvicorn-wsproto": _early(_LATER_ONLY, _LATER_ONLY),
            "hypercorn-asyncio": _early("HTTP 400", "HTTP 400"),
            "hypercorn-trio": _early("HTTP 400", "HTTP 400", serving=False),
            "daphne": _early(_BOTH, _LATER_ONLY),
            "granian": _early(_BOTH, _BOTH),
        },
    },
    {
        "id": "send-backpressure",
        "title": "16 MiB to a client that reads nothing for 2 s: does a send wait for it?",
        "transport": "ws",
        "reason": "daphne takes every send at once and holds what the client has not read "
        "in its memory, however much; the others make the app's send wait while the "
        "client is not reading. Nothing in ASGI tells the app how much the server holds",
        "expect": _daphne_apart(_backpressure(waited=True), _backpressure(waited=False)),
    },
    {
        "id": "receive-backpressure",
        "title": "64 MiB from a client while the app receives nothing (5 s at most): does "
        "the server take all of it?",
        "transport": "ws",
        "reason": "daphne reads whatever the client sends and holds it in its memory, "
        "however much, until the app receives; the others stop reading the socket once a "
        "few messages wait, and TCP makes the client wait. The app receives all of it "
        "either way",
        "expect": _daphne_apart(_flooded(taken=False), _flooded(taken=True)),
    },
    {
        "id": "unread-at-close",
        "title": "16 MiB, then close(4002), to a client that reads nothing for 2 s: what "
        "reaches it",
        "transport": "ws",
        "reason": "daphne (autobahn) drops the connection with a reset 1 s after it queued "
        "the app's close frame unless the client has answered it; what the client had not "
        "read is lost, and so is the close frame. The app's sends and its close had all "
        "returned: nothing in ASGI tells it what the server still holds",
        "expect": _daphne_apart(_unread(arrived=True), _unread(arrived=False)),
    },
    {
        "id": "handshake-timeout",
        "title": "an app that works 11 s before accepting (an authentication, say): the "
        "server's answer, and the app's accept and receive",
        "transport": "ws",
        "reason": "the server gives up on a request the app has not answered: uvicorn's "
        "websockets implementation after 10 s, daphne after 5 s; the client gets no answer "
        "and the app's accept finds the client gone. The other five wait for the app",
        "expect": {
            name: _late(gave_up=name in ("uvicorn-websockets", "daphne")) for name in SERVERS
        },
    },
    {
        "id": "work-after-leave",
        "title": "an app that works 14 s after its client left (saving state, say): does "
        "the work finish?",
        "transport": "ws",
        "reason": "daphne cancels the app 10 s after the client left "
        "(application_close_timeout), wherever it is; the other six let it finish",
        "expect": _daphne_apart(
            {"app": {"work after the client left": "finished"}, "client": None},
            {"app": {"work after the client left": "cancelled"}, "client": None},
        ),
    },
    {
        "id": "lifespan-state",
        "title": "what lifespan startup stored in the state, as websocket.state shows it",
        "transport": "ws",
        "reason": "daphne sends no lifespan events and no state: nothing an app stores at "
        "startup reaches its connections",
        "expect": _daphne_apart(
            {"app": {"websocket.state.lifespan": "startup ran"}, "client": None},
            {"app": {"websocket.state.lifespan": None}, "client": None},
        ),
    },
    {
        "id": "close-reply-code",
        "title": "the code of the server's answer to the client's close frame (4001)",
        "transport": "ws",
        "reason": "the server answers the closing handshake itself, before the app acts: "
        "daphne (autobahn) answers 1000 where the others echo the client's code",
        "expect": _daphne_apart(
            _ECHOED_CODE,
            {"app": None, "client": {"server's close frame": 1000}},
        ),
    },
    {
        "id": "message-size-limits",
        "title": "an 8 MiB echo, and a 16 MiB + 1 byte inbound message",
        "transport": "ws",
        "reason": "each server enforces its own inbound limit before the app sees the message: "
        "16 MiB, over which uvicorn and hypercorn close 1009 and granian closes with no code; "
        "daphne 1 MiB, over which it drops TCP without a close frame; uvicorn's websockets "
        "implementation tells the app (1006) only after its 10 s close timeout, so the "
        "app's receive() is still pending when the check stops waiting (4 s)",
        "expect": {
            "uvicorn-websockets": {
                "app": {"messages": [], "ended by": "hung", "code": None},
                "client": {"8 MiB echo": "echoed", "16 MiB + 1: close code": 1009},
            },
            "uvicorn-websockets-sansio": _TOO_BIG_1009,
            "uvicorn-wsproto": _TOO_BIG_1009,
            "hypercorn-asyncio": _TOO_BIG_1009_APP_1006,
            "hypercorn-trio": _TOO_BIG_1009_APP_1006,
            "daphne": {
                "app": {"messages": [], "ended by": "WebSocketDisconnect", "code": 1006},
                "client": {"8 MiB echo": "dropped, no close frame", "16 MiB + 1: close code": None},
            },
            "granian": {
                "app": {"messages": [], "ended by": "WebSocketDisconnect", "code": 1005},
                "client": {"8 MiB echo": "echoed", "16 MiB + 1: close code": 1005},
            },
        },
    },
    {
        "id": "malformed-frames",
        "title": "a text frame with invalid UTF-8; an unmasked client frame (RFC 6455: 1007, 1002)",
        "transport": "ws",
        "reason": "the server's protocol layer rejects the frame before the app sees anything; "
        "what the client gets (a close frame with 1007/1002, one without a code, or a dropped "
        "connection) and the code the app gets are the server's",
        "expect": {
            "uvicorn-websockets": {
                "app": {"invalid UTF-8": _APP_1006, "unmasked": _APP_1006},
                "client": {"invalid UTF-8": 1007, "unmasked": 1002},
            },
            "uvicorn-websockets-sansio": {
                "app": {"invalid UTF-8": _APP_1007, "unmasked": _APP_1002},
                "client": {"invalid UTF-8": 1007, "unmasked": 1002},
            },
            "uvicorn-wsproto": {
                "app": {"invalid UTF-8": _APP_1007, "unmasked": _APP_1002},
                "client": _BOTH_DROPPED,
            },
            "hypercorn-asyncio": _MALFORMED_DROPPED,
            "hypercorn-trio": _MALFORMED_DROPPED,
            "daphne": _MALFORMED_DROPPED,
            "granian": {
                "app": {
                    "invalid UTF-8": {"messages": 0, "code": 1005},
                    "unmasked": {"messages": 0, "code": 1005},
                },
                "client": {"invalid UTF-8": 1005, "unmasked": 1005},
            },
        },
    },
)
"""Every inherent difference, in the order of the report."""
