"""Client-side checks: one per scenario, driven by the real ``websockets`` client.

Each :class:`Scenario` knows what a server configuration lacks (from its
declared ``ServerCapabilities``) and checks the matching outcome: the feature
where the server has it, the documented fallback where it does not. Because
the expected outcome is derived from the declaration, a wrong declaration
fails its cell. A check raises :class:`CheckFailed` on the first difference
and returns a one-line summary of what it observed otherwise.
"""

from __future__ import annotations

import asyncio
import base64
import contextlib
import json
import os
import uuid
from collections.abc import Awaitable, Callable, Mapping, Sequence
from dataclasses import dataclass
from typing import Any, Final, TypeVar, cast
from urllib.parse import urlsplit

from websockets.asyncio.client import ClientConnection, connect
from websockets.datastructures import Headers
from websockets.exceptions import ConnectionClosed, InvalidStatus
from websockets.typing import Subprotocol

from adapters import ServerCapabilities
from integration import protocol as p
from lilya_ws.testing import DIALECTS

__all__ = ["SCENARIOS", "CheckFailed", "Scenario", "Target"]

STEP_TIMEOUT: Final = 15.0
"""Bound on every single client step (a handshake, a receive, a close)."""
CLIENT_MAX_SIZE: Final = 64 * 1024 * 1024
MIB: Final = 1024 * 1024
DISCONNECT: Final = "lilya_ws.errors.WebSocketDisconnect"
UNEXPECTED_TYPE: Final = "lilya_ws.errors.UnexpectedMessageType"
INVALID_JSON: Final = "lilya_ws.errors.InvalidJSON"
INVALID_MESSAGE: Final = "lilya_ws.errors.InvalidMessage"
TOO_LARGE: Final = "lilya_ws.errors.MessageTooLarge"
DENIAL_UNSUPPORTED: Final = "lilya_ws.errors.DenialResponseUnsupported"
CAPABILITY_WARNING: Final = "ServerCapabilityWarning"
DENIAL_EXTENSION: Final = "websocket.http.response"

_T = TypeVar("_T")


@dataclass(frozen=True)
class Target:
    """A server that serves ``integration.apps:app``, and what it declares it can do."""

    name: str
    url: str
    """``ws://host:port``, without a path."""
    capabilities: ServerCapabilities

    @property
    def host(self) -> str:
        return urlsplit(self.url).hostname or "127.0.0.1"

    @property
    def port(self) -> int:
        parts = urlsplit(self.url)
        return parts.port or (443 if parts.scheme == "wss" else 80)


class CheckFailed(AssertionError):
    """What the client observed differs from the scenario's expectation."""


Check = Callable[[Target], Awaitable[str]]
Lacks = Callable[[ServerCapabilities], "str | None"]


@dataclass(frozen=True)
class Scenario:
    """One row of the matrix: a check, and what a server must have for the full feature."""

    name: str
    title: str
    check: Check
    lacks: Lacks
    """Why this server cannot do the full feature (the cell is then n/a), or None."""


SCENARIOS: dict[str, Scenario] = {}
"""Every scenario by name, in the order of the report."""


def _supported(capabilities: ServerCapabilities) -> str | None:
    return None


def scenario(name: str, title: str, lacks: Lacks = _supported) -> Callable[[Check], Check]:
    """Register ``check`` as the scenario ``name``."""

    def register(check: Check) -> Check:
        SCENARIOS[name] = Scenario(name, title, check, lacks)
        return check

    return register


# Assertions.


def expect(what: str, observed: object, expected: object) -> None:
    """Raise :class:`CheckFailed` unless ``observed == expected``."""
    if observed != expected:
        raise CheckFailed(f"{what}: expected {_short(expected)}, observed {_short(observed)}")


def expect_in(what: str, observed: object, allowed: Sequence[object]) -> None:
    if observed not in allowed:
        raise CheckFailed(f"{what}: expected one of {list(allowed)!r}, observed {_short(observed)}")


def _short(value: object) -> str:
    text = repr(value)
    return text if len(text) <= 160 else text[:150] + f"... ({len(text)} chars)"


def expect_raised(
    what: str, outcome: p.CallOutcome, error: str, builtin: str | None = None
) -> None:
    """The app-side call raised an ``error`` (qualified; or a subclass) that is a ``builtin``."""
    if outcome["result"] != "raised" or error not in outcome.get("lilya_classes", []):
        raise CheckFailed(f"{what}: expected {error.rsplit('.', 1)[-1]}, observed {outcome!r}")
    if builtin is not None and builtin not in outcome.get("builtin_bases", []):
        raise CheckFailed(f"{what}: {error} is not a {builtin}")


def spec_declared(capabilities: ServerCapabilities) -> tuple[int, int]:
    """The ASGI spec version the server declares; a missing one means 2.0 (ASGI spec)."""
    major, _, minor = (capabilities.spec_version or "2.0").partition(".")
    return int(major), int(minor or 0)


# Client steps, each bounded.


async def bounded(awaitable: Awaitable[_T], timeout: float = STEP_TIMEOUT) -> _T:
    """``awaitable`` with a deadline; a timeout is a failed check, not a hang."""
    try:
        return await asyncio.wait_for(awaitable, timeout)
    except TimeoutError:
        raise CheckFailed(f"no answer within {timeout:g}s") from None


def open_ws(
    target: Target,
    path: str,
    *,
    subprotocols: Sequence[str] | None = None,
    headers: Sequence[tuple[str, str]] | None = None,
    compression: str | None = "deflate",
) -> connect:
    """A ``websockets`` client connection to ``path``, every timeout bounded, no proxy."""
    return connect(
        target.url + path,
        subprotocols=[Subprotocol(s) for s in subprotocols] if subprotocols else None,
        additional_headers=headers,
        compression=compression,
        proxy=None,
        open_timeout=STEP_TIMEOUT,
        close_timeout=STEP_TIMEOUT,
        ping_interval=None,
        max_size=CLIENT_MAX_SIZE,
    )


async def recv(ws: ClientConnection) -> str | bytes:
    return await bounded(ws.recv())


async def recv_text(ws: ClientConnection) -> str:
    message = await recv(ws)
    if not isinstance(message, str):
        raise CheckFailed(f"expected a text frame, received a binary one: {_short(message)}")
    return message


async def recv_json(ws: ClientConnection) -> Any:
    return json.loads(await recv_text(ws))


async def closed_by_server(ws: ClientConnection) -> tuple[int | None, str]:
    """Wait for the server's close frame: its code and reason (None: no close frame)."""
    try:
        while True:
            await recv(ws)
    except ConnectionClosed as exc:
        return (exc.rcvd.code, exc.rcvd.reason) if exc.rcvd else (None, "")


async def rejected(target: Target, path: str) -> tuple[int, Headers, bytes]:
    """Open ``path`` expecting the handshake to be refused; the HTTP status, headers, body."""
    try:
        async with open_ws(target, path):
            pass
    except InvalidStatus as exc:
        response = exc.response
        return response.status_code, response.headers, bytes(response.body)
    raise CheckFailed("the handshake was accepted; expected an HTTP refusal")


async def report(target: Target, token: str) -> Mapping[str, Any]:
    """What the app stored under ``token``, fetched over ``/report/<token>``."""
    async with open_ws(target, p.REPORT_ROUTE + token) as ws:
        answer = await recv_json(ws)
    if not answer.get("found"):
        raise CheckFailed(f"the app stored no report within {p.REPORT_WAIT:g}s")
    return cast("Mapping[str, Any]", answer["result"])


async def signal(target: Target, token: str) -> None:
    """Tell the app waiting on ``token`` that the client has left."""
    async with open_ws(target, p.SIGNAL_ROUTE + token) as ws:
        await closed_by_server(ws)


async def drop(target: Target, path: str) -> None:
    """Complete a handshake on a raw socket, then drop TCP without a close frame."""
    reader, writer = await bounded(asyncio.open_connection(target.host, target.port))
    try:
        key = base64.b64encode(os.urandom(16)).decode("ascii")
        writer.write(
            (
                f"GET {path} HTTP/1.1\r\nHost: {target.host}:{target.port}\r\n"
                "Upgrade: websocket\r\nConnection: Upgrade\r\n"
                f"Sec-WebSocket-Key: {key}\r\nSec-WebSocket-Version: 13\r\n\r\n"
            ).encode("ascii")
        )
        head = await bounded(reader.readuntil(b"\r\n\r\n"))
        status = int(head.split(b" ", 2)[1])
        expect("handshake status before the drop", status, 101)
    finally:
        writer.transport.abort()
        await bounded(writer.wait_closed())


async def client_close(ws: ClientConnection) -> None:
    await bounded(ws.close(p.CLIENT_CLOSE_CODE, p.CLIENT_CLOSE_REASON))


def new_token() -> str:
    return uuid.uuid4().hex


def disconnect_expectation(capabilities: ServerCapabilities) -> tuple[int, str]:
    """Code and reason the app should see when the client closes with 4001 "client bye"."""
    code = capabilities.clean_close_code
    passed = code == p.CLIENT_CLOSE_CODE and capabilities.disconnect_reason
    return code, p.CLIENT_CLOSE_REASON if passed else ""


def expect_disconnect(what: str, outcome: p.CallOutcome, code: int, reason: str | None) -> None:
    """The call raised ``WebSocketDisconnect`` with ``code`` (a plain int) and ``reason``."""
    expect_raised(what, outcome, DISCONNECT)
    expect(f"{what}: code", outcome.get("code"), code)
    expect(f"{what}: code type", outcome.get("code_type"), "int")
    if reason is not None:
        expect(f"{what}: reason", outcome.get("reason"), reason)


# Echo and messages.


@scenario("echo-text", "send_text/receive_text (iter_text) echo")
async def echo_text(target: Target) -> str:
    async with open_ws(target, "/echo-text") as ws:
        for message in ("hello", "second message"):
            await ws.send(message)
            expect("echo", await recv(ws), message)
    return "2 text messages echoed"


@scenario("echo-bytes", "send_bytes/receive_bytes (iter_bytes) echo")
async def echo_bytes(target: Target) -> str:
    async with open_ws(target, "/echo-bytes") as ws:
        for message in (b"\x00\x01\xff", b"bytes"):
            await ws.send(message)
            expect("echo", await recv(ws), message)
    return "2 binary messages echoed"


@scenario("echo-json-text", 'send_json/receive_json, mode="text" (compact encoding)')
async def echo_json_text(target: Target) -> str:
    async with open_ws(target, "/echo-json?mode=text") as ws:
        await ws.send(json.dumps({"message": "hi", "n": [1, 2]}))
        expect("JSON echo", await recv(ws), '{"echo":{"message":"hi","n":[1,2]}}')
    return "compact JSON in a text frame"


@scenario("echo-json-binary", 'send_json/receive_json, mode="binary"')
async def echo_json_binary(target: Target) -> str:
    async with open_ws(target, "/echo-json?mode=binary") as ws:
        await ws.send(b'{"message": "hi"}')
        expect("JSON echo", await recv(ws), b'{"echo":{"message":"hi"}}')
    return "compact JSON in a binary frame"


@scenario("non-ascii", "non-ASCII text and JSON (ensure_ascii=False)")
async def non_ascii(target: Target) -> str:
    async with open_ws(target, "/echo-text") as ws:
        await ws.send(p.NON_ASCII_TEXT)
        expect("text echo", await recv(ws), p.NON_ASCII_TEXT)
    expected = '{"echo":{"text":"' + p.NON_ASCII_TEXT + '"}}'
    async with open_ws(target, "/echo-json?mode=text") as ws:
        await ws.send(json.dumps({"text": p.NON_ASCII_TEXT}))
        expect("JSON text echo", await recv(ws), expected)
    async with open_ws(target, "/echo-json?mode=binary") as ws:
        await ws.send(json.dumps({"text": p.NON_ASCII_TEXT}).encode())
        expect("JSON binary echo", await recv(ws), expected.encode())
    return "UTF-8 round trip, JSON unescaped"


def _empty_lacks(capabilities: ServerCapabilities) -> str | None:
    missing = [
        what
        for what, ok in (
            ("empty text from the client", capabilities.empty_text_delivered),
            ("empty bytes from the client", capabilities.empty_bytes_delivered),
            ("empty text from the app", capabilities.empty_text_sent),
            ("empty bytes from the app", capabilities.empty_bytes_sent),
        )
        if not ok
    ]
    return f"server drops {', '.join(missing)}" if missing else None


@scenario("empty-messages", "empty text and binary messages, both directions", _empty_lacks)
async def empty_messages(target: Target) -> str:
    caps = target.capabilities
    inbound: list[p.MessageSeen] = []
    if caps.empty_text_delivered:
        inbound.append({"kind": "text", "length": 0})
    if caps.empty_bytes_delivered:
        inbound.append({"kind": "bytes", "length": 0})
    outbound: list[str | bytes] = [""] if caps.empty_text_sent else []
    outbound += [b""] if caps.empty_bytes_sent else []
    async with open_ws(target, "/empty") as ws:
        for message in ("", b"", p.END):
            await ws.send(message)
        expect("messages the app received", await recv_json(ws), inbound)
        seen: list[str | bytes] = []
        while not (message := await recv(ws)) or isinstance(message, bytes):
            seen.append(message)
        sends = cast(p.EmptySendsReport, json.loads(message))
    expect("empty messages the client received", seen, outbound)
    # Where the server would drop an empty message, lilya_ws refuses to send it.
    for kind, delivered in (("text", caps.empty_text_sent), ("bytes", caps.empty_bytes_sent)):
        outcome = sends["text"] if kind == "text" else sends["bytes"]
        if delivered:
            expect(f"send_{kind}(empty) in the app", outcome, {"result": "ok"})
        else:
            expect_raised(f"send_{kind}(empty) in the app", outcome, INVALID_MESSAGE, "ValueError")
    refused = "" if len(outbound) == 2 else "; the app's undeliverable empty sends raised"
    return f"app received {len(inbound)}/2, client received {len(outbound)}/2{refused}"


def _size_lacks(size: int) -> Lacks:
    def lacks(capabilities: ServerCapabilities) -> str | None:
        limit = capabilities.max_message_size
        if limit is not None and size > limit:
            return f"server refuses inbound messages over {limit // MIB} MiB"
        return None

    return lacks


def _large(size: int) -> Check:
    async def check(target: Target) -> str:
        data = os.urandom(size)
        text = base64.b64encode(os.urandom(size * 3 // 4)).decode("ascii")
        async with open_ws(target, "/echo", compression=None) as ws:
            if _size_lacks(size)(target.capabilities) is not None:
                with contextlib.suppress(ConnectionClosed):  # dropped during the send
                    await bounded(ws.send(data))
                code, _ = await closed_by_server(ws)
                # RFC 6455 says 1009; daphne (autobahn) drops the TCP connection instead.
                expect_in("close code for an oversized message", code, [1009, None])
                how = "closed 1009" if code else "connection dropped"
                return f"{size // MIB} MiB refused ({how}), as declared"
            for message in (text, data):
                await ws.send(message)
                echoed = await recv(ws)
                expect("echoed type", type(echoed), type(message))
                expect("echo intact", echoed == message, True)
        return f"{size // MIB} MiB text and bytes echoed"

    return check


scenario("large-1mib", "1 MiB text and binary messages echoed", _size_lacks(MIB))(_large(MIB))
scenario("large-8mib", "8 MiB text and binary messages echoed", _size_lacks(8 * MIB))(
    _large(8 * MIB)
)


# Connection data.


@scenario("connection-data", "path, query, headers, cookies, url, client as the app sees them")
async def connection_data(target: Target) -> str:
    query = "b=2&a=1&a=3&e=%C3%A9t%C3%A9"
    headers = [("X-Multi", "one"), ("X-Multi", "two"), ("Cookie", "flavour=oat; theme=dark")]
    async with open_ws(target, f"/connection-data/caf%C3%A9?{query}", headers=headers) as ws:
        data = cast(p.ConnectionData, await recv_json(ws))
    path = "/connection-data/café"
    netloc = f"{target.host}:{target.port}"
    expected: dict[str, object] = {
        "path": path,
        "url": f"ws://{netloc}{path}?{query}",
        "url_scheme": "ws",
        "url_path": path,
        "url_query": query,
        "url_port": target.port,
        "url_hostname": target.host,
        "query": [["b", "2"], ["a", "1"], ["a", "3"], ["e", "été"]],
        "query_getall_a": ["1", "3"],
        "query_str": query,
        "header_version": "13",
        "header_host": netloc,
        "cookies": {"flavour": "oat", "theme": "dark"},
        "subprotocols": [],
        "path_params": {},
        "scope_path_via_mapping": path,
    }
    for key, value in expected.items():
        expect(key, data.get(key), value)
    # RFC 9110 §5.3: a repeated field may be joined with commas (daphne does).
    expect_in("repeated header", data["header_multi"], [["one", "two"], ["one,two"]])
    expect("client port type", data["client_port_type"], "int")
    if data["raw_path"] is not None:
        expect("raw_path", data["raw_path"], "/connection-data/caf%C3%A9")
    if target.host == "127.0.0.1":
        expect("client host", data["client_host"], "127.0.0.1")
    joined = ", repeated header joined" if len(data["header_multi"]) == 1 else ""
    return "all fields as sent" + ("" if data["raw_path"] else ", no raw_path") + joined


@scenario("subprotocol", "subprotocol negotiation; an unoffered one is refused")
async def subprotocol(target: Target) -> str:
    offered = list(p.SUBPROTOCOLS_OFFERED)
    async with open_ws(target, "/subprotocol", subprotocols=offered) as ws:
        expect("negotiated subprotocol", ws.subprotocol, p.SUBPROTOCOL_CHOSEN)
        seen = cast(p.SubprotocolReport, await recv_json(ws))
    expect("subprotocols the app saw", seen["offered"], offered)
    expect_raised("accept(unoffered)", seen["refused"], INVALID_MESSAGE, "ValueError")
    return f"{p.SUBPROTOCOL_CHOSEN} chosen from {offered}"


def _carried_lacks(
    carried: Callable[[ServerCapabilities], bool], needs: tuple[int, int], what: str
) -> Lacks:
    """Why a server lacks a key that needs spec ``needs``: an older spec, or a quirk."""

    def lacks(capabilities: ServerCapabilities) -> str | None:
        if carried(capabilities):
            return None
        if spec_declared(capabilities) < needs:
            return f"ASGI spec < {needs[0]}.{needs[1]}: no {what}"
        return f"server drops the {what} despite ASGI {capabilities.spec_version}"

    return lacks


_accept_headers_lacks = _carried_lacks(
    lambda caps: caps.accept_headers, (2, 1), "headers in websocket.accept"
)


@scenario("accept-headers", "extra headers in accept()", _accept_headers_lacks)
async def accept_headers(target: Target) -> str:
    caps = target.capabilities
    async with open_ws(target, "/accept-headers") as ws:
        response = ws.response
        seen = cast(p.AcceptHeadersReport, await recv_json(ws))
    got = [response.headers.get(name.decode()) for name, _ in p.ACCEPT_HEADERS] if response else []
    sent = [value.decode() for _, value in p.ACCEPT_HEADERS]
    expect("accept headers at the client", got, sent if caps.accept_headers else [None, None])
    # Where the headers cannot reach the client, lilya_ws must say it did not send them.
    warned = [] if caps.accept_headers else [CAPABILITY_WARNING]
    expect("warnings in the app", seen["warnings"], warned)
    return (
        "headers received"
        if caps.accept_headers
        else "headers absent" + (", app warned" if warned else "")
    )


_close_reason_lacks = _carried_lacks(
    lambda caps: caps.close_reason, (2, 3), "reason in websocket.close"
)


@scenario("close-code-reason", "close(code, reason) after accept", _close_reason_lacks)
async def close_code_reason(target: Target) -> str:
    caps = target.capabilities
    token = new_token()
    async with open_ws(target, f"/close-with-reason?token={token}") as ws:
        code, reason = await closed_by_server(ws)
    seen = cast(p.CloseReport, await report(target, token))
    expect("close code", code, p.APP_CLOSE_CODE)
    expect("close reason", reason, p.APP_CLOSE_REASON if caps.close_reason else "")
    warned = [] if caps.close_reason else [CAPABILITY_WARNING]
    expect("warnings in the app", seen["warnings"], warned)
    return f"{code} {reason!r}" + (", app warned" if warned else "")


@scenario("close-before-accept", "close() before accept() gives HTTP 403")
async def close_before_accept(target: Target) -> str:
    status, _, _ = await rejected(target, "/close-before-accept")
    expect(
        "declared close_before_accept_status", target.capabilities.close_before_accept_status, 403
    )
    expect("HTTP status", status, 403)
    return "HTTP 403"


# Denial responses.


def _denial_lacks(streamed: bool) -> Lacks:
    def lacks(capabilities: ServerCapabilities) -> str | None:
        if not capabilities.http_response_extension:
            return "no websocket.http.response extension"
        if not capabilities.denial_response:
            return "server advertises websocket.http.response but drops the response"
        if streamed and not capabilities.streamed_denial:
            return "server cannot stream a denial body; lilya_ws sends the parts joined"
        return None

    return lacks


def _denial(kind: p.DenialKind) -> Check:
    async def check(target: Target) -> str:
        caps = target.capabilities
        token = new_token()
        status, headers, body = await rejected(target, f"/deny?kind={kind}&token={token}")
        seen = cast(p.DenialReport, await report(target, token))
        if not caps.http_response_extension:
            expect("error raised by send_denial_response", seen["error"], DENIAL_UNSUPPORTED)
            expect("error is a RuntimeError", seen["is_runtime_error"], True)
            expect("HTTP status of the close() fallback", status, 403)
            return "DenialResponseUnsupported (RuntimeError) raised, close() gave 403"
        expect("response sent", seen, {"sent": True, "error": None, "is_runtime_error": False})
        expect("HTTP status", status, p.DENIAL_STATUS)
        expect("x-denial header", headers.get("x-denial"), kind)
        expected = p.DENIAL_BODY if kind == "plain" else "".join(p.DENIAL_PARTS)
        expect("body", body.decode("utf-8", "replace"), expected)
        if kind == "streamed" and not caps.streamed_denial:
            return f"{p.DENIAL_STATUS}, whole body in one part"
        return f"{p.DENIAL_STATUS}, headers and body received"

    return check


scenario(
    "denial-plain",
    "send_denial_response(Response(...)): status, headers, body",
    _denial_lacks(False),
)(_denial("plain"))
scenario("denial-streamed", "send_denial_response(StreamingResponse(...))", _denial_lacks(True))(
    _denial("streamed")
)


# Disconnects.


@scenario("client-close", "client closes with code and reason: what the app sees")
async def client_close_seen(target: Target) -> str:
    caps = target.capabilities
    token = new_token()
    async with open_ws(target, f"/client-leave?token={token}") as ws:
        await client_close(ws)
    seen = cast(p.ClientCloseReport, await report(target, token))
    code, reason = disconnect_expectation(caps)
    _expect_after_leave(seen, code, reason, caps)
    return f"app saw {code} {reason!r} (int), never hung"


@scenario("client-drop", "client drops TCP without a close frame: what the app sees")
async def client_drop(target: Target) -> str:
    caps = target.capabilities
    token = new_token()
    await drop(target, f"/client-leave?token={token}")
    seen = cast(p.ClientCloseReport, await report(target, token))
    _expect_after_leave(seen, caps.abrupt_close_code, None, caps)
    return f"app saw {caps.abrupt_close_code} (int), never hung"


def _expect_after_leave(
    seen: p.ClientCloseReport, code: int, reason: str | None, caps: ServerCapabilities
) -> None:
    expect_disconnect("first receive_text()", seen["first"], code, reason)
    expect_disconnect("second receive_text()", seen["second"], code, reason)
    expect_disconnect("send_text() after the disconnect", seen["send"], code, reason)
    expect("websocket.close_code", seen["close_code"], code)
    expect("websocket.close_code type", seen["close_code_type"], "int")
    types = sorted(caps.disconnect_code_types)
    expect_in("declared disconnect_code_types", seen["raw_code_type"], types)
    if not caps.second_receive_hangs:
        what = "declared second_receive_hangs=False: the server's own 2nd receive()"
        expect(what, seen["raw_second_receive"], "returned")


def _send_after(abrupt: bool) -> Check:
    async def check(target: Target) -> str:
        caps = target.capabilities
        token = new_token()
        path = f"/send-after-leave?token={token}"
        if abrupt:
            await drop(target, path)
            await signal(target, token)
        elif caps.answers_close_without_receive:
            async with open_ws(target, path) as ws:
                await client_close(ws)
            await signal(target, token)
        else:
            # granian finishes the closing handshake only once the app receives:
            # signal while the close is pending, then let it complete.
            async with open_ws(target, path) as ws:
                closing = asyncio.ensure_future(client_close(ws))
                await signal(target, token)
                await closing
        seen = cast(p.SendAfterLeaveReport, await report(target, token))
        expect("app was signalled", seen["signalled"], True)
        for index, outcome in enumerate(seen["sends"], 1):
            if outcome["result"] != "ok":
                expect_disconnect(f"send #{index}", outcome, 1006, None)
        expect_raised("receive_text() afterwards", seen["receive"], DISCONNECT)
        first = seen["sends"][0]
        if not abrupt:
            if caps.send_after_close == "silent":
                expect("declared send_after_close='silent': send #1", first["result"], "ok")
            else:
                expect("send #1", first["result"], "raised")
                expect(
                    "declared send_after_close_error",
                    first.get("cause"),
                    caps.send_after_close_error,
                )
        results = [outcome["result"] for outcome in seen["sends"]]
        return f"sends: {', '.join(results)}; then WebSocketDisconnect; never OSError/hang"

    return check


scenario("send-after-close", "app sends after the client closed: WebSocketDisconnect only")(
    _send_after(abrupt=False)
)
scenario("send-after-drop", "app sends after the client dropped TCP: WebSocketDisconnect only")(
    _send_after(abrupt=True)
)


@scenario("iter-close-code", "iter_text/iter_bytes/iter_json end on close; close_code kept")
async def iter_close_code(target: Target) -> str:
    code, reason = disconnect_expectation(target.capabilities)
    messages: dict[p.IterKind, str | bytes] = {"text": "one", "bytes": b"\x01", "json": b'{"a":1}'}
    for kind, message in messages.items():
        token = new_token()
        async with open_ws(target, f"/iter?kind={kind}&token={token}") as ws:
            await ws.send(message)
            expect(f"iter_{kind} echo", await recv(ws), message)
            await client_close(ws)
        seen = cast(p.IterReport, await report(target, token))
        expect(f"iter_{kind}: messages", len(seen["received"]), 1)
        expect(f"iter_{kind}: websocket.close_code", seen["close_code"], code)
        expect(f"iter_{kind}: close_code type", seen["close_code_type"], "int")
        expect(f"iter_{kind}: websocket.close_reason", seen["close_reason"], reason)
    return f"3 iterators ended, close_code {code}"


# Errors.


@scenario("wrong-frame-type", "receive_text() gets bytes and the reverse: UnexpectedMessageType")
async def wrong_frame_type(target: Target) -> str:
    async with open_ws(target, "/wrong-type") as ws:
        await ws.send(b"\x00\xff")
        await ws.send("text!")
        seen = cast(p.WrongTypeReport, await recv_json(ws))
        code, _ = await closed_by_server(ws)
    expect_raised("receive_text() on bytes", seen["text_for_bytes"], UNEXPECTED_TYPE, "TypeError")
    expect("kept bytes payload", seen["bytes_payload"], "00ff")
    expect_raised("receive_bytes() on text", seen["bytes_for_text"], UNEXPECTED_TYPE, "TypeError")
    expect("kept text payload", seen["text_payload"], "text!")
    expect("close code", code, 1000)
    return "UnexpectedMessageType (TypeError) both ways, payloads kept"


def close_for_code(target: Target, code: int) -> int:
    """The code close_for() sends: the RFC one, or its 4000+ twin where the server
    sends only 1000 and 3000-4999 (daphne)."""
    return code if target.capabilities.standard_close_codes else 4000 + code % 1000


@scenario("invalid-json", "receive_json() on invalid JSON: InvalidJSON, then close_for() 1007")
async def invalid_json(target: Target) -> str:
    async with open_ws(target, "/invalid-json") as ws:
        await ws.send("{oops")
        seen = cast(p.InvalidJSONReport, await recv_json(ws))
        code, reason = await closed_by_server(ws)
    expect_raised("receive_json()", seen["error"], INVALID_JSON, "ValueError")
    expect("kept payload", seen["payload"], "{oops")
    expect("close code", code, close_for_code(target, 1007))
    expect("close reason", reason, "Invalid JSON" if target.capabilities.close_reason else "")
    return f"InvalidJSON (ValueError), closed {code} {reason!r}"


@scenario("app-error-before-accept", "app raises before accept: HTTP error, nothing leaked")
async def app_error_before_accept(target: Target) -> str:
    status, _, body = await rejected(target, "/app-error?when=before")
    expect_in("HTTP status", status, [403, 500])
    expect("secret in the body", p.SECRET.encode() in body, False)
    return f"HTTP {status}, no leak"


@scenario("app-error-after-accept", "app raises after accept: closed, nothing leaked")
async def app_error_after_accept(target: Target) -> str:
    async with open_ws(target, "/app-error?when=after") as ws:
        code, reason = await closed_by_server(ws)
    if code == 1000:
        raise CheckFailed("a crashed app closed with 1000 (normal closure)")
    expect("secret in the reason", p.SECRET in reason, False)
    return f"closed {code}, no leak"


@scenario("close-for-before-accept", "close_for(error) before accept: HTTP 403, nothing leaked")
async def close_for_before_accept(target: Target) -> str:
    token = new_token()
    status, _, body = await rejected(target, f"/close-for?when=before&token={token}")
    expect("close_for() in the app", (await report(target, token))["close_for"], {"result": "ok"})
    expect("HTTP status", status, 403)
    expect("secret in the body", p.SECRET.encode() in body, False)
    return "HTTP 403, no leak"


@scenario("close-for-after-accept", 'close_for(error) after accept: 1011 "Internal error"')
async def close_for_after_accept(target: Target) -> str:
    token = new_token()
    async with open_ws(target, f"/close-for?when=after&token={token}") as ws:
        seen = await report(target, token)
        expect("close_for() in the app", seen["close_for"], {"result": "ok"})
        code, reason = await closed_by_server(ws)
    expect("close code", code, close_for_code(target, 1011))
    expect("close reason", reason, "Internal error" if target.capabilities.close_reason else "")
    return f"closed {code} {reason!r}"


@scenario("max-message-size", "application max_message_size: MessageTooLarge, close 1009")
async def max_message_size(target: Target) -> str:
    token = new_token()
    async with open_ws(target, f"/max-size?token={token}") as ws:
        await ws.send(b"x" * (2 * p.APP_MAX_MESSAGE_SIZE))
        code, reason = await closed_by_server(ws)
    seen = await report(target, token)
    expect_raised("receive_bytes()", cast(p.CallOutcome, seen["error"]), TOO_LARGE, "ValueError")
    expect("close code", code, close_for_code(target, 1009))
    expect("close reason", reason, "Message too big" if target.capabilities.close_reason else "")
    return f"MessageTooLarge (ValueError), closed {code}"


# Declarations against reality.


@scenario("declared-capabilities", "the adapter's declared scope facts match the server's scope")
async def declared_capabilities(target: Target) -> str:
    caps = target.capabilities
    async with open_ws(target, "/capabilities") as ws:
        await ws.send("x")
        await ws.send(b"x")
        facts = cast(p.ScopeFacts, await recv_json(ws))
    observed = {
        "spec_version": facts["spec_version"],
        "scope_has_scheme": facts["has_scheme"],
        "scope_has_http_version": facts["has_http_version"],
        "scope_has_extensions": facts["has_extensions"],
        "http_response_extension": DENIAL_EXTENSION in facts["extensions"],
        "receive_has_both_keys": {"text", "bytes"} <= set(facts["text_keys"]),
    }
    wrong = {key: value for key, value in observed.items() if getattr(caps, key) != value}
    if wrong:
        raise CheckFailed(
            "declared wrongly: "
            + ", ".join(
                f"{key}={getattr(caps, key)!r} (server: {value!r})" for key, value in wrong.items()
            )
        )
    expect("lilya_ws spec_version", tuple(facts["lilya_spec_version"]), spec_declared(caps))
    expect("url scheme", facts["url_scheme"], "ws")
    return f"spec {caps.spec_version or 'missing (2.0)'}, {len(observed)} facts as declared"


@scenario("test-client-preset", "lilya_ws.testing's preset for this server matches its dialect")
async def test_client_preset(target: Target) -> str:
    """The in-process test client's dialect preset agrees with the (checked) declaration."""
    family = target.name.split("-")[0]
    preset = DIALECTS.get(target.name) or DIALECTS.get(family)
    if preset is None:
        raise CheckFailed(f"lilya_ws.testing.DIALECTS has no preset for {family}")
    caps = target.capabilities
    pairs: dict[str, tuple[object, object]] = {
        "spec_version": (preset.spec_version, caps.spec_version),
        "denial_extension": (preset.denial_extension, caps.http_response_extension),
        "has_extensions": (preset.has_extensions, caps.scope_has_extensions),
        "has_scheme": (preset.has_scheme, caps.scope_has_scheme),
        "has_http_version": (preset.has_http_version, caps.scope_has_http_version),
        "has_state": (preset.has_state, caps.scope_has_state),
        "receive_both_keys": (preset.receive_both_keys, caps.receive_has_both_keys),
        "code_as_intenum": (preset.code_as_intenum, caps.disconnect_code_types != {"int"}),
        "disconnect_reason": (preset.disconnect_reason, caps.disconnect_reason),
        "clean_close_code": (
            preset.clean_close_code or p.CLIENT_CLOSE_CODE,
            caps.clean_close_code,
        ),
        "abrupt_close_code": (preset.abrupt_close_code, caps.abrupt_close_code),
        "send_after_close": (preset.send_after_close, caps.send_after_close),
        "drops_empty_sends": (
            preset.drops_empty_sends,
            not (caps.empty_text_sent and caps.empty_bytes_sent),
        ),
        "accept_headers": (preset.accept_headers, caps.accept_headers),
        "close_reason": (preset.close_reason, caps.close_reason),
        "streamed_denial": (preset.streamed_denial, caps.streamed_denial),
    }
    wrong = [
        f"{key}={ours!r} (server: {theirs!r})"
        for key, (ours, theirs) in pairs.items()
        if ours != theirs
    ]
    if wrong:
        raise CheckFailed(f"preset {preset.name!r} differs: " + ", ".join(wrong))
    return f"preset {preset.name!r} agrees on {len(pairs)} fields"
