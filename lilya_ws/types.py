"""The ASGI vocabulary lilya_ws speaks: callable protocols and message shapes.

The scope and message ``TypedDict``s follow the ASGI specs for WebSocket, HTTP
and lifespan (https://asgi.readthedocs.io/en/latest/specs/), so a whole app
type-checks with these types alone. Keys the spec makes optional are
``NotRequired``, unlike ``asgiref.typing`` which types them as required, and
``ReadOnly`` so that a complete message (as ``asgiref`` describes it) is still
assignable to these shapes.

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
    "ASGIVersions",
    "AnyReceive",
    "AnySend",
    "HTTPDisconnectEvent",
    "HTTPReceiveMessage",
    "HTTPRequestEvent",
    "HTTPResponseBodyEvent",
    "HTTPResponseStartEvent",
    "HTTPScope",
    "HTTPSendMessage",
    "Headers",
    "LifespanReceiveMessage",
    "LifespanScope",
    "LifespanSendMessage",
    "LifespanShutdownCompleteEvent",
    "LifespanShutdownEvent",
    "LifespanShutdownFailedEvent",
    "LifespanStartupCompleteEvent",
    "LifespanStartupEvent",
    "LifespanStartupFailedEvent",
    "Message",
    "Receive",
    "ReceiveMessage",
    "Scope",
    "Send",
    "SendMessage",
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


# HTTP (https://asgi.readthedocs.io/en/latest/specs/www.html#http).


class HTTPScope(TypedDict):
    """The scope of a plain HTTP request."""

    type: Literal["http"]
    asgi: NotRequired[ASGIVersions]
    http_version: str
    method: str
    scheme: NotRequired[str]
    path: str
    raw_path: NotRequired[bytes | None]
    query_string: bytes
    root_path: NotRequired[str]
    headers: Headers
    client: NotRequired[tuple[str, int] | list[Any] | None]
    server: NotRequired[tuple[str, int | None] | list[Any] | None]
    state: NotRequired[dict[str, Any]]
    extensions: NotRequired[dict[str, dict[object, object]] | None]


class HTTPRequestEvent(TypedDict):
    type: Literal["http.request"]
    body: NotRequired[ReadOnly[bytes]]
    more_body: NotRequired[ReadOnly[bool]]


class HTTPDisconnectEvent(TypedDict):
    type: Literal["http.disconnect"]


class HTTPResponseStartEvent(TypedDict):
    type: Literal["http.response.start"]
    status: int
    headers: NotRequired[ReadOnly[Headers]]
    trailers: NotRequired[ReadOnly[bool]]


class HTTPResponseBodyEvent(TypedDict):
    type: Literal["http.response.body"]
    body: NotRequired[ReadOnly[bytes]]
    more_body: NotRequired[ReadOnly[bool]]


HTTPReceiveMessage: TypeAlias = "HTTPRequestEvent | HTTPDisconnectEvent"
HTTPSendMessage: TypeAlias = "HTTPResponseStartEvent | HTTPResponseBodyEvent"


# Lifespan (https://asgi.readthedocs.io/en/latest/specs/lifespan.html).


class LifespanScope(TypedDict):
    """The scope of the server's startup and shutdown."""

    type: Literal["lifespan"]
    asgi: NotRequired[ASGIVersions]
    state: NotRequired[dict[str, Any]]


class LifespanStartupEvent(TypedDict):
    type: Literal["lifespan.startup"]


class LifespanShutdownEvent(TypedDict):
    type: Literal["lifespan.shutdown"]


class LifespanStartupCompleteEvent(TypedDict):
    type: Literal["lifespan.startup.complete"]


class LifespanStartupFailedEvent(TypedDict):
    type: Literal["lifespan.startup.failed"]
    message: NotRequired[ReadOnly[str]]


class LifespanShutdownCompleteEvent(TypedDict):
    type: Literal["lifespan.shutdown.complete"]


class LifespanShutdownFailedEvent(TypedDict):
    type: Literal["lifespan.shutdown.failed"]
    message: NotRequired[ReadOnly[str]]


LifespanReceiveMessage: TypeAlias = "LifespanStartupEvent | LifespanShutdownEvent"
LifespanSendMessage: TypeAlias = (
    "Union[LifespanStartupCompleteEvent, LifespanStartupFailedEvent,"
    " LifespanShutdownCompleteEvent, LifespanShutdownFailedEvent]"
)


ReceiveMessage: TypeAlias = "WebSocketReceiveMessage | HTTPReceiveMessage | LifespanReceiveMessage"
"""Every message a server sends to an application."""

SendMessage: TypeAlias = "WebSocketSendMessage | HTTPSendMessage | LifespanSendMessage"
"""Every message an application sends to a server: what ``Send`` accepts."""


class Receive(Protocol):
    """The server's ``receive`` callable.

    It returns ``Message``, not the ``ReceiveMessage`` union, so that every
    server's and test client's ``receive`` fits however it is typed (Starlette's
    returns ``MutableMapping[str, Any]``, which no ``TypedDict`` union accepts).
    ``ReceiveMessage`` documents what arrives; ``WebSocket.receive()`` returns
    its WebSocket part, typed.
    """

    def __call__(self) -> Awaitable[Message]: ...


class Send(Protocol):
    """The server's ``send`` callable: it takes every message shape an app sends
    (``SendMessage``: WebSocket, HTTP and lifespan)."""

    def __call__(self, message: SendMessage, /) -> Awaitable[None]: ...


class ASGIApp(Protocol):
    """An ASGI 3 application."""

    def __call__(self, scope: Scope, receive: Receive, send: Send, /) -> Awaitable[None]: ...


AnyReceive: TypeAlias = "Callable[[], Awaitable[Mapping[str, object]]]"
"""A ``receive`` typed by any school: ours, ``asgiref.typing``'s, Starlette's."""

AnySend: TypeAlias = "Callable[[Never], Awaitable[None]]"
"""A ``send`` typed by any school. Whatever message type its author declared,
the WebSocket only ever passes it messages valid under the ASGI spec."""
