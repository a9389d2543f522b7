"""The in-process test client: outcomes, timeouts, cleanup, and what each preset catches,
under asyncio and trio alike."""

from __future__ import annotations

import asyncio
from collections.abc import Awaitable, Callable

import anyio
import pytest
import trio

from lilya_ws import ReceiveTimeout, ServerCapabilityWarning, WebSocket, WebSocketDisconnect
from lilya_ws.testing import (
    ALIASES,
    DIALECTS,
    Backend,
    HandshakeRejected,
    connect,
    connect_sync,
    get_dialect,
)
from lilya_ws.types import Receive, Scope, Send

Run = Callable[[Callable[[], Awaitable[None]]], None]


@pytest.fixture(params=["asyncio", "trio"])
def backend(request: pytest.FixtureRequest) -> Backend:
    name: Backend = request.param
    return name


@pytest.fixture
def run(backend: Backend) -> Run:
    """Run a test body on a fresh event loop of the backend, checking it is that one."""

    def runner(body: Callable[[], Awaitable[None]]) -> None:
        async def checked() -> None:
            if backend == "trio":
                trio.lowlevel.current_task()  # raises RuntimeError outside trio
            else:
                asyncio.current_task()  # raises RuntimeError outside asyncio
            await body()

        anyio.run(checked, backend=backend)

    return runner


async def echo(scope: Scope, receive: Receive, send: Send) -> None:
    websocket = WebSocket(scope, receive, send)
    await websocket.accept(
        subprotocol=websocket.subprotocols[0] if websocket.subprotocols else None
    )
    async for text in websocket.iter_text():
        await websocket.send_text(text)


def test_echo_with_subprotocol(run: Run) -> None:
    async def body() -> None:
        async with connect(echo, "/", subprotocols=["chat"]) as ws:
            assert ws.subprotocol == "chat"
            await ws.send_text("x")
            assert await ws.receive_text() == "x"
            await ws.send_json({"a": [1, "é"]})
            assert await ws.receive_json() == {"a": [1, "é"]}

    run(body)


def test_receive_timeout_is_a_clear_error(run: Run) -> None:
    async def body() -> None:
        async with connect(echo) as ws:
            with pytest.raises(ReceiveTimeout, match=r"within 0\.05 s"):
                await ws.receive(timeout=0.05)

    run(body)


def test_the_app_has_ended_when_the_context_exits(run: Run) -> None:
    ended: list[str] = []

    async def app(scope: Scope, receive: Receive, send: Send) -> None:
        try:
            await echo(scope, receive, send)
        finally:
            ended.append("app")

    async def body() -> None:
        async with connect(app) as ws:
            await ws.send_text("x")
            assert await ws.receive_text() == "x"
            assert ended == []
        assert ended == ["app"]

    run(body)


def test_an_app_stuck_in_a_loop_is_cancelled_on_exit(run: Run) -> None:
    cancelled: list[bool] = []

    async def stubborn(scope: Scope, receive: Receive, send: Send) -> None:
        await WebSocket(scope, receive, send).accept()
        try:
            await anyio.sleep_forever()
        except anyio.get_cancelled_exc_class():
            cancelled.append(True)
            raise

    async def body() -> None:
        with anyio.fail_after(5):  # the client's own timeout is 0.1 s
            async with connect(stubborn, timeout=0.1):
                pass
        assert cancelled == [True]

    run(body)


async def broken_after_a_message(scope: Scope, receive: Receive, send: Send) -> None:
    websocket = WebSocket(scope, receive, send)
    await websocket.accept()
    await websocket.receive_text()
    raise LookupError("bug in the app")


def test_app_exception_reaches_the_test(run: Run) -> None:
    async def use() -> None:
        async with connect(broken_after_a_message) as ws:
            await ws.send_text("boom")
            await ws.receive()

    async def body() -> None:
        with pytest.raises(LookupError, match="bug in the app"):  # not an ExceptionGroup
            await use()

    run(body)


def test_app_exception_before_accept_reaches_the_test(run: Run) -> None:
    async def broken(scope: Scope, receive: Receive, send: Send) -> None:
        raise ValueError("before accept")

    async def body() -> None:
        with pytest.raises(ValueError, match="before accept"):
            async with connect(broken):
                pass

    run(body)


def test_an_error_in_the_test_body_is_raised_as_it_is(run: Run) -> None:
    async def body() -> None:
        with pytest.raises(KeyError, match="from the test"):
            async with connect(echo):
                raise KeyError("from the test")

    run(body)


def test_the_app_close_code_and_reason_are_observable(run: Run) -> None:
    async def closer(scope: Scope, receive: Receive, send: Send) -> None:
        websocket = WebSocket(scope, receive, send)
        await websocket.accept()
        await websocket.close(4100, "policy")

    async def body() -> None:
        async with connect(closer) as ws:
            with pytest.raises(WebSocketDisconnect):
                await ws.receive()
            assert (ws.close_code, ws.close_reason) == (4100, "policy")
            with pytest.raises(WebSocketDisconnect):  # and stays closed
                await ws.receive(timeout=0.01)

    run(body)


def test_rejection_is_a_handshake_rejected(run: Run) -> None:
    async def reject(scope: Scope, receive: Receive, send: Send) -> None:
        await WebSocket(scope, receive, send).close()

    async def body() -> None:
        with pytest.raises(HandshakeRejected) as rejected:
            async with connect(reject):
                pass
        assert rejected.value.status == 403

    run(body)


def test_sync_wrapper_for_plain_tests(backend: Backend) -> None:
    with connect_sync(echo, "/?q=1", backend=backend) as ws:
        ws.send_text("sync")
        assert ws.receive_text() == "sync"
        ws.send_json({"a": 1})
        assert ws.receive_json() == {"a": 1}


def test_sync_wrapper_surfaces_rejection(backend: Backend) -> None:
    async def reject(scope: Scope, receive: Receive, send: Send) -> None:
        await WebSocket(scope, receive, send).close()

    with pytest.raises(HandshakeRejected) as rejected, connect_sync(reject, backend=backend):
        pass
    assert rejected.value.status == 403


def test_sync_wrapper_surfaces_the_apps_exception(backend: Backend) -> None:
    def use() -> None:
        with connect_sync(broken_after_a_message, backend=backend) as ws:
            ws.send_text("boom")
            ws.receive()

    with pytest.raises(LookupError, match="bug in the app"):
        use()


def test_the_old_preset_names_still_work() -> None:
    """The presets are named as the adapters' configurations (``test_presets.py``)."""
    assert get_dialect("uvicorn") is DIALECTS["uvicorn-websockets"]
    assert get_dialect("hypercorn") is DIALECTS["hypercorn-asyncio"]
    assert set(ALIASES) == {"uvicorn", "hypercorn"}
    with pytest.raises(ValueError, match="Unknown dialect 'tornado': one of daphne, granian"):
        get_dialect("tornado")


@pytest.mark.parametrize("old", ["uvicorn", "hypercorn"])
def test_connect_accepts_the_old_names(run: Run, old: str) -> None:
    async def body() -> None:
        async with connect(echo, dialect=old) as ws:
            assert ws.dialect is get_dialect(old)
            await ws.send_text("x")
            assert await ws.receive_text() == "x"

    run(body)


# An app written against raw ASGI works on one server and breaks on another;
# each preset catches it in-process.


async def raw_text_or_none(scope: Scope, receive: Receive, send: Send) -> None:
    """Relies on receive() giving only the key that was sent (true on uvicorn)."""
    await receive()
    await send({"type": "websocket.accept"})
    message = await receive()
    kind = "bytes" if "bytes" in message else "text"
    await send({"type": "websocket.send", "text": kind})


@pytest.mark.parametrize(
    ("dialect", "seen"),
    [("uvicorn-websockets", "text"), ("hypercorn-asyncio", "bytes"), ("hypercorn-trio", "bytes")],
)
def test_presets_catch_apps_relying_on_one_servers_message_shape(
    run: Run, dialect: str, seen: str
) -> None:
    async def body() -> None:
        async with connect(raw_text_or_none, dialect=dialect) as ws:
            await ws.send_text("hello")
            assert await ws.receive_text() == seen

    run(body)


def test_daphne_preset_shows_the_close_reason_is_lost(run: Run) -> None:
    async def closer(scope: Scope, receive: Receive, send: Send) -> None:
        websocket = WebSocket(scope, receive, send)
        await websocket.accept()
        await websocket.close(4000, "why")

    async def reason_seen(dialect: str) -> str:
        async with connect(closer, dialect=dialect) as ws:
            with pytest.raises(WebSocketDisconnect) as closed:
                await ws.receive()
        return closed.value.reason

    async def body() -> None:
        assert await reason_seen("uvicorn-websockets") == "why"
        with pytest.warns(ServerCapabilityWarning, match="daphne drops it"):
            assert await reason_seen("daphne") == ""

    run(body)


def test_lilya_ws_hides_the_shape_difference(run: Run) -> None:
    async def typed(scope: Scope, receive: Receive, send: Send) -> None:
        websocket = WebSocket(scope, receive, send)
        await websocket.accept()
        message = await websocket.receive()
        await websocket.send_text(",".join(sorted(message)))

    async def body() -> None:
        for dialect in ("uvicorn-websockets", "hypercorn-trio", "daphne"):
            async with connect(typed, dialect=dialect) as ws:
                await ws.send_text("hello")
                assert await ws.receive_text() == "text,type"

    run(body)


async def raw_sends_after_the_client_left(scope: Scope, receive: Receive, send: Send) -> None:
    """Relies on send() after a disconnect being silent (true on hypercorn, daphne, granian)."""
    await receive()
    await send({"type": "websocket.accept"})
    await receive()  # the client's disconnect
    await send({"type": "websocket.send", "text": "anyone there?"})


@pytest.mark.parametrize("dialect", ["hypercorn-asyncio", "hypercorn-trio", "daphne", "granian"])
def test_silent_send_after_close_passes_on_some_presets(run: Run, dialect: str) -> None:
    async def body() -> None:
        async with connect(raw_sends_after_the_client_left, dialect=dialect) as ws:
            await ws.close()

    run(body)


def test_uvicorn_preset_catches_an_app_relying_on_silent_sends(run: Run) -> None:
    async def body() -> None:
        with pytest.raises(OSError, match="disconnected"):
            async with connect(raw_sends_after_the_client_left, dialect="uvicorn-websockets") as ws:
                await ws.close()

    run(body)


def test_receive_timeout_of_the_websocket_works_in_the_client(run: Run) -> None:
    """lilya_ws's own receive_timeout, on the backend the client runs the app on."""

    async def idle(scope: Scope, receive: Receive, send: Send) -> None:
        websocket = WebSocket(scope, receive, send, receive_timeout=0.05)
        await websocket.accept()
        try:
            await websocket.receive_text()
        except ReceiveTimeout as error:
            await websocket.close_for(error)

    async def body() -> None:
        async with connect(idle) as ws:
            with pytest.raises(WebSocketDisconnect):
                await ws.receive(timeout=2)
            assert (ws.close_code, ws.close_reason) == (1001, "Idle timeout")

    run(body)
