"""Property tests: random server messages and random app operations, in every dialect.

The WebSocket may raise only its documented errors, must never lose a message
the server delivered (what it read ahead reaches the app in order, unless the app
closes first), must never send what the ASGI protocol forbids in the current
state, and must never wait on a connection that is over.
"""

from __future__ import annotations

import asyncio
import enum
from collections.abc import Callable, Coroutine, Mapping
from contextlib import nullcontext
from typing import Any, TypeVar

import pytest
from hypothesis import HealthCheck, given, settings
from hypothesis import strategies as st

from lilya_ws import LilyaWSError, Response, WebSocket, WebSocketState
from lilya_ws.errors import (
    InvalidJSON,
    NoSubprotocolWarning,
    UnexpectedMessageType,
    WebSocketDisconnect,
)
from lilya_ws.testing import DIALECTS, build_scope

T = TypeVar("T")


class Code(enum.IntEnum):
    GOING_AWAY = 1001


class WouldWait(Exception):
    """The app asked for a message the server does not have yet (the client is idle)."""


NEVER_WAITS = 1.0
"""The fake server answers at once or raises ``WouldWait``: an operation that takes
longer is waiting on a connection that will never answer."""


async def bounded(coro: Coroutine[Any, Any, T]) -> T:
    try:
        return await asyncio.wait_for(coro, NEVER_WAITS)
    except asyncio.TimeoutError:
        raise AssertionError("the WebSocket waited on an in-memory channel") from None


# What a server accepts from the app, per ASGI state (independent of lilya_ws's table).
LEGAL: Mapping[str, set[str]] = {
    "handshake": {"websocket.accept", "websocket.close", "websocket.http.response.start"},
    "open": {"websocket.send", "websocket.close"},
    "response": {"websocket.http.response.body"},
    "closed": set(),
}


class FakeServer:
    def __init__(self, dialect: str, payloads: list[str | bytes], disconnect: int | None) -> None:
        self.dialect = DIALECTS[dialect]
        self.scope = build_scope("/", self.dialect, subprotocols=["chat"])
        self.queue: list[Mapping[str, Any]] = [{"type": "websocket.connect"}]
        for payload in payloads:
            key, other = ("text", "bytes") if isinstance(payload, str) else ("bytes", "text")
            message: dict[str, Any] = {"type": "websocket.receive", key: payload}
            if self.dialect.receive_both_keys:
                message[other] = None
            self.queue.append(message)
        if disconnect is not None:
            code: int = Code(disconnect) if disconnect == 1001 else disconnect
            self.queue.append({"type": "websocket.disconnect", "code": code})
        self.delivered: list[str | bytes] = []
        self.disconnect_delivered = False
        self.state = "handshake"

    async def receive(self) -> Mapping[str, Any]:
        if self.disconnect_delivered:
            raise AssertionError("receive() awaited after the disconnect was delivered")
        if not self.queue:
            raise WouldWait
        message = self.queue.pop(0)
        if message["type"] == "websocket.receive":
            payload = message.get("text")
            self.delivered.append(payload if payload is not None else message["bytes"])
        elif message["type"] == "websocket.disconnect":
            self.disconnect_delivered = True
        return message

    async def send(self, message: Mapping[str, Any]) -> None:
        mtype = message["type"]
        assert mtype in LEGAL[self.state], f"{mtype} sent in state {self.state}"
        if mtype == "websocket.accept":
            self.state = "open"
        elif mtype == "websocket.close":
            self.state = "closed"
        elif mtype == "websocket.http.response.start":
            self.state = "response"
        elif mtype == "websocket.http.response.body" and not message.get("more_body"):
            self.state = "closed"
        elif mtype == "websocket.send":
            assert (message.get("text") is None) != (message.get("bytes") is None)


Operation = Callable[[WebSocket], Coroutine[Any, Any, object]]


async def take_one(ws: WebSocket) -> list[str]:
    iterator = ws.iter_text()
    try:
        async for text in iterator:
            return [text]
        return []
    finally:
        await iterator.aclose()


async def accept_none_offered(ws: WebSocket) -> None:
    """The client offers "chat": accepting with none warns whenever an accept may be sent."""
    may_accept = ws.application_state is WebSocketState.CONNECTING
    with pytest.warns(NoSubprotocolWarning) if may_accept else nullcontext():
        await ws.accept()


OPERATIONS: Mapping[str, Operation] = {
    "accept": accept_none_offered,
    "accept_chat": lambda ws: ws.accept(subprotocol="chat"),
    "send_text": lambda ws: ws.send_text("t"),
    "send_bytes": lambda ws: ws.send_bytes(b"b"),
    "send_json": lambda ws: ws.send_json({"k": 1}, mode="binary"),
    "receive": lambda ws: ws.receive(),
    "receive_text": lambda ws: ws.receive_text(),
    "receive_bytes": lambda ws: ws.receive_bytes(),
    "receive_json": lambda ws: ws.receive_json(),
    "iter_text": take_one,
    "close": lambda ws: ws.close(4000),
    "deny": lambda ws: ws.send_denial_response(Response("no")),
}

payloads = st.lists(
    st.one_of(st.text(max_size=5), st.binary(max_size=5), st.just('{"a":1}')), max_size=6
)


@settings(max_examples=300, suppress_health_check=[HealthCheck.too_slow], deadline=None)
@given(
    dialect=st.sampled_from(sorted(DIALECTS)),
    incoming=payloads,
    disconnect=st.one_of(st.none(), st.sampled_from([1000, 1001, 1005, 1006, 4001])),
    operations=st.lists(st.sampled_from(sorted(OPERATIONS)), max_size=12),
)
def test_random_sessions_keep_every_promise(
    dialect: str, incoming: list[str | bytes], disconnect: int | None, operations: list[str]
) -> None:
    asyncio.run(session(dialect, incoming, disconnect, operations))


async def session(
    dialect: str, incoming: list[str | bytes], disconnect: int | None, operations: list[str]
) -> None:
    server = FakeServer(dialect, incoming, disconnect)
    ws = WebSocket(server.scope, server.receive, server.send)
    surfaced: list[str | bytes] = []
    codes: list[object] = []
    for name in [*operations, *["receive"] * (len(incoming) + 1)]:
        try:
            result = await bounded(OPERATIONS[name](ws))
        except WouldWait:
            break
        except (UnexpectedMessageType, InvalidJSON) as exc:
            surfaced.append(exc.payload)
            continue
        except WebSocketDisconnect as exc:
            codes.append(exc.code)
            continue
        except LilyaWSError:
            continue
        if name in ("receive_text", "receive_bytes"):
            assert isinstance(result, (str, bytes))
            surfaced.append(result)
        elif name == "receive_json":
            surfaced.append(server.delivered[len(surfaced)])
        elif name == "iter_text":
            assert isinstance(result, list)
            surfaced.extend(result)
        elif name == "receive" and isinstance(result, Mapping):
            if result["type"] == "websocket.receive":
                assert len(result) == 2  # only the payload key, whatever the server sent
                surfaced.append(result.get("text", result.get("bytes", b"")))
            elif result["type"] == "websocket.disconnect":
                assert type(result["code"]) is int
    # Nothing lost: every delivered payload reached the app, in order, as a value or on
    # an error, unless the app closed while some were read ahead.
    closed_by_app = "close" in operations or "deny" in operations
    assert surfaced == (server.delivered[: len(surfaced)] if closed_by_app else server.delivered)
    assert all(type(code) is int for code in codes)
