"""The Origin allow-list: matching rules, denial before accept, and the middleware."""

from __future__ import annotations

import pytest
from hypothesis import given
from hypothesis import strategies as st

from lilya_ws import (
    InvalidMessage,
    OriginMiddleware,
    OriginNotAllowed,
    OriginPolicy,
    WebSocket,
    enforce_origin,
)
from lilya_ws.testing import DIALECTS, HandshakeRejected, connect
from lilya_ws.types import Receive, Scope, Send

POLICY = OriginPolicy(["https://example.com", "https://*.example.org", "http://localhost:8080"])


@pytest.mark.parametrize(
    ("origin", "allowed"),
    [
        ("https://example.com", True),
        ("https://EXAMPLE.com:443", True),
        ("https://example.com/", True),
        ("http://example.com", False),
        ("https://example.com:8443", False),
        ("https://evil-example.com", False),
        ("https://example.com.evil.net", False),
        ("https://a.example.org", True),
        ("https://a.b.example.org", True),
        ("https://example.org", False),
        ("https://aexample.org", False),
        ("http://localhost:8080", True),
        ("http://localhost", False),
        ("null", False),
        ("not a url", False),
        ("https://user@example.com", False),
        ("https://example.com:99999", False),
        (None, False),
    ],
)
def test_policy_matching(origin: str | None, allowed: bool) -> None:
    assert POLICY.allows(origin) is allowed


def test_missing_origin_only_when_explicitly_allowed() -> None:
    assert OriginPolicy([], allow_missing=True).allows(None)
    assert not OriginPolicy([]).allows(None)


@pytest.mark.parametrize("entry", ["example.com", "https://*.", "ftp://", "https://a.com/path"])
def test_malformed_entries_are_refused(entry: str) -> None:
    with pytest.raises(InvalidMessage):
        OriginPolicy([entry])


@given(st.from_regex(r"[a-z]{1,10}(\.[a-z]{1,10}){0,3}", fullmatch=True))
def test_wildcards_never_match_other_registrable_domains(host: str) -> None:
    policy = OriginPolicy(["https://*.example.org"])
    assert policy.allows(f"https://{host}.example.org")
    assert not policy.allows(f"https://{host}example.org")
    assert not policy.allows(f"https://{host}.example.org.evil")


async def guarded(scope: Scope, receive: Receive, send: Send) -> None:
    websocket = WebSocket(scope, receive, send)
    try:
        await enforce_origin(websocket, POLICY)
    except OriginNotAllowed:
        return
    await websocket.accept()
    await websocket.send_text("welcome")


async def test_allowed_origin_is_accepted(dialect: str) -> None:
    async with connect(guarded, headers={"origin": "https://a.example.org"}, dialect=dialect) as ws:
        assert await ws.receive_text() == "welcome"


@pytest.mark.parametrize("headers", [{"origin": "https://evil.test"}, {}])
async def test_foreign_or_missing_origin_is_denied_with_403(
    dialect: str, headers: dict[str, str]
) -> None:
    with pytest.raises(HandshakeRejected) as rejected:
        async with connect(guarded, headers=headers, dialect=dialect):
            pass
    assert rejected.value.status == 403
    expected = b"Origin not allowed" if DIALECTS[dialect].denial_extension else b""
    assert rejected.value.body == expected
    assert b"evil" not in rejected.value.body


async def test_two_origin_headers_are_denied() -> None:
    headers = [("origin", "https://example.com"), ("origin", "https://evil.test")]
    with pytest.raises(HandshakeRejected):
        async with connect(guarded, headers=headers):
            pass


async def test_middleware_keeps_foreign_handshakes_from_the_app() -> None:
    calls: list[str] = []

    async def app(scope: Scope, receive: Receive, send: Send) -> None:
        calls.append(scope["path"])
        websocket = WebSocket(scope, receive, send)
        await websocket.accept()
        await websocket.send_text("in")

    protected = OriginMiddleware(app, POLICY)
    with pytest.raises(HandshakeRejected):
        async with connect(protected, "/denied", headers={"origin": "https://evil.test"}):
            pass
    async with connect(protected, "/ok", headers={"origin": "https://example.com"}) as ws:
        assert await ws.receive_text() == "in"
    assert calls == ["/ok"]
