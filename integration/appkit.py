"""What every scenario app uses: the side channel to the client, and a call's outcome as data.

``/report/<token>`` hands the client what an app posted under its token,
``/signal/<token>`` wakes an app that waits for the client to leave, and
``/tally/<token>`` hands out outcomes many connections appended (the close race).
``capture`` runs one app-side call with a deadline and describes what it did as a
``protocol.CallOutcome``.
"""

from __future__ import annotations

import warnings
from collections.abc import Awaitable, Callable, Mapping
from typing import Final, TypeAlias, TypeVar

import anyio

from integration import protocol as p
from lilya_ws import ServerCapabilityWarning, WebSocket, WebSocketDisconnect

JSONObject: TypeAlias = Mapping[str, object]

_T = TypeVar("_T")
_MAX_PENDING: Final = 1024
"""Results and signals nobody collects are dropped, oldest first, past this many."""


class Mailbox:
    """Results and signals keyed by the client's token, each handed out once."""

    def __init__(self) -> None:
        self._values: dict[str, JSONObject] = {}
        self._events: dict[str, anyio.Event] = {}
        self.tallies: dict[str, list[str]] = {}

    def _event(self, key: str) -> anyio.Event:
        event = self._events.get(key)
        if event is None:
            while len(self._events) >= _MAX_PENDING:
                stale = next(iter(self._events))
                del self._events[stale]
                self._values.pop(stale, None)
            event = self._events[key] = anyio.Event()
        return event

    def post(self, key: str, value: JSONObject) -> None:
        self._values[key] = value
        self._event(key).set()

    def posted(self, key: str) -> bool:
        """Whether something was posted under ``key`` (without taking it)."""
        return self._event(key).is_set()

    async def take(self, key: str, within: float) -> JSONObject | None:
        """The value posted under ``key``, waiting at most ``within`` seconds for it."""
        with anyio.move_on_after(within):
            await self._event(key).wait()
        self._events.pop(key, None)
        return self._values.pop(key, None)

    def tally(self, key: str, outcome: str) -> None:
        while key not in self.tallies and len(self.tallies) >= _MAX_PENDING:
            del self.tallies[next(iter(self.tallies))]
        self.tallies.setdefault(key, []).append(outcome)


mailbox: Final = Mailbox()


def token_of(websocket: WebSocket) -> str:
    token = websocket.query_params.get("token", "")
    return token if valid_token(token) else ""


def valid_token(token: str) -> bool:
    return 0 < len(token) <= p.TOKEN_MAX_LENGTH and p.TOKEN_CHARS.issuperset(token)


def post(websocket: WebSocket, report: JSONObject) -> None:
    if token := token_of(websocket):
        mailbox.post("result:" + token, report)


def close_fields(websocket: WebSocket) -> p.CloseFields:
    """How ``websocket`` ended: its close code, the code's type and the reason."""
    code = websocket.close_code
    return {
        "close_code": code,
        "close_code_type": type(code).__name__,
        "close_reason": websocket.close_reason,
    }


def qualname(cls: type) -> str:
    module = cls.__module__
    return cls.__qualname__ if module == "builtins" else f"{module}.{cls.__qualname__}"


BUILTIN_ERRORS: Final = (RuntimeError, ValueError, TypeError, OSError, ConnectionError)


async def capture(
    call: Awaitable[_T], limit: float = p.HANG_LIMIT
) -> tuple[p.CallOutcome, Exception | None]:
    """Run one call with a deadline; describe what it did, and return its exception."""
    try:
        with anyio.fail_after(limit):
            await call
    except TimeoutError:
        return {"result": "hung"}, None
    except Exception as exc:
        return describe(exc), exc
    return {"result": "ok"}, None


def describe(exc: Exception) -> p.CallOutcome:
    outcome: p.CallOutcome = {
        "result": "raised",
        "error": qualname(type(exc)),
        "text": str(exc)[:200],
        "lilya_classes": [
            qualname(cls) for cls in type(exc).__mro__ if cls.__module__ == "lilya_ws.errors"
        ],
        "builtin_bases": [cls.__name__ for cls in BUILTIN_ERRORS if isinstance(exc, cls)],
        "cause": None if exc.__cause__ is None else qualname(type(exc.__cause__)),
    }
    if isinstance(exc, WebSocketDisconnect):
        outcome["code"] = exc.code
        outcome["code_type"] = type(exc.code).__name__
        outcome["reason"] = exc.reason
    return outcome


async def drain(websocket: WebSocket) -> None:
    """Wait, bounded, until the client closes (the client closes first: no close race)."""
    with anyio.move_on_after(p.CLIENT_WAIT):
        while (await websocket.receive())["type"] != "websocket.disconnect":
            pass


def caught_names(caught: list[warnings.WarningMessage]) -> list[str]:
    """lilya_ws's own warnings (servers may warn too, e.g. about deprecations)."""
    return [w.category.__name__ for w in caught if issubclass(w.category, ServerCapabilityWarning)]


async def report(websocket: WebSocket, token: str) -> None:
    """Send ``{"found": ..., "result": ...}`` once a result is stored under ``token``."""
    await websocket.accept()
    result = await mailbox.take("result:" + token, p.REPORT_WAIT)
    await websocket.send_json({"found": result is not None, "result": result})
    await drain(websocket)


async def signal(websocket: WebSocket, token: str) -> None:
    """Wake the app waiting on ``token``, then close."""
    mailbox.post("signal:" + token, {})
    await websocket.accept()
    await websocket.close()


async def tally(websocket: WebSocket, token: str) -> None:
    """Send (and forget) every outcome appended under ``token``."""
    await websocket.accept()
    await websocket.send_json(mailbox.tallies.pop(token, []))
    await drain(websocket)


SIDE_CHANNELS: Final[Mapping[str, Callable[[WebSocket, str], Awaitable[None]]]] = {
    "report": report,
    "signal": signal,
    "tally": tally,
}
