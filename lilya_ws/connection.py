"""What a WebSocket connection says about itself: a read-only view of its scope.

The scope's data, typed and normalised across servers (addresses, URL, headers,
query, cookies, state, subprotocols, the server's capabilities), apart from the
operations of ``websockets.py``, as Starlette's ``HTTPConnection`` is apart from
its ``WebSocket``.
"""

from __future__ import annotations

from collections.abc import Iterable, Iterator, Mapping
from typing import Any, Literal, overload

from lilya_ws.capabilities import Capabilities
from lilya_ws.datastructures import (
    URL,
    Address,
    Headers,
    QueryParams,
    State,
    parse_cookies,
    request_target,
)

__all__ = ["Connection"]


class Connection(Mapping[str, Any]):
    """A connection's scope, readable as a mapping, with typed views built on first use."""

    __slots__ = ("_capabilities", "_cookies", "_headers", "_query_params", "_url", "scope")

    scope: Mapping[str, Any]
    # Built on first use, so a connection pays only for what it reads.
    _capabilities: Capabilities
    _url: URL
    _headers: Headers
    _query_params: QueryParams
    _cookies: dict[str, str]

    # The scope, read-only.

    @overload
    def __getitem__(
        self, key: Literal["type", "path", "scheme", "root_path", "http_version"]
    ) -> str: ...

    @overload
    def __getitem__(self, key: Literal["query_string", "raw_path"]) -> bytes: ...

    @overload
    def __getitem__(self, key: Literal["headers"]) -> Iterable[tuple[bytes, bytes]]: ...

    @overload
    def __getitem__(self, key: Literal["subprotocols"]) -> Iterable[str]: ...

    @overload
    def __getitem__(self, key: str) -> Any: ...

    def __getitem__(self, key: str) -> Any:
        """``websocket["path"]`` is ``scope["path"]``; well-known keys are typed."""
        return self.scope[key]

    def __iter__(self) -> Iterator[str]:
        return iter(self.scope)

    def __len__(self) -> int:
        return len(self.scope)

    __eq__ = object.__eq__
    __hash__ = object.__hash__

    @property
    def capabilities(self) -> Capabilities:
        """What the server declares it supports (spec version, extensions)."""
        try:
            return self._capabilities
        except AttributeError:  # built on first use (an unset slot)
            self._capabilities = Capabilities.from_scope(self.scope)
            return self._capabilities

    @property
    def spec_version(self) -> tuple[int, int]:
        """The ASGI spec version the server declares; ``(2, 0)`` when it says nothing."""
        return self.capabilities.spec_version

    @property
    def extensions(self) -> Mapping[str, Mapping[object, object]]:
        return self.scope.get("extensions") or {}

    @property
    def url(self) -> URL:
        try:
            return self._url
        except AttributeError:  # built on first use (an unset slot)
            self._url = URL.from_scope(self.scope)
            return self._url

    @property
    def headers(self) -> Headers:
        try:
            return self._headers
        except AttributeError:  # built on first use (an unset slot)
            self._headers = Headers(self.scope["headers"])
            return self._headers

    @property
    def query_params(self) -> QueryParams:
        try:
            return self._query_params
        except AttributeError:  # built on first use (an unset slot)
            self._query_params = QueryParams(request_target(self.scope)[1])
            return self._query_params

    @property
    def path_params(self) -> dict[str, Any]:
        params: dict[str, Any] = self.scope.get("path_params", {})
        return params

    @property
    def cookies(self) -> dict[str, str]:
        """The cookies of every ``Cookie`` header, joined as RFC 9113 §8.2.3 joins the ones
        an HTTP/2 hop split (six servers pass each on; daphne joins them with a comma, which
        no cookie may hold, so the second arrives inside the first's last value)."""
        try:
            return self._cookies
        except AttributeError:  # built on first use (an unset slot)
            self._cookies = parse_cookies("; ".join(self.headers.getall("cookie", [])))
            return self._cookies

    @property
    def client(self) -> Address | None:
        client = self.scope.get("client")
        # daphne gives a list, granian the port as a str (adapters/DIALECTS.md §1).
        return None if client is None else Address(str(client[0]), int(client[1]))

    @property
    def state(self) -> State:
        """Attribute access over ``scope["state"]``, created when the server sent none."""
        state = self.scope.get("state")
        if state is None:
            if not hasattr(self.scope, "__setitem__"):
                return State()
            state = self.scope["state"] = {}
        return State(state)

    @property
    def subprotocols(self) -> list[str]:
        """The subprotocols the client offered, in its order of preference.

        Empty items (``a,,b``, a lone ``,``) are not offered subprotocols (RFC 9110
        section 5.6.1 has a list's recipient ignore them): granian drops them, the
        other servers keep ``""``, and this list never has one."""
        return [offered for offered in self.scope.get("subprotocols") or () if offered]
