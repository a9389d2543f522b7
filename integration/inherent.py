"""Client-side checks of the inherent differences: one per row, observed like any other.

Each returns the application's and the client's observations of exactly what
the server destroys or refuses (``integration.scenarios.INHERENT`` holds each
server's expected value and the reason). The scenario checks leave these
fields out, so a scenario row stays one expectation for every server.
"""

from __future__ import annotations

import asyncio
import contextlib
import json
import os
from typing import cast

from websockets.exceptions import ConnectionClosed, WebSocketException

from adapters import get
from adapters.handshake import (
    HEADERS_SERVERS_READ,
    HOST_HEADERS,
    LARGE_REQUEST_HEADS,
    MALFORMED_REQUESTS,
    ODD_HEADER_VALUES,
    client_frame,
)
from integration import client as c
from integration import protocol as p
from integration.checks import MIB, connection_data_of, offer_seen, target_seen
from integration.client import Target
from integration.outcomes import check, kind
from integration.scenarios import JSON, Outcome


@check("close-reason-dropped")
async def close_reason_dropped(target: Target) -> Outcome:
    token = c.new_token()
    async with c.open_ws(target, f"/close-with-reason?token={token}") as ws:
        _, reason = await c.closed_by_server(ws)
    seen = cast(p.CloseReport, await c.report(target, token))
    async with c.open_ws(target, "/close-for?when=after") as ws:
        _, close_for_reason = await c.closed_by_server(ws)
    async with c.open_ws(target, p.ENDPOINT_ROUTE + "raise-after-accept") as ws:
        _, endpoint_reason = await c.closed_by_server(ws)
    client: JSON = {
        f"close({p.APP_CLOSE_CODE}, reason)": reason,
        "close_for(error)": close_for_reason,
        "endpoint raises after accept": endpoint_reason,
    }
    return {"app": {"warnings": list(seen["warnings"])}, "client": client}


@check("accept-headers-dropped")
async def accept_headers_dropped(target: Target) -> Outcome:
    async with c.open_ws(target, "/accept-headers") as ws:
        response = ws.response
        seen = cast(p.AcceptHeadersReport, await c.recv_json(ws))
    names = [name.decode() for name, _ in p.ACCEPT_HEADERS]
    got = {name: response.headers.get(name) if response else None for name in names}
    return {"app": {"warnings": list(seen["warnings"])}, "client": cast(JSON, got)}


@check("no-denial-response")
async def no_denial_response(target: Target) -> Outcome:
    app: dict[str, JSON] = {}
    client: dict[str, JSON] = {}
    for denial in ("plain", "streamed", "short-length"):
        token = c.new_token()
        status, headers, body = await c.rejected(target, f"/deny?kind={denial}&token={token}")
        seen = cast(p.DenialReport, await c.report(target, token))
        app[f"send_denial_response({denial})"] = seen["error"] or "sent"
        client[denial] = [status, headers.get("x-denial"), body.decode("utf-8", "replace")]
    token = c.new_token()
    await c.leave_before_accept(target, f"/deny?token={token}&accept=never", token, "fin")
    seen = cast(p.DenialReport, await c.report(target, token))
    app["send_denial_response(plain) after the client left"] = seen["error"] or "sent"
    status, _, body = await c.rejected(target, p.ENDPOINT_ROUTE + "raise-before-accept")
    client["endpoint raises before accept"] = [status, body.decode("utf-8", "replace")]
    return {"app": cast(JSON, app), "client": cast(JSON, client)}


@check("close-code-range")
async def close_code_range(target: Target) -> Outcome:
    codes: dict[str, JSON] = {}
    async with c.open_ws(target, "/close-for?when=after") as ws:
        codes["close_for(error): 1011"], _ = await c.closed_by_server(ws)
    async with c.open_ws(target, "/invalid-json") as ws:
        await ws.send("{oops")
        await c.recv(ws)
        codes["invalid JSON: 1007"], _ = await c.closed_by_server(ws)
    async with c.open_ws(target, "/max-size") as ws:
        await ws.send(b"x" * (2 * p.APP_MAX_MESSAGE_SIZE))
        codes["max_message_size: 1009"], _ = await c.closed_by_server(ws)
    async with c.open_ws(target, p.ENDPOINT_ROUTE + "raise-after-accept") as ws:
        codes["endpoint raises after accept: 1011"], _ = await c.closed_by_server(ws)
    return {"app": None, "client": codes}


@check("empty-messages-dropped")
async def empty_messages_dropped(target: Target) -> Outcome:
    async with c.open_ws(target, "/empty") as ws:
        await ws.send(p.END)
        await c.recv_json(ws)
        received: list[JSON] = []
        while not (message := await c.recv(ws)) or isinstance(message, bytes):
            received.append(f"{type(message).__name__} {message!r}")
        sends = cast(p.EmptySendsReport, json.loads(message))
    app: JSON = {
        'send_text("")': kind(sends["text"], builtin=True),
        'send_bytes(b"")': kind(sends["bytes"], builtin=True),
    }
    return {"app": app, "client": {"received": received}}


@check("message-size-limits")
async def message_size_limits(target: Target) -> Outcome:
    echo = await drive_echo(target, 8 * MIB)
    code, app = await large_inbound(target, 16 * MIB + 1)
    return {"app": app, "client": {"8 MiB echo": echo, "16 MiB + 1: close code": code}}


@check("client-close-code")
async def client_close_code(target: Target) -> Outcome:
    """The code the app sees after the client closed with 4001, four ways."""
    codes: dict[str, JSON] = {}
    token = c.new_token()
    async with c.open_ws(target, f"/client-leave?token={token}") as ws:
        await c.client_close(ws)
    codes["receive_text()"] = (await c.report(target, token))["first"].get("code")
    for route, field in (("send-after-leave", "sends"), ("push-only", "ended")):
        token = c.new_token()
        async with c.open_ws(target, f"/{route}?token={token}") as ws:
            await c.client_close(ws, p.HANG_LIMIT)
        await c.signal(target, token)
        seen = await c.report(target, token)
        outcome = seen[field][0] if field == "sends" else seen[field]
        codes["first send" if field == "sends" else "push-only send"] = outcome.get("code")
    token = c.new_token()
    async with c.open_ws(target, f"/iter?kind=text&token={token}") as ws:
        await c.client_close(ws)
    codes["iter_text() close_code"] = (await c.report(target, token))["close_code"]
    return {"app": codes, "client": None}


@check("disconnect-reason-dropped")
async def disconnect_reason_dropped(target: Target) -> Outcome:
    token = c.new_token()
    async with c.open_ws(target, f"/client-leave?token={token}") as ws:
        await c.client_close(ws)
    seen = cast(p.ClientCloseReport, await c.report(target, token))
    app: JSON = {
        "exception reason": seen["first"].get("reason"),
        "close_reason": seen["close_reason"],
    }
    return {"app": app, "client": None}


@check("reset-code")
async def reset_code(target: Target) -> Outcome:
    codes: dict[str, JSON] = {}
    for name, reset in (("FIN", False), ("RST", True)):
        token = c.new_token()
        raw = await c.RawConnection.open(target, f"/client-leave?token={token}")
        raw.abort(reset=reset)
        codes[f"receive after {name}"] = (await c.report(target, token))["first"].get("code")
    token = c.new_token()
    raw = await c.RawConnection.open(target, f"/push-only?token={token}")
    raw.abort(reset=True)
    await c.signal(target, token)
    codes["push-only send after RST"] = (await c.report(target, token))["ended"].get("code")
    return {"app": codes, "client": None}


@check("malformed-frames")
async def malformed_frames(target: Target) -> Outcome:
    """Invalid UTF-8 in a text frame; an unmasked frame (RFC 6455: close 1007, 1002)."""
    client: dict[str, JSON] = {}
    app: dict[str, JSON] = {}
    for name, payload, masked in (
        ("invalid UTF-8", b"\xff\xfe", True),
        ("unmasked", b"plain", False),
    ):
        token = c.new_token()
        raw = await c.RawConnection.open(target, f"/observe?token={token}")
        try:
            raw.send_frame(0x1, payload, masked=masked)
            client[name] = await raw.server_close()
        finally:
            raw.close()
        seen = cast(p.ObserveReport, await c.report(target, token))
        app[name] = {"messages": len(seen["messages"]), "code": seen["ended"].get("code")}
    return {"app": cast(JSON, app), "client": cast(JSON, client)}


@check("tls-scheme")
async def tls_scheme(target: Target) -> Outcome:
    data, _ = await connection_data_of(target.secure())
    return {
        "app": {"url.scheme": data["url_scheme"], 'scope["scheme"]': data["scope_scheme"]},
        "client": None,
    }


@check("repeated-headers-joined")
async def repeated_headers_joined(target: Target) -> Outcome:
    data, _ = await connection_data_of(target)
    app: JSON = {
        'headers.getall("x-multi")': list(data["header_multi"]),
        "cookies of two Cookie headers": dict(data["cookies"]),
    }
    return {"app": app, "client": None}


@check("request-header-bytes")
async def request_header_bytes(target: Target) -> Outcome:
    """A request header whose value is not ASCII (UTF-8, latin-1) or holds a control
    byte: what the app reads from ``headers``, or the server's answer without it."""
    app: dict[str, JSON] = {}
    for name, value in ODD_HEADER_VALUES.items():
        token = c.new_token()
        status = await c.answer(target, f"/header-value?token={token}", [(b"x-value", value)])
        if status == 101:
            app[name] = cast("dict[str, JSON]", await c.report(target, token))["x-value"]
        else:
            app[name] = status if isinstance(status, str) else f"HTTP {status}"
    return {"app": app, "client": None}


@check("subprotocol-offer")
async def subprotocol_offer(target: Target) -> Outcome:
    """An offer in two ``Sec-WebSocket-Protocol`` headers, and one of empty items only."""
    seen, negotiated = await offer_seen(target, "two headers")
    if isinstance(seen, str):
        raise c.CheckFailed(f"the handshake was refused: {seen}")
    alone, _ = await offer_seen(target, "only empty items")
    app: JSON = {
        "two headers: offered": list(seen["offered"]),
        "two headers: the header": list(seen["header"]),
        '"," alone: offered': alone if isinstance(alone, str) else list(alone["offered"]),
    }
    return {"app": app, "client": {"two headers: negotiated": negotiated}}


@check("malformed-handshake")
async def malformed_handshake(target: Target) -> Outcome:
    """Requests RFC 6455 has a server refuse: the server's answer to each."""
    answers: dict[str, JSON] = {}
    for name, malformation in MALFORMED_REQUESTS.items():
        answers[name] = await c.answer(target, "/offered", **malformation)
    return {"app": None, "client": answers}


@check("request-head-limits")
async def request_head_limits(target: Target) -> Outcome:
    """Request heads that meet a server's own limits: the server's answer to each."""
    answers: dict[str, JSON] = {}
    for name, headers in LARGE_REQUEST_HEADS.items():
        answers[name] = await c.answer(target, "/offered", headers)
    return {"app": None, "client": answers}


@check("host-header")
async def host_header(target: Target) -> Outcome:
    """Requests with no Host header and with two: the authority the app's ``url`` names,
    or the server's answer."""
    app: dict[str, JSON] = {}
    for name, hosts in HOST_HEADERS.items():
        token = c.new_token()
        status = await c.answer(target, f"/host?token={token}", hosts=hosts)
        if status != 101:
            app[name] = status if isinstance(status, str) else f"HTTP {status}"
            continue
        seen = cast(p.HostReport, await c.report(target, token))
        app[name] = "the server's address" if seen["netloc"] == seen["server"] else seen["netloc"]
    return {"app": {"url.netloc": app}, "client": None}


@check("request-target")
async def request_target(target: Target) -> Outcome:
    """Request targets a server parses its own way: how the app reads each, or the
    server's answer."""
    forms = ("two leading slashes", "a fragment", "raw UTF-8")
    return {
        "app": {form: cast(JSON, await target_seen(target, form)) for form in forms},
        "client": None,
    }


@check("headers-servers-read")
async def headers_servers_read(target: Target) -> Outcome:
    """``HEADERS_SERVERS_READ`` in one handshake: ``root_path`` and the headers as the app
    reads them. (uvicorn's use of ``X-Forwarded-*`` is not observed here: it trusts only
    a client on 127.0.0.1, which the containers' matrix client is not; see
    ``tests/test_adapters.py``.)"""
    token = c.new_token()
    sent = [(name.encode(), value) for name, value in HEADERS_SERVERS_READ.items()]
    status = await c.answer(target, f"/headers-read?token={token}", sent)
    if status != 101:
        raise c.CheckFailed(f"the handshake was answered {status}")
    return {"app": cast(JSON, await c.report(target, token)), "client": None}


@check("early-frames")
async def early_frames(target: Target) -> Outcome:
    """A text the client sends before the server's 101, just after the request (once the
    app runs, so the server has read the request) or in the request's packet: what the
    app receives, or the server's answer; then whether the server still serves. On a
    server of its own: hypercorn's trio worker exits on the second."""
    if not target.local:
        raise c.NotRunnable("may stop the server: local runs only")
    server = await asyncio.to_thread(get(target.name).start, p.SCENARIO_APP, cwd=c.REPO_ROOT)
    try:
        own = Target(target.name, server.ws_url)
        app: dict[str, JSON] = {
            "after the request": await _early_text(own, with_request=False),
            "with the request": await _early_text(own, with_request=True),
        }
        try:
            async with c.open_ws(own, "/echo") as ws:
                await ws.send("still serving?")
                serving = await c.recv(ws) == "still serving?"
        except (OSError, WebSocketException):
            serving = False
    finally:
        await asyncio.to_thread(server.stop)
    return {"app": app, "client": {"the server still serves": serving}}


async def _early_text(target: Target, *, with_request: bool) -> JSON:
    """Send ``early`` before the 101, then ``after the 101``, then close: the texts the
    app received, or the server's answer."""
    token = c.new_token()
    accept = "at-once" if with_request else "on-signal"
    early = client_frame(0x1, b"early") if with_request else b""
    raw = await c.RawConnection.request(
        target, f"/early-frames?token={token}&accept={accept}", early=early
    )
    try:
        if not with_request:
            await c.report(target, token)  # the app runs: the server read the request
            raw.send_frame(0x1, b"early")
            await c.signal(target, token)
        status = await raw.status(p.HANG_LIMIT)
        if status == 101:
            raw.send_frame(0x1, b"after the 101")
            raw.send_close(1000, "")
            await raw.server_close()
    finally:
        raw.close()
    if status != 101:
        return status if isinstance(status, str) else f"HTTP {status}"
    return cast(p.EarlyFramesReport, await c.report(target, token))["received"]


async def _read_slowly(target: Target, path: str) -> tuple[int, int | None]:
    """A client with a 4 KiB window reads nothing of ``/slow-reader``'s messages for
    ``SLOW_READER_PAUSE`` s, then everything: the binary bytes received, and the code of
    the text ``end`` (None) or of the server's close frame (None: TCP ended without one)."""
    raw = await c.RawConnection.request(target, path, receive_buffer=4096)
    received = 0
    try:
        if await raw.status(p.HANG_LIMIT) != 101:
            raise c.CheckFailed("the handshake was refused")
        await asyncio.sleep(p.SLOW_READER_PAUSE)  # the slow reader itself, not a synchronisation
        while (frame := await raw.next_frame())[0] in (0x0, 0x2):  # binary, continuation
            received += len(frame[1])
        opcode, payload = frame
        return received, int.from_bytes(payload[:2], "big") if opcode == 0x8 else None
    except (asyncio.IncompleteReadError, ConnectionError):
        return received, None
    finally:
        raw.close()


@check("send-backpressure")
async def send_backpressure(target: Target) -> Outcome:
    """The slow reader, then the text ``end``: whether one of the app's sends waited for
    it, and what arrived."""
    token = c.new_token()
    received, _ = await _read_slowly(target, f"/slow-reader?token={token}")
    app = cast("dict[str, JSON]", await c.report(target, token))
    return {"app": app, "client": {"MiB received": received / MIB}}


@check("unread-at-close")
async def unread_at_close(target: Target) -> Outcome:
    """The slow reader, the app closing after its last send: whether all of it arrived,
    and the server's close frame."""
    token = c.new_token()
    received, code = await _read_slowly(target, f"/slow-reader?then=close&token={token}")
    await c.report(target, token)
    return {
        "app": None,
        "client": {
            f"all {p.SLOW_READER_MIB} MiB": received == p.SLOW_READER_MIB * MIB,
            "server's close frame": code,
        },
    }


@check("receive-backpressure")
async def receive_backpressure(target: Target) -> Outcome:
    """The client sends ``FLOOD_MIB`` MiB to an app that receives nothing until told, for at
    most ``FLOOD_WINDOW`` s: whether the server took all of it meanwhile; then the
    rest, and what the app received."""
    token = c.new_token()
    raw = await c.RawConnection.open(target, f"/slow-receiver?token={token}")
    messages = p.FLOOD_MIB * 16
    frame = client_frame(0x2, bytes(64 * 1024))
    try:
        written = await raw.send_until_blocked(frame, messages, p.FLOOD_WINDOW)
        await c.signal(target, token)
        for _ in range(messages - written):
            raw.send_frame(0x2, bytes(64 * 1024))
            await raw.flush()
        raw.send_frame(0x1, p.END.encode())
        await raw.flush()
        app = cast("dict[str, JSON]", await c.report(target, token))
    finally:
        raw.close()
    return {"app": app, "client": {f"the server took all {p.FLOOD_MIB} MiB": written == messages}}


@check("handshake-timeout")
async def handshake_timeout(target: Target) -> Outcome:
    """An app that works ``LATE_ACCEPT`` seconds before accepting: the server's answer,
    and what the app's accept and its receive after it did (the client sends a text)."""
    token = c.new_token()
    raw = await c.RawConnection.request(target, f"/late-accept?token={token}")
    try:
        status = await raw.status(p.LATE_ACCEPT + p.HANG_LIMIT)
        if status == 101:
            raw.send_frame(0x1, b"hello")
        seen = cast(p.LateAcceptReport, await c.late_report(target, token, p.HANG_LIMIT))
    finally:
        raw.close()
    app: JSON = {
        "accept()": kind(seen["accept"]),
        "then receive_text()": kind(seen["receive"]),
        "its code": seen["receive"].get("code"),
    }
    return {"app": app, "client": {"answer": status}}


@check("work-after-leave")
async def work_after_leave(target: Target) -> Outcome:
    """The client closes; the app then works for ``WORK_AFTER_LEAVE`` seconds: whether the
    work finished."""
    token = c.new_token()
    async with c.open_ws(target, f"/work-after-leave?token={token}") as ws:
        await ws.send("x")
    seen = await c.late_report(target, token, p.WORK_AFTER_LEAVE)
    return {"app": cast("dict[str, JSON]", seen), "client": None}


@check("lifespan-state")
async def lifespan_state(target: Target) -> Outcome:
    async with c.open_ws(target, "/state") as ws:
        return {"app": await c.recv_json(ws), "client": None}


@check("close-reply-code")
async def close_reply_code(target: Target) -> Outcome:
    """The code of the server's answer to the client's close frame (4001)."""
    token = c.new_token()
    raw = await c.RawConnection.open(target, f"/client-leave?token={token}")
    try:
        raw.send_close(p.CLIENT_CLOSE_CODE, p.CLIENT_CLOSE_REASON)
        reply = await raw.server_close()
    finally:
        raw.close()
    await c.report(target, token)
    return {"app": None, "client": {"server's close frame": reply}}


async def large_inbound(target: Target, size: int) -> tuple[int | None, JSON]:
    """Send ``size`` bytes in one message to ``/observe``: the close code the client got,
    and what the app saw."""
    token = c.new_token()
    path = f"/observe?token={token}&wait={p.HANG_LIMIT * 2:g}"
    async with c.open_ws(target, path, compression=None) as ws:
        with contextlib.suppress(ConnectionClosed):  # dropped during the send
            await c.bounded(ws.send(os.urandom(size)))
        # Nothing more is sent: a text frame after an oversized binary message crashes
        # hypercorn's connection task (TypeError in ws_stream's buffer; on trio, the worker).
        code, _ = await c.closed_by_server(ws)
    seen = cast(p.ObserveReport, await c.report(target, token))
    app: JSON = {
        "messages": [m["length"] for m in seen["messages"]],
        "ended by": kind(seen["ended"]),
        "code": seen["ended"].get("code"),
    }
    return code, app


async def drive_echo(target: Target, size: int) -> str:
    """Echo ``size`` bytes through ``/echo``: ``"echoed"``, or what happened instead."""
    async with c.open_ws(target, "/echo", compression=None) as ws:
        message = os.urandom(size)
        try:
            await c.bounded(ws.send(message))
            return "echoed" if await c.recv(ws) == message else "changed"
        except ConnectionClosed as exc:
            return f"closed {exc.rcvd.code}" if exc.rcvd else "dropped, no close frame"
