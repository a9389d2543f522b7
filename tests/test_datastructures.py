"""URL, Headers, QueryParams, State and cookies, including hypothesis properties."""

from __future__ import annotations

from typing import Any

import pytest
from hypothesis import given
from hypothesis import strategies as st

from lilya_ws.datastructures import URL, Headers, QueryParams, State, parse_cookies


def test_url_is_its_text_and_exposes_its_parts() -> None:
    url = URL("wss://ada:secret@example.com:8443/chat/room?x=1#top")
    assert url == "wss://ada:secret@example.com:8443/chat/room?x=1#top"
    assert hash(url) == hash(str(url))
    assert (url.scheme, url.hostname, url.port, url.path) == (
        "wss",
        "example.com",
        8443,
        "/chat/room",
    )
    assert (url.query, url.fragment, url.username, url.password) == ("x=1", "top", "ada", "secret")
    assert url.netloc == "ada:secret@example.com:8443"
    assert url.replace(scheme="ws", query="") == "ws://ada:secret@example.com:8443/chat/room#top"
    assert url.replace("chat", "talk") == "wss://ada:secret@example.com:8443/talk/room?x=1#top"


@pytest.mark.parametrize(
    ("scope", "expected"),
    [
        ({"scheme": "ws", "headers": [(b"host", b"h:1")], "path": "/p"}, "ws://h:1/p"),
        ({"headers": [], "server": ("10.0.0.1", 80), "path": "/"}, "ws://10.0.0.1/"),
        ({"scheme": "wss", "headers": [], "server": ("h", 443), "path": "/"}, "wss://h/"),
        (
            {"headers": [], "server": ("h", 8000), "path": "/a", "query_string": b"b=1"},
            "ws://h:8000/a?b=1",
        ),
        ({"headers": [], "root_path": "/api", "path": "/api/ws"}, "ws:///api/ws"),  # path has it
    ],
)
def test_url_from_scope_defaults_to_ws_scheme(scope: dict[str, Any], expected: str) -> None:
    assert URL.from_scope(scope) == expected


def test_headers_are_case_insensitive_ordered_and_keep_duplicates() -> None:
    raw = [(b"accept", b"a"), (b"x-one", b"1"), (b"accept", b"b")]
    headers = Headers(raw)
    assert headers["ACCEPT"] == "a"
    assert headers.getall("Accept") == ["a", "b"]
    assert list(headers) == ["accept", "x-one"]
    assert list(headers.items()) == [("accept", "a"), ("x-one", "1"), ("accept", "b")]
    assert headers.raw is raw
    assert raw == [(b"accept", b"a"), (b"x-one", b"1"), (b"accept", b"b")]  # untouched
    with pytest.raises(TypeError):
        headers["x"] = "y"  # type: ignore[index]  # read-only on purpose


def test_query_params_keep_order_and_round_trip() -> None:
    params = QueryParams(b"b=2&a=1&b=3&empty=&sp=a+b%26c")
    assert params["b"] == "2"
    assert params.getall("b") == ["2", "3"]
    assert params["empty"] == ""
    assert params["sp"] == "a b&c"
    assert list(params) == ["b", "a", "empty", "sp"]
    assert str(params) == "b=2&a=1&b=3&empty=&sp=a+b%26c"


names = st.text(alphabet="abcdefghijklmnopqrstuvwxyz-", min_size=1, max_size=8)
values = st.text(alphabet=st.characters(min_codepoint=32, max_codepoint=255), max_size=12)


@given(st.lists(st.tuples(names, values), max_size=12))
def test_headers_match_a_plain_scan_of_the_raw_pairs(pairs: list[tuple[str, str]]) -> None:
    raw = [(n.encode("latin-1"), v.encode("latin-1")) for n, v in pairs]
    headers = Headers(raw)
    assert len(headers) == len(pairs)
    assert list(headers) == list(dict.fromkeys(n for n, _ in pairs))
    for name in {n for n, _ in pairs}:
        assert headers.getall(name.upper()) == [v for n, v in pairs if n == name]


@given(st.lists(st.tuples(names, values), max_size=12))
def test_query_params_round_trip_any_pairs(pairs: list[tuple[str, str]]) -> None:
    params = QueryParams(pairs)
    assert list(QueryParams(str(params)).items()) == pairs


def test_state_is_attribute_access_over_a_shared_dict() -> None:
    shared: dict[str, Any] = {"db": "conn"}
    state = State(shared)
    assert state.db == "conn"
    state.user = "ada"
    assert shared["user"] == "ada"
    del state.user
    with pytest.raises(AttributeError, match="user"):
        _ = state.user


@pytest.mark.parametrize(
    ("header", "expected"),
    [
        ("a=1; b=2", {"a": "1", "b": "2"}),
        ('q="quoted"; broken; c=3', {"q": "quoted", "": "broken", "c": "3"}),
        ("", {}),
    ],
)
def test_cookies(header: str, expected: dict[str, str]) -> None:
    assert parse_cookies(header) == expected
