"""What every check shares: the registry of checks by row, and outcomes normalised to JSON.

:func:`kind` turns what an app-side call did (``protocol.CallOutcome``) into one
word that is the same on every server for the same behaviour.
"""

from __future__ import annotations

from collections.abc import Awaitable, Callable
from typing import Final

from integration import protocol as p
from integration.client import Target
from integration.scenarios import Outcome

__all__ = ["CHECKS", "Check", "check", "kind", "leaked"]

Check = Callable[[Target], Awaitable[Outcome]]
CHECKS: dict[str, Check] = {}
"""Every check by the name of its row (a scenario's name or an inherent row's id)."""
_DISCONNECT: Final = "lilya_ws.errors.WebSocketDisconnect"


def check(name: str) -> Callable[[Check], Check]:
    def register(function: Check) -> Check:
        CHECKS[name] = function
        return function

    return register


def kind(outcome: p.CallOutcome, *, builtin: bool = False) -> str:
    """``"returned"``, ``"hung"``, or the class raised (lilya_ws's by name, others qualified);
    with ``builtin``, the builtin classes it also is, in parentheses.

    Any ``WebSocketDisconnect`` is ``"WebSocketDisconnect"``: whether lilya_ws raises its
    subclass ``ConnectionClosed`` (the app used the connection after the departure was
    known) depends on when the server reported the departure, not on the server.
    """
    if outcome["result"] != "raised":
        return "returned" if outcome["result"] == "ok" else outcome["result"]
    if _DISCONNECT in outcome.get("lilya_classes", []):
        return "WebSocketDisconnect"
    error = outcome.get("error", "?")
    name = error.rsplit(".", 1)[-1] if error.startswith("lilya_ws.") else error
    bases = outcome.get("builtin_bases", [])
    return f"{name} ({', '.join(bases)})" if builtin and bases else name


def leaked(text: str | bytes) -> bool:
    """Whether the apps' secret exception text reached the client."""
    if isinstance(text, bytes):
        return p.SECRET.encode() in text
    return p.SECRET in text
