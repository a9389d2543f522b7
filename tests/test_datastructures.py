"""URL, Headers, QueryParams, State and cookies; URL and Headers side by side with Starlette's."""

from __future__ import annotations

import importlib.metadata
import importlib.util
from typing import Any

import pytest
from hypothesis import event, given, settings
from hypothesis import strategies as st

from lilya_ws.connection import Connection
from lilya_ws.datastructures import (
    URL,
    Headers,
    QueryParams,
    State,
    parse_cookies,
    request_target,
)

# The multidict7 tox environment installs no Starlette: the plain-scan tests
# still pin the same behaviour there.
needs_starlette = pytest.mark.skipif(
    importlib.util.find_spec("starlette") is None, reason="Starlette is not installed"
)


def _starlette_before(*version: int) -> bool:
    if importlib.util.find_spec("starlette") is None:
        return False  # needs_starlette says why
    found = importlib.metadata.version("starlette").split(".")
    return tuple(int(part) for part in found[: len(version)]) < version


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
    assert url.is_secure
    assert url.components.path == "/chat/room"
    assert repr(url) == "URL('wss://ada:********@example.com:8443/chat/room?x=1#top')"


def test_url_replace_replaces_parts_only() -> None:
    url = URL("wss://ada:secret@example.com:8443/chat/room?x=1#top")
    assert url.replace(scheme="ws", query="") == "ws://ada:secret@example.com:8443/chat/room#top"
    assert url.replace(port=None, username=None) == "wss://example.com/chat/room?x=1#top"
    assert url.replace(hostname="::1", port=80) == "wss://ada:secret@[::1]:80/chat/room?x=1#top"
    assert url.replace(path="/a?b").path == "/a?b"  # a decoded path, like url.path
    assert url.replace(path="/a?b").components.path == "/a%3Fb"
    assert isinstance(url.replace(fragment=""), URL)
    with pytest.raises(TypeError, match=r"str\(url\)\.replace"):
        url.replace("chat", "talk")
    assert str(url).replace("chat", "talk") == "wss://ada:secret@example.com:8443/talk/room?x=1#top"


def test_url_query_param_methods() -> None:
    url = URL("ws://h/p?a=1&b=2&a=3")
    assert url.include_query_params(a="x", c=4) == "ws://h/p?b=2&a=x&c=4"
    assert url.replace_query_params(z="1 2") == "ws://h/p?z=1+2"
    assert url.remove_query_params("a") == "ws://h/p?b=2"
    assert url.remove_query_params(["a", "b"]) == "ws://h/p"


@pytest.mark.parametrize(
    ("scope", "expected", "path"),
    [
        ({"scheme": "ws", "headers": [(b"host", b"h:1")], "path": "/p"}, "ws://h:1/p", "/p"),
        ({"headers": [], "server": ("10.0.0.1", 80), "path": "/"}, "ws://10.0.0.1/", "/"),
        ({"scheme": "wss", "headers": [], "server": ("h", 443), "path": "/"}, "wss://h/", "/"),
        (
            {"headers": [], "server": ("h", 8000), "path": "/a", "query_string": b"b=1"},
            "ws://h:8000/a?b=1",
            "/a",
        ),
        # ASGI: path already includes root_path; Starlette does not add it again.
        ({"headers": [], "root_path": "/api", "path": "/api/ws"}, "ws:///api/ws", "/api/ws"),
        # Escaped path: "?" and "#" in a decoded path are not the query or fragment.
        ({"headers": [], "server": ("h", 80), "path": "/a?b#c"}, "ws://h/a%3Fb%23c", "/a?b#c"),
        ({"headers": [], "server": ("h", 80), "path": "/100%"}, "ws://h/100%25", "/100%"),
        ({"headers": [], "server": ("h", 80), "path": "/a b/é"}, "ws://h/a b/é", "/a b/é"),
        # IPv6 hosts, bracketed with and without a Host header.
        ({"headers": [], "server": ("::1", 8000), "path": "/"}, "ws://[::1]:8000/", "/"),
        ({"headers": [(b"host", b"[::1]:9")], "path": "/"}, "ws://[::1]:9/", "/"),
        # An invalid Host header gives way to the server address (as in Starlette).
        ({"headers": [(b"host", b"a/b")], "server": ("h", 81), "path": "/"}, "ws://h:81/", "/"),
        # So do two (granian passes both on) and two joined into one (daphne): ambiguous.
        (
            {"headers": [(b"host", b"a"), (b"host", b"b")], "server": ("h", 81), "path": "/"},
            "ws://h:81/",
            "/",
        ),
        ({"headers": [(b"host", b"a,b")], "server": ("h", 81), "path": "/"}, "ws://h:81/", "/"),
        # A Unix socket server (port None) names no host.
        ({"headers": [], "server": ("/tmp/s.sock", None), "path": "/p"}, "ws:///p", "/p"),
        ({"headers": [], "path": "//p"}, "ws:////p", "//p"),  # no host: "//p" stays a path
    ],
)
def test_url_from_scope(scope: dict[str, Any], expected: str, path: str) -> None:
    url = URL.from_scope(scope)
    assert url == expected
    assert url.path == path
    assert url.port == URL(expected).port  # never a ValueError


def test_url_from_scope_ipv6_parts() -> None:
    url = URL.from_scope({"headers": [], "server": ("2001:db8::1", 8000), "path": "/"})
    assert (url.hostname, url.port, url.netloc) == ("2001:db8::1", 8000, "[2001:db8::1]:8000")


# Websocket scopes as servers build them, with the corners the issue names.
_PATH_CHARS = "ab/09-._~ ?#%\\é€😀+;=:@\n\t\x00\x7f"
_paths = st.text(alphabet=_PATH_CHARS, max_size=12).map(lambda text: "/" + text)
_host_names = st.from_regex(r"[A-Za-z0-9][A-Za-z0-9.-]{0,8}", fullmatch=True)
_ip_hosts = st.sampled_from(
    ["127.0.0.1", "[::1]", "[2001:DB8::1]", "[::ffff:10.0.0.1]", "[v1.x]", "[::g]", "::1"]
)
_ports = st.one_of(st.integers(0, 70000).map(str), st.sampled_from(["", "080", "0000443", "9" * 7]))
_host_headers = st.one_of(
    st.none(),
    st.builds(
        lambda host, port: host if port is None else f"{host}:{port}",
        st.one_of(_host_names, _ip_hosts),
        st.none() | _ports,
    ),
    st.sampled_from(["", "u@h", "h/x", "h h", "h:x", "[::1", "é.com", "[fe80::1%25eth0]"]),
)
_servers = st.one_of(
    st.none(),
    st.tuples(
        st.sampled_from(["10.0.0.1", "::1", "2001:db8::2", "example.org"]),
        st.sampled_from([80, 443, 8000]) | st.integers(1, 65535),
    ),
)
_queries = st.text(alphabet="ab=&+%20;/?é", max_size=12).map(lambda text: text.encode())


@st.composite
def websocket_scopes(draw: st.DrawFn) -> dict[str, Any]:
    root_path = draw(st.sampled_from(["", "/api", "/a b"]))
    scope: dict[str, Any] = {
        "type": "websocket",
        "path": root_path + draw(_paths) if draw(st.booleans()) else draw(_paths),
        "root_path": root_path,
        "query_string": draw(_queries),
        "headers": [(b"user-agent", b"t")],
    }
    scheme = draw(st.sampled_from([None, "ws", "wss", "http", "https"]))
    if scheme is not None:
        scope["scheme"] = scheme
    server = draw(_servers)
    if server is not None or draw(st.booleans()):
        scope["server"] = server
    host = draw(_host_headers)
    if host is not None:
        scope["headers"].insert(draw(st.integers(0, 1)), (b"host", host.encode("latin-1")))
    return scope


# What Starlette leaves as text in a path and lilya_ws escapes: a "%" (Starlette's
# "/a%41" names "/aA", not the scope's "/a%41") and control characters (urlsplit
# drops "\t" and "\n", so Starlette's .path loses them).
_ONLY_LILYA_WS_ESCAPES = str.maketrans(
    {"%": "%25", **{chr(code): f"%{code:02X}" for code in (*range(0x20), 0x7F)}}
)
_param_names = st.sampled_from(["a", "b", "x", "é", "a b"])
_params = st.dictionaries(_param_names, st.text(alphabet="1a &=é", max_size=3) | st.integers())


@needs_starlette
@pytest.mark.skipif(
    _starlette_before(1, 10),
    reason="Starlette before 1.10 (Python 3.10 gets 1.7) leaves IPv6 hosts unbracketed and "
    "'?' in a path unescaped: the comparison is with 1.10's URL",
)
@settings(max_examples=1000)
@given(websocket_scopes(), _params, st.lists(_param_names, max_size=2) | _param_names)
def test_url_from_scope_matches_starlettes(
    scope: dict[str, Any], params: dict[str, Any], remove: str | list[str]
) -> None:
    from starlette.datastructures import URL as StarletteURL

    ours = URL.from_scope(scope)
    # Deliberate differences, each evened out before comparing:
    # - a scope without "scheme" is ws (ASGI's default for a WebSocket, SPEC
    #   §2.3); Starlette's URL defaults to http for every scope type;
    # - "%" and control characters in a path are escaped (see above);
    # - url.path is decoded like scope["path"] ("/a?b#c" stays "/a?b#c");
    #   Starlette's .path is its escaped text, our .components.path;
    # - with neither a valid Host header nor a server, Starlette's URL is
    #   relative ("/p?q", and "//p" becomes "/%2Fp"); ours stays "ws:///p?q".
    scheme = scope.get("scheme", "ws")
    theirs = StarletteURL(
        scope={**scope, "scheme": scheme, "path": scope["path"].translate(_ONLY_LILYA_WS_ESCAPES)}
    )

    def absolute(url: StarletteURL) -> str:
        text = str(url)
        if url.netloc:
            return text
        if text.startswith("/%2F"):
            text = "//" + text.removeprefix("/%2F")
        return f"{scheme}://{text}"

    event("host: " + ("none" if not ours.netloc else "IPv6" if "[" in ours.netloc else "name/IPv4"))
    event("path escaped: " + str(ours.components.path != scope["path"]))
    assert ours == absolute(theirs)
    assert ours.path == scope["path"]
    assert ours.scheme == scheme
    assert ours.is_secure == (scheme in ("wss", "https"))
    assert (ours.query, ours.hostname, ours.port, ours.netloc) == (
        theirs.query,
        theirs.hostname,
        theirs.port,
        theirs.netloc,
    )
    if theirs.netloc:
        assert ours.components == theirs.components
        assert ours.is_secure == theirs.is_secure
    assert ours.include_query_params(**params) == absolute(theirs.include_query_params(**params))
    assert ours.replace_query_params(**params) == absolute(theirs.replace_query_params(**params))
    assert ours.remove_query_params(remove) == absolute(theirs.remove_query_params(remove))
    if theirs.netloc:
        assert ours.replace(port=8080) == theirs.replace(port=8080)
        assert ours.replace(hostname="::2", port=None) == theirs.replace(hostname="::2", port=None)
        assert ours.replace(scheme="wss") == theirs.replace(scheme="wss")


def test_headers_are_case_insensitive_ordered_and_keep_duplicates() -> None:
    raw = [(b"accept", b"a"), (b"x-one", b"1"), (b"accept", b"b")]
    headers = Headers(raw)
    assert headers["ACCEPT"] == "a"
    assert headers.getall("Accept") == headers.getlist("Accept") == ["a", "b"]
    # One entry per pair everywhere, as in Starlette: len, iteration, keys, items.
    assert len(headers) == len(headers.keys()) == 3
    assert list(headers) == list(headers.keys()) == ["accept", "x-one", "accept"]
    assert list(headers.items()) == [("accept", "a"), ("x-one", "1"), ("accept", "b")]
    keys = headers.keys()
    assert "X-ONE" in headers
    assert "X-ONE" in keys
    assert headers.getlist("missing") == []
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


def test_query_params_read_raw_utf_8_as_its_percent_encoding() -> None:
    # granian passes a query's raw UTF-8 bytes on (the others answer 400): read as
    # URL reads it, not as latin-1 ("Ã©").
    assert QueryParams(b"q=\xc3\xa9")["q"] == QueryParams(b"q=%C3%A9")["q"] == "é"
    assert QueryParams(b"q=\xe9")["q"] == QueryParams(b"q=%E9")["q"] == "\ufffd"


def _scope(path: str, raw_path: bytes, query: bytes) -> dict[str, Any]:
    host = [(b"host", b"h:1")]
    return {"headers": host, "path": path, "raw_path": raw_path, "query_string": query}


# Each server's scope for the same request (adapters/DIALECTS.md, request-target).
@pytest.mark.parametrize(
    ("request_line", "scopes"),
    [
        (
            "GET ws://h:1/chat%3Fx?q=1",
            [
                _scope("ws://h:1/chat?x", b"ws://h:1/chat%3Fx", b"q=1"),  # uvicorn, hypercorn
                _scope("/chat?x", b"/chat%3Fx", b"q=1"),  # daphne, granian
            ],
        ),
        (
            "GET http://h:1?q=1",
            [
                _scope("http://h:1", b"http://h:1", b"q=1"),  # uvicorn, hypercorn
                _scope("", b"", b"q=1"),  # daphne
                _scope("/", b"/", b"q=1"),  # granian
            ],
        ),
        (
            "GET /chat%23x?q=1#f",
            [
                _scope("/chat#x", b"/chat%23x", b"q=1#f"),  # uvicorn, hypercorn
                _scope("/chat#x", b"/chat%23x", b"q=1"),  # granian
            ],
        ),
        (
            "GET /chat%23x#f%20g",
            [
                _scope("/chat#x#f g", b"/chat%23x#f%20g", b""),  # uvicorn, hypercorn
                _scope("/chat#x", b"/chat%23x", b""),  # granian
            ],
        ),
    ],
)
def test_url_and_query_are_the_same_for_each_servers_scope_of_a_request(
    request_line: str, scopes: list[dict[str, Any]]
) -> None:
    urls = {URL.from_scope(scope) for scope in scopes}
    queries = {str(QueryParams(request_target(scope)[1])) for scope in scopes}
    assert len(urls) == len(queries) == 1, request_line
    url = urls.pop()
    assert url.netloc == "h:1"
    assert url.path in ("/chat?x", "/", "/chat#x")
    assert "#" not in url.query


def test_an_encoded_hash_is_not_a_fragment() -> None:
    assert URL.from_scope(_scope("/a#b", b"/a%23b", b"c=%23")) == "ws://h:1/a%23b?c=%23"
    assert QueryParams(request_target(_scope("/", b"/", b"c=%23"))[1])["c"] == "#"


names = st.text(alphabet="abcdefghijklmnopqrstuvwxyz-", min_size=1, max_size=8)
values = st.text(alphabet=st.characters(min_codepoint=32, max_codepoint=255), max_size=12)


@given(st.lists(st.tuples(names, values), max_size=12))
def test_headers_match_a_plain_scan_of_the_raw_pairs(pairs: list[tuple[str, str]]) -> None:
    raw = [(n.encode("latin-1"), v.encode("latin-1")) for n, v in pairs]
    headers = Headers(raw)
    assert len(headers) == len(list(headers)) == len(headers.keys()) == len(pairs)
    assert list(headers) == list(headers.keys()) == [n for n, _ in pairs]
    assert list(headers.items()) == pairs
    assert list(headers.values()) == [v for _, v in pairs]
    for name in {n for n, _ in pairs}:
        assert headers.getall(name.upper()) == [v for n, v in pairs if n == name]
        assert headers.getlist(name.upper()) == [v for n, v in pairs if n == name]


@needs_starlette
@settings(max_examples=300)
@given(st.lists(st.tuples(names, values), max_size=12), names)
def test_headers_match_starlettes(pairs: list[tuple[str, str]], other: str) -> None:
    from starlette.datastructures import Headers as StarletteHeaders

    raw = [(n.encode("latin-1"), v.encode("latin-1")) for n, v in pairs]
    ours, theirs = Headers(raw), StarletteHeaders(raw=raw)
    assert len(ours) == len(theirs)
    assert list(ours) == list(theirs)
    assert list(ours.keys()) == theirs.keys()
    assert list(ours.items()) == theirs.items()
    assert list(ours.values()) == theirs.values()
    assert dict(ours) == dict(theirs)
    assert ours.raw == theirs.raw
    for name in [*(n for n, _ in pairs), other]:
        for key in (name, name.upper()):
            assert ours.getlist(key) == theirs.getlist(key)
            assert (key in ours) == (key in theirs)
            assert ours.get(key) == theirs.get(key)


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


def test_cookies_of_every_cookie_header() -> None:
    """Two Cookie headers (an HTTP/2 hop may split them): six servers pass both on."""
    connection = Connection()
    connection.scope = {"headers": [(b"cookie", b"a=1; b=2"), (b"cookie", b"c=3")]}
    assert connection.cookies == {"a": "1", "b": "2", "c": "3"}
