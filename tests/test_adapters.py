"""The server adapters: start, round-trip, stop, fail clearly, and declare measured dialects."""

from __future__ import annotations

import asyncio
import dataclasses
import os
import queue
import signal
import socket
import subprocess
import sys
import threading
from collections.abc import Callable, Iterator
from concurrent.futures import ThreadPoolExecutor
from pathlib import Path
from typing import TYPE_CHECKING

import pytest
from websockets.asyncio.client import connect

from adapters import (
    ADAPTERS,
    PortInUseError,
    RunningServer,
    ServerAdapter,
    ServerStartError,
    ServerUnavailableError,
    UnknownAdapterError,
    get,
    names,
)
from adapters import __main__ as cli
from adapters.base import _import_problem
from adapters.evidence import headers_servers_read, observe_shutdown, observe_silent_peer
from adapters.handshake import HEADERS_SERVERS_READ
from adapters.probe import PROBE_APP, Probe, capabilities_from, measure
from adapters.process import group_alive, group_cpu_seconds, group_processes, group_rss_bytes

if TYPE_CHECKING:
    from conftest import RequireServer

ROOT = Path(__file__).resolve().parents[1]
ECHO_APP = "adapters.echo_app:app"
TIMEOUT = 10.0

Launch = Callable[..., RunningServer]


@pytest.fixture
def launch(require_server: RequireServer) -> Iterator[Launch]:
    """Start servers for a test and stop every one of them afterwards, pass or fail."""
    started: list[RunningServer] = []

    def start(adapter: ServerAdapter, app: str = ECHO_APP, **options: object) -> RunningServer:
        require_server(adapter.name, adapter.unavailable_reason())
        server = adapter.start(app, cwd=ROOT, **options)  # type: ignore[arg-type]  # options are start()'s keywords
        started.append(server)
        return server

    yield start
    for server in started:
        server.stop()
        assert not group_alive(server.pid), f"{server.name} left processes in group {server.pid}"


def test_registry_has_exactly_the_seven_configurations() -> None:
    assert names() == (
        "uvicorn-websockets",
        "uvicorn-websockets-sansio",
        "uvicorn-wsproto",
        "hypercorn-asyncio",
        "hypercorn-trio",
        "daphne",
        "granian",
    )
    assert tuple(ADAPTERS) == names()
    assert all(get(name).name == name for name in names())


def test_unknown_name_is_a_lookup_error_listing_known_names() -> None:
    with pytest.raises(UnknownAdapterError, match=r"nginx.*uvicorn-wsproto") as caught:
        get("nginx")
    assert isinstance(caught.value, LookupError)


def test_missing_server_is_reported_unavailable() -> None:
    adapter = dataclasses.replace(get("daphne"), modules=("no_such_server_module",))
    reason = adapter.unavailable_reason()
    assert reason is not None
    assert "no_such_server_module" in reason
    assert not adapter.available
    with pytest.raises(ServerUnavailableError, match="daphne"):
        adapter.start(ECHO_APP)


def test_wrapper_prefixes_the_server_command(monkeypatch: pytest.MonkeyPatch) -> None:
    commands: list[list[str]] = []

    def start_server(name: str, command: Callable[[int], list[str]], **options: object) -> None:
        commands.append(command(8123))

    monkeypatch.setattr("adapters.base.start_server", start_server)
    adapter = dataclasses.replace(get("granian"), modules=())  # no import check
    adapter.start(ECHO_APP, wrapper=("taskset", "-c", "0"))
    adapter.start(ECHO_APP)
    plain = adapter.command(ECHO_APP, "127.0.0.1", 8123)
    assert commands == [["taskset", "-c", "0", *plain], plain]


@pytest.mark.integration
@pytest.mark.parametrize("name", names())
async def test_echo_round_trip_then_stop(name: str, launch: Launch) -> None:
    server = launch(get(name))
    assert server.ws_url == f"ws://127.0.0.1:{server.port}"
    async with connect(f"{server.ws_url}/echo", open_timeout=TIMEOUT) as ws:
        await ws.send("héllo")
        assert await asyncio.wait_for(ws.recv(), TIMEOUT) == "héllo"
        await ws.send(b"\x00\xff")
        assert await asyncio.wait_for(ws.recv(), TIMEOUT) == b"\x00\xff"
    server.stop()
    with pytest.raises(ProcessLookupError):
        os.kill(server.pid, 0)
    assert not group_alive(server.pid)
    assert isinstance(server.log(), str)
    assert not server.log_path.exists()


@pytest.mark.integration
@pytest.mark.parametrize("name", names())
def test_bad_app_path_fails_with_the_log_tail(name: str, launch: Launch) -> None:
    with pytest.raises(ServerStartError) as caught:
        launch(get(name), "adapters.no_such_module:app", timeout=TIMEOUT)
    message = str(caught.value)
    assert message.startswith(f"{name}: ")
    assert "no_such_module" in caught.value.log_tail, message


@pytest.mark.integration
def test_taken_port_fails_before_starting(launch: Launch) -> None:
    with socket.socket() as busy:
        busy.bind(("127.0.0.1", 0))
        busy.listen()
        port = busy.getsockname()[1]
        with pytest.raises(PortInUseError, match=f"uvicorn-wsproto: port 127.0.0.1:{port}"):
            launch(get("uvicorn-wsproto"), port=port)


@pytest.mark.integration
def test_explicit_free_port_is_used(launch: Launch) -> None:
    with socket.socket() as probe:
        probe.bind(("127.0.0.1", 0))
        port = probe.getsockname()[1]
    server = launch(get("uvicorn-wsproto"), port=port)
    assert server.port == port


@pytest.mark.integration
def test_readiness_needs_a_completed_handshake(launch: Launch) -> None:
    # Long enough for a cold start (a fresh venv compiles uvicorn first), so the
    # last attempt is sure to have reached the app and been refused.
    with pytest.raises(ServerStartError, match=r"within 8s .*HTTP 403"):
        launch(get("uvicorn-wsproto"), PROBE_APP, ready_path="/close-before-accept", timeout=8.0)


@pytest.mark.integration
@pytest.mark.parametrize("name", names())
async def test_declared_capabilities_are_what_the_probe_measures(name: str, launch: Launch) -> None:
    adapter = get(name)
    server = launch(adapter, PROBE_APP)
    dialect = await asyncio.wait_for(measure(server), 60)
    assert capabilities_from(dialect) == adapter.capabilities


@pytest.mark.integration
@pytest.mark.parametrize("name", names())
async def test_a_server_shutdown_reaches_the_client_as_documented(name: str) -> None:
    """adapters/DIALECTS.md, server-shutdown: uvicorn closes 1012 and tells the app;
    the others end TCP without a close frame."""
    seen = await asyncio.wait_for(observe_shutdown(name), 60)
    if name.startswith("uvicorn"):
        assert seen["client"] == "close frame 1012"
        assert seen["app"]["receive"]["message"].get("code") == 1012
    else:
        assert seen["client"] == "no close frame"


@pytest.mark.integration
@pytest.mark.parametrize("name", names())
async def test_only_uvicorn_takes_forwarded_headers_and_only_daphne_takes_others_out(
    name: str, launch: Launch
) -> None:
    """adapters/DIALECTS.md, headers-servers-read: with its default settings uvicorn takes
    the client's address and the scheme from the X-Forwarded-* headers of a client on
    127.0.0.1; daphne takes Daphne-Root-Path as root_path and drops a name with _."""
    server = launch(get(name), PROBE_APP)
    seen = await asyncio.wait_for(headers_servers_read(Probe(server), server), 30)
    if name.startswith("uvicorn"):
        assert (seen["scheme"], seen["client"]) == ("'wss'", "('203.0.113.9', 0)")
    else:
        assert seen["scheme"] in ("'ws'", "None")  # daphne's scope has no scheme
        assert "127.0.0.1" in seen["client"]
    taken_out = {"daphne-root-path", "x_value"} if name == "daphne" else set()
    sent = [header.lower() for header in HEADERS_SERVERS_READ]
    assert seen["headers"] == [header for header in sent if header not in taken_out]
    assert seen["root_path"] == ("'/root'" if name == "daphne" else "''")


PINGING: frozenset[str] = frozenset(
    {"uvicorn-websockets", "uvicorn-websockets-sansio", "uvicorn-wsproto", "daphne"}
)
"""The configurations whose server pings by default (uvicorn every 20 s, daphne too)."""


@pytest.mark.integration
def test_a_silent_client_ends_the_app_s_receive_only_where_the_server_pings() -> None:
    """adapters/DIALECTS.md, silent-peer: a client that goes silent without closing (a
    cut network) is noticed by uvicorn and daphne within a minute, never by hypercorn
    or granian: ASGI has no ping, so the app cannot notice for itself. All seven at
    once, each waiting for up to a minute."""
    with ThreadPoolExecutor(len(names())) as pool:
        seen = dict(zip(names(), pool.map(observe_silent_peer, names()), strict=True))
    for name, one in seen.items():
        receive = one["receive"]
        if name in PINGING:
            assert receive is not None, name
            assert receive.get("message", {}).get("type") == "websocket.disconnect", name
        else:
            assert receive is None, (name, receive)


@pytest.mark.integration
def test_group_measures_cover_the_server(launch: Launch) -> None:
    server = launch(get("uvicorn-wsproto"))
    assert server.pid in {pid for pid, _ in group_processes(server.pid)}
    assert group_rss_bytes(server.pid) > 1024 * 1024
    assert group_cpu_seconds(server.pid) > 0


def test_list_reports_a_missing_client_library_instead_of_crashing(
    monkeypatch: pytest.MonkeyPatch, capsys: pytest.CaptureFixture[str]
) -> None:
    monkeypatch.setitem(sys.modules, "websockets", None)  # import websockets now fails
    _import_problem.cache_clear()
    try:
        assert cli.main(["list"]) == 0
    finally:
        _import_problem.cache_clear()
    lines = dict(line.split(maxsplit=1) for line in capsys.readouterr().out.splitlines())
    assert list(lines) == list(names())
    assert lines["uvicorn-websockets"].startswith("unavailable: cannot import websockets")
    assert lines["uvicorn-wsproto"].startswith("available (uvicorn ")


CLI_APP = """
async def app(scope, receive, send):
    if scope["type"] != "websocket":
        return
    if scope["path"] != "/ready":
        await send({"type": "websocket.close"})
        return
    print("app saw", scope["path"], flush=True)
    await send({"type": "websocket.accept"})
    while (await receive())["type"] != "websocket.disconnect":
        pass
"""


@pytest.mark.integration
def test_serve_waits_on_the_ready_path_and_streams_the_server_output(
    tmp_path: Path, require_server: RequireServer
) -> None:
    adapter = get("uvicorn-wsproto")
    require_server(adapter.name, adapter.unavailable_reason())
    (tmp_path / "cli_app.py").write_text(CLI_APP, encoding="utf-8")
    command = [sys.executable, "-m", "adapters", "serve", adapter.name, "cli_app:app"]
    serve = subprocess.Popen(
        [*command, "--ready-path", "/ready"],
        cwd=tmp_path,
        env={**os.environ, "PYTHONPATH": str(ROOT)},
        stdout=subprocess.PIPE,
        stderr=subprocess.PIPE,
        text=True,
    )
    lines: queue.Queue[str] = queue.Queue()

    def read() -> None:
        for line in serve.stdout or ():
            lines.put(line)

    reader = threading.Thread(target=read)
    reader.start()
    try:
        assert "serving cli_app:app on ws://127.0.0.1:" in lines.get(timeout=TIMEOUT)
        # The readiness handshake on /ready is the app's first connection: its print
        # reaches our stdout through serve (a handshake on / would have been refused).
        seen = [lines.get(timeout=TIMEOUT) for _ in range(2)]
        assert seen[0].startswith("server output follows; kept in ")
        assert seen[1] == "app saw /ready\n", seen
    finally:
        serve.send_signal(signal.SIGTERM)
        _, errors = serve.communicate(timeout=TIMEOUT)
        reader.join(TIMEOUT)
    assert serve.returncode == 0, errors
    log = Path(errors.rsplit("server log: ", 1)[1].strip())
    assert "app saw /ready" in log.read_text(encoding="utf-8")
    log.unlink()
