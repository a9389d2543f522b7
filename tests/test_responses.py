"""Denial responses: what they send, and the header injection they refuse."""

from __future__ import annotations

from collections.abc import AsyncIterator, MutableMapping
from typing import Any

import pytest

from lilya_ws import InvalidMessage, Response, StreamingResponse


async def collect(response: Response | StreamingResponse) -> list[MutableMapping[str, Any]]:
    sent: list[MutableMapping[str, Any]] = []

    async def receive() -> MutableMapping[str, Any]:
        raise AssertionError("a response never receives")

    async def send(message: MutableMapping[str, Any]) -> None:
        sent.append(message)

    await response({"type": "websocket"}, receive, send)
    return sent


async def test_response_sends_status_headers_and_one_body() -> None:
    sent = await collect(Response("nope", status_code=401, headers={"X-Why": "auth"}))
    assert sent == [
        {
            "type": "http.response.start",
            "status": 401,
            "headers": [
                (b"x-why", b"auth"),
                (b"content-type", b"text/plain; charset=utf-8"),
                (b"content-length", b"4"),
            ],
        },
        {"type": "http.response.body", "body": b"nope", "more_body": False},
    ]


async def test_default_is_an_empty_403() -> None:
    start, body = await collect(Response())
    assert start["status"] == 403
    assert body["body"] == b""


async def test_streaming_response_sends_each_part_then_the_end() -> None:
    async def parts() -> AsyncIterator[str]:
        yield "a"
        yield "é"

    sent = await collect(StreamingResponse(parts(), status_code=429, media_type=None))
    assert sent[0] == {"type": "http.response.start", "status": 429, "headers": []}
    assert [(m["body"], m["more_body"]) for m in sent[1:]] == [
        (b"a", True),
        ("é".encode(), True),
        (b"", False),
    ]


@pytest.mark.parametrize(
    ("headers", "match"),
    [
        ({"x-a": "1\r\nset-cookie: stolen=1"}, "CR, LF"),
        ({"x-a": "1\nx"}, "CR, LF"),
        ({"x-a": "nul\0"}, "NUL"),
        ({"bad name": "v"}, "HTTP token"),
        ({"x-a\r\n": "v"}, "HTTP token"),
        ({"": "v"}, "HTTP token"),
        ({"x-a": "snow ☃"}, "visible ASCII"),
        ({"x-a": "café"}, "visible ASCII"),
        ({"x-a": " padded"}, "visible ASCII"),
        ({"x-a": "v\t"}, "visible ASCII"),
        ({"x-a": "a\x7fb"}, "visible ASCII"),
        ({"x-a": "a\x01b"}, "visible ASCII"),
    ],
)
def test_header_injection_is_refused_before_anything_is_sent(
    headers: dict[str, str], match: str
) -> None:
    with pytest.raises(InvalidMessage, match=match):
        Response(b"", headers=headers)
    with pytest.raises(InvalidMessage, match=match):
        StreamingResponse([], headers=headers)


@pytest.mark.parametrize("status", [101, 199, 600, 0])
def test_status_outside_200_599_is_refused(status: int) -> None:
    with pytest.raises(InvalidMessage, match="200-599"):
        Response(status_code=status)
