"""Read-only views of the connection: URL, Headers, QueryParams, State, Address.

Headers and query parameters are built on ``multidict`` and behave the same
under multidict 6 and 7 (7 changed what iterating a multi-valued proxy yields;
these views pin one behaviour: each distinct name once, in first-seen order).
"""

from __future__ import annotations

from collections.abc import Iterable, Iterator, KeysView, Mapping
from http.cookies import _unquote as unquote_cookie
from typing import Any, NamedTuple, SupportsIndex, overload
from urllib.parse import SplitResult, parse_qsl, urlencode, urlsplit

from multidict import CIMultiDict, CIMultiDictProxy, MultiDict, MultiDictProxy

__all__ = ["URL", "Address", "Headers", "QueryParams", "State", "parse_cookies"]


class Address(NamedTuple):
    """A peer's ``(host, port)``."""

    host: str
    port: int


class URL(str):
    """A URL that is its own text, with its parts as attributes.

    >>> url = URL("ws://example.com:8000/chat?room=1")
    >>> url.port, url.path, url == "ws://example.com:8000/chat?room=1"
    (8000, '/chat', True)
    """

    __slots__ = ("_parts",)
    _parts: SplitResult

    @classmethod
    def from_scope(cls, scope: Mapping[str, Any]) -> URL:
        """Rebuild the URL the client asked for; ``ws`` when the scope has no scheme."""
        scheme = scope.get("scheme") or "ws"
        path = scope["path"]  # ASGI: path already includes root_path
        query = scope.get("query_string", b"")
        host = None
        for name, value in scope["headers"]:
            if name == b"host":
                host = value.decode("latin-1")
                break
        if host is None:
            server = scope.get("server")
            if server:
                server_host, port = server[0], server[1]
                default = 443 if scheme in ("wss", "https") else 80
                host = server_host if port in (None, default) else f"{server_host}:{port}"
            else:
                host = ""
        text = f"{scheme}://{host}{path}"
        if query:
            text += "?" + query.decode("latin-1")
        return cls(text)

    def _split(self) -> SplitResult:
        try:
            return self._parts
        except AttributeError:
            self._parts = urlsplit(str(self))
            return self._parts

    @property
    def scheme(self) -> str:
        return self._split().scheme

    @property
    def netloc(self) -> str:
        return self._split().netloc

    @property
    def path(self) -> str:
        return self._split().path

    @property
    def query(self) -> str:
        return self._split().query

    @property
    def fragment(self) -> str:
        return self._split().fragment

    @property
    def username(self) -> str | None:
        return self._split().username

    @property
    def password(self) -> str | None:
        return self._split().password

    @property
    def hostname(self) -> str | None:
        return self._split().hostname

    @property
    def port(self) -> int | None:
        return self._split().port

    @overload
    def replace(self, old: str, new: str, count: SupportsIndex = -1, /) -> str: ...

    @overload
    def replace(
        self,
        *,
        scheme: str | None = None,
        netloc: str | None = None,
        path: str | None = None,
        query: str | None = None,
        fragment: str | None = None,
    ) -> URL: ...

    def replace(
        self,
        *args: Any,
        scheme: str | None = None,
        netloc: str | None = None,
        path: str | None = None,
        query: str | None = None,
        fragment: str | None = None,
    ) -> str:
        """Return a new URL with the given parts replaced.

        With positional arguments it is ``str.replace``, so a URL stays a string.
        """
        if args:
            return str(self).replace(*args)
        parts = self._split()
        changes = {
            name: value
            for name, value in (
                ("scheme", scheme),
                ("netloc", netloc),
                ("path", path),
                ("query", query),
                ("fragment", fragment),
            )
            if value is not None
        }
        return URL(parts._replace(**changes).geturl())

    def __repr__(self) -> str:
        return f"URL({str(self)!r})"


class Headers(CIMultiDictProxy[str]):
    """Case-insensitive, order-preserving, duplicate-keeping request headers.

    ``raw`` is the scope's own list of byte pairs, never copied nor mutated.

    >>> headers = Headers([(b"accept", b"a"), (b"Accept", b"b")])
    >>> headers["ACCEPT"], headers.getall("accept")
    ('a', ['a', 'b'])
    """

    __slots__ = ("raw",)

    def __init__(self, raw: Iterable[tuple[bytes, bytes]] = ()) -> None:
        pairs = list(raw) if not isinstance(raw, list) else raw
        super().__init__(
            CIMultiDict(
                [(name.decode("latin-1"), value.decode("latin-1")) for name, value in pairs]
            )
        )
        self.raw: list[tuple[bytes, bytes]] = pairs

    def __iter__(self) -> Iterator[str]:
        return iter(self.keys())

    def keys(self) -> KeysView[str]:
        """Each distinct header name once (lowercase), in first-seen order."""
        return dict.fromkeys(name.lower() for name, _ in self.items()).keys()

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
        if isinstance(query, bytes):
            query = query.decode("latin-1")
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
