"""lilya_ws: a strictly typed ASGI WebSocket that behaves the same on every server."""

from lilya_ws.capabilities import Capabilities
from lilya_ws.datastructures import URL, Address, Headers, QueryParams, State
from lilya_ws.endpoints import Endpoint, endpoint
from lilya_ws.errors import (
    ConnectionClosed,
    DenialResponseUnsupported,
    InvalidJSON,
    InvalidMessage,
    InvalidMode,
    LilyaWSError,
    MessageTooLarge,
    NoSubprotocolWarning,
    OriginNotAllowed,
    ReceiveTimeout,
    ServerCapabilityWarning,
    UnexpectedMessageType,
    WebSocketStateError,
)
from lilya_ws.json import JSONCodec, MsgspecCodec, OrjsonCodec, StdlibCodec
from lilya_ws.origins import OriginMiddleware, OriginPolicy, enforce_origin
from lilya_ws.responses import Response, StreamingResponse
from lilya_ws.websockets import WebSocket, WebSocketClose, WebSocketDisconnect, WebSocketState

__all__ = [
    "URL",
    "Address",
    "Capabilities",
    "ConnectionClosed",
    "DenialResponseUnsupported",
    "Endpoint",
    "Headers",
    "InvalidJSON",
    "InvalidMessage",
    "InvalidMode",
    "JSONCodec",
    "LilyaWSError",
    "MessageTooLarge",
    "MsgspecCodec",
    "NoSubprotocolWarning",
    "OriginMiddleware",
    "OriginNotAllowed",
    "OriginPolicy",
    "OrjsonCodec",
    "QueryParams",
    "ReceiveTimeout",
    "Response",
    "ServerCapabilityWarning",
    "State",
    "StdlibCodec",
    "StreamingResponse",
    "UnexpectedMessageType",
    "WebSocket",
    "WebSocketClose",
    "WebSocketDisconnect",
    "WebSocketState",
    "WebSocketStateError",
    "endpoint",
    "enforce_origin",
]
__version__ = "0.1.0"
