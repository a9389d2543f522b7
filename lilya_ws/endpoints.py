"""Run a WebSocket handler as an ASGI app whose endings are the same on every server.

Servers disagree on what a client sees when an app ends badly: no close frame,
1011 or 1005 after an exception, 500 or 403 before ``accept()``, a client left
waiting when the app returns without closing (``adapters/DIALECTS.md``). An
``Endpoint`` decides once:

- returning after ``accept()`` without closing closes 1000;
- raising after ``accept()`` closes with ``close_for(error)``: 1011 "Internal error"
  (daphne sends only 1000 and 3000-4999: 4011 there);
- raising before ``accept()`` answers HTTP 500 "Internal Server Error" (daphne has
  no denial responses: HTTP 403 there); returning before it answers HTTP 403;
- the error is logged on the ``lilya_ws`` logger and never reaches the peer;
- after closing, it waits (bounded) for the peer's answer before returning, so no
  server is left closing a socket the app still writes to (hypercorn's trio
  worker dies of that race, ``adapters/DIALECTS.md``);
- plain HTTP gets 404 (or the ``http`` app's answer), lifespan is acknowledged.

Example:
    @endpoint
    async def echo(websocket: WebSocket) -> None:
        await websocket.accept()
        async for text in websocket.iter_text():
            await websocket.send_text(text)
"""

from __future__ import annotations

import contextlib
import logging
from collections.abc import Awaitable, Callable, Mapping
from typing import TYPE_CHECKING, Any, Final, Generic, TypeVar, overload

from lilya_ws.errors import LilyaWSError, WebSocketDisconnect
from lilya_ws.json import JSONCodec
from lilya_ws.responses import Response
from lilya_ws.states import CONNECTED, CONNECTING, RESPONSE
from lilya_ws.websockets import CLOSE_TIMEOUT, WebSocket

if TYPE_CHECKING:
    from lilya_ws.types import AnyReceive, AnySend

__all__ = ["CLOSE_TIMEOUT", "Endpoint", "Handler", "endpoint"]

Handler = Callable[[WebSocket], Awaitable[None]]
W = TypeVar("W", bound=WebSocket)
HTTPApp = Callable[[Any, Any, Any], Awaitable[None]]


logger: Final = logging.getLogger("lilya_ws")

_LIFESPAN_REPLIES: Final = {
    "lifespan.startup": "lifespan.startup.complete",
    "lifespan.shutdown": "lifespan.shutdown.complete",
}
_NOT_FOUND: Final = Response("Not Found", status_code=404)
_SERVER_ERROR: Final = Response("Internal Server Error", status_code=500)


class Endpoint(Generic[W]):
    """An ASGI app made from ``handler``; build it with :func:`endpoint`.

    It is an ASGI app, not a function, so Starlette's, FastAPI's and Lilya's
    ``WebSocketRoute`` call it as one: the router's path parameters reach the
    handler as ``websocket.path_params``. ``websocket_class`` (a subclass of
    ``WebSocket``, such as one with a framework's ``url_for``) is what the
    handler gets.
    """

    __slots__ = (
        "handler",
        "http",
        "json_codec",
        "max_message_size",
        "receive_timeout",
        "websocket_class",
    )

    @overload
    def __init__(
        self: Endpoint[WebSocket],
        handler: Handler,
        *,
        http: HTTPApp | None = None,
        json_codec: JSONCodec | None = None,
        max_message_size: int | None = None,
        receive_timeout: float | None = None,
    ) -> None: ...

    @overload
    def __init__(
        self,
        handler: Callable[[W], Awaitable[None]],
        *,
        websocket_class: type[W],
        http: HTTPApp | None = None,
        json_codec: JSONCodec | None = None,
        max_message_size: int | None = None,
        receive_timeout: float | None = None,
    ) -> None: ...

    def __init__(
        self,
        handler: Callable[[Any], Awaitable[None]],
        *,
        websocket_class: type[Any] = WebSocket,
        http: HTTPApp | None = None,
        json_codec: JSONCodec | None = None,
        max_message_size: int | None = None,
        receive_timeout: float | None = None,
    ) -> None:
        self.handler: Callable[[W], Awaitable[None]] = handler
        self.websocket_class: type[W] = websocket_class
        self.http = http
        self.json_codec = json_codec
        self.max_message_size = max_message_size
        self.receive_timeout = receive_timeout

    async def __call__(self, scope: Mapping[str, Any], receive: AnyReceive, send: AnySend) -> None:
        kind = scope["type"]
        if kind == "websocket":
            await self._serve(scope, receive, send)
            return
        # Typed by any school, the callables take ASGI-valid messages (as in WebSocket).
        listen: Callable[[], Awaitable[Any]] = receive
        emit: Callable[[Any], Awaitable[None]] = send
        if kind == "http":
            await (self.http or _NOT_FOUND)(dict(scope), listen, emit)
        elif kind == "lifespan":
            await _lifespan(listen, emit)

    async def _serve(self, scope: Mapping[str, Any], receive: AnyReceive, send: AnySend) -> None:
        websocket = self.websocket_class(
            scope,
            receive,
            send,
            json_codec=self.json_codec,
            max_message_size=self.max_message_size,
            receive_timeout=self.receive_timeout,
        )
        try:
            await self.handler(websocket)
        except Exception as error:
            if not _peer_left(error, websocket):
                logger.exception("WebSocket handler %s failed", _name(self.handler))
            await _fail(websocket, error)
        else:
            with contextlib.suppress(LilyaWSError):
                await websocket.close()  # a no-op once closed, 403 before accept
        await websocket.wait_closed(CLOSE_TIMEOUT)

    def __repr__(self) -> str:
        return f"Endpoint({_name(self.handler)})"


def _peer_left(error: Exception, websocket: WebSocket) -> bool:
    """A ``WebSocketDisconnect`` the handler let through is the peer leaving, not a bug."""
    return isinstance(error, WebSocketDisconnect) and websocket.client_state is not CONNECTED


async def _fail(websocket: WebSocket, error: Exception) -> None:
    """End the connection after the handler raised, the same way on every server."""
    state = websocket.application_state
    with contextlib.suppress(LilyaWSError):
        if state is CONNECTED:
            await websocket.close_for(error)
        elif state is CONNECTING:
            if websocket.capabilities.denial_response:
                await websocket.send_denial_response(_SERVER_ERROR)
            else:
                await websocket.close()
        elif state is RESPONSE:  # a denial response was cut short: end its body
            await websocket.send({"type": "websocket.http.response.body", "body": b""})


async def _lifespan(
    receive: Callable[[], Awaitable[Any]], send: Callable[[Any], Awaitable[None]]
) -> None:
    """Acknowledge startup and shutdown, so no server warns about lifespan."""
    kind = ""
    while kind != "lifespan.shutdown":
        kind = (await receive())["type"]
        if kind in _LIFESPAN_REPLIES:
            await send({"type": _LIFESPAN_REPLIES[kind]})


def _name(handler: Callable[..., Any]) -> str:
    return getattr(handler, "__qualname__", repr(handler))


@overload
def endpoint(handler: Handler, /) -> Endpoint[WebSocket]: ...


@overload
def endpoint(
    *,
    websocket_class: type[W],
    http: HTTPApp | None = None,
    json_codec: JSONCodec | None = None,
    max_message_size: int | None = None,
    receive_timeout: float | None = None,
) -> Callable[[Callable[[W], Awaitable[None]]], Endpoint[W]]: ...


@overload
def endpoint(
    *,
    http: HTTPApp | None = None,
    json_codec: JSONCodec | None = None,
    max_message_size: int | None = None,
    receive_timeout: float | None = None,
) -> Callable[[Handler], Endpoint[WebSocket]]: ...


def endpoint(
    handler: Handler | None = None,
    /,
    *,
    websocket_class: type[Any] = WebSocket,
    http: HTTPApp | None = None,
    json_codec: JSONCodec | None = None,
    max_message_size: int | None = None,
    receive_timeout: float | None = None,
) -> Endpoint[Any] | Callable[[Callable[[Any], Awaitable[None]]], Endpoint[Any]]:
    """Make ``handler`` an ASGI app (:class:`Endpoint`); with options, a decorator.

    ``http`` answers plain HTTP requests (default: 404); ``websocket_class`` is
    the class the handler gets (a ``WebSocket`` subclass); the other options are
    the ``WebSocket``'s.
    """

    def build(handler: Callable[[Any], Awaitable[None]]) -> Endpoint[Any]:
        return Endpoint(
            handler,
            websocket_class=websocket_class,
            http=http,
            json_codec=json_codec,
            max_message_size=max_message_size,
            receive_timeout=receive_timeout,
        )

    return build if handler is None else build(handler)
