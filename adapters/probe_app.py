"""A raw ASGI app that reports, as JSON, what a server does at each WebSocket edge.

Each path is one experiment (see :data:`EXPERIMENTS`). Experiments whose
outcome the client cannot see (what ``receive()`` returns after a disconnect,
what ``send()`` raises once the client has gone) store their findings under
the ``id`` query parameter; the client collects them from ``/report?id=...``,
and ``/signal?id=...`` tells a waiting experiment that the client has left.
Timeouts use anyio so the app runs unchanged on asyncio and on trio
(hypercorn's trio worker).

Serve it under one configuration and drive it with ``adapters.probe``.
"""

from __future__ import annotations

import asyncio
import json
import math
import tempfile
import time
from collections.abc import Awaitable, Callable, Mapping
from pathlib import Path
from typing import Final, Literal, TypeAlias, TypedDict
from urllib.parse import parse_qs

import anyio
import anyio.lowlevel
import sniffio

from .raw_asgi import Message, Receive, Scope, Send, websocket_only

HANG_TIMEOUT: Final = 1.0
"""How long a ``receive()`` or ``send()`` may block before it counts as hanging."""
REPORT_TIMEOUT: Final = 10.0
PENDING_TIMEOUT: Final = 2.0
"""How long a ``receive()`` left pending when the app returns may take to complete."""
RECORD_TIMEOUT: Final = 5.0
CANCEL_AFTER: Final = 0.003
"""``/timed-receives``: the deadline of each receive()."""
ACCEPT_HEADER: Final = (b"x-probe", b"accepted")
CLOSE_CODE: Final = 4002
CLOSE_REASON: Final = "probe reason"
DENIAL_STATUS: Final = 418
DENIAL_PARTS: Final = (b"den", b"i", b"ed")

JSON: TypeAlias = "bool | int | float | str | list[JSON] | dict[str, JSON] | None"


class ErrorShape(TypedDict):
    """An exception an ASGI call raised: its class, its MRO and its text."""

    type: str
    mro: list[str]
    text: str


class _MessageKeys(TypedDict):
    type: str
    keys: list[str]
    types: dict[str, str]


class MessageShape(_MessageKeys, total=False):
    """The keys and value types of an ASGI message, without large payloads."""

    length: int
    code: int
    code_mro: list[str]
    reason: str | None


class _OutcomeResult(TypedDict):
    result: Literal["ok", "returned", "raised", "hung"]


class Outcome(_OutcomeResult, total=False):
    """What one ``receive()`` or ``send()`` call did."""

    message: MessageShape
    error: ErrorShape


Findings: TypeAlias = dict[str, object]
"""JSON-serialisable findings of one experiment (Outcomes and MessageShapes)."""
_findings: dict[str, Findings] = {}
_events: dict[tuple[str, str], anyio.Event] = {}


async def dispatch(scope: Scope, receive: Receive, send: Send) -> None:
    """Dispatch a WebSocket to the experiment named by its path."""
    path = str(scope.get("path", "/"))
    query = parse_qs(_as_bytes(scope.get("query_string")).decode("latin-1"))
    params = {key: values[0] for key, values in query.items()}
    # ?experiment= reaches one whatever the path: the servers read some targets apart.
    experiment = EXPERIMENTS.get(path) or EXPERIMENTS.get(params.get("experiment", ""), _echo)
    connect = await receive()
    if connect["type"] != "websocket.connect":
        return
    await experiment(scope, receive, send, params)


app = websocket_only(dispatch)
"""The probe app: :func:`dispatch`, with lifespan answered and plain HTTP refused."""


async def raising_app(scope: Scope, receive: Receive, send: Send) -> None:
    """A WebSocket-only app as often written: any other scope type raises."""
    if scope.get("type") != "websocket":
        raise ValueError(f"WebSocket only, not {scope.get('type')!r}")
    await dispatch(scope, receive, send)


async def returning_app(scope: Scope, receive: Receive, send: Send) -> None:
    """A WebSocket-only app that returns at once, without a word, for any other scope."""
    if scope.get("type") == "websocket":
        await dispatch(scope, receive, send)


Experiment: TypeAlias = Callable[[Scope, Receive, Send, Mapping[str, str]], Awaitable[None]]


async def _echo(scope: Scope, receive: Receive, send: Send, params: Mapping[str, str]) -> None:
    """Accept and echo; the readiness check lands here."""
    await send({"type": "websocket.accept"})
    while (message := await receive())["type"] == "websocket.receive":
        text = message.get("text")
        if isinstance(text, str):
            await send({"type": "websocket.send", "text": text})
        else:
            await send({"type": "websocket.send", "bytes": _as_bytes(message.get("bytes"))})


async def _scope(scope: Scope, receive: Receive, send: Send, params: Mapping[str, str]) -> None:
    """Send back every scope key with its value and its type's shape."""
    described = {
        key: {"shape": type_shape(value), "value": jsonable(value)} for key, value in scope.items()
    }
    await send({"type": "websocket.accept"})
    await send({"type": "websocket.send", "text": json.dumps(described)})
    await _drain(receive)


async def _shapes(scope: Scope, receive: Receive, send: Send, params: Mapping[str, str]) -> None:
    """Describe each received message until the text ``end``, then send the list.

    Before the list, send an empty text and an empty binary message, to see
    whether the server passes them on to the client.
    """
    await send({"type": "websocket.accept"})
    shapes: list[MessageShape] = []
    while (message := await receive())["type"] == "websocket.receive":
        if message.get("text") == "end":
            await send({"type": "websocket.send", "text": ""})
            await send({"type": "websocket.send", "bytes": b""})
            await send({"type": "websocket.send", "text": json.dumps(shapes)})
        else:
            shapes.append(message_shape(message))


async def _header(scope: Scope, receive: Receive, send: Send, params: Mapping[str, str]) -> None:
    """Store the raw bytes of the request's ``x-value`` header; accept, then close."""
    headers = scope.get("headers")
    pairs = headers if isinstance(headers, list) else []
    _finish(params, {"x-value": [repr(v) for name, v in pairs if name.lower() == b"x-value"]})
    await send({"type": "websocket.accept"})
    await send({"type": "websocket.close", "code": 1000})
    await _drain(receive)


async def _offered(scope: Scope, receive: Receive, send: Send, params: Mapping[str, str]) -> None:
    """Store ``scope["subprotocols"]`` and the raw ``sec-websocket-protocol`` request
    headers; accept the last non-empty subprotocol offered, then close."""
    subprotocols = scope.get("subprotocols")
    offered = [str(item) for item in subprotocols] if isinstance(subprotocols, list) else []
    headers = scope.get("headers")
    pairs = headers if isinstance(headers, list) else []
    header = [repr(v) for name, v in pairs if name.lower() == b"sec-websocket-protocol"]
    _finish(params, {"subprotocols": offered, "header": header})
    chosen = next((item for item in reversed(offered) if item), None)
    await send({"type": "websocket.accept", "subprotocol": chosen})
    await send({"type": "websocket.close", "code": 1000})
    await _drain(receive)


async def _request(scope: Scope, receive: Receive, send: Send, params: Mapping[str, str]) -> None:
    """Store what the server made of the request: ``path``, ``raw_path``, ``query_string``,
    ``scheme``, ``client``, ``server``, ``root_path``, the headers' names and the Host
    headers' values; accept, then close."""
    keys = ("path", "raw_path", "query_string", "scheme", "client", "server", "root_path")
    findings: Findings = {key: repr(scope.get(key)) for key in keys}
    headers = scope.get("headers")
    pairs = headers if isinstance(headers, list) else []
    findings["header names"] = [_as_bytes(name).decode("latin-1") for name, _ in pairs]
    findings["host values"] = [
        _as_bytes(value).decode("latin-1") for name, value in pairs if _as_bytes(name) == b"host"
    ]
    _finish(params, findings)
    await send({"type": "websocket.accept"})
    await send({"type": "websocket.close", "code": 1000})
    await _drain(receive)


UNENCODABLE_TEXT: Final = "half \ud800"
"""A text with no UTF-8: a lone surrogate."""


async def _unencodable(
    scope: Scope, receive: Receive, send: Send, params: Mapping[str, str]
) -> None:
    """Send a text with no UTF-8, then ``end``; store how the first send went."""
    await send({"type": "websocket.accept"})
    sent = await _call(send({"type": "websocket.send", "text": UNENCODABLE_TEXT}))
    await send({"type": "websocket.send", "text": "end"})
    _finish(params, {"send": sent})
    await _drain(receive)


async def _accept_headers(
    scope: Scope, receive: Receive, send: Send, params: Mapping[str, str]
) -> None:
    """Accept with a custom header, then close with a code and a reason."""
    accept = await _call(send({"type": "websocket.accept", "headers": [ACCEPT_HEADER]}))
    code, reason = int(params.get("code", CLOSE_CODE)), params.get("reason", CLOSE_REASON)
    close = {"type": "websocket.close", "code": code, "reason": reason}
    closed = await _call(send(close))
    await _drain(receive)
    _finish(params, {"accept": accept, "close": closed})


async def _close_before_accept(
    scope: Scope, receive: Receive, send: Send, params: Mapping[str, str]
) -> None:
    """Close during the handshake: the client should see HTTP 403."""
    await send({"type": "websocket.close", "code": 1000})


async def _deny(scope: Scope, receive: Receive, send: Send, params: Mapping[str, str]) -> None:
    """Send a denial response in one body part or in several (``?parts=3``);
    ``?status=`` replaces the 418; ``?kind=http`` sends the plain HTTP message types
    (``http.response.start``), a mistake an app can make on a WebSocket scope."""
    parts = [b"".join(DENIAL_PARTS)] if params.get("parts", "1") == "1" else list(DENIAL_PARTS)
    kind = "http" if params.get("kind") == "http" else "websocket.http"
    start = {
        "type": f"{kind}.response.start",
        "status": int(params.get("status", DENIAL_STATUS)),
        "headers": [(b"content-type", b"text/plain"), (b"x-probe", b"denied")],
    }
    outcomes = [await _call(send(start))]
    for index, part in enumerate(parts):
        more = index < len(parts) - 1
        body = {"type": f"{kind}.response.body", "body": part, "more_body": more}
        outcomes.append(await _call(send(body)))
    _finish(params, {"sends": outcomes})


async def _disconnect(
    scope: Scope, receive: Receive, send: Send, params: Mapping[str, str]
) -> None:
    """Wait for the client to leave, then receive again and send twice."""
    await send({"type": "websocket.accept"})
    first = await _call(_drain(receive))
    second = await _call(receive())
    sends = [await _call(send({"type": "websocket.send", "text": "late"})) for _ in range(2)]
    _finish(params, {"disconnect": first, "second": second, "sends": sends})


async def _record(scope: Scope, receive: Receive, send: Send, params: Mapping[str, str]) -> None:
    """Accept, then describe what each receive() returns until one is not a message."""
    await send({"type": "websocket.accept"})
    received: list[Outcome] = []
    while (outcome := await _call(receive(), limit=RECORD_TIMEOUT))["result"] == "returned":
        received.append(outcome)
        if outcome["message"]["type"] != "websocket.receive":
            break
    else:
        received.append(outcome)
    _finish(params, {"received": received})


async def _pending_receive(
    scope: Scope, receive: Receive, send: Send, params: Mapping[str, str]
) -> None:
    """Accept, leave a receive() pending in a detached task, and return without closing.

    The detached task is an asyncio task, or a trio system task (hypercorn's trio
    worker runs the app in a nursery that ends with it).
    """
    await send({"type": "websocket.accept"})
    started = time.monotonic()

    async def pending() -> None:
        outcome = await _call(receive(), limit=PENDING_TIMEOUT)
        after = round(time.monotonic() - started, 3)
        _finish(params, {"receive": outcome, "after": after, "task": task})

    task = _detach(pending)
    await anyio.sleep(0.1)


async def _return(scope: Scope, receive: Receive, send: Send, params: Mapping[str, str]) -> None:
    """Accept, then return without closing."""
    await send({"type": "websocket.accept"})


async def _raise(scope: Scope, receive: Receive, send: Send, params: Mapping[str, str]) -> None:
    """Raise ``RuntimeError`` before accepting, or after (``?when=after``)."""
    if params.get("when") == "after":
        await send({"type": "websocket.accept"})
    raise RuntimeError("probe: the app failed")


async def _send_after_gone(
    scope: Scope, receive: Receive, send: Send, params: Mapping[str, str]
) -> None:
    """Once signalled that the client left, send twice before ever calling receive()."""
    await send({"type": "websocket.accept"})
    with anyio.move_on_after(REPORT_TIMEOUT):
        await _event("signal", params["id"]).wait()
    sends = [await _call(send({"type": "websocket.send", "text": "late"})) for _ in range(2)]
    after = await _call(receive())
    _finish(params, {"sends": sends, "receive": after})


_LATE_STEPS: Final[Mapping[str, Message]] = {
    "accept": {"type": "websocket.accept"},
    "send": {"type": "websocket.send", "text": "late"},
    "close": {"type": "websocket.close", "code": CLOSE_CODE},
    "deny": {"type": "websocket.http.response.start", "status": DENIAL_STATUS, "headers": []},
    "body": {"type": "websocket.http.response.body", "body": b"denied"},
}


async def _after_leave(
    scope: Scope, receive: Receive, send: Send, params: Mapping[str, str]
) -> None:
    """Make the calls ``?steps=`` names (``accept``, ``send``, ``close``, ``receive``),
    once signalled that the client has left; those before a ``wait`` step, first. With
    no ``wait`` the app says it waits before its first step (the client leaves then)."""
    first, _, then = params["steps"].rpartition("wait")
    before, after = ([step for step in part.split(",") if step] for part in (first, then))
    outcomes = [await _late_step(step, receive, send) for step in before]
    if not before:
        _finish({"id": params["id"] + "-waiting"}, {})
    with anyio.move_on_after(REPORT_TIMEOUT):
        await _event("signal", params["id"]).wait()
    outcomes += [await _late_step(step, receive, send) for step in after]
    _finish(params, {"steps": outcomes})


async def _late_step(step: str, receive: Receive, send: Send) -> Outcome:
    return await _call(receive() if step == "receive" else send(_LATE_STEPS[step]))


def shutdown_log(key: str) -> Path:
    """Where ``/until-shutdown?id=<key>`` writes its findings: the server is gone before
    a report could be fetched. ``key`` is a hex id (nothing else names a file)."""
    if not key or any(char not in "0123456789abcdef" for char in key):
        raise ValueError(f"not a hex id: {key!r}")
    return Path(tempfile.gettempdir()) / f"lilya-ws-probe-shutdown-{key}.jsonl"


async def _until_shutdown(
    scope: Scope, receive: Receive, send: Send, params: Mapping[str, str]
) -> None:
    """Send ``ready``, then wait in ``receive()`` until the server shuts down, or the
    server gives up on a client gone silent (``wait``: seconds, default
    ``REPORT_TIMEOUT``); write down what that receive and a send after it did."""
    log = shutdown_log(params["id"])
    await send({"type": "websocket.accept"})
    await send({"type": "websocket.send", "text": "ready"})
    try:
        received = await _call(receive(), float(params.get("wait", REPORT_TIMEOUT)))
    except BaseException as exc:  # the server cancels the app: written down, let through
        _write_down(log, {"receive": {"result": "raised", "error": error_shape(exc)}})
        raise
    _write_down(log, {"receive": received})
    _write_down(log, {"send after": await _call(send({"type": "websocket.send", "text": "x"}))})


def _write_down(log: Path, findings: Findings) -> None:
    with log.open("a", encoding="utf-8") as file:
        file.write(json.dumps(findings) + "\n")


SLOW_READER_MESSAGES: Final = 256
"""``/slow-reader``: 64 KiB messages, 16 MiB in all."""


async def _slow_reader(
    scope: Scope, receive: Receive, send: Send, params: Mapping[str, str]
) -> None:
    """Send ``SLOW_READER_MESSAGES`` binary messages of 64 KiB, then ``end`` (with
    ``then=close``: a close, 4000), to a client that does not read at first; store the
    longest and the total time the sends took."""
    await send({"type": "websocket.accept"})
    chunk = bytes(64 * 1024)
    longest, started = 0.0, time.monotonic()
    for _ in range(SLOW_READER_MESSAGES):
        before = time.monotonic()
        await send({"type": "websocket.send", "bytes": chunk})
        longest = max(longest, time.monotonic() - before)
    total = time.monotonic() - started
    if params.get("then") == "close":
        await send({"type": "websocket.close", "code": 4000})
    else:
        await send({"type": "websocket.send", "text": "end"})
    _finish(params, {"longest send s": round(longest, 2), "all sends s": round(total, 2)})
    await _drain(receive)


async def _slow_receiver(
    scope: Scope, receive: Receive, send: Send, params: Mapping[str, str]
) -> None:
    """Receive nothing until ``/signal`` says the client stopped sending, then count the
    binary messages up to a text one."""
    await send({"type": "websocket.accept"})
    with anyio.move_on_after(REPORT_TIMEOUT):
        await _event("signal", params["id"]).wait()
    count = 0
    while (message := await receive())["type"] == "websocket.receive" and message.get("bytes"):
        count += 1
    _finish(params, {"messages": count})
    await _drain(receive)


LATE_ACCEPT: Final = 11.0
"""``/late-accept``: seconds before the app answers the request."""
WORK_AFTER_LEAVE: Final = 12.0
"""``/work-after-leave``: seconds the app works once the client has left."""


async def _late_accept(
    scope: Scope, receive: Receive, send: Send, params: Mapping[str, str]
) -> None:
    """Accept ``LATE_ACCEPT`` seconds after the request, then receive once; store what the
    two calls did."""
    await anyio.sleep(LATE_ACCEPT)  # the app's work
    accept = await _call(send({"type": "websocket.accept"}))
    after = await _call(receive())
    _finish(params, {"accept": accept, "receive": after})


async def _work_after_leave(
    scope: Scope, receive: Receive, send: Send, params: Mapping[str, str]
) -> None:
    """Accept, receive until the disconnect, then work ``WORK_AFTER_LEAVE`` seconds; store
    how long the work ran and how it ended."""
    await send({"type": "websocket.accept"})
    await _drain(receive)
    started, ended = time.monotonic(), "cancelled"
    try:
        await anyio.sleep(WORK_AFTER_LEAVE)  # the app's work
        ended = "finished"
    finally:
        _finish(params, {"work": ended, "after s": round(time.monotonic() - started, 1)})


async def _flood(scope: Scope, receive: Receive, send: Send, params: Mapping[str, str]) -> None:
    """Never receive; send as fast as the server takes it (a checkpoint between sends)
    until one raises, or until ``HANG_TIMEOUT`` after ``/signal`` says the client left."""
    await send({"type": "websocket.accept"})
    gone = _event("signal", params["id"])
    ended: Outcome = {"result": "ok"}
    stop = math.inf
    with anyio.move_on_after(REPORT_TIMEOUT):
        while anyio.current_time() < stop:
            ended = await _call(send({"type": "websocket.send", "text": "tick"}))
            if ended["result"] != "ok":
                break
            if stop == math.inf and gone.is_set():
                stop = anyio.current_time() + HANG_TIMEOUT
            await anyio.lowlevel.checkpoint()
    _finish(params, {"ended": ended})


async def _two_receives(
    scope: Scope, receive: Receive, send: Send, params: Mapping[str, str]
) -> None:
    """Two tasks call receive() at once, each until it gets anything but a message."""
    await send({"type": "websocket.accept"})
    tasks: list[Findings] = []

    async def receive_all() -> None:
        messages = 0
        while (outcome := await _call(receive()))["result"] == "returned" and outcome["message"][
            "type"
        ] == "websocket.receive":
            messages += 1
        tasks.append({"messages": messages, "ended": outcome})

    async with anyio.create_task_group() as group:
        group.start_soon(receive_all)
        group.start_soon(receive_all)
    _finish(params, {"tasks": tasks})


async def _timed_receives(
    scope: Scope, receive: Receive, send: Send, params: Mapping[str, str]
) -> None:
    """Call receive() with a 3 ms deadline again and again (a timed-out one is cancelled)
    until anything but a message: the messages' texts, in the order received."""
    await send({"type": "websocket.accept"})
    texts: list[JSON] = []
    cancelled = 0
    while True:
        with anyio.move_on_after(CANCEL_AFTER) as scope_:
            message = await receive()
        if scope_.cancelled_caught:
            cancelled += 1
        elif message["type"] == "websocket.receive":
            texts.append(str(message.get("text")))
        else:
            break
    _finish(params, {"texts": texts, "cancelled": cancelled})


async def _app_close(scope: Scope, receive: Receive, send: Send, params: Mapping[str, str]) -> None:
    """Close after accepting, then see what receive() returns, twice."""
    await send({"type": "websocket.accept"})
    await send({"type": "websocket.close", "code": 1000})
    receives = [await _call(receive()) for _ in range(2)]
    _finish(params, {"receives": receives})


async def _close_code(
    scope: Scope, receive: Receive, send: Send, params: Mapping[str, str]
) -> None:
    """Close with 1011 after accepting; if the server refuses the code, close with 4000."""
    await send({"type": "websocket.accept"})
    outcome = await _call(send({"type": "websocket.close", "code": 1011}))
    if outcome["result"] == "raised":
        await send({"type": "websocket.close", "code": 4000})
    _finish(params, {"close": outcome})


async def _size_in(scope: Scope, receive: Receive, send: Send, params: Mapping[str, str]) -> None:
    """Answer each message with its length, so only the inbound direction is tested."""
    await send({"type": "websocket.accept"})
    while (message := await receive())["type"] == "websocket.receive":
        text = message.get("text")
        size = len(text) if isinstance(text, str) else len(_as_bytes(message.get("bytes")))
        await send({"type": "websocket.send", "text": str(size)})


async def _size_out(scope: Scope, receive: Receive, send: Send, params: Mapping[str, str]) -> None:
    """Send ``?n=`` bytes, then wait for the client to close."""
    await send({"type": "websocket.accept"})
    message = {"type": "websocket.send", "bytes": b"x" * int(params["n"])}
    sent = await _call(send(message), limit=REPORT_TIMEOUT)
    _finish(params, {"send": sent})
    if sent["result"] != "ok":
        await send({"type": "websocket.close", "code": 1011})
    await _drain(receive)


async def _signal(scope: Scope, receive: Receive, send: Send, params: Mapping[str, str]) -> None:
    """Wake the ``send-after-gone`` experiment waiting on the same id."""
    _event("signal", params["id"]).set()
    await send({"type": "websocket.accept"})
    await send({"type": "websocket.close", "code": 1000})


async def _report(scope: Scope, receive: Receive, send: Send, params: Mapping[str, str]) -> None:
    """Send the findings stored under ``?id=`` once the experiment has finished."""
    await send({"type": "websocket.accept"})
    with anyio.move_on_after(REPORT_TIMEOUT):
        await _event("done", params["id"]).wait()
    findings = _findings.pop(params["id"], {"error": "experiment did not finish"})
    await send({"type": "websocket.send", "text": json.dumps(findings)})
    # The client closes. Closing here as well races the client's close frame, and
    # hypercorn's trio worker dies of trio.BusyResourceError on that race.
    await _drain(receive)


EXPERIMENTS: Final[Mapping[str, Experiment]] = {
    "/scope": _scope,
    "/shapes": _shapes,
    "/accept-headers": _accept_headers,
    "/close-before-accept": _close_before_accept,
    "/deny": _deny,
    "/disconnect": _disconnect,
    "/send-after-gone": _send_after_gone,
    "/after-leave": _after_leave,
    "/unencodable": _unencodable,
    "/header": _header,
    "/offered": _offered,
    "/request": _request,
    "/slow-reader": _slow_reader,
    "/slow-receiver": _slow_receiver,
    "/late-accept": _late_accept,
    "/work-after-leave": _work_after_leave,
    "/until-shutdown": _until_shutdown,
    "/flood": _flood,
    "/two-receives": _two_receives,
    "/timed-receives": _timed_receives,
    "/app-close": _app_close,
    "/close-code": _close_code,
    "/record": _record,
    "/pending-receive": _pending_receive,
    "/return": _return,
    "/raise": _raise,
    "/size-in": _size_in,
    "/size-out": _size_out,
    "/signal": _signal,
    "/report": _report,
}


async def _drain(receive: Receive) -> Message:
    """Receive until something other than a data message arrives, and return it."""
    while (message := await receive())["type"] == "websocket.receive":
        pass
    return message


async def _call(awaitable: Awaitable[Message | None], limit: float = HANG_TIMEOUT) -> Outcome:
    """Run one ASGI call with a deadline and describe what it did."""
    try:
        with anyio.fail_after(limit):
            result = await awaitable
    except TimeoutError:
        return {"result": "hung"}
    except Exception as exc:
        return {"result": "raised", "error": error_shape(exc)}
    if result is None:
        return {"result": "ok"}
    return {"result": "returned", "message": message_shape(result)}


_detached: set[asyncio.Task[None]] = set()


def _detach(function: Callable[[], Awaitable[None]]) -> str:
    """Run ``function`` in a task that outlives the app's call; name its kind."""
    if sniffio.current_async_library() == "trio":
        import trio

        trio.lowlevel.spawn_system_task(function)
        return "trio system task"
    task = asyncio.ensure_future(function())
    _detached.add(task)
    task.add_done_callback(_detached.discard)
    return "asyncio task"


def _finish(params: Mapping[str, str], findings: Findings) -> None:
    if "id" in params:
        _findings[params["id"]] = findings
        _event("done", params["id"]).set()


def _event(kind: str, key: str) -> anyio.Event:
    return _events.setdefault((kind, key), anyio.Event())


def message_shape(message: Message) -> MessageShape:
    """Keys, value types and payload length of ``message``; a close code's class MRO."""
    shape: MessageShape = {
        "type": str(message.get("type")),
        "keys": sorted(message),
        "types": {key: type(value).__name__ for key, value in message.items()},
    }
    payload = message.get("text")
    if payload is None:
        payload = message.get("bytes")
    if isinstance(payload, str | bytes):
        shape["length"] = len(payload)
    code = message.get("code")
    if isinstance(code, int):
        shape["code"] = int(code)
        shape["code_mro"] = [_qualname(cls) for cls in type(code).__mro__]
    if "reason" in message:
        reason = message["reason"]
        shape["reason"] = reason if isinstance(reason, str) else None
    return shape


def error_shape(exc: BaseException) -> ErrorShape:
    """Qualified class name, MRO and text of ``exc``."""
    mro = [_qualname(cls) for cls in type(exc).__mro__]
    return {"type": mro[0], "mro": mro, "text": str(exc)[:200]}


def type_shape(value: object) -> str:
    """A type expression for ``value``, e.g. ``list[tuple[bytes, bytes]]``."""
    if isinstance(value, dict):
        keys = sorted({type_shape(key) for key in value})
        values = sorted({type_shape(item) for item in value.values()})
        return f"dict[{' | '.join(keys) or '?'}, {' | '.join(values) or '?'}]"
    if isinstance(value, list | tuple):
        items = sorted({type_shape(item) for item in value})
        if isinstance(value, tuple):
            return f"tuple[{', '.join(type_shape(item) for item in value)}]"
        return f"list[{' | '.join(items) or '?'}]"
    return type(value).__name__


def jsonable(value: object) -> JSON:
    """``value`` as JSON: bytes as their ``repr``, tuples as lists, others as ``repr``."""
    if value is None or isinstance(value, bool | int | float | str):
        return value
    if isinstance(value, bytes):
        return repr(value)
    if isinstance(value, dict):
        return {str(key): jsonable(item) for key, item in value.items()}
    if isinstance(value, list | tuple):
        return [jsonable(item) for item in value]
    return repr(value)


def _as_bytes(value: object) -> bytes:
    return value if isinstance(value, bytes) else b""


def _qualname(cls: type) -> str:
    return (
        cls.__qualname__ if cls.__module__ == "builtins" else f"{cls.__module__}.{cls.__qualname__}"
    )
