"""Every example and sentence of the seed document (Lilya's WebSocket page), under every dialect."""

from __future__ import annotations

import pytest

from lilya_ws.testing import DIALECTS, HandshakeRejected, connect
from lilya_ws.types import Receive, Scope, Send
from lilya_ws.websockets import WebSocket, WebSocketDisconnect


async def hello_app(scope: Scope, receive: Receive, send: Send) -> None:
    websocket = WebSocket(scope=scope, receive=receive, send=send)
    await websocket.accept()
    await websocket.send_json({"message": "Hello, world!"}, mode="binary")
    await websocket.close()


async def iter_json_app(scope: Scope, receive: Receive, send: Send) -> None:
    websocket = WebSocket(scope=scope, receive=receive, send=send)
    await websocket.accept()

    async for message in websocket.iter_json():
        data = {"message": f"Message text was: {message}"}
        await websocket.send_json(data, mode="binary")
    await websocket.close()


async def test_first_example_sends_binary_json_then_closes(dialect: str) -> None:
    async with connect(hello_app, "/", dialect=dialect) as ws:
        assert await ws.receive_json(mode="binary") == {"message": "Hello, world!"}
        with pytest.raises(WebSocketDisconnect) as closed:
            await ws.receive()
    assert closed.value.code == 1000


async def test_iter_json_example_echoes_until_disconnect(dialect: str) -> None:
    async with connect(iter_json_app, "/", dialect=dialect) as ws:
        await ws.send_json({"a": 1})
        assert await ws.receive_json(mode="binary") == {"message": "Message text was: {'a': 1}"}
        await ws.send_json([1, "é"])
        assert await ws.receive_json(mode="binary") == {"message": "Message text was: [1, 'é']"}


async def test_mapping_interface_url_headers_query_and_path_params(dialect: str) -> None:
    seen: dict[str, object] = {}

    async def app(scope: Scope, receive: Receive, send: Send) -> None:
        scope["path_params"] = {"username": "ada"}
        websocket = WebSocket(scope, receive, send)
        seen.update(
            path=websocket["path"],
            scheme=websocket.url.scheme,
            url_path=websocket.url.path,
            port=websocket.url.port,
            version=websocket.headers["sec-websocket-version"],
            search=websocket.query_params["search"],
            username=websocket.path_params["username"],
            keys="path" in websocket and len(websocket) == len(scope),
        )
        await websocket.close()

    with pytest.raises(HandshakeRejected):
        async with connect(app, "ws://example.com:8080/users/ada?search=lovelace", dialect=dialect):
            pass
    assert seen == {
        "path": "/users/ada",
        "scheme": "ws",
        "url_path": "/users/ada",
        "port": 8080,
        "version": "13",
        "search": "lovelace",
        "username": "ada",
        "keys": True,
    }


async def test_close_before_accept_answers_403(dialect: str) -> None:
    async def app(scope: Scope, receive: Receive, send: Send) -> None:
        await WebSocket(scope, receive, send).close()

    with pytest.raises(HandshakeRejected) as rejected:
        async with connect(app, "/", dialect=dialect):
            pass
    assert rejected.value.status == 403


async def test_receive_after_disconnect_raises_instead_of_waiting(dialect: str) -> None:
    outcome: list[int] = []

    async def app(scope: Scope, receive: Receive, send: Send) -> None:
        websocket = WebSocket(scope, receive, send)
        await websocket.accept()
        for _ in range(2):
            try:
                await websocket.receive_text()
            except WebSocketDisconnect as exc:
                outcome.append(exc.code)

    async with connect(app, "/", dialect=dialect) as ws:
        await ws.close(4001, "bye")
    code = DIALECTS[dialect].clean_close_code or 4001  # hypercorn reports 1006
    assert outcome == [code, code]
