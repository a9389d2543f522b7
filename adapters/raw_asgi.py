"""The raw ASGI vocabulary the probe and echo apps need, and nothing more.

The adapters deliberately do not import ``lilya_ws``: they measure the servers
the library normalises, so they speak raw ASGI with loose ``object`` values.
``websocket_only`` (lifespan answered, plain HTTP refused) also serves the apps
of ``integration/`` and ``bench/``, whichever way those type their callables.
"""

from __future__ import annotations

from collections.abc import Awaitable, Callable, Mapping
from typing import Any, Final, Protocol, TypeAlias, TypeVar

Scope: TypeAlias = Mapping[str, object]
Message: TypeAlias = Mapping[str, object]


class Receive(Protocol):
    """``await receive()`` returns the next event from the server."""

    def __call__(self) -> Awaitable[Message]: ...


class Send(Protocol):
    """``await send(message)`` hands one event to the server."""

    def __call__(self, message: Message, /) -> Awaitable[None]: ...


AnyReceive: TypeAlias = Callable[[], Awaitable[Mapping[str, object]]]
AnySend: TypeAlias = Callable[[dict[str, object]], Awaitable[None]]
"""Callables typed by any school (these protocols, Starlette's ``MutableMapping``)."""

ScopeT = TypeVar("ScopeT", bound=Mapping[str, Any])
ReceiveT = TypeVar("ReceiveT", bound=AnyReceive)
SendT = TypeVar("SendT", bound=AnySend)


LIFESPAN_STATE: Final = ("lifespan", "startup ran")
"""What lifespan startup stores in ``scope["state"]``, where the server gives one, for
the connections' scopes to show (``adapters/DIALECTS.md``, lifespan-state)."""


async def serve_lifespan(scope: Scope, receive: AnyReceive, send: AnySend) -> None:
    """Acknowledge lifespan startup and shutdown so servers log nothing about it; at
    startup, store ``LIFESPAN_STATE`` in the lifespan state."""
    while True:
        message = await receive()
        if message["type"] == "lifespan.startup":
            state = scope.get("state")
            if isinstance(state, dict):
                key, value = LIFESPAN_STATE
                state[key] = value
            await send({"type": "lifespan.startup.complete"})
        elif message["type"] == "lifespan.shutdown":
            await send({"type": "lifespan.shutdown.complete"})
            return


async def not_found(send: AnySend) -> None:
    """Answer a plain HTTP request: these apps only speak WebSocket."""
    await send({"type": "http.response.start", "status": 404, "headers": []})
    await send({"type": "http.response.body", "body": b"WebSocket only\n"})


def websocket_only(
    handler: Callable[[ScopeT, ReceiveT, SendT], Awaitable[None]],
) -> Callable[[ScopeT, ReceiveT, SendT], Awaitable[None]]:
    """Make a WebSocket handler a whole ASGI app for a real server: lifespan events
    are acknowledged and plain HTTP gets a 404, so servers log nothing about them."""

    async def app(scope: ScopeT, receive: ReceiveT, send: SendT) -> None:
        if scope["type"] == "websocket":
            await handler(scope, receive, send)
        elif scope["type"] == "lifespan":
            await serve_lifespan(scope, receive, send)
        else:
            await not_found(send)

    app.__doc__ = handler.__doc__
    return app
