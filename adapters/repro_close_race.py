"""Minimal raw-ASGI reproduction of the close race (hypercorn's trio worker).

The app accepts, sends ``go`` and then, after a random pause of up to
``?jitter=`` seconds, ends the connection the way ``?rule=`` says; the client
answers ``go`` with a close frame (4001), so the two closes cross. Rules (what
an application may do at that moment):

- ``close``: send ``websocket.close``, let errors propagate (the trigger);
- ``catch``: the same, but catch every exception from that ``send``;
- ``receive-first``: ``receive()`` with a deadline of 0 s, and send
  ``websocket.close`` only if no ``websocket.disconnect`` was waiting;
- ``return``: return without closing (the server closes by itself);
- ``wait``: never close; wait for the client's close (``receive()``) and return;
- ``close-wait``, ``catch-wait``: as ``close`` and ``catch``, then ``receive()``
  until ``websocket.disconnect`` before returning.

::

    python -m adapters.repro_close_race hypercorn-trio --rule close --races 200

``--patched`` serves the same app under a hypercorn whose ``TCPServer._close``
takes the connection's ``send_lock`` around ``send_eof`` (the fix this shows).
The script prints how the app's ``send`` ended, how the client saw the close, whether the
server still answers a new connection, and the server's log lines that name an
exception.
"""

from __future__ import annotations

import argparse
import asyncio
import collections
import json
import os
import random
import sys
from collections.abc import Sequence
from typing import Any, Final
from unittest.mock import patch
from urllib.parse import parse_qs

import anyio
from websockets.asyncio.client import connect
from websockets.exceptions import ConnectionClosed, InvalidHandshake

from .probe_app import error_shape
from .raw_asgi import AnyReceive, AnySend, Scope, websocket_only
from .registry import get

RULES: Final = ("close", "catch", "receive-first", "return", "wait", "close-wait", "catch-wait")
STEP: Final = 3.0
_outcomes: collections.Counter[str] = collections.Counter()


async def race(scope: Scope, receive: AnyReceive, send: AnySend) -> None:
    """One side of the race; ``/stats`` reports the outcomes seen so far."""
    raw = scope.get("query_string")
    query = parse_qs(raw.decode() if isinstance(raw, bytes) else "")
    params = {key: values[0] for key, values in query.items()}
    await receive()  # websocket.connect
    await send({"type": "websocket.accept"})
    if scope.get("path") != "/race":  # /stats, and the adapters' readiness check
        await send({"type": "websocket.send", "text": json.dumps(_outcomes)})
        while (await receive())["type"] != "websocket.disconnect":
            pass
        return
    await send({"type": "websocket.send", "text": "go"})
    await anyio.sleep(random.uniform(0, float(params.get("jitter", "0.002"))))
    rule = params.get("rule", "close")
    if rule == "wait":
        await receive()
        _outcomes["app received the disconnect"] += 1
        return
    if rule == "return":
        _outcomes["app returned"] += 1
        return
    if rule == "receive-first":
        with anyio.move_on_after(0):
            if (await receive())["type"] == "websocket.disconnect":
                _outcomes["disconnect was waiting: no close"] += 1
                return
    try:
        await send({"type": "websocket.close", "code": 1000})
    except Exception as exc:
        shape = error_shape(exc)
        _outcomes[f"close raised {shape['type']}: {shape['text']}"] += 1
        if not rule.startswith("catch"):
            raise
    else:
        _outcomes["close returned"] += 1
    if rule.endswith("-wait"):
        while (await receive())["type"] != "websocket.disconnect":
            pass
        _outcomes["then received the disconnect"] += 1


app = websocket_only(race)
PATCH_VARIABLE: Final = "REPRO_CLOSE_RACE_PATCH_HYPERCORN"


def _patch_hypercorn() -> None:
    """Serialise hypercorn-trio's ``send_eof`` with its ``send_all`` (the missing lock)."""
    from hypercorn.trio.tcp_server import TCPServer

    unpatched = TCPServer._close

    async def _close(self: Any) -> None:
        async with self.send_lock:
            await unpatched(self)

    patch.object(TCPServer, "_close", _close).start()  # for the whole server process


if os.environ.get(PATCH_VARIABLE) == "1":
    _patch_hypercorn()


async def _one(url: str) -> str:
    """The client side: answer ``go`` with a close frame; how did the close end?"""
    try:
        async with connect(url, open_timeout=STEP, close_timeout=STEP, ping_interval=None) as ws:
            await asyncio.wait_for(ws.recv(), STEP)
            await ws.close(4001, "bye")
            return f"client closed; server's frame {ws.close_code}"
    except ConnectionClosed as exc:
        return f"server closed first {exc.rcvd.code if exc.rcvd else None}"
    except (OSError, TimeoutError, InvalidHandshake) as exc:
        return f"client error {type(exc).__name__}"


async def _stats(url: str) -> str:
    async with connect(url, open_timeout=STEP, close_timeout=STEP) as ws:
        return str(await asyncio.wait_for(ws.recv(), STEP))


def main(argv: Sequence[str] | None = None) -> int:
    parser = argparse.ArgumentParser(description=__doc__.split("\n")[0])
    parser.add_argument("names", nargs="+", help="configurations, e.g. hypercorn-trio")
    parser.add_argument("--rule", choices=RULES, default="close")
    parser.add_argument("--races", type=int, default=200)
    parser.add_argument("--patched", action="store_true", help="hypercorn with the lock fix")
    parser.add_argument("--jitter", type=float, default=0.002, help="app's pause, seconds")
    args = parser.parse_args(argv)
    if args.patched:
        os.environ[PATCH_VARIABLE] = "1"
    for name in args.names:
        with get(name).start(f"{__package__}.repro_close_race:app") as server:
            url = f"{server.ws_url}/race?rule={args.rule}&jitter={args.jitter}"
            seen = [asyncio.run(_one(url)) for _ in range(args.races)]
            client = collections.Counter(seen)
            failed = next((i for i, one in enumerate(seen) if one.startswith("client error")), None)
            alive = server.poll() is None
            try:
                app_side = asyncio.run(_stats(f"{server.ws_url}/stats"))
            except (OSError, TimeoutError, InvalidHandshake) as exc:
                alive, app_side = False, f"no answer: {type(exc).__name__}"
            errors = collections.Counter(
                line.strip() for line in server.log().splitlines() if "Error" in line
            )
        patched = " (patched)" if args.patched else ""
        print(f"{name}{patched} rule={args.rule} races={args.races} jitter={args.jitter}")
        print(f"  client: {dict(client)}")
        print(f"  app:    {app_side}")
        print(f"  server still serves: {alive}; first failed connection: race {failed}")
        for line, count in errors.most_common(6):
            print(f"  log x{count}: {line[:160]}")
    return 0


if __name__ == "__main__":
    sys.exit(main())
