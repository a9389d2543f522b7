"""The browser's checks: the rows of ``integration.browser_scenarios`` run from Chromium.

Each opens WebSockets from the page (``browser_page.html``'s ``wsSession``) to the
same scenario apps the Python client drives (``integration.apps``), and returns
what the application and the page observed, normalised like the matrix's checks:
no ports, no tokens, no timings. The app's side comes over the apps' side channel
(``/report/<token>``, fetched by the Python client); the status of a refused
handshake, which the page cannot read, comes from CDP's Network domain.
"""

from __future__ import annotations

import json
from collections.abc import Awaitable, Callable, Mapping, Sequence
from typing import Final, TypedDict, cast
from urllib.parse import quote

from integration import protocol as p
from integration.browser import BrowserError, Page
from integration.client import Target, new_token, report
from integration.outcomes import kind
from integration.scenarios import JSON, Outcome

__all__ = ["BROWSER_CHECKS", "SESSION_TIMEOUT", "BrowserCheck", "browser_check"]

SESSION_TIMEOUT: Final = 10.0
"""The page gives up on a WebSocket after this many seconds (CDP waits a little longer)."""
CLOSES: Final = 50
"""How many closes ``app-close-was-clean`` watches: under granian a race decides each
close (from none to one in six not clean, by load), so one close could be unclean by
chance; fifty all unclean would not be chance."""
CLOSES_TIMEOUT: Final = 60.0
ELSEWHERE: Final = "http://elsewhere.example"
"""An origin no page of this run has: the one the origin check's refused handshake allows."""

BrowserCheck = Callable[[Target, Page], Awaitable[Outcome]]
BROWSER_CHECKS: dict[str, BrowserCheck] = {}
"""Every browser check by the name of its row."""


def browser_check(name: str) -> Callable[[BrowserCheck], BrowserCheck]:
    def register(function: BrowserCheck) -> BrowserCheck:
        BROWSER_CHECKS[name] = function
        return function

    return register


class Message(TypedDict, total=False):
    """A message as the page sends or received it: ``text``, or ``binary`` as hex."""

    text: str
    binary: str


class CloseEvent(TypedDict):
    code: int
    reason: str
    wasClean: bool


class Session(TypedDict):
    """What ``wsSession`` resolves with: the page's view of one WebSocket."""

    events: list[str]
    protocol: str | None
    received: list[Message]
    close: CloseEvent | None
    timedOut: bool


class Seen(TypedDict):
    """One WebSocket as the checks report it: the page's events, and the handshake's
    outcome as the Network domain saw it."""

    session: Session
    handshake: str


async def open_session(
    page: Page,
    target: Target,
    path: str,
    *,
    protocols: Sequence[str] = (),
    send: Sequence[Message] = (),
    expect: int = 0,
    close: bool = True,
) -> Seen:
    """Open ``path`` (which carries a ``token=``, unique to this session) from the page."""
    url = target.url + path
    options = {
        "protocols": list(protocols),
        "send": list(send),
        "expect": expect,
        "close": close,
        "timeoutMs": SESSION_TIMEOUT * 1000,
    }
    expression = f"wsSession({json.dumps(url)}, {json.dumps(options)})"
    session = cast(Session, await page.evaluate(expression, SESSION_TIMEOUT + 5))
    if session["timedOut"]:
        route = path.partition("?")[0]  # no token: the report stays the same across runs
        raise BrowserError(f"{route}: the page saw {session['events']} within {SESSION_TIMEOUT:g}s")
    return {"session": session, "handshake": await page.handshake(url)}


def _token_path(path: str) -> tuple[str, str]:
    token = new_token()
    return token, f"{path}{'&' if '?' in path else '?'}token={token}"


def _shown(message: Message) -> str:
    """Text as is, binary as ``binary: <hex>``."""
    if "text" in message:
        return message["text"]
    return "binary: " + message.get("binary", "")


def _closed(session: Session) -> JSON:
    """The close event's code, reason and ``wasClean``; None if there was none."""
    close = session["close"]
    return None if close is None else [close["code"], close["reason"], close["wasClean"]]


def _refused(seen: Seen) -> JSON:
    """What a page and the Network domain see of a refused handshake."""
    return {"events": seen["session"]["events"], "handshake": seen["handshake"]}


async def _echo(target: Target, page: Page, path: str, messages: list[Message]) -> Outcome:
    token, full = _token_path(path)
    seen = await open_session(page, target, full, send=messages, expect=len(messages))
    app = cast(p.IterReport, await report(target, token))
    session = seen["session"]
    return {
        "app": {"received": app["received"], "ended": kind(app["error"])},
        "client": {
            "received": [_shown(m) for m in session["received"]],
            "close": _closed(session),
        },
    }


@browser_check("echo-text")
async def echo_text(target: Target, page: Page) -> Outcome:
    return await _echo(target, page, "/iter?kind=text", [{"text": "hello"}, {"text": "wörld ✓"}])


@browser_check("echo-bytes")
async def echo_bytes(target: Target, page: Page) -> Outcome:
    messages: list[Message] = [{"binary": "0001ff"}, {"binary": "6279746573"}]
    return await _echo(target, page, "/iter?kind=bytes", messages)


@browser_check("echo-json")
async def echo_json(target: Target, page: Page) -> Outcome:
    app: dict[str, JSON] = {}
    client: dict[str, JSON] = {}
    payload = '{"message": "hi", "n": [1, 2]}'
    for mode, message in (
        ("text", Message(text=payload)),
        ("binary", Message(binary=payload.encode().hex())),
    ):
        token, path = _token_path(f"/echo-json?mode={mode}")
        seen = await open_session(page, target, path, send=[message], expect=1)
        received = seen["session"]["received"]
        echoed = [
            _shown(m) if "text" in m else "binary: " + bytes.fromhex(m["binary"]).decode()
            for m in received
        ]
        seen_by_app = cast(p.EchoJSONReport, await report(target, token))
        app[f"mode={mode}"] = cast(JSON, seen_by_app["received"])
        client[f"mode={mode}"] = echoed
    return {"app": app, "client": client}


@browser_check("subprotocol")
async def subprotocol(target: Target, page: Page) -> Outcome:
    _, path = _token_path("/subprotocol")
    seen = await open_session(page, target, path, protocols=p.SUBPROTOCOLS_OFFERED, expect=1)
    session = seen["session"]
    if not session["received"]:
        return {"app": None, "client": _refused(seen)}
    app = cast(p.SubprotocolReport, json.loads(_shown(session["received"][0])))
    return {
        "app": {"offered": app["offered"], "accept(unoffered)": kind(app["refused"], builtin=True)},
        "client": {"protocol": session["protocol"], "close": _closed(session)},
    }


@browser_check("no-subprotocol-chosen")
async def no_subprotocol_chosen(target: Target, page: Page) -> Outcome:
    """The app accepts without choosing from the page's offer: Chromium fails the handshake."""
    _, path = _token_path("/echo")
    seen = await open_session(page, target, path, protocols=[p.SUBPROTOCOL_CHOSEN])
    client = {**cast(Mapping[str, JSON], _refused(seen)), "close": _closed(seen["session"])}
    return {"app": None, "client": client}


async def _closed_by_app(target: Target, page: Page) -> tuple[Seen, p.CloseReport]:
    token, path = _token_path("/close-with-reason")
    seen = await open_session(page, target, path, close=False)
    return seen, cast(p.CloseReport, await report(target, token))


@browser_check("close-code-reason")
async def close_code_reason(target: Target, page: Page) -> Outcome:
    seen, _ = await _closed_by_app(target, page)
    close = seen["session"]["close"]
    code = None if close is None else close["code"]
    return {"app": None, "client": {"events": seen["session"]["events"], "code": code}}


@browser_check("close-reason-dropped")
async def close_reason_dropped(target: Target, page: Page) -> Outcome:
    seen, app = await _closed_by_app(target, page)
    close = seen["session"]["close"]
    return {
        "app": {"warnings": list(app["warnings"])},
        "client": {"reason": None if close is None else close["reason"]},
    }


@browser_check("app-close-was-clean")
async def app_close_was_clean(target: Target, page: Page) -> Outcome:
    """Whether the page ever calls the app's close clean, over :data:`CLOSES` of them (a
    race decides each one on granian: how many are clean is not one fact)."""
    url = json.dumps(target.url + "/close-with-reason")
    seen = await page.evaluate(f"wsCloses({url}, {CLOSES})", CLOSES_TIMEOUT)
    clean = cast(list[bool | None], seen)
    verdict: JSON = "not every time a close event" if None in clean else True in clean
    return {"app": None, "client": {f"wasClean in any of {CLOSES} closes": verdict}}


@browser_check("close-before-accept")
async def close_before_accept(target: Target, page: Page) -> Outcome:
    token, path = _token_path("/close-before-accept")
    seen = await open_session(page, target, path)
    app = cast(p.BeforeAcceptReport, await report(target, token))
    client = {**cast(Mapping[str, JSON], _refused(seen)), "close": _closed(seen["session"])}
    return {"app": {"close()": kind(app["close"])}, "client": client}


@browser_check("origin-refused")
async def origin_refused(target: Target, page: Page) -> Outcome:
    """The page's own origin allowed, another's refused: what the app and the page saw."""
    app: dict[str, JSON] = {}
    client: dict[str, JSON] = {}
    page_origin = str(await page.evaluate("location.origin", SESSION_TIMEOUT))
    for case, allow in (("page's origin allowed", page_origin), ("another allowed", ELSEWHERE)):
        token, path = _token_path(f"/origin?allow={quote(allow, safe='')}")
        seen = await open_session(page, target, path, expect=1)
        outcome = cast(Mapping[str, p.CallOutcome], await report(target, token))
        app[case] = kind(outcome["enforce_origin"], builtin=True)
        if seen["handshake"] == "HTTP 101":
            received = [_shown(m) for m in seen["session"]["received"]]
            client[case] = {
                "events": seen["session"]["events"],
                "handshake": seen["handshake"],
                "the app saw the page's Origin": received == [page_origin],
            }
        else:
            client[case] = _refused(seen)
    return {"app": app, "client": client}


@browser_check("no-denial-response")
async def no_denial_response(target: Target, page: Page) -> Outcome:
    token, path = _token_path("/deny?kind=plain")
    seen = await open_session(page, target, path)
    app = cast(p.DenialReport, await report(target, token))
    return {"app": {"send_denial_response()": app["error"] or "sent"}, "client": _refused(seen)}
