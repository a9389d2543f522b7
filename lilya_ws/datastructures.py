"""Read-only views of the connection: URL, Headers, QueryParams, State, Address.

``URL`` is our own code on ``urllib.parse``, not ``yarl``: a drop-in must give
Starlette's text, and yarl percent-encodes spaces and non-ASCII, drops dot
segments and default ports, and would add ``idna`` and ``propcache`` for a
hundred lines. Headers and query parameters are built on ``multidict`` and
behave the same under multidict 6 and 7 (7.1 changed what iterating yields).
"""

from __future__ import annotations

import re
from collections.abc import Iterable, Iterator, KeysView, Mapping, Sequence
from http.cookies import _unquote as unquote_cookie
from ipaddress import IPv6Address
from typing import TYPE_CHECKING, Any, Final, NamedTuple, SupportsIndex, TypedDict, overload
from urllib.parse import SplitResult, parse_qsl, unquote, urlencode, urlsplit

from multidict import CIMultiDict, CIMultiDictProxy, MultiDict, MultiDictProxy

if TYPE_CHECKING:  # typing_extensions is not a runtime dependency
    from typing_extensions import Never, Unpack

__all__ = [
    "URL",
    "Address",
    "Headers",
    "QueryParams",
    "State",
    "URLParts",
    "parse_cookies",
]


class Address(NamedTuple):
    """A peer's ``(host, port)``."""

    host: str
    port: int


# A scope path is decoded (ASGI). Left as text, these would change the URL's
# meaning ("%", "?", "#"), read as "/" ("\\", WHATWG) or be dropped by urlsplit
# (controls). Starlette escapes only "?", "#" and "\\"; both keep spaces and
# non-ASCII as text.
_PATH_ESCAPES: Final = str.maketrans(
    {
        "%": "%25",
        "?": "%3F",
        "#": "%23",
        "\\": "%5C",
        **{chr(code): f"%{code:02X}" for code in (*range(0x20), 0x7F)},
    }
)

# RFC 3986 §3.2.2-3.2.3: a Host header is reg-name (kept lenient about "%"
# as Starlette is) or an IP literal, then an optional port.
_SUB_DELIMS_UNRESERVED: Final = r"a-z0-9\-._~!$&'()*+,;="
_HOST_HEADER: Final = re.compile(
    rf"(?:\[(?P<literal>[^\]]+)\]|[{_SUB_DELIMS_UNRESERVED}%]+)(?::(?P<port>[0-9]+))?",
    re.IGNORECASE | re.ASCII,
)
_IP_FUTURE: Final = re.compile(
    rf"v[0-9a-f]+\.[{_SUB_DELIMS_UNRESERVED}:]+", re.IGNORECASE | re.ASCII
)
_IPV6_CHARS: Final = re.compile(r"[0-9a-f:.]+", re.IGNORECASE | re.ASCII)

_DEFAULT_PORTS: Final[Mapping[str, int]] = {"ws": 80, "wss": 443, "http": 80, "https": 443}


def _valid_host_header(value: str) -> bool:
    """Whether a Host header is ``host[:port]``; an invalid one gives way to the server address.

    Not one with a comma, which RFC 3986 allows in a name but no DNS name has: it is what
    daphne makes of two Host headers (joined, ``adapters/DIALECTS.md``, host-header)."""
    if "," in value:
        return False
    match = _HOST_HEADER.fullmatch(value)
    if match is None:
        return False
    port = match["port"]
    if port is not None:
        digits = port.lstrip("0")
        if len(digits) > 5 or int(digits or "0") > 65535:
            return False
    literal = match["literal"]
    if literal is None or _IP_FUTURE.fullmatch(literal):
        return True
    return _IPV6_CHARS.fullmatch(literal) is not None and _is_ipv6(literal)


def request_target(scope: Mapping[str, Any]) -> tuple[str, bytes]:
    """The scope's path and query string as an origin-form request target names them,
    the same on every server (``adapters/DIALECTS.md``, request-target).

    uvicorn and hypercorn put an absolute-form target (``GET ws://host/chat``, which RFC
    9112 has a server accept) whole in ``path``, and keep a fragment (which a client
    must not send) in the path or the query; daphne and granian give the path alone,
    and drop or refuse the fragment. A path that is empty (daphne's, for
    ``ws://host?q``) is ``/``, as RFC 9110 reads it.
    """
    path: str = scope["path"]
    query: bytes = scope.get("query_string", b"")
    if b"#" in query:  # a raw "#" ends the query: a "#" of the query would be "%23"
        query = query.partition(b"#")[0]
    else:
        raw_path = scope.get("raw_path")
        if raw_path and b"#" in raw_path:  # the path is decoded: only raw_path tells
            fragment = unquote(raw_path.partition(b"#")[2].decode("latin-1"))
            path = path.removesuffix("#" + fragment)
    if not path.startswith("/") and "://" in path:
        after_scheme = path.partition("://")[2]
        slash = after_scheme.find("/")
        path = after_scheme[slash:] if slash >= 0 else "/"
    return path or "/", query


def _is_ipv6(host: str) -> bool:
    try:
        IPv6Address(host)
    except ValueError:
        return False
    return True


class URLParts(TypedDict, total=False):
    """What ``URL.replace`` can change; a part left out is kept."""

    scheme: str
    netloc: str
    path: str
    query: str
    fragment: str
    username: str | None
    password: str | None
    hostname: str
    port: int | None


class URL(str):
    """The URL the client asked for: a ``str`` equal to its text, with its parts.

    ``path`` is decoded like ``scope["path"]`` (``components.path`` is the
    escaped text); ``query`` is the raw query string, as in Starlette.

    >>> url = URL("ws://example.com:8000/chat%3F?room=1")
    >>> url.port, url.path, url.query, url == "ws://example.com:8000/chat%3F?room=1"
    (8000, '/chat?', 'room=1', True)
    """

    __slots__ = ("_components",)
    _components: SplitResult

    @classmethod
    def from_scope(cls, scope: Mapping[str, Any]) -> URL:
        """Rebuild the URL from a scope, the way Starlette's ``URL(scope=...)`` does.

        The authority is the Host header when there is one and it is valid, else the
        server address (IPv6 bracketed, the scheme's default port left out). Unlike
        Starlette, the scheme defaults to ``ws`` (ASGI's default for a
        WebSocket), a URL without a host stays absolute (``ws:///path``), a
        Unix socket server (port None) gives no host, and the path and query are
        ``request_target``'s: an absolute-form target gives its path, a fragment
        is dropped.
        """
        scheme: str = scope.get("scheme") or "ws"
        netloc = ""
        hosts = [value for name, value in scope["headers"] if name == b"host"]
        if len(hosts) == 1:  # two are ambiguous (granian passes both on)
            host_header = hosts[0].decode("latin-1")
            if _valid_host_header(host_header):
                netloc = host_header
        if not netloc:
            server = scope.get("server")
            if server and server[1] is not None:
                host, port = server[0], server[1]
                if ":" in host and not host.startswith("["):
                    host = f"[{host}]"
                netloc = host if port == _DEFAULT_PORTS.get(scheme) else f"{host}:{port}"
        path, query = request_target(scope)
        text = f"{scheme}://{netloc}{path.translate(_PATH_ESCAPES)}"
        if query:
            text += "?" + query.decode("utf-8", "replace")
        return cls(text)

    @property
    def components(self) -> SplitResult:
        """The text split by ``urllib.parse.urlsplit`` (Starlette's ``components``)."""
        try:
            return self._components
        except AttributeError:
            self._components = urlsplit(str(self))
            return self._components

    @property
    def scheme(self) -> str:
        return self.components.scheme

    @property
    def netloc(self) -> str:
        return self.components.netloc

    @property
    def path(self) -> str:
        """The path, percent-decoded: ``scope["path"]`` for a URL from a scope."""
        return unquote(self.components.path)

    @property
    def query(self) -> str:
        return self.components.query

    @property
    def fragment(self) -> str:
        return self.components.fragment

    @property
    def username(self) -> str | None:
        return self.components.username

    @property
    def password(self) -> str | None:
        return self.components.password

    @property
    def hostname(self) -> str | None:
        """The host, lowercased and without IPv6 brackets."""
        return self.components.hostname

    @property
    def port(self) -> int | None:
        return self.components.port

    @property
    def is_secure(self) -> bool:
        return self.scheme in ("https", "wss")

    @overload
    def replace(self, old: str, new: str, count: SupportsIndex = -1, /) -> Never: ...

    @overload
    def replace(self, **parts: Unpack[URLParts]) -> URL: ...

    def replace(self, *text_args: object, **parts: Unpack[URLParts]) -> URL:
        """A new URL with the given parts changed, as Starlette's ``URL.replace``.

        It only replaces parts: for text, use ``str(url).replace(old, new)``
        (positional arguments raise ``TypeError``, typed ``Never``).
        ``path`` is decoded text, like ``url.path``. Giving ``hostname``,
        ``port``, ``username`` or ``password`` rebuilds the netloc; ``None``
        removes the port or the user.

        >>> URL("ws://h:8000/a?x=1").replace(scheme="wss", port=None, query="")
        URL('wss://h/a')
        """
        if text_args:
            raise TypeError(
                "URL.replace() replaces parts (scheme=, hostname=, port=, ...);"
                " for text use str(url).replace(old, new)"
            )
        current = self.components
        netloc = parts.get("netloc", current.netloc)
        if parts.keys() & {"hostname", "port", "username", "password"}:
            netloc = self._netloc_with(parts)
        path = parts["path"].translate(_PATH_ESCAPES) if "path" in parts else current.path
        return URL(
            _join(
                parts.get("scheme", current.scheme),
                netloc,
                path,
                parts.get("query", current.query),
                parts.get("fragment", current.fragment),
            )
        )

    def _netloc_with(self, parts: URLParts) -> str:
        """The netloc with ``hostname``, ``port``, ``username``, ``password`` replaced."""
        hostname = parts.get("hostname")
        if hostname is None:
            hostname = self.netloc.rpartition("@")[2]
            if not hostname.endswith("]"):
                hostname = hostname.rsplit(":", 1)[0]
        elif _is_ipv6(hostname):
            hostname = f"[{hostname}]"
        port = parts.get("port", self.port)
        username = parts.get("username", self.username)
        password = parts.get("password", self.password)
        netloc = hostname if port is None else f"{hostname}:{port}"
        if username is not None:
            userinfo = username if password is None else f"{username}:{password}"
            netloc = f"{userinfo}@{netloc}"
        return netloc

    def include_query_params(self, **params: object) -> URL:
        """Set these query parameters (each once, at the end), keeping the others."""
        new = {name: str(value) for name, value in params.items()}
        kept = [
            pair for pair in parse_qsl(self.query, keep_blank_values=True) if pair[0] not in new
        ]
        return self.replace(query=urlencode([*kept, *new.items()]))

    def replace_query_params(self, **params: object) -> URL:
        """Make these the only query parameters."""
        return self.replace(query=urlencode([(name, str(value)) for name, value in params.items()]))

    def remove_query_params(self, keys: str | Sequence[str]) -> URL:
        """Drop every value of these query parameters."""
        drop = {keys} if isinstance(keys, str) else set(keys)
        kept = [
            pair for pair in parse_qsl(self.query, keep_blank_values=True) if pair[0] not in drop
        ]
        return self.replace(query=urlencode(kept))

    def __repr__(self) -> str:
        shown = self.replace(password="********") if self.password else self
        return f"URL({str(shown)!r})"


def _join(scheme: str, netloc: str, path: str, query: str, fragment: str) -> str:
    """``urlunsplit``, except that an empty authority stays: ``ws:////a`` is not ``ws://a``."""
    if netloc or scheme in _DEFAULT_PORTS:
        if path and not path.startswith("/"):
            path = "/" + path
        path = f"//{netloc}{path}"
    text = f"{scheme}:{path}" if scheme else path
    if query:
        text += "?" + query
    if fragment:
        text += "#" + fragment
    return text


class Headers(CIMultiDictProxy[str]):
    """Case-insensitive, order-preserving, duplicate-keeping request headers.

    Like Starlette's ``Headers``, every view counts each (name, value) pair:
    ``len``, iteration, ``keys()``, ``items()`` and ``values()`` all have one
    entry per pair, duplicates included (multidict 6 does this; 7.1 iterates
    distinct names, so iteration is pinned here). ``raw`` is the scope's own
    list of byte pairs, never copied nor mutated.

    >>> headers = Headers([(b"accept", b"a"), (b"x-one", b"1"), (b"accept", b"b")])
    >>> headers["ACCEPT"], headers.getlist("accept"), len(headers), list(headers)
    ('a', ['a', 'b'], 3, ['accept', 'x-one', 'accept'])
    """

    __slots__ = ("raw",)

    def __init__(self, raw: Iterable[tuple[bytes, bytes]] = ()) -> None:
        pairs = raw if isinstance(raw, list) else list(raw)
        super().__init__(
            CIMultiDict(
                [(name.decode("latin-1"), value.decode("latin-1")) for name, value in pairs]
            )
        )
        self.raw: list[tuple[bytes, bytes]] = pairs

    def __iter__(self) -> Iterator[str]:
        return (name for name, _ in self.items())

    def keys(self) -> KeysView[str]:
        """Each pair's name, duplicates included (as ``list(headers)``)."""
        return KeysView(self)

    def getlist(self, key: str) -> list[str]:
        """Every value of ``key`` in order, ``[]`` if absent (Starlette's name for ``getall``)."""
        return self.getall(key, [])

    def __repr__(self) -> str:
        return f"Headers({list(self.items())!r})"


class QueryParams(MultiDictProxy[str]):
    """Query parameters in their original order; ``str()`` gives them back.

    >>> params = QueryParams(b"q=1&tag=a&tag=b")
    >>> params["q"], params.getall("tag"), str(params)
    ('1', ['a', 'b'], 'q=1&tag=a&tag=b')
    """

    __slots__ = ()

    def __init__(self, query: bytes | str | Iterable[tuple[str, str]] = b"") -> None:
        if isinstance(query, bytes):  # as URL reads it: "é" raw and "%C3%A9" agree
            query = query.decode("utf-8", "replace")
        if isinstance(query, str):
            query = parse_qsl(query, keep_blank_values=True)
        super().__init__(MultiDict(query))

    def __iter__(self) -> Iterator[str]:
        return iter(self.keys())

    def keys(self) -> KeysView[str]:
        """Each distinct name once, in first-seen order."""
        return dict.fromkeys(name for name, _ in self.items()).keys()

    def __str__(self) -> str:
        return urlencode(list(self.items()))

    def __repr__(self) -> str:
        return f"QueryParams({str(self)!r})"


class State:
    """Attribute access over ``scope["state"]`` (shared with the server's lifespan)."""

    __slots__ = ("_state",)

    def __init__(self, state: dict[str, Any] | None = None) -> None:
        object.__setattr__(self, "_state", {} if state is None else state)

    def __getattr__(self, name: str) -> Any:
        try:
            return self._state[name]
        except KeyError:
            raise AttributeError(f"State has no attribute {name!r}") from None

    def __setattr__(self, name: str, value: Any) -> None:
        self._state[name] = value

    def __delattr__(self, name: str) -> None:
        try:
            del self._state[name]
        except KeyError:
            raise AttributeError(f"State has no attribute {name!r}") from None

    def __repr__(self) -> str:
        return f"State({self._state!r})"


def parse_cookies(header: str) -> dict[str, str]:
    """Parse a ``Cookie`` header the way browsers send it (RFC 6265 §5.4).

    Unlike ``http.cookies.SimpleCookie`` it keeps going past one malformed pair.
    """
    cookies: dict[str, str] = {}
    for chunk in header.split(";"):
        name, sep, value = chunk.partition("=")
        if not sep:
            name, value = "", name
        name, value = name.strip(), value.strip()
        if name or value:
            cookies[name] = unquote_cookie(value)
    return cookies
