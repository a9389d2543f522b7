"""lilya_ws endpoints as WebSocket routes in Starlette, FastAPI and Lilya.

Each framework's router hands its path parameters to the endpoint
(``websocket.path_params``) and the endpoint's endings (1011 after an error)
reach the client, through the framework's own test client and under a real
server (uvicorn with websockets, on 127.0.0.1). The composed class with
Starlette's ``url_for``, ``session`` and ``user`` (``tests/typecheck/framework_extras.py``,
type-checked by ``test_typing.py``) works in a Starlette route.
"""

from __future__ import annotations

import asyncio
import json
import logging
import sys
from collections.abc import Iterator, Mapping
from contextlib import AbstractContextManager
from pathlib import Path
from typing import TYPE_CHECKING, Any, Protocol

import framework_apps
import pytest
from lilya.testclient import TestClient as LilyaTestClient
from starlette.applications import Starlette
from starlette.authentication import AuthCredentials, AuthenticationBackend, SimpleUser
from starlette.middleware import Middleware
from starlette.middleware.authentication import AuthenticationMiddleware
from starlette.requests import HTTPConnection
from starlette.testclient import TestClient
from websockets.asyncio.client import connect
from websockets.exceptions import ConnectionClosedError

from adapters import get

if TYPE_CHECKING:
    from conftest import RequireServer
    from starlette.types import ASGIApp, Receive, Scope, Send

HERE = Path(__file__).parent
sys.path.insert(0, str(HERE.parent / "typecheck"))  # the type-checked composed class
import framework_extras  # noqa: E402

FRAMEWORKS = ("starlette", "fastapi", "lilya")
APPS: Mapping[str, Any] = {
    "starlette": framework_apps.starlette_app,
    "fastapi": framework_apps.fastapi_app,
    "lilya": framework_apps.lilya_app,
}
STEP = 5.0
"""Seconds any one step against the real server may take."""

GREETING = {"path_params": {"room": "blue", "seat": 7}, "path": "/rooms/blue/seats/7"}
INTERNAL_ERROR = {"type": "websocket.close", "code": 1011, "reason": "Internal error"}


class Session(Protocol):
    """What the Starlette and Lilya test clients' WebSocket sessions share."""

    def send_text(self, data: str) -> None: ...
    def receive_text(self) -> str: ...
    def receive_json(self) -> Any: ...
    def receive(self) -> Mapping[str, Any]: ...


def open_session(framework: str, path: str) -> AbstractContextManager[Session]:
    """A WebSocket session through the framework's own test client."""
    if framework == "lilya":
        session: AbstractContextManager[Session] = LilyaTestClient(
            APPS[framework]
        ).websocket_connect(path)
        return session
    return TestClient(APPS[framework]).websocket_connect(path)


# Through each framework's test client.


@pytest.mark.parametrize("framework", FRAMEWORKS)
def test_path_params_reach_the_endpoint(framework: str) -> None:
    with open_session(framework, "/rooms/blue/seats/7") as session:
        assert session.receive_json() == GREETING  # seat converted to int by the router
        session.send_text("hi")
        assert session.receive_text() == "blue: hi"


@pytest.mark.parametrize("framework", FRAMEWORKS)
def test_an_error_in_the_endpoint_closes_1011_through_the_router(
    framework: str, caplog: pytest.LogCaptureFixture
) -> None:
    with (
        caplog.at_level(logging.ERROR, logger="lilya_ws"),
        open_session(framework, "/broken/green") as session,
    ):
        assert dict(session.receive()) == INTERNAL_ERROR
    assert "no room green" in caplog.text  # logged, never sent to the peer


# Under a real server.


@pytest.fixture(scope="module", params=FRAMEWORKS)
def served(request: pytest.FixtureRequest, require_server: RequireServer) -> Iterator[str]:
    """The framework's app under uvicorn (websockets), on 127.0.0.1; its base URL."""
    adapter = get("uvicorn-websockets")
    require_server(adapter.name, adapter.unavailable_reason())
    app = f"framework_apps:{request.param}_app"
    with adapter.start(app, cwd=HERE, ready_path="/rooms/ready/seats/0") as server:
        yield server.ws_url


@pytest.mark.integration
async def test_path_params_reach_the_endpoint_under_a_real_server(served: str) -> None:
    url = served + "/rooms/blue/seats/7"
    async with connect(url, open_timeout=STEP, close_timeout=STEP, ping_interval=None) as ws:
        assert await asyncio.wait_for(ws.recv(), STEP) == _json(GREETING)
        await ws.send("hi")
        assert await asyncio.wait_for(ws.recv(), STEP) == "blue: hi"


@pytest.mark.integration
async def test_an_error_closes_1011_under_a_real_server(served: str) -> None:
    url = served + "/broken/green"
    async with connect(url, open_timeout=STEP, close_timeout=STEP, ping_interval=None) as ws:
        with pytest.raises(ConnectionClosedError) as closed:
            await asyncio.wait_for(ws.recv(), STEP)
    assert closed.value.rcvd is not None
    assert (closed.value.rcvd.code, closed.value.rcvd.reason) == (1011, "Internal error")


def _json(value: object) -> str:
    return json.dumps(value, separators=(",", ":"), ensure_ascii=False)


# Starlette's extras on lilya_ws's WebSocket, composed with no type: ignore.


class Visitors(AuthenticationBackend):
    async def authenticate(self, conn: HTTPConnection) -> tuple[AuthCredentials, SimpleUser]:
        name = conn.query_params.get("name", "anonymous")
        return AuthCredentials(["authenticated"]), SimpleUser(name)


def with_session(app: ASGIApp) -> ASGIApp:
    """What Starlette's SessionMiddleware leaves in the scope (without its cookie)."""

    async def middleware(scope: Scope, receive: Receive, send: Send) -> None:
        await app({**scope, "session": {"visits": 3}}, receive, send)

    return middleware


def test_url_for_session_and_user_in_a_starlette_route() -> None:
    app = Starlette(
        routes=framework_extras.app.routes,
        middleware=[Middleware(AuthenticationMiddleware, backend=Visitors())],
    )
    with TestClient(with_session(app)).websocket_connect("/profile?name=ada") as session:
        assert session.receive_json() == {
            "room_url": "ws://testserver/rooms/lobby",
            "user": "ada",
            "visits": 3,
        }
    with TestClient(app).websocket_connect("/rooms/lobby") as session:
        assert session.receive_text() == "lobby"  # url_for's target is a real route
