"""The in-process test client: outcomes, timeouts, cleanup, and what each preset catches."""

from __future__ import annotations

import asyncio

import pytest

from lilya_ws import ReceiveTimeout, ServerCapabilityWarning, WebSocket, WebSocketDisconnect
from lilya_ws.testing import HandshakeRejected, connect, connect_sync
from lilya_ws.types import Receive, Scope, Send


async def echo(scope: Scope, receive: Receive, send: Send) -> None:
    websocket = WebSocket(scope, receive, send)
    await websocket.accept(
        subprotocol=websocket.subprotocols[0] if websocket.subprotocols else None
    )
    async for text in websocket.iter_text():
        await websocket.send_text(text)


async def test_receive_timeout_is_a_clear_error() -> None:
    async with connect(echo) as ws:
        with pytest.raises(ReceiveTimeout, match=r"within 0\.05 s"):
            await ws.receive(timeout=0.05)


async def test_no_task_is_left_running_after_the_context() -> None:
    before = asyncio.all_tasks()
    async with connect(echo, "/", subprotocols=["chat"]) as ws:
        assert ws.subprotocol == "chat"
        await ws.send_text("x")
        assert await ws.receive_text() == "x"
    assert asyncio.all_tasks() == before


async def test_an_app_stuck_in_a_loop_is_cancelled_on_exit() -> None:
    async def stubborn(scope: Scope, receive: Receive, send: Send) -> None:
        await WebSocket(scope, receive, send).accept()
        await asyncio.Event().wait()

    before = asyncio.all_tasks()
    async with connect(stubborn, timeout=0.1):
        pass
    assert asyncio.all_tasks() == before


async def test_app_exception_reaches_the_test() -> None:
    async def broken(scope: Scope, receive: Receive, send: Send) -> None:
        websocket = WebSocket(scope, receive, send)
        await websocket.accept()
        await websocket.receive_text()
        raise LookupError("bug in the app")

    async def run() -> None:
        async with connect(broken) as ws:
            await ws.send_text("boom")
            await ws.receive()

    with pytest.raises(LookupError, match="bug in the app"):
        await run()


async def test_app_exception_before_accept_reaches_the_test() -> None:
    async def broken(scope: Scope, receive: Receive, send: Send) -> None:
        raise ValueError("before accept")

    with pytest.raises(ValueError, match="before accept"):
        async with connect(broken):
            pass


async def test_the_app_close_code_and_reason_are_observable() -> None:
    async def closer(scope: Scope, receive: Receive, send: Send) -> None:
        websocket = WebSocket(scope, receive, send)
        await websocket.accept()
        await websocket.close(4100, "policy")

    async with connect(closer) as ws:
        with pytest.raises(WebSocketDisconnect):
            await ws.receive()
        assert (ws.close_code, ws.close_reason) == (4100, "policy")


def test_sync_wrapper_for_plain_tests() -> None:
    with connect_sync(echo, "/?q=1") as ws:
        ws.send_text("sync")
        assert ws.receive_text() == "sync"
        ws.send_json({"a": 1})
        assert ws.receive_json() == {"a": 1}


def test_sync_wrapper_surfaces_rejection() -> None:
    async def reject(scope: Scope, receive: Receive, send: Send) -> None:
        await WebSocket(scope, receive, send).close()

    with pytest.raises(HandshakeRejected) as rejected, connect_sync(reject):
        pass
    assert rejected.value.status == 403


# An app written against raw ASGI works on one server and breaks on another;
# each preset catches it in-process.


async def raw_text_or_none(scope: Scope, receive: Receive, send: Send) -> None:
    """Relies on receive() giving only the key that was sent (true on uvicorn)."""
    await receive()
    await send({"type": "websocket.accept"})
    message = await receive()
    kind = "bytes" if "bytes" in message else "text"
    await send({"type": "websocket.send", "text": kind})


@pytest.mark.parametrize(("dialect", "seen"), [("uvicorn", "text"), ("hypercorn", "bytes")])
async def test_presets_catch_apps_relying_on_one_servers_message_shape(
    dialect: str, seen: str
) -> None:
    async with connect(raw_text_or_none, dialect=dialect) as ws:
        await ws.send_text("hello")
        assert await ws.receive_text() == seen


async def test_daphne_preset_shows_the_close_reason_is_lost() -> None:
    async def closer(scope: Scope, receive: Receive, send: Send) -> None:
        websocket = WebSocket(scope, receive, send)
        await websocket.accept()
        await websocket.close(4000, "why")

    async def reason_seen(dialect: str) -> str:
        async with connect(closer, dialect=dialect) as ws:
            with pytest.raises(WebSocketDisconnect) as closed:
                await ws.receive()
        return closed.value.reason

    assert await reason_seen("uvicorn") == "why"
    with pytest.warns(ServerCapabilityWarning, match="daphne drops it"):
        assert await reason_seen("daphne") == ""


async def test_lilya_ws_hides_the_shape_difference() -> None:
    async def typed(scope: Scope, receive: Receive, send: Send) -> None:
        websocket = WebSocket(scope, receive, send)
        await websocket.accept()
        message = await websocket.receive()
        await websocket.send_text(",".join(sorted(message)))

    for dialect in ("uvicorn", "hypercorn", "daphne"):
        async with connect(typed, dialect=dialect) as ws:
            await ws.send_text("hello")
            assert await ws.receive_text() == "text,type"


async def raw_sends_after_the_client_left(scope: Scope, receive: Receive, send: Send) -> None:
    """Relies on send() after a disconnect being silent (true on hypercorn, daphne, granian)."""
    await receive()
    await send({"type": "websocket.accept"})
    await receive()  # the client's disconnect
    await send({"type": "websocket.send", "text": "anyone there?"})


@pytest.mark.parametrize("dialect", ["hypercorn", "daphne", "granian"])
async def test_silent_send_after_close_passes_on_some_presets(dialect: str) -> None:
    async with connect(raw_sends_after_the_client_left, dialect=dialect) as ws:
        await ws.close()


async def test_uvicorn_preset_catches_an_app_relying_on_silent_sends() -> None:
    async def run() -> None:
        async with connect(raw_sends_after_the_client_left, dialect="uvicorn") as ws:
            await ws.close()

    with pytest.raises(OSError, match="disconnected"):
        await run()
