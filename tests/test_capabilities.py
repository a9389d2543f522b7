"""Capabilities and server quirks, recognised from the scopes recorded from each real server."""

from __future__ import annotations

import importlib
import warnings
from typing import Any
from urllib.parse import quote

import pytest

from adapters.registry import names
from adapters.scopes import load
from lilya_ws import InvalidMessage, StreamingResponse, WebSocket, WebSocketDisconnect
from lilya_ws.capabilities import (
    DAPHNE,
    GRANIAN,
    HYPERCORN,
    NO_QUIRKS,
    PEER_GONE_ERRORS,
    Capabilities,
    identify_quirks,
    is_peer_gone,
    parse_spec_version,
    quirks_of,
)
from lilya_ws.servers import SERVERS
from lilya_ws.testing import DIALECTS, HandshakeRejected, build_scope, connect
from lilya_ws.types import Receive, Scope, Send

RECORDED = load()


@pytest.mark.parametrize(
    ("value", "parsed"),
    [
        ("2.4", (2, 4)),
        ("2", (2, 0)),
        ("3.10", (3, 10)),
        (None, (2, 0)),
        ("x.y", (2, 0)),
        (2.3, (2, 0)),
    ],
)
def test_parse_spec_version(value: object, parsed: tuple[int, int]) -> None:
    assert parse_spec_version(value) == parsed


@pytest.mark.parametrize("server", names())
def test_each_servers_recorded_scope_is_recognised(server: str) -> None:
    # Scopes recorded from the real servers (python -m adapters record-scopes).
    assert identify_quirks(RECORDED[server]) == quirks_of(SERVERS[server].family)


def test_the_recognised_servers_are_the_ones_with_quirks() -> None:
    assert {identify_quirks(RECORDED[name]) for name in names()} == {
        NO_QUIRKS,
        DAPHNE,
        GRANIAN,
        HYPERCORN,
    }


def test_a_test_client_without_spec_version_is_not_mistaken_for_daphne() -> None:
    starlette_like: dict[str, Any] = {"type": "websocket", "scheme": "ws", "extensions": {}}
    assert identify_quirks(starlette_like) is NO_QUIRKS
    caps = Capabilities.from_scope(starlette_like)
    assert (caps.spec_version, caps.accept_headers, caps.close_reason) == ((2, 0), True, True)


@pytest.mark.parametrize("server", names())
def test_capabilities_predict_what_reaches_the_client(server: str) -> None:
    caps = Capabilities.from_scope(RECORDED[server])
    measured = SERVERS[server].capabilities
    assert caps.accept_headers == measured.accept_headers
    assert caps.close_reason == measured.close_reason
    assert caps.denial_response == measured.denial_response
    assert caps.streamed_denial == measured.streamed_denial
    assert caps.quirks.drops_empty_messages == (not measured.empty_text_sent)
    assert caps.quirks.can_close_with(1011) == measured.standard_close_codes
    assert caps.quirks.max_send_size == measured.max_send_size


async def sender(scope: Scope, receive: Receive, send: Send) -> None:
    websocket = WebSocket(scope, receive, send)
    await websocket.accept()
    size = int(websocket.query_params["size"])
    try:
        await websocket.send_bytes(b"x" * size)
    except InvalidMessage as exc:
        await websocket.send_text(f"refused: {exc}")


@pytest.mark.parametrize(
    ("size", "refused"), [(0, True), (1, False), (2**20, False), (2**20 + 1, True)]
)
async def test_daphne_refuses_what_it_would_drop_or_fail_on(size: int, refused: bool) -> None:
    async with connect(sender, f"/?size={size}", dialect="daphne") as ws:
        message = await ws.receive()
    if refused:
        assert isinstance(message, str)
        assert message.startswith("refused: ")
        assert "daphne" in message
    else:
        assert message == b"x" * size


async def text_sender(scope: Scope, receive: Receive, send: Send) -> None:
    websocket = WebSocket(scope, receive, send)
    await websocket.accept()
    text = websocket.query_params["char"] * int(websocket.query_params["count"])
    try:
        await websocket.send_text(text)
    except InvalidMessage as exc:
        await websocket.send_text(f"refused: {exc}")


@pytest.mark.parametrize(
    ("char", "count", "refused"),
    [
        ("x", 0, True),
        ("x", 2**20, False),  # 1 MiB of ASCII: over 2**18 characters, so measured first
        ("x", 2**20 + 1, True),
        ("\U0001d11e", 2**18, False),  # 2**18 four-byte characters: exactly 1 MiB unchecked
        ("\U0001d11e", 2**18 + 1, True),
    ],
)
async def test_daphne_limits_text_by_its_utf8_size(char: str, count: int, refused: bool) -> None:
    path = f"/?char={quote(char)}&count={count}"
    async with connect(text_sender, path, dialect="daphne") as ws:
        message = await ws.receive_text()
    assert message.startswith("refused: ") == refused
    if not refused:
        assert message == char * count


async def test_other_servers_send_empty_and_big_messages() -> None:
    for dialect in ("uvicorn", "hypercorn", "granian"):
        for size in (0, 2**20 + 1):
            async with connect(sender, f"/?size={size}", dialect=dialect) as ws:
                assert await ws.receive_bytes() == b"x" * size


async def test_a_raw_streamed_denial_breaks_on_granian_and_lilya_ws_does_not() -> None:
    async def raw(scope: Scope, receive: Receive, send: Send) -> None:
        await send({"type": "websocket.http.response.start", "status": 401})
        await send({"type": "websocket.http.response.body", "body": b"a", "more_body": True})
        await send({"type": "websocket.http.response.body", "body": b"b"})

    with pytest.raises(RuntimeError, match="Unsupported"):
        async with connect(raw, dialect="granian"):
            pass


@pytest.mark.parametrize("name", sorted(PEER_GONE_ERRORS))
def test_each_departure_error_names_a_real_class_and_only_it(name: str) -> None:
    """A name no class has (a typo, a class renamed upstream) would never match; a
    subclass (a middleware's own error) propagates unchanged."""
    module, _, qualname = name.rpartition(".")
    error_class = getattr(importlib.import_module(module), qualname)
    assert is_peer_gone(error_class("gone"))
    assert not is_peer_gone(type("Subclass", (error_class,), {})("gone"))


def test_uvicorns_close_of_a_handshake_the_client_left_is_a_departure() -> None:
    """uvicorn's websockets implementation fails such a close with an AttributeError
    (websockets' legacy protocol never opened): only that one means the peer left."""
    with warnings.catch_warnings():  # the implementation and its legacy protocol are deprecated
        warnings.simplefilter("ignore")
        from uvicorn.protocols.websockets.websockets_impl import WebSocketProtocol

    unopened = object.__new__(WebSocketProtocol)
    with pytest.raises(AttributeError) as missing:
        _ = unopened.transfer_data_task
    assert is_peer_gone(missing.value)
    with pytest.raises(AttributeError) as other:
        _ = unopened.config  # set by __init__, like the task, but another name
    assert not is_peer_gone(other.value)
    assert not is_peer_gone(AttributeError("transfer_data_task"))


def test_only_granian_empties_a_text_with_no_utf8() -> None:
    assert GRANIAN.empties_unencodable_text
    assert not any(quirks.empties_unencodable_text for quirks in (DAPHNE, HYPERCORN, NO_QUIRKS))


def test_granians_denial_to_a_departed_client_is_a_departure_by_its_text_only() -> None:
    assert is_peer_gone(RuntimeError("ASGI flow error: Connection already upgraded"))
    assert not is_peer_gone(RuntimeError("ASGI flow error: something else"))
    assert not is_peer_gone(
        type("Sub", (RuntimeError,), {})("ASGI flow error: Connection already upgraded")
    )


def test_client_address_is_normalised() -> None:
    async def nothing() -> dict[str, Any]:
        return {}

    async def sink(message: object) -> None:
        return None

    for dialect in ("daphne", "granian", "uvicorn-websockets"):
        websocket = WebSocket(build_scope("/", DIALECTS[dialect]), nothing, sink)
        client = websocket.client
        assert client == ("127.0.0.1", 51000)
        assert client is not None
        assert type(client.port) is int


async def test_denial_is_whole_on_granian(dialect: str) -> None:
    async def app(scope: Scope, receive: Receive, send: Send) -> None:
        websocket = WebSocket(scope, receive, send)
        if websocket.capabilities.denial_response:
            await websocket.send_denial_response(
                StreamingResponse(["a", "b", "c"], status_code=429)
            )
        else:
            await websocket.close()

    with pytest.raises(HandshakeRejected) as rejected:
        async with connect(app, dialect=dialect):
            pass
    expected = (429, b"abc") if DIALECTS[dialect].denial_extension else (403, b"")
    assert (rejected.value.status, rejected.value.body) == expected


async def test_daphne_close_codes_are_refused_or_mapped_never_crash() -> None:
    outcome: list[str] = []

    async def app(scope: Scope, receive: Receive, send: Send) -> None:
        websocket = WebSocket(scope, receive, send)
        await websocket.accept()
        try:
            await websocket.close(1001)
        except InvalidMessage as exc:
            outcome.append(str(exc))
        await websocket.close_for(RuntimeError("secret"))

    async with connect(app, dialect="daphne") as ws:
        with pytest.raises(WebSocketDisconnect) as closed:
            await ws.receive()
    assert outcome == ["daphne cannot send close code 1001: use 1000 or 3000-4999"]
    assert closed.value.code == 4011  # 1011's private-use twin, the reason dropped by daphne
