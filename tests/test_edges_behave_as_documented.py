"""The less travelled paths, each through the public surface: what a value shows of
itself, what is refused before anything is sent, and how an endpoint ends the
connection when its handler fails in an unusual state."""

from __future__ import annotations

import importlib.metadata
import re
from collections.abc import AsyncIterator
from types import MappingProxyType
from typing import Any

import pytest

import lilya_ws
from lilya_ws import (
    URL,
    Headers,
    InvalidMessage,
    OriginMiddleware,
    OriginPolicy,
    QueryParams,
    Response,
    State,
    StreamingResponse,
    WebSocket,
    endpoint,
)
from lilya_ws.capabilities import DAPHNE, NO_QUIRKS, identify_quirks
from lilya_ws.servers import SERVERS
from lilya_ws.testing import HandshakeRejected, connect
from lilya_ws.types import Receive, Scope, Send

# What values show of themselves.


def test_reprs_show_the_content() -> None:
    headers = Headers([(b"a", b"1"), (b"a", b"2")])
    assert repr(headers) == "Headers([('a', '1'), ('a', '2')])"
    assert repr(QueryParams("x=1&y=%C3%A9")) == "QueryParams('x=1&y=%C3%A9')"
    assert str(QueryParams([("a b", "c&d")])) == "a+b=c%26d"
    assert repr(State({"user": "ada"})) == "State({'user': 'ada'})"
    assert repr(Response("no", status_code=401)) == "Response(status_code=401, body=b'no')"
    assert repr(StreamingResponse(["a"], status_code=503)) == "StreamingResponse(status_code=503)"


def test_state_deletes_what_it_has_and_refuses_what_it_has_not() -> None:
    state = State({"user": "ada"})
    del state.user
    with pytest.raises(AttributeError, match="State has no attribute 'user'"):
        del state.user


@pytest.mark.parametrize(
    ("url", "change", "expected"),
    [
        ("ws://example.com:8000/a", {"hostname": "::1"}, "ws://[::1]:8000/a"),
        ("ws://[::1]:8000/a", {"hostname": "example.com"}, "ws://example.com:8000/a"),
        ("ws://[::1]:8000/a", {"port": 9000}, "ws://[::1]:9000/a"),
        ("ws://[::1]/a", {"path": "/b"}, "ws://[::1]/b"),
        ("urn:a:b", {"query": "x=1"}, "urn:a:b?x=1"),
    ],
)
def test_url_replace_brackets_ipv6_hosts_only(
    url: str, change: dict[str, Any], expected: str
) -> None:
    assert URL(url).replace(**change) == expected


def test_response_keeps_the_content_type_and_length_it_is_given() -> None:
    given = Response(b"{}", headers={"content-type": "application/json", "content-length": "2"})
    assert given.headers == [(b"content-type", b"application/json"), (b"content-length", b"2")]


# The scope as a read-only mapping.


def _scope(**extra: Any) -> dict[str, Any]:
    return {"type": "websocket", "path": "/", "query_string": b"", "headers": [], **extra}


async def _never_receive() -> Any:
    raise AssertionError("not called")


async def _never_send(message: Any) -> None:
    raise AssertionError("not called")


def test_the_websocket_iterates_over_its_scopes_keys() -> None:
    websocket = WebSocket(_scope(), _never_receive, _never_send)
    assert list(websocket) == ["type", "path", "query_string", "headers"]
    assert websocket.extensions == {}


def test_state_is_made_for_a_scope_without_one_and_kept_when_it_can_be() -> None:
    scope = _scope()
    websocket = WebSocket(scope, _never_receive, _never_send)
    websocket.state.user = "ada"
    assert scope["state"] == {"user": "ada"}
    assert WebSocket(scope, _never_receive, _never_send).state.user == "ada"

    frozen = WebSocket(MappingProxyType(_scope()), _never_receive, _never_send)
    frozen.state.user = "ada"  # a scope that cannot take a key gets a state of its own
    assert "state" not in frozen


# Refused before anything is sent.


async def _accept_then(act: str, scope: Scope, receive: Receive, send: Send) -> None:
    websocket = WebSocket(scope, receive, send)
    if act == "accept with a bare header":
        await websocket.accept(headers=[b"x-bare"])  # type: ignore[list-item]  # the bad input tested
        return
    await websocket.accept()
    wrong: dict[str, Any] = {
        "close with a bytes reason": {"type": "websocket.close", "code": 1000, "reason": b"x"},
        "send text as bytes": {"type": "websocket.send", "text": b"x"},
        "send bytes as text": {"type": "websocket.send", "bytes": "x"},
    }
    await websocket.send(wrong[act])


@pytest.mark.parametrize(
    ("act", "complaint"),
    [
        ("accept with a bare header", "Accept headers must be (bytes, bytes) pairs"),
        ("close with a bytes reason", "Close reason must be a str, not bytes"),
        ("send text as bytes", '"text" must be a str, not bytes'),
        ("send bytes as text", '"bytes" must be bytes, not str'),
    ],
)
async def test_a_malformed_message_is_refused_before_it_is_sent(act: str, complaint: str) -> None:
    async def app(scope: Scope, receive: Receive, send: Send) -> None:
        await _accept_then(act, scope, receive, send)

    with pytest.raises(InvalidMessage, match=re.escape(complaint)):
        await _connect_and_leave(app)


async def _connect_and_leave(app: Any) -> None:
    """Connect and leave at once: the app's own exception is raised on the way out."""
    async with connect(app):
        pass


# How an endpoint ends a connection its handler failed.


async def test_a_handler_failing_before_accept_on_daphne_closes_with_403() -> None:
    """daphne cannot send a denial response, so the endpoint's HTTP 500 becomes a close."""

    @endpoint
    async def app(websocket: WebSocket) -> None:
        raise ValueError("before accept")

    with pytest.raises(HandshakeRejected) as refused:
        async with connect(app, dialect="daphne"):
            pass
    assert refused.value.status == 403


async def test_a_denial_cut_short_by_the_handler_still_ends_its_body() -> None:
    async def parts() -> AsyncIterator[bytes]:
        yield b"first part"
        raise ValueError("the body's source failed")

    @endpoint
    async def app(websocket: WebSocket) -> None:
        await websocket.send_denial_response(StreamingResponse(parts(), status_code=503))

    with pytest.raises(HandshakeRejected) as refused:
        async with connect(app):
            pass
    assert (refused.value.status, refused.value.body) == (503, b"first part")


async def test_an_endpoint_ignores_lifespan_messages_it_does_not_know_and_other_scopes() -> None:
    @endpoint
    async def app(websocket: WebSocket) -> None:
        raise AssertionError("no WebSocket here")

    incoming = iter(
        [{"type": "lifespan.startup"}, {"type": "lifespan.other"}, {"type": "lifespan.shutdown"}]
    )
    sent: list[Any] = []

    async def receive() -> Any:
        return next(incoming)

    async def send(message: Any) -> None:
        sent.append(message)

    await app({"type": "lifespan"}, receive, send)
    assert sent == [{"type": "lifespan.startup.complete"}, {"type": "lifespan.shutdown.complete"}]
    await app({"type": "unknown"}, _never_receive, _never_send)


async def test_origin_middleware_passes_other_scopes_through() -> None:
    seen: list[str] = []

    async def app(scope: Any, receive: Any, send: Any) -> None:
        seen.append(scope["type"])

    guarded = OriginMiddleware(app, OriginPolicy(["https://example.com"]))
    await guarded({"type": "http"}, _never_receive, _never_send)
    assert seen == ["http"]


# Server facts.


@pytest.mark.parametrize("name", sorted(SERVERS))
def test_a_server_advertising_the_denial_extension_delivers_denials(name: str) -> None:
    capabilities = SERVERS[name].capabilities
    assert capabilities.scope_has_extensions == (capabilities.extensions is not None)
    assert capabilities.http_response_extension == capabilities.denial_response


def test_a_scope_with_a_scheme_but_no_extensions_is_not_daphne() -> None:
    assert identify_quirks({"type": "websocket"}) is DAPHNE
    assert identify_quirks({"type": "websocket", "scheme": "ws"}) is NO_QUIRKS


def test_the_installed_version_is_the_one_in_the_package() -> None:
    """pyproject.toml takes its version from lilya_ws.__version__ (hatch's dynamic version)."""
    assert importlib.metadata.version("lilya-ws") == lilya_ws.__version__
