"""Responses a WebSocket can send instead of its handshake (``send_denial_response``).

They are small ASGI HTTP responses: any object with the same call shape works,
so Starlette's and Lilya's responses can be denied with too.
"""

from __future__ import annotations

import re
from collections.abc import AsyncIterable, Awaitable, Callable, Iterable, Mapping, MutableMapping
from typing import Any, Final, Protocol

from lilya_ws.errors import InvalidMessage

__all__ = ["DenialResponse", "HTTPReceive", "HTTPSend", "Response", "StreamingResponse"]

HTTPSend = Callable[[MutableMapping[str, Any]], Awaitable[None]]
HTTPReceive = Callable[[], Awaitable[MutableMapping[str, Any]]]

_TOKEN_CHARS = frozenset("!#$%&'*+-.^_`|~0123456789abcdefghijklmnopqrstuvwxyz")
_FIELD_VALUE: Final = re.compile(r"(?:[\x21-\x7e](?:[\x21-\x7e \t]*[\x21-\x7e])?)?")
"""A header value every server sends as given: visible ASCII, spaces and tabs only
inside it. Servers differ on the rest (``adapters/DIALECTS.md`` §3, header values):
uvicorn's websockets implementation re-encodes bytes over 0x7F from latin-1 to UTF-8,
h11's servers raise ``LocalProtocolError`` in the app for a space at either end, where
hypercorn strips it from a denial and the others send it; a DEL is answered 400, 500
or raised as granian's ``RuntimeError``, or sent."""


class DenialResponse(Protocol):
    """An ASGI HTTP response: ``await response(scope, receive, send)``."""

    def __call__(
        self, scope: MutableMapping[str, Any], receive: HTTPReceive, send: HTTPSend, /
    ) -> Awaitable[None]: ...


def encode_headers(
    headers: Mapping[str, str] | Iterable[tuple[str, str]],
) -> list[tuple[bytes, bytes]]:
    """Validate and encode header pairs (RFC 9110 §5: token names; values of visible
    ASCII, with spaces and tabs only inside them).

    Raises ``InvalidMessage`` on a header that could split the response (CR, LF, NUL)
    or that servers would send differently (``_FIELD_VALUE``).
    """
    pairs = headers.items() if isinstance(headers, Mapping) else headers
    encoded: list[tuple[bytes, bytes]] = []
    for name, value in pairs:
        lowered = name.lower()
        if not lowered or not _TOKEN_CHARS.issuperset(lowered):
            raise InvalidMessage(f"Invalid header name {name!r}: must be an HTTP token")
        if "\r" in value or "\n" in value or "\0" in value:
            raise InvalidMessage(f"Invalid value for header {name!r}: CR, LF and NUL are forbidden")
        if not _FIELD_VALUE.fullmatch(value):
            raise InvalidMessage(
                f"Invalid value for header {name!r}: {value!r} is not visible ASCII with spaces "
                "and tabs only inside it (servers re-encode, strip or refuse the rest; "
                "percent-encode it)"
            )
        encoded.append((lowered.encode("ascii"), value.encode("ascii")))
    return encoded


def _check_status(status_code: int) -> int:
    if not 200 <= status_code <= 599:
        raise InvalidMessage(f"Denial status must be 200-599, not {status_code}")
    return status_code


class Response:
    """A complete HTTP response; 403 with a plain-text body by default.

    >>> Response("Not allowed here", status_code=403, headers={"x-reason": "policy"})
    Response(status_code=403, body=b'Not allowed here')
    """

    __slots__ = ("body", "headers", "status_code")

    def __init__(
        self,
        content: str | bytes = b"",
        status_code: int = 403,
        headers: Mapping[str, str] | Iterable[tuple[str, str]] | None = None,
        media_type: str | None = "text/plain; charset=utf-8",
    ) -> None:
        self.status_code = _check_status(status_code)
        self.body = content.encode("utf-8") if isinstance(content, str) else content
        extra = encode_headers(headers or ())
        names = {name for name, _ in extra}
        if media_type is not None and b"content-type" not in names:
            extra.append((b"content-type", media_type.encode("latin-1")))
        if b"content-length" not in names:
            extra.append((b"content-length", str(len(self.body)).encode("ascii")))
        self.headers = extra

    async def __call__(
        self, scope: MutableMapping[str, Any], receive: HTTPReceive, send: HTTPSend, /
    ) -> None:
        await send(
            {"type": "http.response.start", "status": self.status_code, "headers": self.headers}
        )
        await send({"type": "http.response.body", "body": self.body, "more_body": False})

    def __repr__(self) -> str:
        return f"Response(status_code={self.status_code}, body={self.body!r})"


class StreamingResponse:
    """An HTTP response whose body is sent part by part as the iterable yields.

    Not every server that advertises the denial extension can stream it: see
    ``Capabilities`` and the compatibility matrix.
    """

    __slots__ = ("content", "headers", "status_code")

    def __init__(
        self,
        content: AsyncIterable[str | bytes] | Iterable[str | bytes],
        status_code: int = 403,
        headers: Mapping[str, str] | Iterable[tuple[str, str]] | None = None,
        media_type: str | None = "text/plain; charset=utf-8",
    ) -> None:
        self.status_code = _check_status(status_code)
        self.content = content
        self.headers = encode_headers(headers or ())
        if media_type is not None and all(name != b"content-type" for name, _ in self.headers):
            self.headers.append((b"content-type", media_type.encode("latin-1")))

    async def _parts(self) -> AsyncIterable[bytes]:
        if isinstance(self.content, AsyncIterable):
            async for part in self.content:
                yield part.encode("utf-8") if isinstance(part, str) else part
        else:
            for part in self.content:
                yield part.encode("utf-8") if isinstance(part, str) else part

    async def __call__(
        self, scope: MutableMapping[str, Any], receive: HTTPReceive, send: HTTPSend, /
    ) -> None:
        await send(
            {"type": "http.response.start", "status": self.status_code, "headers": self.headers}
        )
        async for part in self._parts():
            await send({"type": "http.response.body", "body": part, "more_body": True})
        await send({"type": "http.response.body", "body": b"", "more_body": False})

    def __repr__(self) -> str:
        return f"StreamingResponse(status_code={self.status_code})"
