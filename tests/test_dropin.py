"""Drop-in with Starlette: its TestClient, responses and connection base work with lilya_ws.

(``tests/dropin/run_dropin.py`` runs Starlette's and Lilya's own suites against
lilya_ws; this file keeps the essentials in every test run.)
"""

from __future__ import annotations

from collections.abc import Awaitable, Callable, MutableMapping
from typing import Any

import httpx2 as httpx
import pytest
from starlette.requests import HTTPConnection
from starlette.responses import PlainTextResponse, StreamingResponse
from starlette.testclient import TestClient
from starlette.websockets import WebSocketDisconnect as StarletteDisconnect

import lilya_ws
from lilya_ws import (
    ConnectionClosed,
    InvalidMode,
    WebSocket,
    WebSocketDisconnect,
    WebSocketStateError,
)
from lilya_ws.types import Scope

# Starlette types an app's send as taking MutableMapping messages; an app handed to
# its TestClient is typed its way (lilya_ws's WebSocket accepts both).
Receive = Callable[[], Awaitable[MutableMapping[str, Any]]]
Send = Callable[[MutableMapping[str, Any]], Awaitable[None]]


def test_a_test_client_can_subclass_websocket_disconnect_with_another_base() -> None:
    class Denied(httpx.Response, WebSocketDisconnect):  # type: ignore[misc]  # as Starlette's client does
        pass

    denied = Denied(status_code=403)  # httpx.Response.__init__ runs, ours does not
    assert (denied.code, denied.reason) == (1000, "")
    assert str(WebSocketDisconnect(4000, "bye")) == "WebSocket closed with code 4000: bye"
    assert isinstance(denied, WebSocketDisconnect)


def test_starlette_test_client_echo_with_subprotocol_headers_and_close_reason() -> None:
    async def app(scope: Scope, receive: Receive, send: Send) -> None:
        websocket = WebSocket(scope, receive, send)
        await websocket.accept(subprotocol="chat", headers=[(b"x-extra", b"1")])
        await websocket.send_json(await websocket.receive_json())
        await websocket.close(4001, "done")

    with TestClient(app).websocket_connect("/", subprotocols=["chat"]) as session:
        assert session.accepted_subprotocol == "chat"
        assert session.extra_headers == [(b"x-extra", b"1")]
        session.send_json({"a": [1, "é"]})
        assert session.receive_json() == {"a": [1, "é"]}
        with pytest.raises(StarletteDisconnect) as closed:  # its client raises its own class
            session.receive_text()
    assert (closed.value.code, closed.value.reason) == (4001, "done")


@pytest.mark.parametrize(
    "response",
    [
        PlainTextResponse("no", status_code=401),
        StreamingResponse(iter([b"n", b"o"]), status_code=401),
    ],
)
def test_starlette_responses_work_as_denial_responses(response: PlainTextResponse) -> None:
    async def app(scope: Scope, receive: Receive, send: Send) -> None:
        await WebSocket(scope, receive, send).send_denial_response(response)

    from starlette.testclient import WebSocketDenialResponse

    with pytest.raises(WebSocketDenialResponse) as denied, TestClient(app).websocket_connect("/"):
        pass
    assert (denied.value.status_code, denied.value.content) == (401, b"no")


def test_state_errors_are_runtime_errors_as_in_starlette_and_lilya() -> None:
    async def app(scope: Scope, receive: Receive, send: Send) -> None:
        websocket = WebSocket(scope, receive, send)
        await websocket.accept()
        with pytest.raises(InvalidMode) as bad_mode:
            await websocket.send_json({}, mode="xml")  # type: ignore[arg-type]  # the point of the test
        assert isinstance(bad_mode.value, RuntimeError)
        assert isinstance(bad_mode.value, ValueError)
        with pytest.raises(WebSocketDisconnect):
            await websocket.receive_text()
        with pytest.raises(ConnectionClosed) as again:
            await websocket.receive_text()
        assert isinstance(again.value, RuntimeError)
        assert isinstance(again.value, WebSocketStateError)

    with TestClient(app).websocket_connect("/") as session:
        session.close(1000)


def test_framework_attributes_come_from_a_subclass_with_the_frameworks_base() -> None:
    class StarletteWebSocket(lilya_ws.WebSocket, HTTPConnection):  # type: ignore[misc]  # both define url: lilya_ws's wins
        """What a framework adopting lilya_ws would define: url_for, session, user..."""

    seen: list[str] = []

    async def app(scope: Scope, receive: Receive, send: Send) -> None:
        websocket = StarletteWebSocket(scope, receive, send)
        seen.append(str(websocket.base_url))
        await websocket.accept()
        await websocket.send_text(websocket.url.path)

    with TestClient(app).websocket_connect("/room") as session:
        assert session.receive_text() == "/room"
    assert seen == ["ws://testserver/"]
