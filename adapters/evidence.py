"""Raw-ASGI evidence for the inherent differences: each row observed on each server.

Serves ``adapters.probe_app`` (and its two WebSocket-only variants, and the
probe app over TLS) under each configuration, and drives it with the
``websockets`` client or, where a client would hide the wire, a raw socket::

    python -m adapters.evidence [names ...] [--rows ROW ...] [--json raw.json]

prints one Markdown table per row (``adapters/DIALECTS.md``, "Inherent
differences: evidence").
"""

from __future__ import annotations

import argparse
import asyncio
import json
import socket
import struct
import sys
import tempfile
import threading
import time
import uuid
from collections import Counter
from collections.abc import Awaitable, Callable, Sequence
from pathlib import Path
from typing import Final, TypeAlias, TypedDict, cast

import trustme
from websockets.asyncio.client import ClientConnection, connect

from .errors import ServerStartError
from .handshake import (
    HEADERS_SERVERS_READ,
    HOST_HEADERS,
    LARGE_REQUEST_HEADS,
    MALFORMED_REQUESTS,
    ODD_HEADER_VALUES,
    REQUEST_TARGETS,
    SUBPROTOCOL_OFFERS,
    Malformation,
    client_frame,
    header_lines,
    open_handshake,
    send_upgrade_request,
)
from .probe import MIB, PROBE_APP, STEP_TIMEOUT, Probe, ScopeEntry
from .probe_app import LATE_ACCEPT, WORK_AFTER_LEAVE, Outcome, shutdown_log
from .process import RunningServer, TLSFiles
from .registry import ADAPTERS, get

Row: TypeAlias = object
"""One row's raw observations on one server (JSON)."""

WIRE_TIMEOUT: Final = 3.0
TWO_RECEIVES_MESSAGES: Final = 10
TIMED_MESSAGES: Final = 200
CLOSING_RUNS: Final = 20
"""Closes per server for ``send-while-closing``: whether a send lands in the closing
handshake is a race."""
ENDING_TIMEOUT: Final = 15.0
PLAIN_ROWS: Final = (
    "close-reason-dropped",
    "accept-headers-dropped",
    "no-denial-response",
    "close-code-range",
    "empty-messages-dropped",
    "unencodable-text",
    "request-header-bytes",
    "subprotocol-offer",
    "malformed-handshake",
    "request-head-limits",
    "host-header",
    "request-target",
    "headers-servers-read",
    "lifespan-state",
    "handshake-timeout",
    "work-after-leave",
    "send-backpressure",
    "receive-backpressure",
    "unread-at-close",
    "message-size-limits",
    "client-close-code",
    "reset-code",
    "malformed-frames",
    "send-after-leave",
    "accept-after-leave",
    "send-while-closing",
    "two-receives",
    "cancelled-receive",
    "pending-receive-after-return",
    "return-without-close",
    "raise-after-accept",
    "raise-before-accept",
)
ROWS: Final = (
    *PLAIN_ROWS,
    "tls-scheme",
    "http-get",
    "lifespan",
    "server-shutdown",
    "silent-peer",
    "early-frames",
)
SILENT_PEER_WAIT: Final = 60.0
"""How long ``silent-peer`` waits for the server to end the app's receive: longer than
the longest keepalive measured (daphne's 20 s ping interval and 30 s timeout)."""
_LOG_WORDS: Final = ("warn", "error", "exception", "lifespan", "unsupported", "traceback")
_LOG_NOISE: Final = ("DeprecationWarning", "warnings.warn(")
"""uvicorn-websockets' deprecation warning at start-up, unrelated to the app."""


async def plain(server: RunningServer, rows: Sequence[str]) -> dict[str, Row]:
    """The rows observed with the probe app served without TLS."""
    probe = Probe(server)
    observers: dict[str, Callable[[], Awaitable[object]]] = {
        "close-reason-dropped": lambda: _close_reason(probe),
        "accept-headers-dropped": lambda: _accept_headers(probe),
        "no-denial-response": lambda: _denial(probe),
        "close-code-range": lambda: _close_code(probe),
        "empty-messages-dropped": lambda: _empties(probe),
        "unencodable-text": lambda: _unencodable(probe),
        "request-header-bytes": lambda: _header_bytes(probe, server),
        "subprotocol-offer": lambda: _subprotocol_offer(probe, server),
        "malformed-handshake": lambda: _malformed_handshake(server),
        "request-head-limits": lambda: _request_head_limits(server),
        "host-header": lambda: _host_header(probe, server),
        "request-target": lambda: _request_target(probe, server),
        "headers-servers-read": lambda: headers_servers_read(probe, server),
        "lifespan-state": lambda: _lifespan_state(probe),
        "handshake-timeout": lambda: _late_accept(probe, server),
        "work-after-leave": lambda: _work_after_leave(probe),
        "send-backpressure": lambda: _backpressure(probe, server),
        "receive-backpressure": lambda: _receive_backpressure(probe, server),
        "unread-at-close": lambda: _backpressure(probe, server, "close"),
        "client-close-code": lambda: _leave(probe, "clean"),
        "reset-code": lambda: _leave(probe, "rst"),
        "malformed-frames": lambda: _malformed(probe, server),
        "send-after-leave": lambda: _send_after_leave(probe),
        "accept-after-leave": lambda: _accept_after_leave(probe),
        "send-while-closing": lambda: _send_while_closing(probe),
        "two-receives": lambda: _two_receives(probe),
        "cancelled-receive": lambda: _cancelled_receive(probe),
        "pending-receive-after-return": lambda: _pending(probe),
        "return-without-close": lambda: _ending(server, "/return"),
        "raise-after-accept": lambda: _ending(server, "/raise?when=after"),
        "raise-before-accept": lambda: _raise_before_accept(server),
    }
    wanted = [row for row in rows if row in observers]
    results = await asyncio.gather(*(observers[row]() for row in wanted))
    observed = dict(zip(wanted, results, strict=True))
    if "message-size-limits" in rows:  # last and alone: 16 MiB transfers
        observed["message-size-limits"] = await _sizes(probe)
    return observed


async def _close_reason(probe: Probe) -> Row:
    seen = await probe.accept(code=4000, reason="r")
    return {"client": {"code": seen["code"], "reason": seen["reason"]}, "app": seen["app"]["close"]}


async def _accept_headers(probe: Probe) -> Row:
    seen = await probe.accept()
    return {"client x-probe header": seen["header"], "app": seen["app"]["accept"]}


async def _denial(probe: Probe) -> Row:
    scope = await probe.scope()
    extensions = scope.get("extensions", {"shape": "", "value": None})["value"]
    observed: dict[str, Row] = {"extensions": extensions}
    for kind in ("websocket.http", "http"):
        seen = await probe.deny(parts=1, status=500, kind=kind)
        observed[f"{kind}.response.start 500"] = {
            "client": {"status": seen["status"], "body": seen["body"]},
            "client error": seen["client_error"],
            "app sends": [_brief(outcome) for outcome in seen["app"]],
        }
    return observed


async def _close_code(probe: Probe) -> Row:
    seen = await probe.close_1011()
    return {"client": {"code": seen["code"], "reason": seen["reason"]}, "app": seen["app"]}


async def _empties(probe: Probe) -> Row:
    received, sent_back = await probe.shapes()
    return {
        "app received": [(shape["type"], shape.get("length")) for shape in received[2:4]],
        "client received of the app's '' and b''": [repr(item) for item in sent_back],
    }


async def _unencodable(probe: Probe) -> Row:
    seen = await probe.unencodable()
    return {
        "app's send": _brief(seen["send"]),
        "client received": [repr(m) for m in seen["client"]],
    }


def _answer(
    server: RunningServer,
    path: str,
    headers: bytes = b"",
    *,
    http_version: str = "1.1",
    websocket_version: str = "13",
    key: str = "dGhlIHNhbXBsZSBub25jZQ==",
    early: bytes = b"",
    hosts: Sequence[str] | None = None,
) -> tuple[str, list[str]]:
    """Send an opening handshake's request as given, ``early`` bytes in its packet
    (blocking), with ``hosts`` as its Host headers (default: the server's): the status
    line of the server's answer (or why there is none within ``WIRE_TIMEOUT``) and its
    header lines."""
    if hosts is None:
        hosts = [f"{server.host}:{server.port}"]
    request = (
        (
            f"GET {path} HTTP/{http_version}\r\n"
            + "".join(f"Host: {host}\r\n" for host in hosts)
            + "Upgrade: websocket\r\nConnection: Upgrade\r\n"
            f"Sec-WebSocket-Version: {websocket_version}\r\nSec-WebSocket-Key: {key}\r\n"
        ).encode()
        + headers
        + b"\r\n"
        + early
    )
    with socket.create_connection((server.host, server.port), timeout=WIRE_TIMEOUT) as sock:
        sock.sendall(request)
        head = b""
        try:
            while b"\r\n\r\n" not in head and (chunk := sock.recv(65536)):
                head += chunk
        except TimeoutError:
            return f"no answer within {WIRE_TIMEOUT:g} s", []
    status, *lines = head.partition(b"\r\n\r\n")[0].decode("latin-1").split("\r\n")
    return status or "closed without an answer", lines


async def _header_bytes(probe: Probe, server: RunningServer) -> Row:
    """A raw request with an ``x-value`` header per value: the server's status line (or
    none within ``WIRE_TIMEOUT``) and, once accepted, the bytes the app got."""
    observed: dict[str, Row] = {}
    for name, value in ODD_HEADER_VALUES.items():
        key = uuid.uuid4().hex
        status, _ = await asyncio.to_thread(
            _answer, server, f"/header?id={key}", b"X-Value: " + value + b"\r\n"
        )
        app = await probe.report(key) if " 101 " in status else None
        observed[name] = {"status": status, "app": app}
    return observed


async def _subprotocol_offer(probe: Probe, server: RunningServer) -> Row:
    """Each offer to ``/offered``: the status line, the subprotocol the answer names, and
    what the app got (``scope["subprotocols"]``, the raw request headers)."""
    observed: dict[str, Row] = {}
    for name, values in SUBPROTOCOL_OFFERS.items():
        key = uuid.uuid4().hex
        offer = b"".join(b"Sec-WebSocket-Protocol: " + value + b"\r\n" for value in values)
        status, lines = await asyncio.to_thread(_answer, server, f"/offered?id={key}", offer)
        chosen = [line for line in lines if line.lower().startswith("sec-websocket-protocol:")]
        app = await probe.report(key) if " 101 " in status else None
        observed[name] = {"status": status, "answer": chosen, "app": app}
    return observed


def _malformed_answer(server: RunningServer, fault: Malformation) -> str:
    return _answer(server, "/offered", **fault)[0]


async def _malformed_handshake(server: RunningServer) -> Row:
    """The status line each malformed request is answered with."""
    observed: dict[str, Row] = {}
    for name, fault in MALFORMED_REQUESTS.items():
        observed[name] = await asyncio.to_thread(_malformed_answer, server, fault)
    return observed


async def _request_head_limits(server: RunningServer) -> Row:
    """The status line each of ``LARGE_REQUEST_HEADS`` is answered with."""
    observed: dict[str, Row] = {}
    for name, headers in LARGE_REQUEST_HEADS.items():
        lines = header_lines(headers)
        observed[name] = (await asyncio.to_thread(_answer, server, "/offered", lines))[0]
    return observed


async def _request_target(probe: Probe, server: RunningServer) -> Row:
    """Each of ``REQUEST_TARGETS``: the status line, and the scope's ``path``,
    ``raw_path`` and ``query_string`` where the app ran."""
    observed: dict[str, Row] = {}
    for name, form in REQUEST_TARGETS.items():
        key = uuid.uuid4().hex
        request_target = form.format(
            authority=f"{server.host}:{server.port}",
            route="target",
            query=f"id={key}&experiment=/request",
        )
        status, _ = await asyncio.to_thread(_answer, server, request_target)
        app = None
        if " 101 " in status:
            seen = cast("dict[str, object]", await probe.report(key))
            app = {part: seen[part] for part in ("path", "raw_path", "query_string")}
        observed[name] = {"status": status, "app": app}
    return observed


async def _host_header(probe: Probe, server: RunningServer) -> Row:
    """Each of ``HOST_HEADERS``: the status line, and the scope's Host header values and
    ``server`` where the app ran."""
    observed: dict[str, Row] = {}
    for name, hosts in HOST_HEADERS.items():
        key = uuid.uuid4().hex
        path = f"/host?id={key}&experiment=/request"
        status, _ = await asyncio.to_thread(_answer, server, path, hosts=hosts)
        app = None
        if " 101 " in status:
            seen = cast("dict[str, object]", await probe.report(key))
            app = {part: seen[part] for part in ("host values", "server")}
        observed[name] = {"status": status, "app": app}
    return observed


class HeadersRead(TypedDict):
    """What the server made of ``HEADERS_SERVERS_READ`` (the probe's reprs)."""

    scheme: str
    client: str
    root_path: str
    headers: list[str]
    """The names of ``HEADERS_SERVERS_READ`` in the scope's headers."""


async def headers_servers_read(probe: Probe, server: RunningServer) -> HeadersRead:
    """A handshake from 127.0.0.1 with ``HEADERS_SERVERS_READ``: the scope's ``scheme``,
    ``client`` and ``root_path``, and which of the headers it holds."""
    key = uuid.uuid4().hex
    sent = b"".join(
        name.encode() + b": " + value + b"\r\n" for name, value in HEADERS_SERVERS_READ.items()
    )
    status, _ = await asyncio.to_thread(_answer, server, f"/request?id={key}", sent)
    if " 101 " not in status:
        raise ConnectionError(f"the handshake was answered {status}")
    seen = cast("dict[str, str | list[str]]", await probe.report(key))
    names = {name.lower() for name in HEADERS_SERVERS_READ}
    return {
        "scheme": str(seen["scheme"]),
        "client": str(seen["client"]),
        "root_path": str(seen["root_path"]),
        "headers": [name for name in seen["header names"] if name in names],
    }


async def _lifespan_state(probe: Probe) -> Row:
    """``scope["state"]`` of a connection, after lifespan startup stored a key in it."""
    state = (await probe.scope()).get("state")
    return {"scope state": "absent" if state is None else state["value"]}


SLOW_READER_PAUSE: Final = 2.0
"""Seconds the ``send-backpressure`` client reads nothing after the handshake."""


_ONE_SLOW_READER: Final = threading.Lock()
"""The two slow-reader rows run one after the other: at once, uvicorn-websockets' sends
to them stalled for longer than ``ENDING_TIMEOUT``."""


async def _backpressure(probe: Probe, server: RunningServer, then: str = "end") -> Row:
    """A client with a 4 KiB receive buffer reads nothing for ``SLOW_READER_PAUSE`` s,
    then everything, until the text ``end`` or (``then="close"``) the app's close frame,
    4000: how long the app's sends took, and what arrived."""
    key = uuid.uuid4().hex
    last = b"end" if then == "end" else b"\x88\x02\x0f\xa0"  # the close frame, 4000

    def read_slowly() -> str:
        sock = socket.socket()
        sock.setsockopt(socket.SOL_SOCKET, socket.SO_RCVBUF, 4096)
        sock.settimeout(ENDING_TIMEOUT)
        received = b""
        with _ONE_SLOW_READER, sock:
            sock.connect((server.host, server.port))
            sock.sendall(
                f"GET /slow-reader?id={key}&then={then} HTTP/1.1\r\nHost: {server.host}\r\n"
                "Upgrade: websocket\r\nConnection: Upgrade\r\nSec-WebSocket-Version: 13\r\n"
                "Sec-WebSocket-Key: dGhlIHNhbXBsZSBub25jZQ==\r\n\r\n".encode()
            )
            time.sleep(SLOW_READER_PAUSE)  # the slow reader itself
            try:
                while not received.endswith(last) and (chunk := sock.recv(1 << 20)):
                    received += chunk
            except ConnectionResetError:
                return f"{len(received) / MIB:.2f} MiB with the handshake, then a reset"
        ending = "TCP ended"
        if received.endswith(last):
            ending = "the end" if then == "end" else "the close frame, 4000"
        return f"{len(received) / MIB:.2f} MiB with the handshake, then {ending}"

    client = await asyncio.to_thread(read_slowly)
    return {"app": await probe.report(key), "client": client}


FLOOD_MESSAGES: Final = 1024
"""``receive-backpressure``: 64 KiB binary messages the client sends, 64 MiB."""


async def _receive_backpressure(probe: Probe, server: RunningServer) -> Row:
    """The client sends ``FLOOD_MESSAGES`` of 64 KiB for at most ``SLOW_READER_PAUSE`` s
    while the app receives nothing: how much the server took meanwhile; then the app is
    told, the rest and a text follow, and the app counts what it received."""
    key = uuid.uuid4().hex
    frame = client_frame(0x2, bytes(64 * 1024))
    handshake = await asyncio.to_thread(
        open_handshake, server.host, server.port, f"/slow-receiver?id={key}", timeout=WIRE_TIMEOUT
    )
    sock = handshake.sock

    def send_for_a_while() -> int:
        """Frames written whole before the writes blocked for ``SLOW_READER_PAUSE`` s."""
        sock.settimeout(SLOW_READER_PAUSE)
        deadline = time.monotonic() + SLOW_READER_PAUSE
        for written in range(FLOOD_MESSAGES):
            sock.settimeout(max(deadline - time.monotonic(), 0.001))
            try:
                sock.sendall(frame)
            except TimeoutError:  # part of the frame may have gone: the rest goes later
                return written
        return FLOOD_MESSAGES

    with sock:
        written = await asyncio.to_thread(send_for_a_while)
        await probe.signal(key)
        if written < FLOOD_MESSAGES:  # a frame may be cut short: the stream ends here
            return {
                "client": f"{written / 16:.1f} MiB written, then the writes blocked until "
                f"{SLOW_READER_PAUSE:g} s had passed",
                "app": None,
            }
        await asyncio.to_thread(sock.sendall, client_frame(0x1, b"end"))
        return {
            "client": f"all {FLOOD_MESSAGES // 16} MiB written within {SLOW_READER_PAUSE:g} s",
            "app": await probe.report(key),
        }


async def _late_accept(probe: Probe, server: RunningServer) -> Row:
    """A request the app answers ``LATE_ACCEPT`` s later: the server's answer (or why none
    came), and what the app's connect, accept and next receive did."""
    key = uuid.uuid4().hex

    def request() -> str:
        with socket.create_connection((server.host, server.port)) as sock:
            sock.settimeout(LATE_ACCEPT + WIRE_TIMEOUT)
            started = time.monotonic()
            sock.sendall(
                f"GET /late-accept?id={key} HTTP/1.1\r\nHost: {server.host}\r\n"
                "Upgrade: websocket\r\nConnection: Upgrade\r\nSec-WebSocket-Version: 13\r\n"
                "Sec-WebSocket-Key: dGhlIHNhbXBsZSBub25jZQ==\r\n\r\n".encode()
            )
            try:
                head = sock.recv(65536)
            except (TimeoutError, ConnectionError) as exc:
                head = type(exc).__name__.encode()
            waited = time.monotonic() - started
            status = head.partition(b"\r\n")[0].decode("latin-1") or "the connection ended"
            return f"{status} after {waited:.1f} s"

    client = await asyncio.to_thread(request)
    return {"client": client, "app": await probe.report(key)}


async def _work_after_leave(probe: Probe) -> Row:
    """The client closes; the app then works ``WORK_AFTER_LEAVE`` s: how the work ended."""
    key = uuid.uuid4().hex
    await probe.visit(f"/work-after-leave?id={key}")
    deadline = time.monotonic() + WORK_AFTER_LEAVE
    while True:  # the probe's report waits REPORT_TIMEOUT at most: ask again until then
        seen = await probe.report(key)
        if not (isinstance(seen, dict) and "error" in seen) or time.monotonic() > deadline:
            return {"app": seen}


async def _leave(probe: Probe, how: str) -> Row:
    seen = await probe.disconnect(how)
    return {"app's websocket.disconnect": seen["disconnect"].get("message")}


async def _send_after_leave(probe: Probe) -> Row:
    clean = await probe.send_after_gone(abrupt=False)
    reset = await probe.send_after_gone(abrupt=True, reset=True)
    after = await probe.disconnect("clean")
    return {
        "client closed 4001, app sends before receive": [_brief(o) for o in clean["sends"]],
        "client reset, app sends before receive": [_brief(o) for o in reset["sends"]],
        "app received the disconnect, then sends": [_brief(o) for o in after["sends"]],
    }


async def _accept_after_leave(probe: Probe) -> Row:
    observed: dict[str, Row] = {}
    for steps, how, reset in (
        ("accept,send,send,receive", "dropped TCP", False),
        ("accept,send,send,receive", "reset TCP", True),
        ("accept,close", "dropped TCP", False),
        ("close", "dropped TCP", False),
        ("deny,body,receive", "dropped TCP", False),
        ("accept,wait,close", "dropped TCP", False),
    ):
        outcomes = await probe.after_leave(steps, reset=reset)
        when = "after the handshake" if "wait" in steps else "before accept"
        calls = steps.replace(",wait", "").replace(",", ", ")
        observed[f"client {how} {when}: {calls}"] = [_brief(call) for call in outcomes]
    return observed


async def _send_while_closing(probe: Probe) -> Row:
    """How a flood of sends ended, over ``CLOSING_RUNS`` closes: a window, so a tally."""
    ended = Counter([_ending_of(await probe.send_while_closing()) for _ in range(CLOSING_RUNS)])
    return dict(sorted(ended.items()))


def _ending_of(outcome: Outcome) -> str:
    """How a loop of sends ended, in words: the error's class, bases and text."""
    if "error" not in outcome:
        return "every send returned (silent)"
    error = outcome["error"]
    return f"raised {error['type']} ({', '.join(error['mro'][1:-2])}): {error['text']!r}"


async def _two_receives(probe: Probe) -> Row:
    tasks = await probe.two_receives(TWO_RECEIVES_MESSAGES)
    return sorted(
        (
            {"messages": task["messages"], "ended": _brief(cast(Outcome, task["ended"]))}
            for task in tasks
        ),
        key=json.dumps,
    )


async def _cancelled_receive(probe: Probe) -> Row:
    seen = await probe.timed_receives(TIMED_MESSAGES)
    texts = cast("list[str]", seen["texts"])
    return {
        "messages sent": TIMED_MESSAGES,
        "received": len(texts),
        "lost": sorted(set(map(str, range(TIMED_MESSAGES))) - set(texts), key=int),
        "in order": texts == sorted(texts, key=int),
        "receives cancelled": seen["cancelled"],
    }


async def _pending(probe: Probe) -> Row:
    ended, pending = await probe.pending_receive()
    return {"client": ended, "pending receive()": pending}


async def _ending(server: RunningServer, path: str) -> str:
    """The server's side of the wire after the handshake, with timings (the raw client
    does not answer a close frame)."""

    def watch() -> str:
        with open_handshake(server.host, server.port, path, timeout=WIRE_TIMEOUT) as hs:
            return wire_answer(hs.sock, hs.buffered, timeout=ENDING_TIMEOUT)

    return await asyncio.to_thread(watch)


async def _sizes(probe: Probe) -> Row:
    async def send_too_big(ws: ClientConnection) -> None:
        await ws.send(b"x" * (16 * MIB + 1))

    client, received = await probe.record(send_too_big)
    return {
        "inbound 16 MiB + 1: client": client,
        "inbound 16 MiB + 1: app": [_brief(outcome) for outcome in received],
        "outbound 1 MiB + 1": await probe.size_out(MIB + 1),
    }


async def _raise_before_accept(server: RunningServer) -> Row:
    def attempt() -> Row:
        try:
            with open_handshake(server.host, server.port, "/raise", timeout=WIRE_TIMEOUT) as hs:
                body = hs.read_body(WIRE_TIMEOUT).decode("latin-1")
                return {"status": hs.status, "body": body[:80]}
        except OSError as exc:
            return {"client_error": f"{type(exc).__name__}: {exc}"}

    return await asyncio.to_thread(attempt)


async def _malformed(probe: Probe, server: RunningServer) -> Row:
    """Send one bad frame on a raw socket to ``/record``: the server's answer on the
    wire, and what the app's receive() calls returned."""
    bad = {
        "invalid UTF-8 text": client_frame(0x1, b"\xff\xfe\xfd"),
        "unmasked text": client_frame(0x1, b"x", masked=False),
    }
    observed: dict[str, Row] = {}
    for name, data in bad.items():
        key = f"malformed-{time.monotonic_ns()}"

        def exchange(data: bytes = data, key: str = key) -> str:
            with open_handshake(
                server.host, server.port, f"/record?id={key}", timeout=WIRE_TIMEOUT
            ) as hs:
                hs.sock.sendall(data)
                return wire_answer(hs.sock, hs.buffered)

        wire = await asyncio.to_thread(exchange)
        report = cast("dict[str, list[Outcome]]", await probe.report(key))
        observed[name] = {"wire": wire, "app": [_brief(o) for o in report["received"]]}
    return observed


def wire_answer(sock: socket.socket, data: bytes, timeout: float = WIRE_TIMEOUT) -> str:
    """Read what the server sends until it closes TCP or ``timeout`` passes, and
    describe it: its close frame's code and reason and when it came, then how and when
    TCP ended (seconds from the call)."""
    started = time.monotonic()
    deadline = started + timeout
    ended = f"TCP still open at {timeout:g} s"
    close_at = 0.0 if _close_in(data) != "no close frame" else None  # came with the 101
    while (remaining := deadline - time.monotonic()) > 0:
        sock.settimeout(remaining)
        try:
            chunk = sock.recv(65536)
        except TimeoutError:
            break
        except ConnectionResetError:
            ended = f"TCP reset at {time.monotonic() - started:.2f} s"
            break
        if not chunk:
            ended = f"TCP closed at {time.monotonic() - started:.2f} s"
            break
        data += chunk
        if close_at is None and _close_in(data) != "no close frame":
            close_at = time.monotonic() - started
    when = "" if close_at is None else f" at {close_at:.2f} s"
    return f"{_close_in(data)}{when}, then {ended}"


def _close_in(data: bytes) -> str:
    while len(data) >= 2:
        opcode, length, start = data[0] & 0x0F, data[1] & 0x7F, 2
        if length == 126:
            length, start = struct.unpack("!H", data[2:4])[0], 4
        if opcode == 0x8:
            body = data[start : start + length]
            if len(body) < 2:
                return "close frame without a code"
            reason = body[2:].decode("utf-8", "replace")
            return f"close frame {struct.unpack('!H', body[:2])[0]} {reason!r}"
        data = data[start + length :]
    return "no close frame"


def _brief(outcome: Outcome) -> object:
    """An Outcome without the noise: the message, or the error's class, MRO and text."""
    if "error" in outcome:
        return {"raised": outcome["error"]}
    if "message" in outcome:
        return outcome["message"]
    return outcome["result"]


async def tls_scheme(name: str) -> Row:
    """Serve the probe app over TLS (a ``trustme`` certificate): the scope it gets."""
    authority = trustme.CA()
    certificate = authority.issue_cert("127.0.0.1", "localhost")
    with tempfile.TemporaryDirectory(prefix="evidence-tls-") as folder:
        files = TLSFiles(Path(folder, "cert.pem"), Path(folder, "key.pem"), Path(folder, "ca.pem"))
        files.certfile.write_bytes(b"".join(pem.bytes() for pem in certificate.cert_chain_pems))
        certificate.private_key_pem.write_to_path(str(files.keyfile))
        authority.cert_pem.write_to_path(str(files.cafile))
        with get(name).start(PROBE_APP, tls=files) as server:
            scope = await _tls_scope(server.ws_url, files)
    extensions = scope.get("extensions", {"shape": "", "value": None})["value"]
    return {
        "url": server.ws_url,
        "scheme": scope["scheme"]["value"] if "scheme" in scope else "(absent)",
        "extensions": extensions,
        "keys": sorted(scope),
    }


async def _tls_scope(url: str, files: TLSFiles) -> dict[str, ScopeEntry]:
    async with connect(f"{url}/scope", ssl=files.client_context(), open_timeout=STEP_TIMEOUT) as ws:
        return cast("dict[str, ScopeEntry]", json.loads(await ws.recv()))


class ShutdownSeen(TypedDict):
    """How a server shutdown ended a connection: the client's side, and the app's calls
    (none when the app never got that far)."""

    client: str
    app: dict[str, Outcome]


async def observe_shutdown(name: str) -> ShutdownSeen:
    """Stop the server (SIGTERM) while the app waits in ``receive()``: how the client's
    connection ended, and what the app's receive and a send after it did (written to a
    file: the app cannot report once the server is gone)."""
    key = uuid.uuid4().hex
    log = shutdown_log(key)
    with get(name).start(PROBE_APP) as server:
        url = f"{server.ws_url}/until-shutdown?id={key}"
        async with connect(url, open_timeout=STEP_TIMEOUT) as ws:
            await ws.recv()
            stopping = asyncio.get_running_loop().run_in_executor(None, server.stop)
            try:
                await asyncio.wait_for(ws.wait_closed(), ENDING_TIMEOUT)
            finally:
                await stopping
            received = ws.protocol.close_rcvd
    client = "no close frame" if received is None else f"close frame {received.code}"
    return {"client": client, "app": _written_down(log)}


def _written_down(log: Path) -> dict[str, Outcome]:
    """What ``/until-shutdown`` wrote down, by call; the log is removed."""
    app: dict[str, Outcome] = {}
    if log.exists():
        for line in log.read_text(encoding="utf-8").splitlines():
            app.update(json.loads(line))
        log.unlink()
    return app


class SilentPeerSeen(TypedDict):
    """What became of the app's pending receive while its client went silent."""

    seconds: float
    """From the handshake to the end of the receive, or the whole wait."""
    receive: Outcome | None
    """None: still pending when the wait ended."""


def observe_silent_peer(name: str, wait: float = SILENT_PEER_WAIT) -> SilentPeerSeen:
    """A client that completes the handshake, then neither reads (so it answers no ping)
    nor sends nor closes, as a peer behind a cut network: whether, and when, the server
    ends the app's pending ``receive()``. ASGI has no ping message: only the server's
    own keepalive can notice."""
    key = uuid.uuid4().hex
    log = shutdown_log(key)
    with get(name).start(PROBE_APP) as server:
        path = f"/until-shutdown?id={key}&wait={wait + 10:g}"
        sock, _ = send_upgrade_request(server.host, server.port, path, timeout=WIRE_TIMEOUT)
        with sock:
            sock.recv(1)  # the answer has begun: the app is in its receive soon after
            start = time.monotonic()
            while time.monotonic() - start < wait and not log.exists():
                time.sleep(0.5)  # polls a file the app writes: nothing to wait on instead
            seconds = time.monotonic() - start
            time.sleep(0.2)  # the line is written whole
            receive = _written_down(log).get("receive")  # before the client leaves at last
    log.unlink(missing_ok=True)  # what the client's leaving made the app write
    return {"seconds": round(seconds), "receive": receive}


def silent_peer(name: str) -> Row:
    seen = observe_silent_peer(name)
    if seen["receive"] is None:
        return f"the app's receive still pending after {seen['seconds']} s"
    return {"after (s)": seen["seconds"], "receive": _brief(seen["receive"])}


async def server_shutdown(name: str) -> Row:
    seen = await observe_shutdown(name)
    app = {call: _brief(outcome) for call, outcome in seen["app"].items()}
    return {"client": seen["client"], "app": app or "nothing: the app's receive never ended"}


async def early_frames(name: str) -> Row:
    """A text frame in the handshake request's packet, before the 101 (RFC 6455 section
    4.1 has a client wait for it), to ``/record`` on a server of its own: the status
    line, what the app's receive() calls returned, and whether the server then answers
    another handshake."""
    key = uuid.uuid4().hex
    with get(name).start(PROBE_APP) as server:
        early = client_frame(0x1, b"early")
        status, _ = await asyncio.to_thread(_answer, server, f"/record?id={key}", early=early)
        app = None
        if " 101 " in status:
            report = cast("dict[str, list[Outcome]]", await Probe(server).report(key))
            app = [_brief(outcome) for outcome in report["received"]]
        try:
            after, _ = await asyncio.to_thread(_answer, server, "/offered")
        except OSError as exc:
            after = f"{type(exc).__name__}: {exc}"
    return {"status": status, "app": app, "the next handshake": after}


def websocket_only_apps(name: str) -> dict[str, Row]:
    """An HTTP GET and lifespan on an app that handles only WebSocket scopes: one that
    raises for the others, one that returns at once."""
    http: dict[str, Row] = {}
    lifespan: dict[str, Row] = {}
    for app in ("raising_app", "returning_app"):
        try:
            server = get(name).start(f"{__package__}.probe_app:{app}")
        except ServerStartError as exc:
            http[app] = "(the server did not start)"
            lifespan[app] = {"did not start": exc.reason, "log": _notable(exc.log_tail)}
            continue
        with server:
            startup = server.log()
            http[app] = {"answer": _http_get(server), "log": _notable(server.log()[len(startup) :])}
            before_stop = server.log()
        lifespan[app] = {
            "startup log": _notable(startup),
            "shutdown log": _notable(server.log()[len(before_stop) :]),
        }
    return {"http-get": http, "lifespan": lifespan}


def _http_get(server: RunningServer) -> str:
    try:
        with socket.create_connection((server.host, server.port), timeout=WIRE_TIMEOUT) as sock:
            sock.sendall(f"GET / HTTP/1.1\r\nHost: {server.host}\r\n\r\n".encode())
            time.sleep(0.5)  # let the server log before the log is read
            sock.settimeout(WIRE_TIMEOUT)
            answer = sock.recv(65536).decode("latin-1")
    except OSError as exc:
        return f"{type(exc).__name__}: {exc}"
    status, _, rest = answer.partition("\r\n")
    body = rest.partition("\r\n\r\n")[2]
    return f"{status or '(connection closed, no answer)'}; body {body[:40]!r}"


def _notable(log: str) -> list[str]:
    lines = [line.strip() for line in log.splitlines()]
    picked = dict.fromkeys(
        line[:160]
        for line in lines
        if any(word in line.lower() for word in _LOG_WORDS)
        and not any(noise in line for noise in _LOG_NOISE)
    )
    return list(picked)[:6]


def markdown(observed: dict[str, dict[str, Row]], rows: Sequence[str]) -> str:
    """One table per row: configuration, raw observation (JSON)."""
    parts = []
    for row in rows:
        parts.append(f"### {row}\n\n| configuration | observed |\n|---|---|")
        for name, seen in observed.items():
            if row in seen:
                value = json.dumps(seen[row], ensure_ascii=False).replace("|", "\\|")
                parts.append(f"| {name} | `{value}` |")
        parts.append("")
    return "\n".join(parts)


def main(argv: Sequence[str] | None = None) -> int:
    parser = argparse.ArgumentParser(description=__doc__.split("\n")[0])
    parser.add_argument("names", nargs="*", help="default: every available configuration")
    parser.add_argument("--rows", nargs="+", choices=ROWS, default=list(ROWS))
    parser.add_argument("--json", type=Path, help="also write the raw observations here")
    args = parser.parse_args(argv)
    names = args.names or [name for name, adapter in ADAPTERS.items() if adapter.available]
    observed: dict[str, dict[str, Row]] = {}
    for name in names:
        print(f"{name} ...", file=sys.stderr, flush=True)
        seen: dict[str, Row] = {}
        if any(row in PLAIN_ROWS for row in args.rows):
            with get(name).start(PROBE_APP) as server:
                seen.update(asyncio.run(plain(server, args.rows)))
        if "tls-scheme" in args.rows:
            seen["tls-scheme"] = asyncio.run(tls_scheme(name))
        if {"http-get", "lifespan"} & set(args.rows):
            seen.update(websocket_only_apps(name))
        if "server-shutdown" in args.rows:
            seen["server-shutdown"] = asyncio.run(server_shutdown(name))
        if "silent-peer" in args.rows:
            seen["silent-peer"] = silent_peer(name)
        if "early-frames" in args.rows:
            seen["early-frames"] = asyncio.run(early_frames(name))
        observed[name] = seen
    if args.json:
        args.json.write_text(json.dumps(observed, indent=1, default=str))
    print(markdown(observed, args.rows))
    return 0


if __name__ == "__main__":
    sys.exit(main())
