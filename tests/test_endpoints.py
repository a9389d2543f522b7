"""``endpoint()``: one ending per case on every dialect, HTTP and lifespan answered."""

from __future__ import annotations

import asyncio
import logging
from collections.abc import Mapping
from typing import Any

import pytest

from lilya_ws import Endpoint, Response, WebSocket, WebSocketDisconnect, endpoint
from lilya_ws.testing import DIALECTS, HandshakeRejected, connect

SECRET = "password=hunter2"
DENIAL_DIALECTS = sorted(name for name, d in DIALECTS.items() if d.denial_extension)


@endpoint
async def returns_open(websocket: WebSocket) -> None:
    await websocket.accept()
    await websocket.send_text("bye")


@endpoint
async def raises_after_accept(websocket: WebSocket) -> None:
    await websocket.accept()
    raise RuntimeError(SECRET)


@endpoint
async def raises_before_accept(websocket: WebSocket) -> None:
    raise RuntimeError(SECRET)


@endpoint
async def returns_before_accept(websocket: WebSocket) -> None:
    pass


@pytest.mark.parametrize("dialect", sorted(DIALECTS))
async def test_returning_without_closing_closes_1000(dialect: str) -> None:
    async with connect(returns_open, dialect=dialect) as ws:
        assert await ws.receive_text() == "bye"
        with pytest.raises(WebSocketDisconnect) as closed:
            await ws.receive()
    assert closed.value.code == 1000


@pytest.mark.parametrize("dialect", sorted(DIALECTS))
async def test_raising_after_accept_closes_1011_and_logs(
    dialect: str, caplog: pytest.LogCaptureFixture
) -> None:
    with caplog.at_level(logging.ERROR, logger="lilya_ws"):
        async with connect(raises_after_accept, dialect=dialect) as ws:
            with pytest.raises(WebSocketDisconnect) as closed:
                await ws.receive()
    restricted = DIALECTS[dialect].close_codes is not None
    expected = (4011, "") if restricted else (1011, "Internal error")
    assert (closed.value.code, closed.value.reason) == expected
    errors = [record.exc_info[1] for record in caplog.records if record.exc_info]
    assert [str(error) for error in errors] == [SECRET]


@pytest.mark.parametrize("dialect", sorted(DIALECTS))
async def test_raising_before_accept_answers_500(dialect: str) -> None:
    with pytest.raises(HandshakeRejected) as rejected:
        async with connect(raises_before_accept, dialect=dialect):
            pass
    if DIALECTS[dialect].denial_extension:
        assert (rejected.value.status, rejected.value.body) == (500, b"Internal Server Error")
    else:  # no denial responses on this server: closing before accept is its 403
        assert rejected.value.status == 403
    assert SECRET.encode() not in rejected.value.body


@pytest.mark.parametrize("dialect", sorted(DIALECTS))
async def test_returning_before_accept_answers_403(dialect: str) -> None:
    with pytest.raises(HandshakeRejected) as rejected:
        async with connect(returns_before_accept, dialect=dialect):
            pass
    assert rejected.value.status == 403


@pytest.mark.parametrize("dialect", sorted(DIALECTS))
async def test_a_push_only_handler_learns_the_client_left(dialect: str) -> None:
    seen: list[tuple[int, int]] = []

    @endpoint
    async def ticker(websocket: WebSocket) -> None:
        await websocket.accept()
        sent = 0
        try:
            while True:
                await websocket.send_text(str(sent))
                sent += 1
                await asyncio.sleep(0)  # a ticker's pause between messages
        except WebSocketDisconnect as left:
            seen.append((left.code, sent))

    async with connect(ticker, dialect=dialect) as ws:
        assert await ws.receive_text() == "0"
        await ws.close(4001, "bye")
    destroyed = DIALECTS[dialect].clean_close_code  # the server reports its own code
    assert [code for code, _ in seen] == [destroyed or 4001]


async def test_a_peer_leaving_is_not_logged_as_an_error(caplog: pytest.LogCaptureFixture) -> None:
    @endpoint
    async def reader(websocket: WebSocket) -> None:
        await websocket.accept()
        await websocket.receive_text()  # raises WebSocketDisconnect when the client leaves

    with caplog.at_level(logging.ERROR, logger="lilya_ws"):
        async with connect(reader) as ws:
            await ws.close(4001)
    assert caplog.records == []


async def test_options_reach_the_websocket() -> None:
    @endpoint(max_message_size=4, receive_timeout=1.0)
    async def limited(websocket: WebSocket) -> None:
        await websocket.accept()
        await websocket.send_json([websocket.max_message_size, websocket.receive_timeout])

    async with connect(limited) as ws:
        assert await ws.receive_json() == [4, 1.0]


class Channel:
    """A raw ASGI channel for HTTP and lifespan scopes."""

    def __init__(self, *incoming: Mapping[str, Any]) -> None:
        self.incoming = list(incoming)
        self.sent: list[Mapping[str, Any]] = []

    async def receive(self) -> Mapping[str, Any]:
        return self.incoming.pop(0)

    async def send(self, message: Mapping[str, Any]) -> None:
        self.sent.append(message)


async def test_plain_http_gets_404() -> None:
    channel = Channel({"type": "http.request", "body": b""})
    await returns_open({"type": "http", "path": "/"}, channel.receive, channel.send)
    assert channel.sent[0]["status"] == 404
    assert channel.sent[1]["body"] == b"Not Found"


async def test_plain_http_goes_to_the_http_app() -> None:
    app = endpoint(http=Response("hello", status_code=200))(returns_open.handler)
    channel = Channel({"type": "http.request", "body": b""})
    await app({"type": "http", "path": "/"}, channel.receive, channel.send)
    assert (channel.sent[0]["status"], channel.sent[1]["body"]) == (200, b"hello")


async def test_lifespan_is_acknowledged() -> None:
    channel = Channel({"type": "lifespan.startup"}, {"type": "lifespan.shutdown"})
    await returns_open({"type": "lifespan"}, channel.receive, channel.send)
    assert [message["type"] for message in channel.sent] == [
        "lifespan.startup.complete",
        "lifespan.shutdown.complete",
    ]


def test_an_endpoint_is_an_asgi_app_not_a_function() -> None:
    """Frameworks' routers call class instances as ASGI apps, functions as handlers."""
    assert isinstance(returns_open, Endpoint)
    assert repr(returns_open) == "Endpoint(returns_open)"


async def test_the_handler_gets_the_websocket_class_asked_for() -> None:
    class Named(WebSocket):
        __slots__ = ()

        @property
        def name(self) -> str:
            return "named"

    @endpoint(websocket_class=Named)
    async def greet(websocket: Named) -> None:
        await websocket.accept()
        await websocket.send_text(websocket.name)

    async with connect(greet) as ws:
        assert await ws.receive_text() == "named"
