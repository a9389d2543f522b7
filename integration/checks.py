"""Client-side checks (one per scenario): drive the app, return what was observed.

A check never decides whether its outcome is right: it returns the
application's and the client's observations as small normalised JSON
(:class:`~integration.scenarios.Outcome`), and the runner compares them with the
scenario table (``integration.scenarios``). Normalised means: what varies from
run to run (ports, tokens, timings) never appears, and what an inherent
difference covers is left to that row's check (``integration.inherent``).
"""

from __future__ import annotations

import asyncio
import base64
import contextlib
import json
import os
import random
import re
from collections.abc import Mapping
from typing import Final, cast

from websockets.exceptions import ConnectionClosed, WebSocketException

from adapters import get
from adapters.handshake import REQUEST_TARGETS, SUBPROTOCOL_OFFERS
from integration import protocol as p
from integration.client import (
    REPO_ROOT,
    CheckFailed,
    NotRunnable,
    RawConnection,
    Target,
    answer,
    bounded,
    client_close,
    closed_by_server,
    http_get,
    leave_before_accept,
    new_token,
    open_ws,
    recv,
    recv_json,
    rejected,
    report,
    signal,
    tally,
)
from integration.outcomes import Check, check, kind, leaked
from integration.scenarios import JSON, Outcome

__all__ = ["MIB", "RACES", "connection_data_of", "offer_seen"]

RACES: Final = 200
MIB: Final = 1024 * 1024
TWO_RECEIVERS_MESSAGES: Final = 10
TIMED_MESSAGES: Final = 200


async def _echo_and_report(target: Target, path: str, messages: list[str | bytes]) -> Outcome:
    token = new_token()
    async with open_ws(target, f"{path}&token={token}") as ws:
        echoed = []
        for message in messages:
            await ws.send(message)
            echoed.append(await recv(ws))
    seen = cast(p.IterReport, await report(target, token))
    shown = [m.hex() if isinstance(m, bytes) else m for m in echoed]
    return {"app": {"received": seen["received"], "ended": kind(seen["error"])}, "client": shown}


@check("echo-text")
async def echo_text(target: Target) -> Outcome:
    return await _echo_and_report(target, "/iter?kind=text", ["hello", "second message"])


@check("echo-bytes")
async def echo_bytes(target: Target) -> Outcome:
    return await _echo_and_report(target, "/iter?kind=bytes", [b"\x00\x01\xff", b"bytes"])


def _echo_json(mode: str, message: str | bytes) -> Check:
    async def run(target: Target) -> Outcome:
        token = new_token()
        async with open_ws(target, f"/echo-json?mode={mode}&token={token}") as ws:
            await ws.send(message)
            echoed = await recv(ws)
        seen = cast(p.EchoJSONReport, await report(target, token))
        frame = "text" if isinstance(echoed, str) else "binary"
        text = echoed if isinstance(echoed, str) else echoed.decode("utf-8", "replace")
        return {"app": cast(JSON, seen["received"]), "client": {"frame": frame, "payload": text}}

    return run


check("echo-json-text")(_echo_json("text", '{"message": "hi", "n": [1, 2]}'))
check("echo-json-binary")(_echo_json("binary", b'{"message": "hi"}'))


@check("non-ascii")
async def non_ascii(target: Target) -> Outcome:
    client: dict[str, JSON] = {}
    for path, message in (
        ("/echo", p.NON_ASCII_TEXT),
        ("/echo-json?mode=text", json.dumps({"text": p.NON_ASCII_TEXT})),
        ("/echo-json?mode=binary", json.dumps({"text": p.NON_ASCII_TEXT}).encode()),
    ):
        async with open_ws(target, path) as ws:
            await ws.send(message)
            echoed = await recv(ws)
        client[path] = echoed if isinstance(echoed, str) else "binary: " + echoed.decode()
    return {"app": None, "client": client}


@check("empty-messages")
async def empty_messages(target: Target) -> Outcome:
    """Empty frames from the client (the app's empty sends: ``empty-messages-dropped``)."""
    async with open_ws(target, "/empty") as ws:
        for message in ("", b"", p.END):
            await ws.send(message)
        seen = await recv_json(ws)
    return {"app": seen, "client": None}


@check("unencodable-text")
async def unencodable_text(target: Target) -> Outcome:
    """The app sends a text with no UTF-8: what it saw, and what reached the client."""
    token = new_token()
    received: list[JSON] = []
    async with open_ws(target, f"/unencodable?token={token}") as ws:
        while (message := await recv(ws)) != p.END:
            received.append(repr(message))
    seen = cast(p.UnencodableReport, await report(target, token))
    app: JSON = {"send_text": kind(seen["send_text"]), "send_json": kind(seen["send_json"])}
    return {"app": app, "client": {"received before end": received}}


def _large(size: int) -> Check:
    async def run(target: Target) -> Outcome:
        data = os.urandom(size)
        text = base64.b64encode(os.urandom(size * 3 // 4)).decode("ascii")
        client: dict[str, JSON] = {}
        async with open_ws(target, "/echo", compression=None) as ws:
            for name, message in (("text", text), ("bytes", data)):
                await ws.send(message)
                client[name] = "echoed intact" if await recv(ws) == message else "changed"
        return {"app": None, "client": client}

    return run


check("large-1mib")(_large(MIB))


def connection_query() -> tuple[str, list[tuple[str, str]]]:
    query = "b=2&a=1&a=3&e=%C3%A9t%C3%A9"
    headers = [
        ("X-Multi", "one"),
        ("X-Multi", "two"),
        ("Cookie", "flavour=oat; theme=dark"),
        ("Cookie", "size=big"),
    ]
    return query, headers


async def connection_data_of(target: Target) -> tuple[p.ConnectionData, str]:
    """What ``/connection-data`` reports, and the client's own address."""
    query, headers = connection_query()
    async with open_ws(target, f"/connection-data/caf%C3%A9?{query}", headers=headers) as ws:
        data = cast(p.ConnectionData, await recv_json(ws))
        local = str(ws.local_address[0])
    return data, local


def _normalised(target: Target, data: p.ConnectionData, local: str) -> dict[str, JSON]:
    netloc = f"{target.host}:{target.port}"
    seen = cast(dict[str, JSON], dict(data))
    seen["url"] = data["url"].replace(netloc, "HOST:PORT", 1)
    seen["header_host"] = data["header_host"].replace(netloc, "HOST:PORT")
    seen["url_port"] = "PORT" if data["url_port"] == target.port else data["url_port"]
    seen["url_hostname"] = "HOST" if data["url_hostname"] == target.host else data["url_hostname"]
    seen["client_host"] = "the client's address" if data["client_host"] == local else "other"
    del seen["header_multi"], seen["cookies"]  # repeated-headers-joined
    del seen["scope_scheme"]  # the server's raw scope (tls-scheme); lilya_ws's url is below
    return seen


@check("connection-data")
async def connection_data(target: Target) -> Outcome:
    data, local = await connection_data_of(target)
    return {"app": _normalised(target, data, local), "client": None}


@check("connection-data-tls")
async def connection_data_tls(target: Target) -> Outcome:
    secure = target.secure()
    data, local = await connection_data_of(secure)
    seen = _normalised(secure, data, local)
    scheme = data["url_scheme"]
    seen["url_agrees_with_scheme"] = data["url"].startswith(scheme + "://")
    seen["url"] = data["url"].replace(scheme + "://", "SCHEME://", 1)
    seen["url"] = str(seen["url"]).replace(f"{secure.host}:{secure.port}", "HOST:PORT", 1)
    del seen["url_scheme"]  # tls-scheme
    return {"app": seen, "client": None}


@check("subprotocol")
async def subprotocol(target: Target) -> Outcome:
    offered = list(p.SUBPROTOCOLS_OFFERED)
    async with open_ws(target, "/subprotocol", subprotocols=offered) as ws:
        negotiated = ws.subprotocol
        seen = cast(p.SubprotocolReport, await recv_json(ws))
    app: JSON = {
        "offered": list(seen["offered"]),
        "accept(unoffered)": kind(seen["refused"], builtin=True),
    }
    return {"app": app, "client": {"negotiated": negotiated}}


@check("concurrent-sends")
async def concurrent_sends(target: Target) -> Outcome:
    """Count the binary messages, each whole (64 KiB of one byte), until the app's report."""
    whole = broken = 0
    async with open_ws(target, "/concurrent-sends", compression=None) as ws:
        while isinstance(message := await recv(ws), bytes):
            if len(message) == 65536 and message.count(message[:1]) == 65536:
                whole += 1
            else:
                broken += 1
        seen = cast(p.ConcurrentSendsReport, json.loads(message))
    app: JSON = {"errors raised by the sends": list(seen["errors"])}
    return {"app": app, "client": {"whole messages": whole, "broken": broken}}


@check("denial-framing")
async def denial_framing(target: Target) -> Outcome:
    token = new_token()
    status, _, _ = await rejected(target, f"/denial-framing?token={token}")
    seen = cast(p.DenialFramingReport, await report(target, token))
    app: JSON = {"send(start with transfer-encoding)": kind(seen["send"], builtin=True)}
    return {"app": app, "client": {"http_status": status}}


@check("accept-server-headers")
async def accept_server_headers(target: Target) -> Outcome:
    async with open_ws(target, "/accept-server-headers") as ws:
        seen = cast(p.ServerHeadersReport, await recv_json(ws))
    tried: JSON = {name: kind(outcome, builtin=True) for name, outcome in seen["tried"].items()}
    return {"app": {"accept(headers=[(name, ...)])": tried}, "client": {"handshake": "completed"}}


@check("header-values")
async def header_values(target: Target) -> Outcome:
    async with open_ws(target, "/header-values") as ws:
        seen = cast(p.HeaderValuesReport, await recv_json(ws))
    app: JSON = {
        "accept(headers=...)": {name: kind(o, builtin=True) for name, o in seen["accept"].items()},
        "send(a denial's start)": {
            name: kind(o, builtin=True) for name, o in seen["denial"].items()
        },
    }
    return {"app": app, "client": {"handshake": "completed"}}


async def offer_seen(target: Target, offer: str) -> tuple[p.OfferedReport | str, str | None]:
    """Send ``SUBPROTOCOL_OFFERS[offer]`` as ``Sec-WebSocket-Protocol`` request headers,
    one each, to ``/offered``: the app's report (or the server's answer when it refused
    the handshake) and the subprotocol the server's answer names."""
    token = new_token()
    headers = [(b"sec-websocket-protocol", value) for value in SUBPROTOCOL_OFFERS[offer]]
    raw = await RawConnection.request(target, f"/offered?token={token}", headers)
    try:
        status = await raw.status(p.HANG_LIMIT)
    finally:
        raw.close()
    if status != 101:
        return (status if isinstance(status, str) else f"HTTP {status}"), None
    negotiated = raw.answer_headers.get("sec-websocket-protocol", [None])[0]
    return cast(p.OfferedReport, await report(target, token)), negotiated


@check("subprotocol-list")
async def subprotocol_list(target: Target) -> Outcome:
    """An offer with an empty item: what the app sees, what the client is answered."""
    seen, negotiated = await offer_seen(target, "empty items")
    offered = seen if isinstance(seen, str) else seen["offered"]
    return {"app": {"offered": offered}, "client": {"negotiated": negotiated}}


async def target_seen(target: Target, form: str) -> p.RequestTargetReport | str:
    """Open ``/request-target`` with ``REQUEST_TARGETS[form]`` as the request target: the
    app's report, or the server's answer when it refused the handshake."""
    token = new_token()
    request_target = REQUEST_TARGETS[form].format(
        authority=f"{target.host}:{target.port}", route="request-target", query=f"token={token}"
    )
    status = await answer(target, request_target)
    if status != 101:
        return status if isinstance(status, str) else f"HTTP {status}"
    return cast(p.RequestTargetReport, await report(target, token))


@check("absolute-form-target")
async def absolute_form_target(target: Target) -> Outcome:
    """``GET ws://host:port/request-target?q=1``: how the app reads the target."""
    return {"app": cast(JSON, await target_seen(target, "absolute-form")), "client": None}


@check("busy-app")
async def busy_app(target: Target) -> Outcome:
    """While the app works between a receive and its next send (``BUSY_WORK``), the client
    pings, then closes: whether each is answered, and what the app's send does then."""
    token = new_token()
    raw = await RawConnection.open(target, f"/busy?token={token}")
    try:
        raw.send_frame(0x1, b"work")
        if await raw.next_frame() != (0x1, b"working"):
            raise CheckFailed("the app did not say it was working")
        raw.send_frame(0x9, b"still there?")
        pong = await raw.answered(0xA)
        raw.send_close(p.CLIENT_CLOSE_CODE, p.CLIENT_CLOSE_REASON)
        closed = await raw.answered(0x8)
    finally:
        raw.close()
    await signal(target, token)
    seen = cast(p.BusyReport, await report(target, token))
    app: JSON = {"signalled": seen["signalled"], "send after the client left": kind(seen["send"])}
    return {"app": app, "client": {"ping answered": pong, "close answered": closed}}


@check("close-code-reason")
async def close_code_reason(target: Target) -> Outcome:
    """The code (the reason and the app's warnings: ``close-reason-dropped``)."""
    token = new_token()
    async with open_ws(target, f"/close-with-reason?token={token}") as ws:
        code, _ = await closed_by_server(ws)
    await report(target, token)
    return {"app": None, "client": {"code": code}}


@check("close-before-accept")
async def close_before_accept(target: Target) -> Outcome:
    token = new_token()
    status, _, _ = await rejected(target, f"/close-before-accept?token={token}")
    seen = cast(p.BeforeAcceptReport, await report(target, token))
    return {"app": {"close()": kind(seen["close"])}, "client": {"http_status": status}}


def _after_leave(seen: p.ClientCloseReport) -> JSON:
    """What the app saw after the client left, the code and reason aside (inherent rows)."""
    codes = {seen[step].get("code") for step in ("first", "second", "send")}
    return {
        "first receive_text()": kind(seen["first"]),
        "second receive_text()": kind(seen["second"]),
        "send_text()": kind(seen["send"]),
        "one code everywhere": codes == {seen["close_code"]},
        "close_code type": seen["close_code_type"],
    }


@check("client-close")
async def client_close_seen(target: Target) -> Outcome:
    token = new_token()
    async with open_ws(target, f"/client-leave?token={token}") as ws:
        handshake = await client_close(ws)
    seen = cast(p.ClientCloseReport, await report(target, token))
    return {"app": _after_leave(seen), "client": {"closing handshake": handshake}}


@check("client-drop")
async def client_drop(target: Target) -> Outcome:
    token = new_token()
    raw = await RawConnection.open(target, f"/client-leave?token={token}")
    raw.abort(reset=False)
    seen = cast(p.ClientCloseReport, await report(target, token))
    return {"app": _after_leave(seen), "client": None}


@check("client-close-held-open")
async def client_close_held_open(target: Target) -> Outcome:
    """A close frame, then the TCP connection kept open until the server ends it (the code
    of the server's answer: ``close-reply-code``)."""
    token = new_token()
    raw = await RawConnection.open(target, f"/client-leave?token={token}")
    try:
        raw.send_close(p.CLIENT_CLOSE_CODE, p.CLIENT_CLOSE_REASON)
        reply = await raw.server_close()
        tcp_closed = await raw.tcp_closed()
    finally:
        raw.close()
    seen = cast(p.ClientCloseReport, await report(target, token))
    client: JSON = {
        "server answered with a close frame": reply not in ("dropped", "none"),
        "server ended TCP": tcp_closed,
    }
    return {"app": _after_leave(seen), "client": client}


async def _leave(target: Target, path: str, how: str) -> JSON:
    """Leave ``path`` by ``how`` (``close`` 4001, ``fin`` or ``reset``); the client's view."""
    if how == "close":
        async with open_ws(target, path) as ws:
            return {"closing handshake": await client_close(ws, p.HANG_LIMIT)}
    raw = await RawConnection.open(target, path)
    raw.abort(reset=how == "reset")
    return None


def _send_after(how: str) -> Check:
    async def run(target: Target) -> Outcome:
        token = new_token()
        client = await _leave(target, f"/send-after-leave?token={token}&how={how}", how)
        await signal(target, token)
        return {"app": _sends_seen(await report(target, token)), "client": client}

    return run


def _sends_seen(seen: Mapping[str, object]) -> JSON:
    """What ``/send-after-leave`` reported: each call's outcome, in kind."""
    report = cast(p.SendAfterLeaveReport, seen)
    return {
        "signalled": report["signalled"],
        "accept()": kind(report["accept"]),
        "sends": [kind(outcome) for outcome in report["sends"]],
        "receive_text() afterwards": kind(report["receive"]),
    }


check("send-after-close")(_send_after("close"))
check("send-after-drop")(_send_after("fin"))


@check("client-left-before-accept")
async def _left_before_accept(target: Target) -> Outcome:
    """The client drops TCP (a FIN, then in a second connection a reset) before the app
    accepts; then the app accepts and sends."""
    app: dict[str, JSON] = {}
    for how in ("fin", "reset"):
        token = new_token()
        path = f"/send-after-leave?token={token}&how={how}&accept=late"
        await leave_before_accept(target, path, token, how)
        app[how] = _sends_seen(await report(target, token))
    return {"app": app, "client": None}


@check("close-after-leave")
async def _close_after_leaving(target: Target) -> Outcome:
    """The client drops TCP after the handshake, before the app accepts, or before it
    closes instead of accepting; then the app closes 4003."""
    app: dict[str, JSON] = {}
    for accept, step in (
        ("early", "after accept"),
        ("late", "before accept"),
        ("never", "instead of accepting"),
    ):
        token = new_token()
        path = f"/close-after-leave?token={token}&accept={accept}"
        if accept == "early":
            (await RawConnection.open(target, path)).abort(reset=False)
            await signal(target, token)
        else:
            await leave_before_accept(target, path, token, "fin")
        seen = cast(p.CloseAfterLeaveReport, await report(target, token))
        outcome: dict[str, JSON] = {"close()": kind(seen["close"])}
        if accept == "late":
            outcome = {"accept()": kind(seen["accept"]), **outcome}
        app[step] = outcome
    return {"app": app, "client": None}


async def _leave_after_first_message(target: Target, path: str, how: str) -> JSON:
    """Take the app's first message, then close 4001 (``close``) or reset TCP; the
    client's view. The client reads on while it closes, however fast the app sends."""
    if how == "close":
        async with open_ws(target, path, max_queue=None) as ws:
            await recv(ws)
            return {"closing handshake": await client_close(ws, p.HANG_LIMIT)}
    raw = await RawConnection.open(target, path)
    await raw.next_frame()
    raw.abort(reset=True)
    return None


def _push_only(how: str, pace: str = "every-10-ms") -> Check:
    async def run(target: Target) -> Outcome:
        token = new_token()
        path = f"/push-only?token={token}&pace={pace}"
        client = await _leave_after_first_message(target, path, how)
        await signal(target, token)
        seen = cast(p.PushReport, await report(target, token))
        app: JSON = {
            "loop ended by": kind(seen["ended"]),
            "sends that returned after the client left": seen["sends_after_signal"],
            "close_code = the exception's code": seen["ended"].get("code") == seen["close_code"],
        }
        return {"app": app, "client": client}

    return run


check("push-only-after-close")(_push_only("close"))
check("push-only-after-reset")(_push_only("reset"))
check("push-flat-out-after-close")(_push_only("close", "flat-out"))
check("push-flat-out-after-reset")(_push_only("reset", "flat-out"))


def _reader_writer(how: str) -> Check:
    async def run(target: Target) -> Outcome:
        token = new_token()
        client = await _leave_after_first_message(target, f"/reader-writer?token={token}", how)
        seen = cast(p.ReaderWriterReport, await report(target, token))
        codes = {seen["reader"].get("code"), seen["writer"].get("code"), seen["close_code"]}
        app: JSON = {
            "reader ended by": kind(seen["reader"]),
            "writer ended by": kind(seen["writer"]),
            "one code for both, = close_code": len(codes) == 1,
        }
        return {"app": app, "client": client}

    return run


check("reader-writer-after-close")(_reader_writer("close"))
check("reader-writer-after-reset")(_reader_writer("reset"))


@check("two-receivers")
async def two_receivers(target: Target) -> Outcome:
    """Ten messages, then the client's close (its code: ``client-close-code``)."""
    token = new_token()
    async with open_ws(target, f"/two-receivers?token={token}") as ws:
        for index in range(TWO_RECEIVERS_MESSAGES):
            await ws.send(f"message {index}")
        client: JSON = {"closing handshake": await client_close(ws, p.HANG_LIMIT)}
    seen = cast(p.TwoReceiversReport, await report(target, token))
    app: JSON = {
        "how the two tasks ended": sorted(kind(ended, builtin=True) for ended in seen["ended"]),
        "every message received, by one or the other": (
            sum(seen["received"]) == TWO_RECEIVERS_MESSAGES
        ),
    }
    return {"app": app, "client": client}


@check("receive-timeouts")
async def receive_timeouts(target: Target) -> Outcome:
    """The texts "0" to "199", 0-4 ms apart (a fixed pseudo-random pace), then the
    client's close."""
    token = new_token()
    pace = random.Random(TIMED_MESSAGES)
    async with open_ws(target, f"/timed-receives?token={token}") as ws:
        for index in range(TIMED_MESSAGES):
            await ws.send(str(index))
            await asyncio.sleep(pace.random() * 0.004)  # the pace of the sends
        client: JSON = {"closing handshake": await client_close(ws, p.HANG_LIMIT)}
    seen = cast(p.TimedReceivesReport, await report(target, token))
    app: JSON = {
        "every message, in order": seen["texts"] == [str(i) for i in range(TIMED_MESSAGES)],
        "some receives timed out": seen["timeouts"] > 0,
        "ended by": kind(seen["ended"]),
    }
    return {"app": app, "client": client}


@check("close-while-receiving")
async def close_while_receiving(target: Target) -> Outcome:
    """The reader's code and reason are the app's close (its reason on daphne:
    ``close-reason-dropped``)."""
    token = new_token()
    async with open_ws(target, f"/close-while-receiving?token={token}") as ws:
        await ws.send("close, please")
        code, _ = await closed_by_server(ws)
    seen = cast(p.CloseWhileReceivingReport, await report(target, token))
    reader = seen["reader"]
    app: JSON = {
        "close()": kind(seen["close"]),
        "pending receive ended by": kind(reader),
        "close_code": seen["close_code"],
        "its code and reason = close_code and close_reason": (
            reader.get("code"),
            reader.get("reason"),
        )
        == (seen["close_code"], seen["close_reason"]),
    }
    return {"app": app, "client": {"code": code}}


@check("iter-close-code")
async def iter_close_code(target: Target) -> Outcome:
    """``iter_*`` end on the client's close (the code itself: ``client-close-code``)."""
    messages: dict[p.IterKind, str | bytes] = {"text": "one", "bytes": b"\x01", "json": b'{"a":1}'}
    app: dict[str, JSON] = {}
    for name, message in messages.items():
        token = new_token()
        async with open_ws(target, f"/iter?kind={name}&token={token}") as ws:
            await ws.send(message)
            await recv(ws)
            await client_close(ws)
        seen = cast(p.IterReport, await report(target, token))
        app[f"iter_{name}"] = {
            "messages": len(seen["received"]),
            "loop": kind(seen["error"]),
            "close_code type": seen["close_code_type"],
        }
    return {"app": app, "client": None}


@check("wrong-frame-type")
async def wrong_frame_type(target: Target) -> Outcome:
    async with open_ws(target, "/wrong-type") as ws:
        await ws.send(b"\x00\xff")
        await ws.send("text!")
        seen = cast(p.WrongTypeReport, await recv_json(ws))
        code, reason = await closed_by_server(ws)
    app: JSON = {
        "receive_text() on bytes": kind(seen["text_for_bytes"], builtin=True),
        "kept bytes": seen["bytes_payload"],
        "receive_bytes() on text": kind(seen["bytes_for_text"], builtin=True),
        "kept text": seen["text_payload"],
    }
    return {"app": app, "client": {"close": [code, reason]}}


@check("invalid-json")
async def invalid_json(target: Target) -> Outcome:
    """The typed error (its close code and reason: the inherent rows)."""
    async with open_ws(target, "/invalid-json") as ws:
        await ws.send("{oops")
        seen = cast(p.InvalidJSONReport, await recv_json(ws))
        code, _ = await closed_by_server(ws)
    app: JSON = {"receive_json()": kind(seen["error"], builtin=True), "kept": seen["payload"]}
    return {"app": app, "client": {"close frame": code is not None}}


@check("max-message-size")
async def max_message_size(target: Target) -> Outcome:
    token = new_token()
    async with open_ws(target, f"/max-size?token={token}") as ws:
        await ws.send(b"x" * (2 * p.APP_MAX_MESSAGE_SIZE))
        code, _ = await closed_by_server(ws)
    seen = await report(target, token)
    app: JSON = {"receive_bytes()": kind(cast(p.CallOutcome, seen["error"]), builtin=True)}
    return {"app": app, "client": {"close frame": code is not None}}


@check("close-for-before-accept")
async def close_for_before_accept(target: Target) -> Outcome:
    token = new_token()
    status, _, body = await rejected(target, f"/close-for?when=before&token={token}")
    seen = await report(target, token)
    client: JSON = {"http_status": status, "secret leaked": leaked(body)}
    return {"app": {"close_for()": kind(seen["close_for"])}, "client": client}


@check("close-for-after-accept")
async def close_for_after_accept(target: Target) -> Outcome:
    token = new_token()
    async with open_ws(target, f"/close-for?when=after&token={token}") as ws:
        seen = await report(target, token)
        code, reason = await closed_by_server(ws)
    client: JSON = {"close frame": code is not None, "secret leaked": leaked(reason)}
    return {"app": {"close_for()": kind(seen["close_for"])}, "client": client}


@check("endpoint-return-after-accept")
async def endpoint_return_after_accept(target: Target) -> Outcome:
    async with open_ws(target, p.ENDPOINT_ROUTE + "return-after-accept") as ws:
        code, reason = await closed_by_server(ws)
    return {"app": None, "client": {"close": [code, reason]}}


@check("endpoint-raise-after-accept")
async def endpoint_raise_after_accept(target: Target) -> Outcome:
    async with open_ws(target, p.ENDPOINT_ROUTE + "raise-after-accept") as ws:
        code, reason = await closed_by_server(ws)
    client: JSON = {"close frame": code is not None, "secret leaked": leaked(reason)}
    return {"app": None, "client": client}


@check("endpoint-raise-before-accept")
async def endpoint_raise_before_accept(target: Target) -> Outcome:
    status, _, body = await rejected(target, p.ENDPOINT_ROUTE + "raise-before-accept")
    client: JSON = {"refused over HTTP": status >= 400, "secret leaked": leaked(body)}
    return {"app": None, "client": client}


@check("endpoint-return-before-accept")
async def endpoint_return_before_accept(target: Target) -> Outcome:
    status, _, _ = await rejected(target, p.ENDPOINT_ROUTE + "return-before-accept")
    return {"app": None, "client": {"http_status": status}}


@check("endpoint-http-and-lifespan")
async def endpoint_http_and_lifespan(target: Target) -> Outcome:
    """An endpoint served alone: HTTP gets its 404, and the server logs no lifespan warning."""
    if not target.local:
        raise NotRunnable("starts its own server: local runs only")
    server = await asyncio.to_thread(get(target.name).start, p.ENDPOINT_APP, cwd=REPO_ROOT)
    try:
        own = Target(target.name, server.ws_url)
        status, body = await http_get(own, "/")
        path_status, _ = await http_get(own, p.ENDPOINT_ROUTE + "return-after-accept")
    finally:
        await asyncio.to_thread(server.stop)
    noise = [line for line in server.log().splitlines() if _LOG_NOISE.search(line)]
    client: JSON = {
        "GET /": [status, body.decode("utf-8", "replace")],
        "GET /endpoint/...": path_status,
    }
    return {"app": {"server log: lifespan, warnings, errors": noise}, "client": client}


_LOG_NOISE: Final = re.compile(r"lifespan|error|exception|traceback", re.IGNORECASE)
"""Server log lines about the app: lifespan complaints, errors, tracebacks (a server's
deprecation warnings about itself are not the app's doing)."""


async def _race(target: Target, path: str, *, message: str | None) -> tuple[int, list[str], bool]:
    """Open ``path`` :data:`RACES` times, send ``message`` if any, close at once: the
    connections completed, what the apps tallied, and whether the server still serves."""
    token = new_token()
    completed = 0
    try:
        for _ in range(RACES):
            async with open_ws(target, f"{path}?token={token}") as ws:
                if message is not None:
                    await ws.send(message)
                with contextlib.suppress(ConnectionClosed):
                    await bounded(ws.close(p.CLIENT_CLOSE_CODE, p.CLIENT_CLOSE_REASON))
            completed += 1
        tallied = await tally(target, token)
        async with open_ws(target, "/echo") as ws:
            await ws.send("still serving?")
            serving = await recv(ws) == "still serving?"
    except (OSError, WebSocketException):  # the server stopped serving
        return completed, [], False
    return completed, tallied, serving


@check("close-race")
async def close_race(target: Target) -> Outcome:
    """The app closes as the client's close frame arrives, :data:`RACES` times."""
    completed, outcomes, serving = await _race(target, "/close-race", message="go")
    unexpected = sorted({o for o in outcomes if o not in ("close: returned", _CLOSE_DISCONNECT)})
    app: JSON = {
        "close() outcomes": len(outcomes),
        "other than returned or WebSocketDisconnect": unexpected,
    }
    client: JSON = {"connections": completed, "server still serving": serving}
    return {"app": app, "client": client}


_CLOSE_DISCONNECT: Final = "close: WebSocketDisconnect"


@check("endpoint-close-race")
async def endpoint_close_race(target: Target) -> Outcome:
    """An endpoint returns after accept (lilya_ws closes 1000) as the client closes,
    :data:`RACES` times: no exception escapes the endpoint to the server."""
    path = p.ENDPOINT_ROUTE + "return-after-accept"
    completed, escaped, serving = await _race(target, path, message=None)
    app: JSON = {"exceptions escaping the endpoint": sorted(set(escaped))}
    client: JSON = {"connections": completed, "server still serving": serving}
    return {"app": app, "client": client}
