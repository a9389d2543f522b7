"""The ASGI vocabulary lilya_ws speaks: callable protocols and message shapes.

The message ``TypedDict``s follow the ASGI WebSocket spec
(https://asgi.readthedocs.io/en/latest/specs/www.html#websocket): keys the spec
makes optional are ``NotRequired``, unlike ``asgiref.typing`` which types them
as required. Optional keys are also ``ReadOnly`` so that a complete message (as
``asgiref`` describes it) is still assignable to these shapes.

``WebSocket`` accepts the callables of any typing school without a cast: these
protocols, ``asgiref.typing``'s, and the Starlette/Lilya
``MutableMapping[str, Any]`` style (see ``AnyReceive`` and ``AnySend``).
"""

from __future__ import annotations

from collections.abc import Awaitable, Callable, Iterable, Mapping, MutableMapping
from typing import TYPE_CHECKING, Any, Literal, Protocol, TypedDict, Union

if TYPE_CHECKING:  # typing_extensions is not a runtime dependency
    from typing import TypeAlias

    from typing_extensions import Never, NotRequired, ReadOnly

__all__ = [
    "ASGIApp",
    "AnyReceive",
    "AnySend",
    "Headers",
    "Message",
    "Receive",
    "Scope",
    "Send",
    "WebSocketAcceptEvent",
    "WebSocketCloseEvent",
    "WebSocketConnectEvent",
    "WebSocketDisconnectEvent",
    "WebSocketReceiveEvent",
    "WebSocketReceiveMessage",
    "WebSocketResponseBodyEvent",
    "WebSocketResponseStartEvent",
    "WebSocketScope",
    "WebSocketSendEvent",
    "WebSocketSendMessage",
]

Scope: TypeAlias = "MutableMapping[str, Any]"
"""Any ASGI scope, as Starlette and Lilya type it (drop-in with both)."""

Message: TypeAlias = "Mapping[str, Any]"
"""Any ASGI message before it has been checked against a shape below."""

Headers: TypeAlias = "Iterable[tuple[bytes, bytes]]"
"""Raw header pairs as ASGI carries them: lowercase names, latin-1 values."""


class ASGIVersions(TypedDict):
    version: str
    spec_version: NotRequired[str]


class WebSocketScope(TypedDict):
    """The connection scope of a WebSocket; missing keys are server quirks."""

    type: Literal["websocket"]
    asgi: NotRequired[ASGIVersions]
    http_version: NotRequired[str]
    scheme: NotRequired[str]
    path: str
    raw_path: NotRequired[bytes | None]
    query_string: bytes
    root_path: NotRequired[str]
    headers: Headers
    client: NotRequired[tuple[str, int] | list[Any] | None]
    server: NotRequired[tuple[str, int | None] | list[Any] | None]
    subprotocols: NotRequired[Iterable[str]]
    state: NotRequired[dict[str, Any]]
    extensions: NotRequired[dict[str, dict[object, object]] | None]
    path_params: NotRequired[dict[str, Any]]


# Messages the server sends to the application.


class WebSocketConnectEvent(TypedDict):
    type: Literal["websocket.connect"]


class WebSocketReceiveEvent(TypedDict):
    type: Literal["websocket.receive"]
    bytes: NotRequired[ReadOnly[bytes | None]]
    text: NotRequired[ReadOnly[str | None]]


class WebSocketDisconnectEvent(TypedDict):
    type: Literal["websocket.disconnect"]
    code: NotRequired[ReadOnly[int]]
    reason: NotRequired[ReadOnly[str | None]]


WebSocketReceiveMessage: TypeAlias = (
    "WebSocketConnectEvent | WebSocketReceiveEvent | WebSocketDisconnectEvent"
)


# Messages the application sends to the server.


class WebSocketAcceptEvent(TypedDict):
    type: Literal["websocket.accept"]
    subprotocol: NotRequired[ReadOnly[str | None]]
    headers: NotRequired[ReadOnly[Headers]]


class WebSocketSendEvent(TypedDict):
    type: Literal["websocket.send"]
    bytes: NotRequired[ReadOnly[bytes | None]]
    text: NotRequired[ReadOnly[str | None]]


class WebSocketCloseEvent(TypedDict):
    type: Literal["websocket.close"]
    code: NotRequired[ReadOnly[int]]
    reason: NotRequired[ReadOnly[str | None]]


class WebSocketResponseStartEvent(TypedDict):
    type: Literal["websocket.http.response.start"]
    status: int
    headers: NotRequired[ReadOnly[Headers]]
    trailers: NotRequired[ReadOnly[bool]]


class WebSocketResponseBodyEvent(TypedDict):
    type: Literal["websocket.http.response.body"]
    body: NotRequired[ReadOnly[bytes]]
    more_body: NotRequired[ReadOnly[bool]]


WebSocketSendMessage: TypeAlias = (
    "Union[WebSocketAcceptEvent, WebSocketSendEvent, WebSocketCloseEvent,"
    " WebSocketResponseStartEvent, WebSocketResponseBodyEvent]"
)


class Receive(Protocol):
    """The server's ``receive`` callable."""

    def __call__(self) -> Awaitable[Message]: ...


class Send(Protocol):
    """The server's ``send`` callable: it takes every WebSocket message shape."""

    def __call__(self, message: WebSocketSendMessage, /) -> Awaitable[None]: ...


class ASGIApp(Protocol):
    """An ASGI 3 application."""

    def __call__(self, scope: Scope, receive: Receive, send: Send, /) -> Awaitable[None]: ...


AnyReceive: TypeAlias = "Callable[[], Awaitable[Mapping[str, object]]]"
"""A ``receive`` typed by any school: ours, ``asgiref.typing``'s, Starlette's."""

AnySend: TypeAlias = "Callable[[Never], Awaitable[None]]"
"""A ``send`` typed by any school. Whatever message type its author declared,
the WebSocket only ever passes it messages valid under the ASGI spec."""
