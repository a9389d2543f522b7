"""The echo apps the benchmarks compare, one per framework and workload.

Each framework's app does the same work through its own API: raw ASGI (the
floor), the cheapest possible wrapper class (``wrapper``: one coroutine per
call and no checks, which is what any ``await websocket.x()`` API costs at
least), Starlette's ``WebSocket``, Lilya's ``WebSocket`` and lilya_ws's
``WebSocket``. ``APPS[framework][workload]`` is what ``bench/inprocess.py``
times; ``raw_echo``, ``starlette_echo``, ``lilya_echo`` and ``lilya_ws_echo``
are the same text echoes wrapped for a real server (lifespan, HTTP 404), for
``bench/endtoend.py``.

Example: ``python -m uvicorn bench.apps:lilya_ws_echo``.
"""

from __future__ import annotations

import json
from collections.abc import AsyncIterator, Awaitable, Callable, Mapping, MutableMapping
from typing import Any, Final, Literal, Protocol, TypeAlias

import orjson
from lilya.websockets import WebSocket as LilyaWebSocket
from lilya.websockets import WebSocketDisconnect as LilyaDisconnect
from starlette.websockets import WebSocket as StarletteWebSocket
from starlette.websockets import WebSocketDisconnect as StarletteDisconnect

from adapters import echo_app
from adapters.raw_asgi import websocket_only
from lilya_ws import OrjsonCodec
from lilya_ws import WebSocket as LilyaWSWebSocket
from lilya_ws import WebSocketDisconnect as LilyaWSDisconnect

__all__ = [
    "APPS",
    "ECHO_PATHS",
    "FRAMEWORKS",
    "WORKLOADS",
    "ASGIApp",
    "Framework",
    "Message",
    "Receive",
    "Scope",
    "Send",
    "Workload",
    "echo_by_path",
    "lilya_echo",
    "lilya_ws_echo",
    "raw_echo",
    "starlette_echo",
]

# Starlette's and Lilya's vocabulary: the one all three WebSocket classes accept.
Message: TypeAlias = MutableMapping[str, Any]
Scope: TypeAlias = MutableMapping[str, Any]
Receive: TypeAlias = Callable[[], Awaitable[Message]]
Send: TypeAlias = Callable[[Message], Awaitable[None]]
ASGIApp: TypeAlias = Callable[[Scope, Receive, Send], Awaitable[None]]

Framework: TypeAlias = Literal["raw", "wrapper", "starlette", "lilya", "lilya_ws"]
Workload: TypeAlias = Literal[
    "text", "bytes", "json", "json_orjson", "iter_text", "push", "connect"
]
FRAMEWORKS: Final[tuple[Framework, ...]] = ("raw", "wrapper", "starlette", "lilya", "lilya_ws")
WORKLOADS: Final[tuple[Workload, ...]] = (
    "text",
    "bytes",
    "json",
    "json_orjson",
    "iter_text",
    "push",
    "connect",
)
PUSHED: Final = "tick"
"""What the ``push`` apps send, as many times as their one received message says."""

ORJSON_CODEC: Final = OrjsonCodec()
# What every stdlib-JSON app sends: compact and UTF-8, built once (the floor for raw).
_dumps: Final = json.JSONEncoder(separators=(",", ":"), ensure_ascii=False).encode
_loads: Final = json.loads

# Raw ASGI: the floor. Each app checks only what a correct raw app must check.


async def raw_text(scope: Scope, receive: Receive, send: Send) -> None:
    await receive()
    await send({"type": "websocket.accept"})
    while (message := await receive())["type"] == "websocket.receive":
        await send({"type": "websocket.send", "text": message["text"]})


async def raw_bytes(scope: Scope, receive: Receive, send: Send) -> None:
    await receive()
    await send({"type": "websocket.accept"})
    while (message := await receive())["type"] == "websocket.receive":
        await send({"type": "websocket.send", "bytes": message["bytes"]})


async def raw_json(scope: Scope, receive: Receive, send: Send) -> None:
    await receive()
    await send({"type": "websocket.accept"})
    while (message := await receive())["type"] == "websocket.receive":
        await send({"type": "websocket.send", "text": _dumps(_loads(message["text"]))})


async def raw_json_orjson(scope: Scope, receive: Receive, send: Send) -> None:
    await receive()
    await send({"type": "websocket.accept"})
    dumps, loads = orjson.dumps, orjson.loads
    while (message := await receive())["type"] == "websocket.receive":
        await send({"type": "websocket.send", "text": dumps(loads(message["text"])).decode()})


async def raw_push(scope: Scope, receive: Receive, send: Send) -> None:
    await receive()
    await send({"type": "websocket.accept"})
    for _ in range(int((await receive())["text"])):
        await send({"type": "websocket.send", "text": PUSHED})


async def raw_connect(scope: Scope, receive: Receive, send: Send) -> None:
    await receive()
    await send({"type": "websocket.accept"})
    await send({"type": "websocket.close", "code": 1000})


# The cheapest wrapper: one coroutine per call, nothing checked.


class WrapperWebSocket:
    """A WebSocket API reduced to forwarding: the floor of any class with awaited methods."""

    __slots__ = ("_receive", "_send")

    def __init__(self, scope: Scope, receive: Receive, send: Send) -> None:
        self._receive, self._send = receive, send

    async def accept(self) -> None:
        await self._receive()
        await self._send({"type": "websocket.accept"})

    async def close(self) -> None:
        await self._send({"type": "websocket.close", "code": 1000})

    async def receive(self, key: str) -> Any:
        message = await self._receive()
        if message["type"] != "websocket.receive":
            raise LilyaWSDisconnect
        return message[key]

    async def send(self, key: str, payload: object) -> None:
        await self._send({"type": "websocket.send", key: payload})

    async def iter_text(self) -> AsyncIterator[str]:
        while (message := await self._receive())["type"] == "websocket.receive":
            yield message["text"]


def _wrapper_echo(
    key: str, codec: tuple[Callable[[Any], Any], Callable[[Any], Any]] | None
) -> ASGIApp:
    async def echo(scope: Scope, receive: Receive, send: Send) -> None:
        websocket = WrapperWebSocket(scope, receive, send)
        await websocket.accept()
        try:
            while True:
                payload = await websocket.receive(key)
                await websocket.send(key, codec[0](codec[1](payload)) if codec else payload)
        except LilyaWSDisconnect:
            pass

    return echo


async def wrapper_iter_text(scope: Scope, receive: Receive, send: Send) -> None:
    websocket = WrapperWebSocket(scope, receive, send)
    await websocket.accept()
    async for text in websocket.iter_text():
        await websocket.send("text", text)


async def wrapper_push(scope: Scope, receive: Receive, send: Send) -> None:
    websocket = WrapperWebSocket(scope, receive, send)
    await websocket.accept()
    for _ in range(int(await websocket.receive("text"))):
        await websocket.send("text", PUSHED)


async def wrapper_connect(scope: Scope, receive: Receive, send: Send) -> None:
    websocket = WrapperWebSocket(scope, receive, send)
    await websocket.accept()
    await websocket.close()


# Starlette's, Lilya's and lilya_ws's WebSocket: the same echoes, written as a user would.


class EchoSocket(Protocol):
    """What the echo apps use of a framework's ``WebSocket``: the API the three share."""

    def accept(self) -> Awaitable[None]: ...
    def close(self) -> Awaitable[None]: ...
    def receive_text(self) -> Awaitable[str]: ...
    def send_text(self, data: str) -> Awaitable[None]: ...
    def receive_bytes(self) -> Awaitable[bytes]: ...
    def send_bytes(self, data: bytes) -> Awaitable[None]: ...
    def receive_json(self) -> Awaitable[Any]: ...
    def send_json(self, data: Any) -> Awaitable[None]: ...
    def iter_text(self) -> AsyncIterator[str]: ...


def _framework_apps(
    websocket_class: Callable[[Scope, Receive, Send], EchoSocket],
    disconnect: type[Exception],
) -> dict[Workload, ASGIApp]:
    """The echo apps of one framework, its ``WebSocket`` built by ``websocket_class``."""

    async def text(scope: Scope, receive: Receive, send: Send) -> None:
        websocket = websocket_class(scope, receive, send)
        await websocket.accept()
        try:
            while True:
                await websocket.send_text(await websocket.receive_text())
        except disconnect:
            pass

    async def bytes_(scope: Scope, receive: Receive, send: Send) -> None:
        websocket = websocket_class(scope, receive, send)
        await websocket.accept()
        try:
            while True:
                await websocket.send_bytes(await websocket.receive_bytes())
        except disconnect:
            pass

    async def json_(scope: Scope, receive: Receive, send: Send) -> None:
        websocket = websocket_class(scope, receive, send)
        await websocket.accept()
        try:
            while True:
                await websocket.send_json(await websocket.receive_json())
        except disconnect:
            pass

    async def iter_text(scope: Scope, receive: Receive, send: Send) -> None:
        websocket = websocket_class(scope, receive, send)
        await websocket.accept()
        async for payload in websocket.iter_text():
            await websocket.send_text(payload)

    async def push(scope: Scope, receive: Receive, send: Send) -> None:
        """Sends that follow no receive of their own: the push apps' path."""
        websocket = websocket_class(scope, receive, send)
        await websocket.accept()
        for _ in range(int(await websocket.receive_text())):
            await websocket.send_text(PUSHED)

    async def connect(scope: Scope, receive: Receive, send: Send) -> None:
        websocket = websocket_class(scope, receive, send)
        await websocket.accept()
        await websocket.close()

    # Starlette and Lilya have no codec option: their stdlib json is what a user gets.
    return {
        "text": text,
        "bytes": bytes_,
        "json": json_,
        "json_orjson": json_,
        "iter_text": iter_text,
        "push": push,
        "connect": connect,
    }


def _lilya_ws_orjson(scope: Scope, receive: Receive, send: Send) -> LilyaWSWebSocket:
    return LilyaWSWebSocket(scope, receive, send, json_codec=ORJSON_CODEC)


_LILYA_WS_APPS: Final = _framework_apps(LilyaWSWebSocket, LilyaWSDisconnect)
_LILYA_WS_APPS["json_orjson"] = _framework_apps(_lilya_ws_orjson, LilyaWSDisconnect)["json"]


APPS: Final[Mapping[Framework, Mapping[Workload, ASGIApp]]] = {
    "raw": {
        "text": raw_text,
        "bytes": raw_bytes,
        "json": raw_json,
        "json_orjson": raw_json_orjson,
        "iter_text": raw_text,
        "push": raw_push,
        "connect": raw_connect,
    },
    "wrapper": {
        "text": _wrapper_echo("text", None),
        "bytes": _wrapper_echo("bytes", None),
        "json": _wrapper_echo("text", (_dumps, _loads)),
        "json_orjson": _wrapper_echo("text", (lambda v: orjson.dumps(v).decode(), orjson.loads)),
        "iter_text": wrapper_iter_text,
        "push": wrapper_push,
        "connect": wrapper_connect,
    },
    "starlette": _framework_apps(StarletteWebSocket, StarletteDisconnect),
    "lilya": _framework_apps(LilyaWebSocket, LilyaDisconnect),
    "lilya_ws": _LILYA_WS_APPS,
}
"""``APPS[framework][workload]``: the app ``bench/inprocess.py`` times."""


# Served apps for bench/endtoend.py and bench/instructions.py: the text echoes, answering
# lifespan and plain HTTP as a real server needs.


raw_echo: Final = echo_app.app
starlette_echo: Final = websocket_only(APPS["starlette"]["text"])
lilya_echo: Final = websocket_only(APPS["lilya"]["text"])
lilya_ws_echo: Final = websocket_only(APPS["lilya_ws"]["text"])

ECHO_PATHS: Final[Mapping[Framework, str]] = {
    "raw": "/raw",
    "wrapper": "/wrapper",
    "starlette": "/starlette",
    "lilya": "/lilya",
    "lilya_ws": "/lilya_ws",
}
"""Where ``echo_by_path`` serves each framework's text echo."""
_ECHO_BY_PATH: Final[Mapping[str, ASGIApp]] = {
    ECHO_PATHS["raw"]: echo_app.echo,
    **{ECHO_PATHS[name]: APPS[name]["text"] for name in FRAMEWORKS if name != "raw"},
}


@websocket_only
async def echo_by_path(scope: Scope, receive: Receive, send: Send) -> None:
    """All five echoes in one server (see ``ECHO_PATHS``; other paths get the raw echo),
    so they are compared in the same process, rotated round by round."""
    await _ECHO_BY_PATH.get(scope["path"], echo_app.echo)(scope, receive, send)
