"""The matrix's scenario list, run in-process against each ``lilya_ws.testing`` preset.

Each row of ``integration.scenarios`` (its one expectation, or the preset's
entry of an inherent row) is checked by the same function as on the real
servers (``integration.checks``, ``integration.inherent``), against
``integration.presets.serve_preset``: a ``websockets`` server on 127.0.0.1
whose connections are ``lilya_ws.testing.connect(..., dialect=preset)``.
The rows the bridge cannot reproduce are listed below with their reason.
"""

from __future__ import annotations

import asyncio
from collections.abc import Mapping
from typing import Final

import pytest

from integration.presets import serve_preset
from integration.results import Cell
from integration.runner import Row, row_name, run_cell
from integration.scenarios import INHERENT, SCENARIOS
from lilya_ws.servers import SERVERS
from lilya_ws.testing import DIALECTS

PRESETS: Final = tuple(SERVERS)
"""The seven configurations (``spec`` has no row in the tables)."""

_TLS: Final = "wss://: the bridge serves ws:// only (TLS is the server's, not a preset's)"
_BRIDGE: Final = "the bridge's protocol layer (websockets), not the preset, "
NOT_REPRODUCIBLE: Final[Mapping[str, str]] = {
    "connection-data-tls": _TLS,
    "tls-scheme": _TLS,
    "endpoint-http-and-lifespan": "starts a real server process and reads its log",
    "early-frames": "starts a real server process (the frames meet its HTTP parser)",
    "malformed-frames": _BRIDGE + "rejects invalid UTF-8 and unmasked frames",
    "message-size-limits": _BRIDGE + "enforces the inbound size limit",
    "close-reply-code": _BRIDGE + "answers the client's close frame (and when)",
    "send-backpressure": "the test client takes every send at once (its streams are "
    "unbounded): a preset's sends never wait",
    "lifespan-state": "the test client runs no lifespan: a preset's state starts empty",
    "handshake-timeout": "the test client waits for the app's answer as long as it takes: "
    "no preset has a server's handshake timeout",
    "work-after-leave": "the test client never cancels the app: no preset has daphne's "
    "application_close_timeout",
    "request-header-bytes": _BRIDGE + "parses the request (a control byte goes unanswered)",
    "subprotocol-offer": _BRIDGE + "parses the Sec-WebSocket-Protocol headers",
    "malformed-handshake": _BRIDGE + "answers a request RFC 6455 refuses",
    "request-head-limits": _BRIDGE + "parses the request head, with its own limits",
    "host-header": _BRIDGE + "answers 400 to a request without one Host header",
    "receive-backpressure": "the test client's streams are unbounded: a preset takes "
    "every message at once",
    "unread-at-close": "the test client takes every send at once (its streams are "
    "unbounded): nothing is left unread when a preset's app closes",
    "absolute-form-target": _BRIDGE + "parses the request target (it answers 400 to the "
    "absolute form)",
    "request-target": _BRIDGE + "parses the request target",
    "client-left-before-accept": _BRIDGE + "holds the client's handshake until the app "
    "answers it, and does not pass on a client that leaves meanwhile",
}
"""Rows run on every preset but these, whatever the preset."""

PRESET_GAPS: Final[Mapping[tuple[str, str], str]] = {
    ("daphne", "repeated-headers-joined"): "lilya_ws.servers records no fact for daphne's "
    "joining of repeated headers, so the preset passes them apart",
    ("daphne", "headers-servers-read"): "lilya_ws.servers records no fact for daphne's "
    "taking Daphne-Root-Path and header names with _ out of the headers",
}
"""(preset, row) pairs where the preset lacks the server's behaviour."""

ROWS: Final[tuple[Row, ...]] = (*SCENARIOS, *INHERENT)
ROW_TIMEOUT: Final = 120.0


def _cases() -> list[object]:
    cases: list[object] = []
    for preset in PRESETS:
        for row in ROWS:
            name = row_name(row)
            reason = NOT_REPRODUCIBLE.get(name) or PRESET_GAPS.get((preset, name))
            marks = [pytest.mark.skip(reason=reason)] if reason else []
            cases.append(pytest.param(preset, name, marks=marks, id=f"{preset}:{name}"))
    return cases


def test_presets_are_the_configurations() -> None:
    assert set(PRESETS) <= set(DIALECTS)


def test_every_listed_row_exists() -> None:
    names = {row_name(row) for row in ROWS}
    assert set(NOT_REPRODUCIBLE) <= names
    assert {name for _, name in PRESET_GAPS} <= names
    assert {preset for preset, _ in PRESET_GAPS} <= set(PRESETS)


async def _run(preset: str, row: Row) -> Cell:
    async with serve_preset(preset) as target:
        return await run_cell(target, row)


@pytest.mark.parametrize(("preset", "name"), _cases())
async def test_row_in_process(preset: str, name: str) -> None:
    row = next(row for row in ROWS if row_name(row) == name)
    cell = await asyncio.wait_for(_run(preset, row), ROW_TIMEOUT)
    assert cell.error is None, cell.error
    assert cell.observed == cell.expected
    assert cell.status == "as expected"
    leftover = [task for task in asyncio.all_tasks() if task is not asyncio.current_task()]
    assert leftover == []
