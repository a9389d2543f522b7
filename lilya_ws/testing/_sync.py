"""``connect`` for plain (sync) tests: the event loop runs in an anyio portal thread."""

from __future__ import annotations

from collections.abc import Iterable, Iterator, Mapping, Sequence
from contextlib import contextmanager
from typing import TYPE_CHECKING, Any, Literal

from anyio.from_thread import start_blocking_portal

from lilya_ws.testing._client import DEFAULT_TIMEOUT, TestApp, TestWebSocket, connect
from lilya_ws.testing._dialects import Dialect

if TYPE_CHECKING:
    from typing import TypeAlias

    from anyio.from_thread import BlockingPortal

Backend: TypeAlias = Literal["asyncio", "trio"]


class SyncTestWebSocket:
    """``TestWebSocket`` for plain (sync) tests: each call runs on the portal's loop."""

    __test__ = False

    def __init__(self, ws: TestWebSocket, portal: BlockingPortal) -> None:
        self._ws = ws
        self._portal = portal

    @property
    def subprotocol(self) -> str | None:
        return self._ws.subprotocol

    @property
    def accept_headers(self) -> list[tuple[bytes, bytes]]:
        return self._ws.accept_headers

    @property
    def close_code(self) -> int | None:
        return self._ws.close_code

    @property
    def close_reason(self) -> str | None:
        return self._ws.close_reason

    def send_text(self, data: str) -> None:
        self._portal.call(self._ws.send_text, data)

    def send_bytes(self, data: bytes) -> None:
        self._portal.call(self._ws.send_bytes, data)

    def send_json(self, value: Any, mode: Literal["text", "binary"] = "text") -> None:
        self._portal.call(self._ws.send_json, value, mode)

    def receive(self, timeout: float = DEFAULT_TIMEOUT) -> str | bytes:
        return self._portal.call(self._ws.receive, timeout)

    def receive_text(self, timeout: float = DEFAULT_TIMEOUT) -> str:
        return self._portal.call(self._ws.receive_text, timeout)

    def receive_bytes(self, timeout: float = DEFAULT_TIMEOUT) -> bytes:
        return self._portal.call(self._ws.receive_bytes, timeout)

    def receive_json(
        self, mode: Literal["text", "binary"] = "text", timeout: float = DEFAULT_TIMEOUT
    ) -> Any:
        return self._portal.call(self._ws.receive_json, mode, timeout)

    def close(self, code: int = 1000, reason: str = "") -> None:
        self._portal.call(self._ws.close, code, reason)

    def abort(self) -> None:
        self._portal.call(self._ws.abort)


@contextmanager
def connect_sync(
    app: TestApp,
    url: str = "/",
    *,
    headers: Mapping[str, str] | Iterable[tuple[str, str]] = (),
    subprotocols: Sequence[str] = (),
    dialect: str | Dialect = "spec",
    timeout: float = DEFAULT_TIMEOUT,
    backend: Backend = "asyncio",
) -> Iterator[SyncTestWebSocket]:
    """``connect`` for sync tests. The app runs on an event loop of ``backend``
    (``"asyncio"`` or ``"trio"``) in an anyio portal thread, which sleeps until
    the test calls; the test's own thread needs no loop (it may even have one)."""
    manager = connect(
        app, url, headers=headers, subprotocols=subprotocols, dialect=dialect, timeout=timeout
    )
    with start_blocking_portal(backend) as portal, portal.wrap_async_context_manager(manager) as ws:
        yield SyncTestWebSocket(ws, portal)
