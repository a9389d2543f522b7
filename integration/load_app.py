"""Reliability under load and faults, server side: one lilya_ws app, run by every server.

The app (``integration.load_app:app``, written with lilya_ws, runs on asyncio and
on trio through anyio) routes on the path:

- ``/echo``: echo every text message until the client leaves.
- ``/stream?report=PATH``: send a small message every millisecond while
  receiving the client's, until either side sees ``WebSocketDisconnect``; then
  say what ended it (exception, code, when, on which side) and whether a task
  it started is still running.
- ``/flood?report=PATH&size=N&total=N&seconds=N&goodbye=N``: send
  ``size``-byte messages as fast as the server takes them, up to ``total``
  bytes or ``seconds``; report progress, the longest single ``send()`` and how
  it ended; then wait up to ``goodbye`` seconds for the client to leave.

What the app sees after the client or the server went away cannot travel back
over the connection, so it is appended as JSON lines to ``PATH`` (flushed and
closed at once): a side channel that survives a reset and a shutdown.
``PATH`` must be an absolute ``.jsonl`` path inside the system temporary
directory; anything else is refused before accept (HTTP 403).

The server process imports no client library; the drivers are ``integration.load``.
"""

from __future__ import annotations

import json
import tempfile
import time
from collections.abc import Awaitable, Callable, Mapping, MutableMapping
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any, Final, TypeAlias

import anyio

from adapters.raw_asgi import websocket_only
from lilya_ws import WebSocket, WebSocketDisconnect

__all__ = ["FLOOD_GOODBYE_WAIT", "STREAM_DEADLINE", "STREAM_INTERVAL", "app"]

RawMessage: TypeAlias = Mapping[str, Any]
RawReceive: TypeAlias = Callable[[], Awaitable[RawMessage]]
RawSend: TypeAlias = Callable[[MutableMapping[str, Any]], Awaitable[None]]

STREAM_INTERVAL: Final = 0.001
"""Seconds between two messages of ``/stream``: a steady stream, not a flood."""
STREAM_DEADLINE: Final = 60.0
"""No ``/stream`` app lives longer than this, whatever happens to its client."""
FLOOD_PROGRESS_BYTES: Final = 4 * 1024 * 1024
"""``/flood`` appends a progress line every this many bytes sent."""
FLOOD_GOODBYE_WAIT: Final = 15.0
"""How long ``/flood`` waits for the client to leave after it stopped sending."""
_TEMP_ROOT: Final = Path(tempfile.gettempdir()).resolve()


# The side channel.


def _report_path(websocket: WebSocket) -> Path | None:
    """The ``report`` query parameter, if it names a ``.jsonl`` file in the temp directory."""
    raw = websocket.query_params.get("report")
    if not raw:
        return None
    path = Path(raw)
    if not path.is_absolute() or path.suffix != ".jsonl":
        return None
    try:
        path.parent.resolve().relative_to(_TEMP_ROOT)
    except ValueError:
        return None
    return path


def _append(path: Path, record: Mapping[str, object]) -> None:
    """Append one JSON line and close the file: it is on disk for any reader at once."""
    with path.open("a", encoding="utf-8") as file:
        file.write(json.dumps(record) + "\n")
        file.flush()


def _describe(exc: BaseException) -> str:
    """The class name, or for an exception group the leaves' names: ``Group[A, B]``."""
    leaves = getattr(exc, "exceptions", None)
    if isinstance(leaves, tuple):
        return f"{type(exc).__name__}[{', '.join(_describe(leaf) for leaf in leaves)}]"
    return type(exc).__name__


# The app.


@websocket_only
async def app(scope: MutableMapping[str, Any], receive: RawReceive, send: RawSend) -> None:
    """The three WebSocket routes (lifespan and plain HTTP: ``websocket_only``)."""
    websocket = WebSocket(scope, receive, send)
    route = websocket.url.path
    if route == "/stream" or route == "/flood":
        report = _report_path(websocket)
        if report is None:
            await websocket.close(1008)
        elif route == "/stream":
            await _stream(websocket, report)
        else:
            await _flood(websocket, report)
        return
    # "/echo", and any other path (the adapters' readiness check lands on "/").
    await websocket.accept()
    async for text in websocket.iter_text():
        await websocket.send_text(text)


@dataclass
class _StreamState:
    sent: int = 0
    received: int = 0
    started: list[int] = field(default_factory=list)
    """anyio task ids of the tasks the app started."""
    ended_by: dict[str, object] | None = None


async def _stream(websocket: WebSocket, report: Path) -> None:
    """Send and receive concurrently until the connection ends; report how it ended."""
    await websocket.accept()
    state = _StreamState()
    tasks_before = len(anyio.get_running_tasks())
    _append(report, {"event": "accepted", "t": time.time()})

    def observe(side: str, exc: WebSocketDisconnect) -> None:
        if state.ended_by is None:
            state.ended_by = {
                "exception": type(exc).__name__,
                "code": exc.code,
                "side": side,
                "t": time.time(),
            }

    async def receiver(group: anyio.abc.TaskGroup) -> None:
        state.started.append(anyio.get_current_task().id)
        try:
            while True:
                await websocket.receive_text()
                state.received += 1
        except WebSocketDisconnect as exc:
            observe("receive", exc)
        group.cancel_scope.cancel()

    async def sender(group: anyio.abc.TaskGroup) -> None:
        state.started.append(anyio.get_current_task().id)
        try:
            while True:
                await websocket.send_text(f'{{"n":{state.sent},"got":{state.received}}}')
                state.sent += 1
                await anyio.sleep(STREAM_INTERVAL)
        except WebSocketDisconnect as exc:
            observe("send", exc)
        group.cancel_scope.cancel()

    def result(outcome: dict[str, object]) -> dict[str, object]:
        try:
            alive: set[int] | None = {task.id for task in anyio.get_running_tasks()}
        except Exception:  # no event loop left (GeneratorExit at interpreter exit)
            alive = None
        return {
            "event": "ended",
            **outcome,
            "sent": state.sent,
            "received": state.received,
            "tasks_started": len(state.started),
            "tasks_left": None if alive is None else len(alive.intersection(state.started)),
            "tasks_before": tasks_before,
            "tasks_after": None if alive is None else len(alive),
        }

    try:
        with anyio.move_on_after(STREAM_DEADLINE):
            async with anyio.create_task_group() as group:
                group.start_soon(receiver, group)
                group.start_soon(sender, group)
    except BaseException as exc:  # the server cancelled the app, or a server error escaped
        _append(report, result({"exception": _describe(exc), "code": None, "t": time.time()}))
        raise
    _append(report, result(state.ended_by or {"exception": None, "code": None, "t": time.time()}))


async def _flood(websocket: WebSocket, report: Path) -> None:
    """Send as fast as the server accepts; report whether a ``send()`` ever blocked."""
    params = websocket.query_params
    size, total = int(params.get("size", "65536")), int(params.get("total", str(2**27)))
    seconds = float(params.get("seconds", "5"))
    goodbye = float(params.get("goodbye", str(FLOOD_GOODBYE_WAIT)))
    await websocket.accept()
    chunk = b"x" * size
    sent = 0
    longest = 0.0
    outcome = "total"
    mark = FLOOD_PROGRESS_BYTES
    started = send_started = time.monotonic()
    _append(report, {"event": "accepted", "t": time.time()})
    with anyio.move_on_after(seconds) as deadline:
        try:
            while sent < total:
                send_started = time.monotonic()
                await websocket.send_bytes(chunk)
                longest = max(longest, time.monotonic() - send_started)
                sent += size
                if sent >= mark:
                    mark += FLOOD_PROGRESS_BYTES
                    _append(report, {"event": "progress", "sent": sent, "t": time.time()})
        except WebSocketDisconnect as exc:
            outcome = f"WebSocketDisconnect {exc.code}"
    stopped = time.monotonic()
    pending = 0.0
    if deadline.cancelled_caught:
        outcome = "deadline"
        pending = stopped - send_started  # how long the send cut by the deadline had waited
    _append(
        report,
        {
            "event": "done",
            "outcome": outcome,
            "sent": sent,
            "elapsed": stopped - started,
            "longest_send": max(longest, pending),
            "pending_send": pending,
            "t": time.time(),
        },
    )
    code: int | None = None
    with anyio.move_on_after(goodbye):
        try:
            while True:
                await websocket.receive_bytes()
        except WebSocketDisconnect as exc:
            code = exc.code
    _append(report, {"event": "closed", "code": code, "t": time.time()})
