"""The scenario apps (server side): one ASGI app, written once with lilya_ws, routing by path.

The first path segment names the app (``/iter?kind=text``, ``/deny?kind=plain``...);
any other path echoes, which is where the adapters' readiness check lands.
``/endpoint/...`` goes, whatever the scope type, to the ``lilya_ws.endpoint`` apps
of ``integration.endpoint_apps``. What a client cannot see for itself (what the
app saw after the client left) is stored under a token the client chose and
fetched over a second connection to ``/report/<token>``; ``/signal/<token>``
wakes an app that waits for the client to leave. Every wait is bounded, on
asyncio and on trio (via anyio).

Serve it with ``python -m adapters serve uvicorn-websockets integration.apps:app``.
One server process must serve all connections of a check (the results live in
its memory): run servers with a single worker.
"""

from __future__ import annotations

import contextlib
import importlib
import warnings
from collections.abc import AsyncIterator, Awaitable, Callable, Mapping, MutableMapping
from typing import Any, Final, TypeAlias, cast
from urllib.parse import parse_qs

import anyio
import anyio.lowlevel

from adapters.handshake import HEADERS_SERVERS_READ
from adapters.raw_asgi import LIFESPAN_STATE, websocket_only
from integration import appkit as kit
from integration import protocol as p
from lilya_ws import (
    DenialResponseUnsupported,
    InvalidJSON,
    InvalidMessage,
    OriginPolicy,
    ReceiveTimeout,
    Response,
    StreamingResponse,
    UnexpectedMessageType,
    WebSocket,
    WebSocketDisconnect,
    enforce_origin,
)
from lilya_ws.types import Scope
from lilya_ws.websockets import Mode

__all__ = ["ROUTES", "app"]

RawReceive: TypeAlias = Callable[[], Awaitable[Mapping[str, Any]]]
RawSend: TypeAlias = Callable[[MutableMapping[str, Any]], Awaitable[None]]
RawApp: TypeAlias = Callable[[Scope, RawReceive, RawSend], Awaitable[None]]
JSONObject: TypeAlias = Mapping[str, object]
Route: TypeAlias = Callable[[WebSocket], Awaitable[None]]

# The scenario apps, one per route.


async def echo(websocket: WebSocket) -> None:
    """Echo text as text and bytes as bytes until the client leaves."""
    await websocket.accept()
    while True:
        message = await websocket.receive()
        if message["type"] != "websocket.receive":
            return
        text = message.get("text")
        if text is not None:
            await websocket.send_text(text)
        else:
            await websocket.send_bytes(message.get("bytes") or b"")


async def echo_json(websocket: WebSocket) -> None:
    """``receive_json``/``send_json`` echo in ``?mode=text`` or ``?mode=binary``."""
    mode: Mode = "binary" if websocket.query_params.get("mode") == "binary" else "text"
    await websocket.accept()
    received: list[object] = []
    while True:
        try:
            value = await websocket.receive_json(mode)
        except WebSocketDisconnect:
            break
        received.append(value)
        await websocket.send_json({"echo": value}, mode=mode)
    report: p.EchoJSONReport = {"received": received}
    kit.post(websocket, report)


def _seen(message: Mapping[str, Any]) -> p.MessageSeen:
    text, data = message.get("text"), message.get("bytes")
    if text is not None:
        return {"kind": "text", "length": len(text)}
    if data is not None:
        return {"kind": "bytes", "length": len(data)}
    return {"kind": "none", "length": 0}


async def empty(websocket: WebSocket) -> None:
    """Describe every message until ``end``; send an empty text and binary; report those sends."""
    await websocket.accept()
    seen: list[p.MessageSeen] = []
    while True:
        message = await websocket.receive()
        if message["type"] != "websocket.receive":
            return
        if message.get("text") == p.END:
            break
        seen.append(_seen(message))
    await websocket.send_json(seen)
    text_sent, _ = await kit.capture(websocket.send_text(""))
    bytes_sent, _ = await kit.capture(websocket.send_bytes(b""))
    sends: p.EmptySendsReport = {"text": text_sent, "bytes": bytes_sent}
    await websocket.send_json(sends)
    await kit.drain(websocket)


async def unencodable(websocket: WebSocket) -> None:
    """Send a text with no UTF-8 with ``send_text``, then inside ``send_json``, then
    ``end``; report both sends."""
    await websocket.accept()
    text_sent, _ = await kit.capture(websocket.send_text(p.UNENCODABLE_TEXT))
    json_sent, _ = await kit.capture(websocket.send_json({"text": p.UNENCODABLE_TEXT}))
    await websocket.send_text(p.END)
    report: p.UnencodableReport = {"send_text": text_sent, "send_json": json_sent}
    kit.post(websocket, report)
    await kit.drain(websocket)


async def observe(websocket: WebSocket) -> None:
    """Receive until the connection ends (or ``?wait=`` seconds, at most ``CLIENT_WAIT``);
    report every message's kind and length, and how receiving ended."""
    await websocket.accept()
    messages: list[p.MessageSeen] = []
    ended: p.CallOutcome = {"result": "hung"}
    wait = float(websocket.query_params.get("wait", p.CLIENT_WAIT))
    with anyio.move_on_after(min(wait, p.CLIENT_WAIT)):
        while True:
            try:
                message = await websocket.receive()
            except Exception as exc:
                ended = kit.describe(exc)
                break
            if message["type"] != "websocket.receive":
                ended, _ = await kit.capture(websocket.receive())  # raises WebSocketDisconnect
                break
            messages.append(_seen(message))
    report: p.ObserveReport = {
        "messages": messages,
        "ended": ended,
        "close_code": websocket.close_code,
        "close_reason": websocket.close_reason,
    }
    kit.post(websocket, report)


async def connection_data(websocket: WebSocket) -> None:
    """Send back what the app reads from the scope: path, query, headers, URL, client."""
    await websocket.accept()
    url, headers, query = websocket.url, websocket.headers, websocket.query_params
    raw_path = websocket.scope.get("raw_path")
    scheme = websocket.scope.get("scheme")
    client = websocket.client
    data: p.ConnectionData = {
        "path": websocket.scope["path"],
        "raw_path": raw_path.decode("latin-1") if isinstance(raw_path, bytes) else None,
        "url": str(url),
        "url_scheme": url.scheme,
        "url_path": url.path,
        "url_query": url.query,
        "url_port": url.port,
        "url_hostname": url.hostname,
        "query": [[key, value] for key, value in query.items()],
        "query_getall_a": query.getall("a", []),
        "query_str": str(query),
        "header_multi": headers.getall("x-multi", []),
        "header_version": headers["sec-websocket-version"],
        "header_host": headers.get("host", ""),
        "cookies": websocket.cookies,
        "client_host": None if client is None else client.host,
        "client_port_type": type(None if client is None else client.port).__name__,
        "subprotocols": websocket.subprotocols,
        "path_params": {str(k): str(v) for k, v in websocket.path_params.items()},
        "scope_path_via_mapping": websocket["path"],
        "scope_scheme": scheme if isinstance(scheme, str) else None,
    }
    await websocket.send_json(data)
    await kit.drain(websocket)


async def subprotocol(websocket: WebSocket) -> None:
    """Refuse to accept with an unoffered subprotocol, then accept an offered one."""
    refused, _ = await kit.capture(websocket.accept(subprotocol=p.SUBPROTOCOL_NOT_OFFERED))
    await websocket.accept(subprotocol=p.SUBPROTOCOL_CHOSEN)
    report: p.SubprotocolReport = {"offered": websocket.subprotocols, "refused": refused}
    await websocket.send_json(report)
    await kit.drain(websocket)


async def accept_server_headers(websocket: WebSocket) -> None:
    """Try to accept with each header the server writes itself, then accept plainly and
    send what each try did."""
    tried: dict[str, p.CallOutcome] = {}
    for name in p.SERVER_HEADERS:
        tried[name], _ = await kit.capture(websocket.accept(headers=[(name.encode(), b"x")]))
    await websocket.accept()
    report: p.ServerHeadersReport = {"tried": tried}
    await websocket.send_json(report)
    await kit.drain(websocket)


async def header_values(websocket: WebSocket) -> None:
    """Try each of ``ODD_HEADER_VALUES`` in an accept and in the start of a denial, then
    accept plainly and send what each try did."""
    report: p.HeaderValuesReport = {"accept": {}, "denial": {}}
    for name, value in p.ODD_HEADER_VALUES.items():
        headers = [(b"x-value", value)]
        report["accept"][name], _ = await kit.capture(websocket.accept(headers=headers))
        start = {"type": "websocket.http.response.start", "status": 403, "headers": headers}
        report["denial"][name], _ = await kit.capture(websocket.send(start))
    await websocket.accept()
    await websocket.send_json(report)
    await kit.drain(websocket)


async def busy(websocket: WebSocket) -> None:
    """Take one message and say so, then work for ``BUSY_WORK`` seconds and until told
    the client has left, neither receiving nor sending; then send the result."""
    await websocket.accept()
    await websocket.receive_text()
    await websocket.send_text("working")
    await anyio.sleep(p.BUSY_WORK)  # the app's work, not a synchronisation
    signal = await kit.mailbox.take("signal:" + kit.token_of(websocket), p.CLIENT_WAIT)
    sent, _ = await kit.capture(websocket.send_text("result"))
    report: p.BusyReport = {"signalled": signal is not None, "send": sent}
    kit.post(websocket, report)


async def late_accept(websocket: WebSocket) -> None:
    """Work for ``LATE_ACCEPT`` seconds before accepting, then receive once; report both."""
    await anyio.sleep(p.LATE_ACCEPT)  # the app's work, not a synchronisation
    accepted, _ = await kit.capture(websocket.accept())
    received, _ = await kit.capture(websocket.receive_text())
    report: p.LateAcceptReport = {"accept": accepted, "receive": received}
    kit.post(websocket, report)


async def work_after_leave(websocket: WebSocket) -> None:
    """Receive until the client leaves, then work for ``WORK_AFTER_LEAVE`` seconds;
    report whether the work finished or was cancelled (by the server: nothing here
    cancels it)."""
    await websocket.accept()
    with contextlib.suppress(WebSocketDisconnect):
        while True:
            await websocket.receive_text()
    ended = "cancelled"
    try:
        await anyio.sleep(p.WORK_AFTER_LEAVE)  # the app's work, not a synchronisation
        ended = "finished"
    finally:
        kit.post(websocket, {"work after the client left": ended})


async def offered(websocket: WebSocket) -> None:
    """Report the subprotocols offered, parsed and as request headers; accept the last
    one offered, then close."""
    seen = websocket.subprotocols
    report: p.OfferedReport = {
        "offered": seen,
        "header": websocket.headers.getlist("sec-websocket-protocol"),
    }
    kit.post(websocket, report)
    await websocket.accept(subprotocol=seen[-1] if seen else None)
    await websocket.close()


async def accept_headers(websocket: WebSocket) -> None:
    """Accept with extra headers; report whether lilya_ws had to drop them."""
    with warnings.catch_warnings(record=True) as caught:
        warnings.simplefilter("always")
        await websocket.accept(headers=p.ACCEPT_HEADERS)
    report: p.AcceptHeadersReport = {"warnings": kit.caught_names(caught)}
    await websocket.send_json(report)
    await kit.drain(websocket)


async def close_with_reason(websocket: WebSocket) -> None:
    """Accept, then close with a code and a non-ASCII reason."""
    await websocket.accept()
    with warnings.catch_warnings(record=True) as caught:
        warnings.simplefilter("always")
        await websocket.close(p.APP_CLOSE_CODE, p.APP_CLOSE_REASON)
    report: p.CloseReport = {"warnings": kit.caught_names(caught)}
    kit.post(websocket, report)


async def close_before_accept(websocket: WebSocket) -> None:
    """Close during the handshake: every server must answer HTTP 403."""
    closed, _ = await kit.capture(websocket.close())
    report: p.BeforeAcceptReport = {"close": closed}
    kit.post(websocket, report)


async def _denial_parts() -> AsyncIterator[str]:
    for part in p.DENIAL_PARTS:
        yield part


async def deny(websocket: WebSocket) -> None:
    """Deny with a plain or streamed response; without the extension, close (403). With
    ``?accept=never``, once the client has left (``_accept_around_leaving``)."""
    if websocket.query_params.get("accept") == "never":
        await _accept_around_leaving(websocket)
    kind = websocket.query_params.get("kind", "plain")
    headers = {"x-denial": kind}
    if kind == "short-length":  # a content-length that promises less than the body
        headers["content-length"] = "2"
    response: Response | StreamingResponse
    if kind == "streamed":
        response = StreamingResponse(_denial_parts(), status_code=p.DENIAL_STATUS, headers=headers)
    else:
        response = Response(p.DENIAL_BODY, status_code=p.DENIAL_STATUS, headers=headers)
    report: p.DenialReport = {"sent": True, "error": None, "is_runtime_error": False}
    try:
        await websocket.send_denial_response(response)
    except (DenialResponseUnsupported, InvalidMessage) as exc:
        report = {
            "sent": False,
            "error": kit.qualname(type(exc)),
            "is_runtime_error": isinstance(exc, RuntimeError),
        }
        await websocket.close()
    kit.post(websocket, report)


async def concurrent_sends(websocket: WebSocket) -> None:
    """Send 64 KiB binary messages from ``CONCURRENT_SENDERS`` tasks at once, each filled
    with its sender's byte; then the errors the sends raised, as JSON text."""
    await websocket.accept()
    errors: list[str] = []

    async def sender(fill: bytes) -> None:
        try:
            for _ in range(p.CONCURRENT_SENDS):
                await websocket.send_bytes(fill * 65536)
        except Exception as exc:
            errors.append(kit.qualname(type(exc)))

    async with anyio.create_task_group() as senders:
        for index in range(p.CONCURRENT_SENDERS):
            senders.start_soon(sender, bytes([index]))
    report: p.ConcurrentSendsReport = {"errors": errors}
    await websocket.send_json(report)
    await kit.drain(websocket)


async def denial_framing(websocket: WebSocket) -> None:
    """Send a denial's start that names its own ``transfer-encoding``; report what the send
    did, then close (HTTP 403)."""
    start = {
        "type": "websocket.http.response.start",
        "status": p.DENIAL_STATUS,
        "headers": [(b"transfer-encoding", b"chunked")],
    }
    sent, _ = await kit.capture(websocket.send(start))
    report: p.DenialFramingReport = {"send": sent}
    kit.post(websocket, report)
    await websocket.close()


async def client_leave(websocket: WebSocket) -> None:
    """Wait for the client to leave; receive twice, send once, and report it all."""
    await websocket.accept()
    first, _ = await kit.capture(websocket.receive_text(), p.CLIENT_WAIT)
    second, _ = await kit.capture(websocket.receive_text())
    send, _ = await kit.capture(websocket.send_text("late"))
    report: p.ClientCloseReport = {
        "first": first,
        "second": second,
        "send": send,
        **kit.close_fields(websocket),
    }
    kit.post(websocket, report)


async def _accept_around_leaving(websocket: WebSocket) -> tuple[bool, p.CallOutcome]:
    """Accept, then wait until told the client has left. With ``?accept=late`` the other
    way round: say it waits (a first report, which the client reads before leaving),
    and accept once told; with ``?accept=never``, only wait. Whether it was told, and
    how the late accept went."""
    when = websocket.query_params.get("accept")
    accepted: p.CallOutcome = {"result": "ok"}
    if when in ("late", "never"):
        kit.post(websocket, {"waiting to accept": True})
    else:
        await websocket.accept()
    signal = await kit.mailbox.take("signal:" + kit.token_of(websocket), p.CLIENT_WAIT)
    if when == "late":
        accepted, _ = await kit.capture(websocket.accept())
    return signal is not None, accepted


async def send_after_leave(websocket: WebSocket) -> None:
    """Once the client has left (``_accept_around_leaving``), send twice before receiving
    anything.

    After a TCP drop (``?how=fin`` or ``reset``) the server learns of it on its own
    schedule (granian: sometimes after the client's next connection, so after the
    signal): the first send is retried every 10 ms, at most ``PUSH_LIMIT`` times, until
    it raises. After a close, the client waited for the server's answer: no retry.
    """
    signalled, accepted = await _accept_around_leaving(websocket)
    tries = 1 if websocket.query_params.get("how") == "close" else p.PUSH_LIMIT
    for _ in range(tries):
        first, _ = await kit.capture(websocket.send_text("late"))
        if first["result"] != "ok":
            break
        await anyio.sleep(0.01)  # the pace of the retries, not a synchronisation
    sends = [first, (await kit.capture(websocket.send_text("late")))[0]]
    receive, _ = await kit.capture(websocket.receive_text())
    report: p.SendAfterLeaveReport = {
        "signalled": signalled,
        "accept": accepted,
        "sends": sends,
        "receive": receive,
    }
    kit.post(websocket, report)


async def close_after_leave(websocket: WebSocket) -> None:
    """Once the client has left (``_accept_around_leaving``), close 4003 at once."""
    signalled, accepted = await _accept_around_leaving(websocket)
    closed, _ = await kit.capture(websocket.close(4003))
    report: p.CloseAfterLeaveReport = {"signalled": signalled, "accept": accepted, "close": closed}
    kit.post(websocket, report)


async def push_only(websocket: WebSocket) -> None:
    """Send every 10 ms (``pace=flat-out``: as fast as the server takes it, awaiting
    nothing else) and never receive, until a send fails; count the sends that returned
    after ``/signal`` said the client had left."""
    await websocket.accept()
    key = "signal:" + kit.token_of(websocket)
    flat_out = websocket.query_params.get("pace") == "flat-out"
    after = sent = 0
    ended: p.CallOutcome = {"result": "ok"}
    with anyio.move_on_after(p.CLIENT_WAIT):
        while after < p.PUSH_LIMIT and sent < p.FLAT_OUT_LIMIT:
            signalled = kit.mailbox.posted(key)
            ended, _ = await kit.capture(websocket.send_text("tick"))
            if ended["result"] != "ok":
                break
            after += signalled
            sent += 1
            if not flat_out:
                await anyio.sleep(p.PUSH_INTERVAL)  # the app's cadence, not a synchronisation
    report: p.PushReport = {
        "signalled": kit.mailbox.posted(key),
        "sends_after_signal": after,
        "ended": ended,
        "close_code": websocket.close_code,
    }
    kit.post(websocket, report)


async def _receive_forever(
    websocket: WebSocket, each: Callable[[str], object] = lambda _: None
) -> None:
    """Receive text until a receive raises; ``each`` is given every message."""
    while True:
        each(await websocket.receive_text())


async def reader_writer(websocket: WebSocket) -> None:
    """One task receives, another sends as fast as the server takes it: each runs until
    it raises, and both learn of the client's departure."""
    await websocket.accept()
    ended: dict[str, p.CallOutcome] = {}

    async def send_forever() -> None:
        while True:
            await websocket.send_text("tick")
            await anyio.lowlevel.checkpoint()  # lets the reader run, as any busy writer does

    async def run(name: str, call: Callable[[], Awaitable[None]]) -> None:
        ended[name], _ = await kit.capture(call(), p.CLIENT_WAIT)

    async with anyio.create_task_group() as tasks:
        tasks.start_soon(run, "reader", lambda: _receive_forever(websocket))
        tasks.start_soon(run, "writer", send_forever)
    report: p.ReaderWriterReport = {
        "reader": ended["reader"],
        "writer": ended["writer"],
        "close_code": websocket.close_code,
    }
    kit.post(websocket, report)


async def two_receivers(websocket: WebSocket) -> None:
    """Two tasks receive from the same WebSocket at once (an app's mistake), each until
    it raises."""
    await websocket.accept()
    texts: list[list[str]] = [[], []]
    ended: list[p.CallOutcome] = [{"result": "hung"}, {"result": "hung"}]

    async def run(task: int) -> None:
        receiving = _receive_forever(websocket, texts[task].append)
        ended[task], _ = await kit.capture(receiving, p.CLIENT_WAIT)

    async with anyio.create_task_group() as tasks:
        tasks.start_soon(run, 0)
        tasks.start_soon(run, 1)
    report: p.TwoReceiversReport = {"ended": ended, "received": [len(got) for got in texts]}
    kit.post(websocket, report)


async def timed_receives(websocket: WebSocket) -> None:
    """Receive with a short timeout again and again, until the client leaves."""
    await websocket.accept()
    texts: list[str] = []
    timeouts = 0
    ended: p.CallOutcome = {"result": "hung"}
    with anyio.move_on_after(p.CLIENT_WAIT):
        while True:
            try:
                message = await websocket.receive(timeout=p.RECEIVE_TIMEOUT)
            except ReceiveTimeout:
                timeouts += 1
                continue
            if message["type"] != "websocket.receive":
                ended, _ = await kit.capture(websocket.receive())  # raises WebSocketDisconnect
                break
            texts.append(message.get("text") or "")
    report: p.TimedReceivesReport = {"texts": texts, "timeouts": timeouts, "ended": ended}
    kit.post(websocket, report)


async def close_while_receiving(websocket: WebSocket) -> None:
    """A reader task receives; when the client asks, another task closes while the
    reader's next receive is pending."""
    await websocket.accept()
    asked = anyio.Event()
    read: p.CallOutcome = {"result": "hung"}

    async def reader() -> None:
        nonlocal read
        receiving = _receive_forever(websocket, lambda _: asked.set())
        read, _ = await kit.capture(receiving, p.CLIENT_WAIT)

    async with anyio.create_task_group() as tasks:
        tasks.start_soon(reader)
        with anyio.move_on_after(p.CLIENT_WAIT):
            await asked.wait()
        with warnings.catch_warnings():  # daphne drops the reason: close-reason-dropped
            warnings.simplefilter("ignore")
            closed, _ = await kit.capture(websocket.close(p.APP_CLOSE_CODE, p.APP_CLOSE_REASON))
    report: p.CloseWhileReceivingReport = {
        "close": closed,
        "reader": read,
        **kit.close_fields(websocket),
    }
    kit.post(websocket, report)


async def close_race(websocket: WebSocket) -> None:
    """Receive one message, then close at once: the client's close frame is on its way."""
    await websocket.accept()
    step, (outcome, exc) = "receive", await kit.capture(websocket.receive_text(), p.CLIENT_WAIT)
    if outcome["result"] == "ok":
        step, (outcome, exc) = "close", await kit.capture(websocket.close())
    if isinstance(exc, WebSocketDisconnect):
        what = "WebSocketDisconnect"
    else:
        what = "returned" if outcome["result"] == "ok" else outcome.get("error", outcome["result"])
    kit.mailbox.tally(kit.token_of(websocket), f"{step}: {what}")


async def wrong_type(websocket: WebSocket) -> None:
    """``receive_text`` gets bytes, then ``receive_bytes`` gets text: both raise, payload kept."""
    await websocket.accept()
    text_for_bytes, exc1 = await kit.capture(websocket.receive_text(), p.CLIENT_WAIT)
    bytes_for_text, exc2 = await kit.capture(websocket.receive_bytes(), p.CLIENT_WAIT)
    payload1 = exc1.payload if isinstance(exc1, UnexpectedMessageType) else None
    payload2 = exc2.payload if isinstance(exc2, UnexpectedMessageType) else None
    report: p.WrongTypeReport = {
        "text_for_bytes": text_for_bytes,
        "bytes_payload": payload1.hex() if isinstance(payload1, bytes) else repr(payload1),
        "bytes_for_text": bytes_for_text,
        "text_payload": payload2 if isinstance(payload2, str) else repr(payload2),
    }
    await websocket.send_json(report)
    await websocket.close()


async def invalid_json(websocket: WebSocket) -> None:
    """``receive_json`` on invalid JSON: a typed error with the payload, then close 1007."""
    await websocket.accept()
    outcome, exc = await kit.capture(websocket.receive_json(), p.CLIENT_WAIT)
    payload = exc.payload if isinstance(exc, InvalidJSON) else None
    report: p.InvalidJSONReport = {
        "error": outcome,
        "payload": payload if isinstance(payload, str) or payload is None else repr(payload),
    }
    await websocket.send_json(report)
    if exc is not None:
        await websocket.close_for(exc)
    else:
        await websocket.close()


async def close_for(websocket: WebSocket) -> None:
    """Catch an internal error and ``close_for`` it (403 before accept, 1011 after); report it."""
    if websocket.query_params.get("when") == "after":
        await websocket.accept()
    try:
        raise RuntimeError(p.SECRET)
    except RuntimeError as exc:
        outcome, _ = await kit.capture(websocket.close_for(exc))
    kit.post(websocket, {"close_for": outcome})


async def iterate(websocket: WebSocket) -> None:
    """Echo with ``iter_text``/``iter_bytes``/``iter_json`` (``?kind=``) until the client leaves."""
    await websocket.accept()
    kind = websocket.query_params.get("kind", "text")
    received: list[str] = []

    async def loop() -> None:
        if kind == "bytes":
            async for data in websocket.iter_bytes():
                received.append(data.hex())
                await websocket.send_bytes(data)
        elif kind == "json":
            async for value in websocket.iter_json(mode="binary"):
                received.append(repr(value))
                await websocket.send_json(value, mode="binary")
        else:
            async for text in websocket.iter_text():
                received.append(text)
                await websocket.send_text(text)

    error, _ = await kit.capture(loop(), p.CLIENT_WAIT)
    report: p.IterReport = {
        "received": received,
        "error": error,
        **kit.close_fields(websocket),
    }
    kit.post(websocket, report)


async def max_size(websocket: WebSocket) -> None:
    """An application-level size limit: a larger message closes with 1009."""
    websocket.max_message_size = p.APP_MAX_MESSAGE_SIZE
    await websocket.accept()
    outcome, _ = await kit.capture(websocket.receive_bytes(), p.CLIENT_WAIT)
    kit.post(websocket, {"error": outcome})


async def state(websocket: WebSocket) -> None:
    """Send back what lifespan startup stored in the state (``websocket_only`` stores it)."""
    await websocket.accept()
    key, _ = LIFESPAN_STATE
    await websocket.send_json({"websocket.state." + key: getattr(websocket.state, key, None)})
    await kit.drain(websocket)


async def slow_reader(websocket: WebSocket) -> None:
    """Send ``SLOW_READER_MIB`` MiB in 64 KiB binary messages, then ``end`` (with
    ``?then=close``: close with ``APP_CLOSE_CODE`` and wait for the answer), to a client
    that reads nothing at first; report whether a send waited for it."""
    await websocket.accept()
    chunk = bytes(64 * 1024)
    longest = 0.0
    for _ in range(p.SLOW_READER_MIB * 16):
        before = anyio.current_time()
        await websocket.send_bytes(chunk)
        longest = max(longest, anyio.current_time() - before)
    kit.post(websocket, {"a send waited for the client": longest >= p.SLOW_READER_PAUSE / 2})
    if websocket.query_params.get("then") == "close":
        await websocket.close(p.APP_CLOSE_CODE)
        await websocket.wait_closed(p.HANG_LIMIT + p.SLOW_READER_PAUSE)
    else:
        await websocket.send_text(p.END)
        await kit.drain(websocket)


async def slow_receiver(websocket: WebSocket) -> None:
    """Receive nothing until the client says it has stopped sending, then take its 64 KiB
    messages up to the text ``end``; report how many came, and whether all were intact."""
    await websocket.accept()
    await kit.mailbox.take("signal:" + kit.token_of(websocket), p.CLIENT_WAIT)
    count, intact = 0, True
    while (message := await websocket.receive())["type"] == "websocket.receive":
        data = message.get("bytes")
        if data is None:
            break  # the text "end"
        count += 1
        intact = intact and data == bytes(64 * 1024)
    kit.post(websocket, {"messages": count, "all intact": intact})
    await kit.drain(websocket)


async def header_value(websocket: WebSocket) -> None:
    """Report the request's ``x-value`` header as the app reads it; accept, then close."""
    kit.post(websocket, {"x-value": websocket.headers.get("x-value")})
    await websocket.accept()
    await websocket.close()


async def request_target(websocket: WebSocket) -> None:
    """Report how the app reads the request target; accept, then close."""
    url = websocket.url
    seen: p.RequestTargetReport = {
        "url.path": url.path,
        "url.netloc is the Host header": url.netloc == websocket.headers.get("host"),
        "query_params": [[k, v] for k, v in websocket.query_params.items() if k != "token"],
    }
    kit.post(websocket, seen)
    await websocket.accept()
    await websocket.close()


async def host(websocket: WebSocket) -> None:
    """Report the authority ``url`` names, and the server's address; accept, then close."""
    server = websocket.scope.get("server") or ("", 0)
    seen: p.HostReport = {"netloc": websocket.url.netloc, "server": f"{server[0]}:{server[1]}"}
    kit.post(websocket, seen)
    await websocket.accept()
    await websocket.close()


async def headers_read(websocket: WebSocket) -> None:
    """Report ``root_path`` and the ``HEADERS_SERVERS_READ`` as the app reads them; accept,
    then close."""
    headers = websocket.headers
    seen: p.HeadersReadReport = {
        'websocket["root_path"]': websocket.scope.get("root_path", ""),
        "headers": {name: headers.get(name) for name in HEADERS_SERVERS_READ},
    }
    kit.post(websocket, seen)
    await websocket.accept()
    await websocket.close()


async def early_frames(websocket: WebSocket) -> None:
    """Accept at once, or (``?accept=on-signal``) report that the app runs, so the server
    has read the request, and accept once told the client has sent its texts; report the
    texts received until the client closes."""
    if websocket.query_params.get("accept") == "on-signal":
        kit.post(websocket, {"running": True})
        await kit.mailbox.take("signal:" + kit.token_of(websocket), p.CLIENT_WAIT)
    await websocket.accept()
    report: p.EarlyFramesReport = {"received": [text async for text in websocket.iter_text()]}
    kit.post(websocket, report)


async def origin(websocket: WebSocket) -> None:
    """Allow only the origin named in ``?allow=`` (the browser checks name their page's or
    another); report what ``enforce_origin`` did, and send back the ``Origin`` accepted."""
    policy = OriginPolicy([websocket.query_params.get("allow", "")])
    outcome, _ = await kit.capture(enforce_origin(websocket, policy))
    kit.post(websocket, {"enforce_origin": outcome})
    if outcome["result"] == "ok":
        await websocket.accept()
        await websocket.send_text(websocket.headers.get("origin", ""))
        await kit.drain(websocket)


ROUTES: Final[Mapping[str, Route]] = {
    "echo": echo,
    "echo-json": echo_json,
    "empty": empty,
    "unencodable": unencodable,
    "observe": observe,
    "connection-data": connection_data,
    "subprotocol": subprotocol,
    "offered": offered,
    "busy": busy,
    "accept-headers": accept_headers,
    "close-with-reason": close_with_reason,
    "close-before-accept": close_before_accept,
    "deny": deny,
    "denial-framing": denial_framing,
    "concurrent-sends": concurrent_sends,
    "client-leave": client_leave,
    "send-after-leave": send_after_leave,
    "close-after-leave": close_after_leave,
    "push-only": push_only,
    "reader-writer": reader_writer,
    "close-while-receiving": close_while_receiving,
    "two-receivers": two_receivers,
    "timed-receives": timed_receives,
    "close-race": close_race,
    "wrong-type": wrong_type,
    "invalid-json": invalid_json,
    "close-for": close_for,
    "iter": iterate,
    "max-size": max_size,
    "origin": origin,
    "header-value": header_value,
    "request-target": request_target,
    "host": host,
    "headers-read": headers_read,
    "accept-server-headers": accept_server_headers,
    "header-values": header_values,
    "early-frames": early_frames,
    "state": state,
    "slow-reader": slow_reader,
    "slow-receiver": slow_receiver,
    "late-accept": late_accept,
    "work-after-leave": work_after_leave,
}
"""Scenario apps by the first segment of the path."""


@websocket_only
async def scenarios(scope: Scope, receive: RawReceive, send: RawSend) -> None:
    """The scenario routes (lifespan and plain HTTP are answered by ``websocket_only``)."""
    websocket = WebSocket(scope, receive, send)
    # url.path, not scope["path"]: some servers give an absolute-form target whole
    name, _, rest = websocket.url.path.lstrip("/").partition("/")
    with anyio.move_on_after(p.APP_DEADLINE) as deadline:
        side_channel = kit.SIDE_CHANNELS.get(name)
        if side_channel is not None and kit.valid_token(rest):
            await side_channel(websocket, rest)
        else:
            await ROUTES.get(name, echo)(websocket)
    if deadline.cancelled_caught:
        with anyio.move_on_after(p.HANG_LIMIT):
            await websocket.close_for(TimeoutError("scenario deadline"))


async def app(scope: Scope, receive: RawReceive, send: RawSend) -> None:
    """The served app: ``/endpoint/...`` to the endpoint apps, everything else to ``scenarios``.

    The endpoint apps are imported on first use, so that a library without
    ``lilya_ws.endpoint`` fails those scenarios only. An exception that escapes an
    endpoint (to the server) is tallied under the connection's ``?token=``.
    """
    if scope["type"] != "lifespan" and str(scope.get("path", "")).startswith(p.ENDPOINT_ROUTE):
        module, _, attr = p.ENDPOINT_APP.partition(":")
        endpoint_app = cast(RawApp, getattr(importlib.import_module(module), attr))
        try:
            await endpoint_app(scope, receive, send)
        except Exception as exc:
            query = parse_qs(bytes(scope.get("query_string", b"")).decode("latin-1"))
            token = query.get("token", [""])[0]
            if kit.valid_token(token):
                kit.mailbox.tally(token, kit.qualname(type(exc)))
            raise
    else:
        await scenarios(scope, receive, send)
