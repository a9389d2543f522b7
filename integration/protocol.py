"""What the scenario apps and the client checks agree on: routes, constants, report shapes.

The apps (``integration.apps``) and the checks (``integration.checks``) run in
different processes; this module is the contract between them. Reports are
JSON objects; their shapes are the ``TypedDict``s below.
"""

from __future__ import annotations

from typing import Final, Literal, TypedDict

# Routes served by ``integration.apps:app`` (the first path segment selects the app).
REPORT_ROUTE: Final = "/report/"
"""``/report/<token>``: waits (bounded) for the result an app stored under ``token``."""
SIGNAL_ROUTE: Final = "/signal/"
"""``/signal/<token>``: tells the app waiting on ``token`` that the client has left."""
TALLY_ROUTE: Final = "/tally/"
"""``/tally/<token>``: every outcome apps appended under ``token`` (the close race)."""
ENDPOINT_ROUTE: Final = "/endpoint/"
"""``/endpoint/<ending>``: every scope type goes to ``integration.endpoint_apps:app``."""
SCENARIO_APP: Final = "integration.apps:app"
"""The app every server configuration serves for the matrix."""
ENDPOINT_APP: Final = "integration.endpoint_apps:app"
"""An app that is nothing but a ``lilya_ws.endpoint`` (lifespan and HTTP included)."""

TOKEN_CHARS: Final = frozenset("0123456789abcdef")
TOKEN_MAX_LENGTH: Final = 64

# Bounds, in seconds. Every wait in the apps and the checks has one.
HANG_LIMIT: Final = 2.0
"""A single app-side call that takes longer than this counts as hanging."""
CLIENT_WAIT: Final = 10.0
"""How long an app waits for the client to act (send, close, signal)."""
REPORT_WAIT: Final = 10.0
"""How long ``/report/<token>`` waits for the result to be stored."""
APP_DEADLINE: Final = 30.0
"""No scenario app lives longer than this."""
PUSH_INTERVAL: Final = 0.01
RECEIVE_TIMEOUT: Final = 0.003
"""``/timed-receives``: each receive's timeout, shorter than most gaps between messages."""
"""A push-only app sends every 10 ms."""
PUSH_LIMIT: Final = 100
"""A push-only app gives up after this many successful sends once told the client left."""
FLAT_OUT_LIMIT: Final = 200_000
"""A push-only app that sends flat out gives up after this many sends in all: one that
never lets the loop run learns of nothing, not even the signal."""

# Values both sides compare.
CLIENT_CLOSE_CODE: Final = 4001
"""The code the client closes with (the adapters' probe measures with the same one)."""
CLIENT_CLOSE_REASON: Final = "client bye"
APP_CLOSE_CODE: Final = 4002
APP_CLOSE_REASON: Final = "app says bye ✓"
ACCEPT_HEADERS: Final = ((b"x-lilya-ws", b"accepted"), (b"set-cookie", b"session=abc"))
SERVER_HEADERS: Final = (
    "connection",
    "content-length",
    "date",
    "sec-websocket-accept",
    "sec-websocket-extensions",
    "sec-websocket-version",
    "transfer-encoding",
    "upgrade",
)
"""Headers of a 101 the server writes itself, that ``accept(headers=...)`` must refuse."""
ODD_HEADER_VALUES: Final = {
    "UTF-8": "café".encode(),
    "latin-1": "café".encode("latin-1"),
    "spaces at both ends": b"  padded  ",
    "a trailing tab": b"v\t",
    "DEL": b"a\x7fb",
}
"""Header values of an accept or a denial that servers sent differently: re-encoded,
stripped, refused in the app with their own error, or as given."""
SUBPROTOCOLS_OFFERED: Final = ("chat.v2", "chat.v1")
SUBPROTOCOL_CHOSEN: Final = "chat.v1"
SUBPROTOCOL_NOT_OFFERED: Final = "chat.v3"
DENIAL_STATUS: Final = 401
DENIAL_BODY: Final = "denied: plain ✓"
DENIAL_PARTS: Final = ("denied: ", "streamed ", "in three parts")
SECRET: Final = "secret-internal-detail-7f3a"
"""Text of the exceptions the apps raise; it must never reach the client."""
APP_MAX_MESSAGE_SIZE: Final = 1024
NON_ASCII_TEXT: Final = "héllo wörld ✓ 日本語 🎉"
END: Final = "end"
SLOW_READER_MIB: Final = 16
"""``send-backpressure``: what the app sends to a client that reads nothing at first."""
BUSY_WORK: Final = 0.3
"""``/busy``: how long the app works between a receive and its next send, longer than
twice ``lilya_ws.channel.IDLE_AFTER`` (from then on lilya_ws keeps a receive pending)."""
LATE_ACCEPT: Final = 11.0
"""``/late-accept``: how long the app works (an authentication, say) before it accepts:
longer than uvicorn's websockets implementation waits for an answer to the request."""
WORK_AFTER_LEAVE: Final = 14.0
"""``/work-after-leave``: how long the app works once the client has left: longer than
daphne lets it (``application_close_timeout``, 10 s, checked once a second), with room for
a loaded machine."""
SLOW_READER_PAUSE: Final = 2.0
"""Seconds that client reads nothing after the handshake."""
FLOOD_MIB: Final = 64
"""``receive-backpressure``: what the client sends, in 64 KiB binary messages, while the
app does not receive; for at most ``FLOOD_WINDOW`` seconds before it tells the app."""
FLOOD_WINDOW: Final = 5.0
"""Seconds the ``receive-backpressure`` client sends for: the six servers that stop
reading block it within a few MiB, daphne took the 64 MiB in under 2 s here (the margin
is for a loaded machine: the containers' matrix runs seven servers at once)."""
UNENCODABLE_TEXT: Final = "half \ud800"
"""A text with no UTF-8: a lone surrogate."""

IterKind = Literal["text", "bytes", "json"]


class _CallResult(TypedDict):
    result: Literal["ok", "raised", "hung"]


class CallOutcome(_CallResult, total=False):
    """What one app-side call (``send_text``, ``receive_text``, ...) did."""

    error: str
    """Qualified class name of the exception raised."""
    text: str
    """``str()`` of the exception, cut to 200 characters."""
    lilya_classes: list[str]
    """Every ``lilya_ws.errors`` class it is an instance of (its MRO), qualified."""
    builtin_bases: list[str]
    """The builtin exception classes it is an instance of (``RuntimeError``...)."""
    code: int
    code_type: str
    reason: str
    cause: str | None
    """Qualified class of ``__cause__`` (the server's own error), if any."""


class PushReport(TypedDict):
    """``/push-only``: how the send loop ended, and what happened after the signal."""

    signalled: bool
    sends_after_signal: int
    """Sends that returned after the app learned (``/signal``) that the client had left."""
    ended: CallOutcome
    """The send that ended the loop (``{"result": "ok"}``: none did)."""
    close_code: int | None


class ReaderWriterReport(TypedDict):
    """``/reader-writer``: how the reader task and the writer task each ended."""

    reader: CallOutcome
    writer: CallOutcome
    close_code: int | None


class TwoReceiversReport(TypedDict):
    """``/two-receivers``: how each of two receiving tasks ended, and what each got."""

    ended: list[CallOutcome]
    received: list[int]


class TimedReceivesReport(TypedDict):
    """``/timed-receives``: the texts received through short-timeout receives, in order."""

    texts: list[str]
    timeouts: int
    ended: CallOutcome


class ObserveReport(TypedDict):
    """``/observe``: every message the app received, and how receiving ended."""

    messages: list[MessageSeen]
    ended: CallOutcome
    close_code: int | None
    close_reason: str | None


class BeforeAcceptReport(TypedDict):
    """``/close-before-accept``: what ``close()`` during the handshake did in the app."""

    close: CallOutcome


class DenialReport(TypedDict):
    """``/deny``: whether the response was sent, or the error raised instead."""

    sent: bool
    error: str | None
    is_runtime_error: bool


CONCURRENT_SENDERS: Final = 3
CONCURRENT_SENDS: Final = 50
"""``/concurrent-sends``: each of the senders sends this many 64 KiB binary messages."""


class ConcurrentSendsReport(TypedDict):
    """``/concurrent-sends``: what the senders' sends raised (none, on every server)."""

    errors: list[str]


class DenialFramingReport(TypedDict):
    """``/denial-framing``: a denial's start with ``transfer-encoding``, sent with ``send()``."""

    send: CallOutcome


class CloseReport(TypedDict):
    """``/close-with-reason``: the warnings lilya_ws emitted while closing."""

    warnings: list[str]


class CloseFields(TypedDict):
    """What a WebSocket says about how it ended (``appkit.close_fields``)."""

    close_code: int | None
    close_code_type: str
    close_reason: str | None


class CloseWhileReceivingReport(CloseFields):
    """``/close-while-receiving``: the app's close from one task, while another's
    receive was pending."""

    close: CallOutcome
    reader: CallOutcome


class ClientCloseReport(CloseFields):
    """``/client-leave``: what the app saw after the client left."""

    first: CallOutcome
    second: CallOutcome
    send: CallOutcome


class SendAfterLeaveReport(TypedDict):
    """``/send-after-leave``: two sends after the client left, then a receive; the
    accept, when the client left before it (``?accept=late``)."""

    signalled: bool
    accept: CallOutcome
    sends: list[CallOutcome]
    receive: CallOutcome


class CloseAfterLeaveReport(TypedDict):
    """``/close-after-leave``: a close once the client left; the accept, when the client
    left before it."""

    signalled: bool
    accept: CallOutcome
    close: CallOutcome


class IterReport(CloseFields):
    """``/iter``: what the iterator yielded and the close code it left behind."""

    received: list[str]
    error: CallOutcome
    """What the loop raised (``{"result": "ok"}``: it ended normally)."""


class UnencodableReport(TypedDict):
    """``/unencodable``: a text with no UTF-8 sent by ``send_text``, and inside ``send_json``."""

    send_text: CallOutcome
    send_json: CallOutcome


class EmptySendsReport(TypedDict):
    """``/empty``: what ``send_text("")`` and ``send_bytes(b"")`` did in the app."""

    text: CallOutcome
    bytes: CallOutcome


class MessageSeen(TypedDict):
    """A message as the app received it: its kind and payload length."""

    kind: Literal["text", "bytes", "none"]
    length: int


class WrongTypeReport(TypedDict):
    """``/wrong-type``: the errors raised by ``receive_text``/``receive_bytes``."""

    text_for_bytes: CallOutcome
    bytes_payload: str
    """The kept payload, as hex."""
    bytes_for_text: CallOutcome
    text_payload: str


class InvalidJSONReport(TypedDict):
    """``/invalid-json``: the error ``receive_json`` raised and its kept payload."""

    error: CallOutcome
    payload: str | None


class HostReport(TypedDict):
    """``/host``: the authority ``websocket.url`` names, and the server's address."""

    netloc: str
    server: str


class HeaderValuesReport(TypedDict):
    """``/header-values``: each of ``ODD_HEADER_VALUES`` in an accept and in a raw denial
    start, by name."""

    accept: dict[str, CallOutcome]
    denial: dict[str, CallOutcome]


class ServerHeadersReport(TypedDict):
    """``/accept-server-headers``: each ``accept(headers=[(name, b"x")])`` tried, by name."""

    tried: dict[str, CallOutcome]


class SubprotocolReport(TypedDict):
    """``/subprotocol``: what the client offered and the refusal of an unoffered one."""

    offered: list[str]
    refused: CallOutcome


class LateAcceptReport(TypedDict):
    """``/late-accept``: the accept once the work is done, and the receive after it."""

    accept: CallOutcome
    receive: CallOutcome


class BusyReport(TypedDict):
    """``/busy``: whether the client's signal came, and the send after the work."""

    signalled: bool
    send: CallOutcome


class OfferedReport(TypedDict):
    """``/offered``: the offer as the app sees it, parsed and as request headers."""

    offered: list[str]
    header: list[str]


RequestTargetReport = TypedDict(
    "RequestTargetReport",
    {"url.path": str, "url.netloc is the Host header": bool, "query_params": list[list[str]]},
)
"""``/request-target``: how the app reads the request target (the token left out)."""


HeadersReadReport = TypedDict(
    "HeadersReadReport",
    {'websocket["root_path"]': str, "headers": dict[str, str | None]},
)
"""``/headers-read``: ``root_path`` and the headers a server may act on, as the app reads
them (``None``: not in ``headers``)."""


class EarlyFramesReport(TypedDict):
    """``/early-frames``: the texts the app received until the client closed."""

    received: list[str]


class AcceptHeadersReport(TypedDict):
    """``/accept-headers``: the warnings lilya_ws emitted while accepting."""

    warnings: list[str]


class ConnectionData(TypedDict):
    """``/connection-data``: what the app read from its connection."""

    path: str
    raw_path: str | None
    url: str
    url_scheme: str
    url_path: str
    url_query: str
    url_port: int | None
    url_hostname: str | None
    query: list[list[str]]
    query_getall_a: list[str]
    query_str: str
    header_multi: list[str]
    header_version: str
    header_host: str
    cookies: dict[str, str]
    client_host: str | None
    client_port_type: str
    subprotocols: list[str]
    path_params: dict[str, str]
    scope_path_via_mapping: str
    scope_scheme: str | None
    """``scope["scheme"]`` as the server put it (daphne puts none)."""


class EchoJSONReport(TypedDict):
    """``/echo-json``: the values ``receive_json`` returned."""

    received: list[object]
