"""The scenario apps: one ASGI app, written once with lilya_ws, routing by path.

The first path segment names the app (``/echo-text``, ``/deny?kind=plain``...);
any other path echoes, which is where the adapters' readiness check lands.
What a client cannot see for itself (what the app saw after the client left)
is stored under a token the client chose and fetched over a second connection
to ``/report/<token>``; ``/signal/<token>`` wakes an app that waits for the
client to leave. Every wait is bounded, on asyncio and on trio (via anyio).

Serve it with ``python -m adapters serve uvicorn-websockets integration.apps:app``.
One server process must serve all connections of a check (the results live in
its memory): run servers with a single worker.
"""

from __future__ import annotations

import json
import warnings
from collections.abc import AsyncIterator, Awaitable, Callable, Mapping, MutableMapping
from typing import Any, Final, TypeAlias, TypeVar

import anyio

from adapters.raw_asgi import websocket_only
from integration import protocol as p
from lilya_ws import (
    DenialResponseUnsupported,
    InvalidJSON,
    Response,
    ServerCapabilityWarning,
    StreamingResponse,
    UnexpectedMessageType,
    WebSocket,
    WebSocketDisconnect,
)
from lilya_ws.types import Scope
from lilya_ws.websockets import Mode

__all__ = ["ROUTES", "app"]

RawMessage: TypeAlias = Mapping[str, Any]
RawReceive: TypeAlias = Callable[[], Awaitable[RawMessage]]
RawSend: TypeAlias = Callable[[MutableMapping[str, Any]], Awaitable[None]]
JSONObject: TypeAlias = Mapping[str, object]

_T = TypeVar("_T")
_MAX_PENDING: Final = 1024
"""Results and signals nobody collects are dropped, oldest first, past this many."""


class RawLog:
    """The server's ``receive``, recording each message's keys and code type.

    lilya_ws normalises messages; the capability check needs to see them as
    the server sent them.
    """

    def __init__(self, receive: RawReceive) -> None:
        self._receive = receive
        self.keys: list[tuple[str, list[str]]] = []
        self.code_type: str | None = None

    async def __call__(self) -> RawMessage:
        message = await self._receive()
        self.keys.append((str(message.get("type")), sorted(message)))
        if "code" in message:
            self.code_type = type(message["code"]).__name__
        return message

    async def again(self) -> p.CallOutcome:
        """Call the server's own ``receive`` once more, bounded."""
        outcome, _ = await _capture(self._receive())
        return outcome


Route: TypeAlias = Callable[[WebSocket, RawLog], Awaitable[None]]


class _Mailbox:
    """Results and signals keyed by the client's token, each handed out once."""

    def __init__(self) -> None:
        self._values: dict[str, JSONObject] = {}
        self._events: dict[str, anyio.Event] = {}

    def _event(self, key: str) -> anyio.Event:
        event = self._events.get(key)
        if event is None:
            while len(self._events) >= _MAX_PENDING:
                stale = next(iter(self._events))
                del self._events[stale]
                self._values.pop(stale, None)
            event = self._events[key] = anyio.Event()
        return event

    def post(self, key: str, value: JSONObject) -> None:
        self._values[key] = value
        self._event(key).set()

    async def take(self, key: str, within: float) -> JSONObject | None:
        """The value posted under ``key``, waiting at most ``within`` seconds for it."""
        with anyio.move_on_after(within):
            await self._event(key).wait()
        self._events.pop(key, None)
        return self._values.pop(key, None)


_mailbox: Final = _Mailbox()


def _token(websocket: WebSocket) -> str:
    token = websocket.query_params.get("token", "")
    return token if _valid_token(token) else ""


def _valid_token(token: str) -> bool:
    return 0 < len(token) <= p.TOKEN_MAX_LENGTH and p.TOKEN_CHARS.issuperset(token)


def _post(websocket: WebSocket, report: JSONObject) -> None:
    if token := _token(websocket):
        _mailbox.post("result:" + token, report)


def _qualname(cls: type) -> str:
    module = cls.__module__
    return cls.__qualname__ if module == "builtins" else f"{module}.{cls.__qualname__}"


_BUILTIN_ERRORS: Final = (RuntimeError, ValueError, TypeError, OSError, ConnectionError)


async def _capture(
    call: Awaitable[_T], limit: float = p.HANG_LIMIT
) -> tuple[p.CallOutcome, Exception | None]:
    """Run one call with a deadline; describe what it did, and return its exception."""
    try:
        with anyio.fail_after(limit):
            await call
    except TimeoutError:
        return {"result": "hung"}, None
    except Exception as exc:
        outcome: p.CallOutcome = {
            "result": "raised",
            "error": _qualname(type(exc)),
            "text": str(exc)[:200],
            "lilya_classes": [
                _qualname(cls) for cls in type(exc).__mro__ if cls.__module__ == "lilya_ws.errors"
            ],
            "builtin_bases": [cls.__name__ for cls in _BUILTIN_ERRORS if isinstance(exc, cls)],
            "cause": None if exc.__cause__ is None else _qualname(type(exc.__cause__)),
        }
        if isinstance(exc, WebSocketDisconnect):
            outcome["code"] = exc.code
            outcome["code_type"] = type(exc.code).__name__
            outcome["reason"] = exc.reason
        return outcome, exc
    return {"result": "ok"}, None


async def _drain(websocket: WebSocket) -> None:
    """Wait, bounded, until the client closes (the client closes first: no close race)."""
    with anyio.move_on_after(p.CLIENT_WAIT):
        while (await websocket.receive())["type"] != "websocket.disconnect":
            pass


def _caught_names(caught: list[warnings.WarningMessage]) -> list[str]:
    """lilya_ws's own warnings (servers may warn too, e.g. about deprecations)."""
    return [w.category.__name__ for w in caught if issubclass(w.category, ServerCapabilityWarning)]


# The scenario apps, one per route.


async def echo(websocket: WebSocket, raw: RawLog) -> None:
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


async def echo_text(websocket: WebSocket, raw: RawLog) -> None:
    """``iter_text`` echo."""
    await websocket.accept()
    async for text in websocket.iter_text():
        await websocket.send_text(text)


async def echo_bytes(websocket: WebSocket, raw: RawLog) -> None:
    """``iter_bytes`` echo."""
    await websocket.accept()
    async for data in websocket.iter_bytes():
        await websocket.send_bytes(data)


async def echo_json(websocket: WebSocket, raw: RawLog) -> None:
    """``receive_json``/``send_json`` echo in ``?mode=text`` or ``?mode=binary``."""
    mode: Mode = "binary" if websocket.query_params.get("mode") == "binary" else "text"
    await websocket.accept()
    while True:
        try:
            value = await websocket.receive_json(mode)
        except WebSocketDisconnect:
            return
        await websocket.send_json({"echo": value}, mode=mode)


async def empty(websocket: WebSocket, raw: RawLog) -> None:
    """Describe every message until ``end``; send an empty text and binary; report those sends."""
    await websocket.accept()
    seen: list[p.MessageSeen] = []
    while True:
        message = await websocket.receive()
        if message["type"] != "websocket.receive":
            return
        text, data = message.get("text"), message.get("bytes")
        if text == p.END:
            break
        if text is not None:
            seen.append({"kind": "text", "length": len(text)})
        elif data is not None:
            seen.append({"kind": "bytes", "length": len(data)})
        else:
            seen.append({"kind": "none", "length": 0})
    await websocket.send_json(seen)
    text_sent, _ = await _capture(websocket.send_text(""))
    bytes_sent, _ = await _capture(websocket.send_bytes(b""))
    sends: p.EmptySendsReport = {"text": text_sent, "bytes": bytes_sent}
    await websocket.send_json(sends)
    await _drain(websocket)


async def connection_data(websocket: WebSocket, raw: RawLog) -> None:
    """Send back what the app reads from the scope: path, query, headers, URL, client."""
    await websocket.accept()
    url, headers, query = websocket.url, websocket.headers, websocket.query_params
    raw_path = websocket.scope.get("raw_path")
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
    }
    await websocket.send_json(data)
    await _drain(websocket)


async def subprotocol(websocket: WebSocket, raw: RawLog) -> None:
    """Refuse to accept with an unoffered subprotocol, then accept an offered one."""
    refused, _ = await _capture(websocket.accept(subprotocol=p.SUBPROTOCOL_NOT_OFFERED))
    await websocket.accept(subprotocol=p.SUBPROTOCOL_CHOSEN)
    report: p.SubprotocolReport = {"offered": websocket.subprotocols, "refused": refused}
    await websocket.send_json(report)
    await _drain(websocket)


async def accept_headers(websocket: WebSocket, raw: RawLog) -> None:
    """Accept with extra headers; report whether lilya_ws had to drop them."""
    with warnings.catch_warnings(record=True) as caught:
        warnings.simplefilter("always")
        await websocket.accept(headers=p.ACCEPT_HEADERS)
    report: p.AcceptHeadersReport = {"warnings": _caught_names(caught)}
    await websocket.send_json(report)
    await _drain(websocket)


async def close_with_reason(websocket: WebSocket, raw: RawLog) -> None:
    """Accept, then close with a code and a non-ASCII reason."""
    await websocket.accept()
    with warnings.catch_warnings(record=True) as caught:
        warnings.simplefilter("always")
        await websocket.close(p.APP_CLOSE_CODE, p.APP_CLOSE_REASON)
    report: p.CloseReport = {"warnings": _caught_names(caught)}
    _post(websocket, report)


async def close_before_accept(websocket: WebSocket, raw: RawLog) -> None:
    """Close during the handshake: every server must answer HTTP 403."""
    await websocket.close()


async def _denial_parts() -> AsyncIterator[str]:
    for part in p.DENIAL_PARTS:
        yield part


async def deny(websocket: WebSocket, raw: RawLog) -> None:
    """Deny with a plain or streamed response; without the extension, close (403)."""
    headers = {"x-denial": websocket.query_params.get("kind", "plain")}
    response: Response | StreamingResponse
    if websocket.query_params.get("kind") == "streamed":
        response = StreamingResponse(_denial_parts(), status_code=p.DENIAL_STATUS, headers=headers)
    else:
        response = Response(p.DENIAL_BODY, status_code=p.DENIAL_STATUS, headers=headers)
    report: p.DenialReport = {"sent": True, "error": None, "is_runtime_error": False}
    try:
        await websocket.send_denial_response(response)
    except DenialResponseUnsupported as exc:
        report = {
            "sent": False,
            "error": _qualname(type(exc)),
            "is_runtime_error": isinstance(exc, RuntimeError),
        }
        await websocket.close()
    _post(websocket, report)


async def client_leave(websocket: WebSocket, raw: RawLog) -> None:
    """Wait for the client to leave; receive twice, send once, and report it all."""
    await websocket.accept()
    first, _ = await _capture(websocket.receive_text(), p.CLIENT_WAIT)
    second, _ = await _capture(websocket.receive_text())
    send, _ = await _capture(websocket.send_text("late"))
    raw_second = await raw.again()
    report: p.ClientCloseReport = {
        "first": first,
        "second": second,
        "send": send,
        "close_code": websocket.close_code,
        "close_code_type": type(websocket.close_code).__name__,
        "close_reason": websocket.close_reason,
        "raw_code_type": raw.code_type,
        "raw_second_receive": "returned" if raw_second["result"] == "ok" else raw_second["result"],
    }
    _post(websocket, report)


async def send_after_leave(websocket: WebSocket, raw: RawLog) -> None:
    """Once told the client has left, send twice before receiving anything."""
    await websocket.accept()
    signalled = await _mailbox.take("signal:" + _token(websocket), p.CLIENT_WAIT) is not None
    sends = [(await _capture(websocket.send_text("late")))[0] for _ in range(2)]
    receive, _ = await _capture(websocket.receive_text())
    report: p.SendAfterLeaveReport = {"signalled": signalled, "sends": sends, "receive": receive}
    _post(websocket, report)


async def wrong_type(websocket: WebSocket, raw: RawLog) -> None:
    """``receive_text`` gets bytes, then ``receive_bytes`` gets text: both raise, payload kept."""
    await websocket.accept()
    text_for_bytes, exc1 = await _capture(websocket.receive_text(), p.CLIENT_WAIT)
    bytes_for_text, exc2 = await _capture(websocket.receive_bytes(), p.CLIENT_WAIT)
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


async def invalid_json(websocket: WebSocket, raw: RawLog) -> None:
    """``receive_json`` on invalid JSON: a typed error with the payload, then close 1007."""
    await websocket.accept()
    outcome, exc = await _capture(websocket.receive_json(), p.CLIENT_WAIT)
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


async def app_error(websocket: WebSocket, raw: RawLog) -> None:
    """Raise before (``?when=before``) or after accepting; the server handles it."""
    if websocket.query_params.get("when") == "after":
        await websocket.accept()
    raise RuntimeError(p.SECRET)


async def close_for(websocket: WebSocket, raw: RawLog) -> None:
    """Catch an internal error and ``close_for`` it (403 before accept, 1011 after); report it."""
    if websocket.query_params.get("when") == "after":
        await websocket.accept()
    try:
        raise RuntimeError(p.SECRET)
    except RuntimeError as exc:
        outcome, _ = await _capture(websocket.close_for(exc))
    _post(websocket, {"close_for": outcome})


async def iterate(websocket: WebSocket, raw: RawLog) -> None:
    """Echo with ``iter_text``/``iter_bytes``/``iter_json`` (``?kind=``) until the client leaves."""
    await websocket.accept()
    kind = websocket.query_params.get("kind", "text")
    received: list[str] = []
    if kind == "bytes":
        async for data in websocket.iter_bytes():
            received.append(data.hex())
            await websocket.send_bytes(data)
    elif kind == "json":
        async for value in websocket.iter_json(mode="binary"):
            received.append(json.dumps(value))
            await websocket.send_json(value, mode="binary")
    else:
        async for text in websocket.iter_text():
            received.append(text)
            await websocket.send_text(text)
    report: p.IterReport = {
        "received": received,
        "close_code": websocket.close_code,
        "close_code_type": type(websocket.close_code).__name__,
        "close_reason": websocket.close_reason,
    }
    _post(websocket, report)


async def max_size(websocket: WebSocket, raw: RawLog) -> None:
    """An application-level size limit: a larger message closes with 1009."""
    websocket.max_message_size = p.APP_MAX_MESSAGE_SIZE
    await websocket.accept()
    outcome, _ = await _capture(websocket.receive_bytes(), p.CLIENT_WAIT)
    _post(websocket, {"error": outcome})


async def capabilities(websocket: WebSocket, raw: RawLog) -> None:
    """Send raw scope facts and the raw keys of one text and one binary message."""
    await websocket.accept()
    await websocket.receive_text()
    await websocket.receive_bytes()
    received = [keys for mtype, keys in raw.keys if mtype == "websocket.receive"]
    scope = websocket.scope
    asgi = scope.get("asgi") or {}
    facts: p.ScopeFacts = {
        "spec_version": asgi.get("spec_version"),
        "has_scheme": "scheme" in scope,
        "has_http_version": "http_version" in scope,
        "has_extensions": "extensions" in scope,
        "extensions": sorted(websocket.extensions),
        "lilya_spec_version": list(websocket.spec_version),
        "url_scheme": websocket.url.scheme,
        "text_keys": received[0] if received else [],
        "bytes_keys": received[1] if len(received) > 1 else [],
    }
    await websocket.send_json(facts)
    await _drain(websocket)


ROUTES: Final[Mapping[str, Route]] = {
    "echo": echo,
    "echo-text": echo_text,
    "echo-bytes": echo_bytes,
    "echo-json": echo_json,
    "empty": empty,
    "connection-data": connection_data,
    "subprotocol": subprotocol,
    "accept-headers": accept_headers,
    "close-with-reason": close_with_reason,
    "close-before-accept": close_before_accept,
    "deny": deny,
    "client-leave": client_leave,
    "send-after-leave": send_after_leave,
    "wrong-type": wrong_type,
    "invalid-json": invalid_json,
    "app-error": app_error,
    "close-for": close_for,
    "iter": iterate,
    "max-size": max_size,
    "capabilities": capabilities,
}
"""Scenario apps by the first segment of the path."""


async def report(websocket: WebSocket, token: str) -> None:
    """Send ``{"found": ..., "result": ...}`` once a result is stored under ``token``."""
    await websocket.accept()
    result = await _mailbox.take("result:" + token, p.REPORT_WAIT)
    await websocket.send_json({"found": result is not None, "result": result})
    await _drain(websocket)


async def signal(websocket: WebSocket, token: str) -> None:
    """Wake the app waiting on ``token``, then close."""
    _mailbox.post("signal:" + token, {})
    await websocket.accept()
    await websocket.close()


@websocket_only
async def app(scope: Scope, receive: RawReceive, send: RawSend) -> None:
    """The scenario routes (lifespan and plain HTTP are answered by ``websocket_only``)."""
    raw = RawLog(receive)
    websocket = WebSocket(scope, raw, send)
    name, _, rest = str(scope["path"]).lstrip("/").partition("/")
    with anyio.move_on_after(p.APP_DEADLINE) as deadline:
        if name in ("report", "signal") and _valid_token(rest):
            await (report if name == "report" else signal)(websocket, rest)
        else:
            await ROUTES.get(name, echo)(websocket, raw)
    if deadline.cancelled_caught:
        with anyio.move_on_after(p.HANG_LIMIT):
            await websocket.close_for(TimeoutError("scenario deadline"))
