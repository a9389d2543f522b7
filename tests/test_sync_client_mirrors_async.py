"""``connect_sync`` offers what ``connect`` offers: the handshake's results, every kind of
message both ways, the close and the drop, and the client's own checks."""

from __future__ import annotations

from typing import Any

import anyio
import anyio.lowlevel
import pytest

from lilya_ws import MsgspecCodec, ReceiveTimeout, WebSocket, WebSocketDisconnect
from lilya_ws.testing import Backend, connect, connect_sync, get_dialect
from lilya_ws.types import Receive, Scope, Send


async def echo_each_kind(scope: Scope, receive: Receive, send: Send) -> None:
    """Accepts with the first subprotocol and a header, then echoes text as text and bytes
    as bytes; a text "close" makes it close 4000 "bye"."""
    websocket = WebSocket(scope, receive, send)
    await websocket.accept(subprotocol=websocket.subprotocols[0], headers=[(b"x-app", b"1")])
    while True:
        message = await websocket.receive()
        if message["type"] == "websocket.disconnect":
            return
        text, data = message.get("text"), message.get("bytes")
        if text == "close":
            await websocket.close(4000, "bye")
            return
        if isinstance(text, str):
            await websocket.send_text(text)
        elif isinstance(data, bytes):
            await websocket.send_bytes(data)


def test_handshake_results_and_each_message_kind() -> None:
    with connect_sync(echo_each_kind, subprotocols=["chat", "other"]) as ws:
        assert ws.subprotocol == "chat"
        assert (b"x-app", b"1") in ws.accept_headers
        assert (ws.close_code, ws.close_reason) == (None, None)
        ws.send_bytes(b"\x00\xff")
        assert ws.receive_bytes() == b"\x00\xff"
        ws.send_json({"a": [1, 2]})
        assert ws.receive_json() == {"a": [1, 2]}
        ws.send_json({"b": None}, mode="binary")
        assert ws.receive_json(mode="binary") == {"b": None}
        ws.send_text("close")
        with pytest.raises(WebSocketDisconnect):
            ws.receive()
        assert (ws.close_code, ws.close_reason) == (4000, "bye")


def test_the_wrong_frame_type_is_an_assertion_not_a_conversion() -> None:
    with connect_sync(echo_each_kind, subprotocols=["chat"]) as ws:
        ws.send_bytes(b"raw")
        with pytest.raises(AssertionError, match="Expected a text message, received bytes"):
            ws.receive_text()
        ws.send_text("words")
        with pytest.raises(AssertionError, match="Expected a bytes message, received text"):
            ws.receive_bytes()


async def record_the_ending(scope: Scope, receive: Receive, send: Send) -> None:
    websocket = WebSocket(scope, receive, send)
    await websocket.accept()
    try:
        await websocket.receive_text()
    except WebSocketDisconnect as gone:
        scope["state"]["ending"] = (gone.code, gone.reason)


@pytest.mark.parametrize(
    ("leave", "ending"),
    [("close", (4001, "done")), ("abort", (1006, ""))],
)
def test_the_client_leaves_once_by_close_or_drop(leave: str, ending: tuple[int, str]) -> None:
    """A second close or drop after the first changes nothing the app sees."""
    state: dict[str, object] = {}

    async def app(scope: Scope, receive: Receive, send: Send) -> None:
        await record_the_ending({**scope, "state": state}, receive, send)

    with connect_sync(app) as ws:
        if leave == "close":
            ws.close(4001, "done")
            ws.close(4002, "again")
            ws.abort()
        else:
            ws.abort()
            ws.abort()
            ws.close(4002, "again")
    assert state["ending"] == ending


async def test_sending_after_the_client_closed_is_the_tests_mistake() -> None:
    async with connect(echo_each_kind, subprotocols=["chat"]) as ws:
        await ws.close()
        with pytest.raises(RuntimeError, match="already closed this connection"):
            await ws.send_text("late")


def test_a_dialect_object_is_its_own_preset() -> None:
    daphne = get_dialect("daphne")
    assert get_dialect(daphne) is daphne


async def test_msgspec_codec_round_trips_text_and_binary_json() -> None:
    async def app(scope: Scope, receive: Receive, send: Send) -> None:
        websocket = WebSocket(scope, receive, send, json_codec=MsgspecCodec())
        await websocket.accept()
        value = await websocket.receive_json()
        await websocket.send_json({"text": value})
        value = await websocket.receive_json(mode="binary")
        await websocket.send_json({"binary": value}, mode="binary")

    async with connect(app) as ws:
        await ws.send_json(["é", 1, None])
        assert await ws.receive_text() == '{"text":["é",1,null]}'
        await ws.send_json({"n": 2.5}, mode="binary")
        assert await ws.receive_bytes() == b'{"binary":{"n":2.5}}'


@pytest.mark.parametrize("backend", ["asyncio", "trio"])
def test_a_sending_app_learns_the_client_left_under_either_loop(backend: Backend) -> None:
    """The app only sends; the departure reaches it as WebSocketDisconnect all the same
    (lilya_ws reads ahead while the app is not receiving)."""
    ended: list[int] = []

    async def app(scope: Scope, receive: Receive, send: Send) -> None:
        websocket = WebSocket(scope, receive, send)
        await websocket.accept()
        try:
            for number in range(10_000):
                await websocket.send_text(str(number))
                await anyio.lowlevel.checkpoint()  # a send-only app still yields to the loop
        except WebSocketDisconnect as gone:
            ended.append(gone.code)

    with connect_sync(app, backend=backend) as ws:
        assert ws.receive_text() == "0"
        ws.close(4003)
    assert ended == [4003]


# What the test client refuses, as the server it stands for would.


async def _returns_without_answering(scope: Scope, receive: Receive, send: Send) -> None:
    await receive()  # the connect event, then nothing


async def _never_answers(scope: Scope, receive: Receive, send: Send) -> None:
    await receive()
    await anyio.sleep_forever()


async def _sends_before_accepting(scope: Scope, receive: Receive, send: Send) -> None:
    await receive()
    await send({"type": "websocket.send", "text": "too early"})


@pytest.mark.parametrize(
    ("app", "error", "complaint"),
    [
        (_returns_without_answering, RuntimeError, "returned without answering the handshake"),
        (_never_answers, ReceiveTimeout, "did not answer the handshake within 0.2 s"),
        (_sends_before_accepting, RuntimeError, "'websocket.send' during the handshake"),
    ],
)
async def test_a_handshake_the_app_never_answers_properly_fails_the_connect(
    app: Any, error: type[Exception], complaint: str
) -> None:
    with pytest.raises(error, match=complaint):
        async with connect(app, timeout=0.2):
            pass


async def _accepts_then(
    message: dict[str, Any], scope: Scope, receive: Receive, send: Send
) -> None:
    await receive()
    await send({"type": "websocket.accept"})
    await send(message)  # type: ignore[arg-type]  # any message, valid or not, on purpose


@pytest.mark.parametrize(
    ("dialect", "message", "complaint"),
    [
        ("spec", {"type": "websocket.bogus"}, "Unexpected ASGI message 'websocket.bogus'"),
        ("daphne", {"type": "websocket.close", "code": 1011}, "invalid close code 1011"),
    ],
)
async def test_a_message_the_server_would_refuse_is_raised_in_the_app(
    dialect: str, message: dict[str, Any], complaint: str
) -> None:
    async def app(scope: Scope, receive: Receive, send: Send) -> None:
        await _accepts_then(message, scope, receive, send)

    with pytest.raises(Exception, match=complaint):
        async with connect(app, dialect=dialect):
            pass
