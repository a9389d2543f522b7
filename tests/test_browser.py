"""The browser's column group: its table, its report, and Chromium's start and stop.

The rows themselves run on every real server in ``tests/test_integration.py``
(``test_browser_row``); these tests need no ASGI server.
"""

from __future__ import annotations

import asyncio
import json
from collections.abc import Iterator
from pathlib import Path
from typing import TYPE_CHECKING

import pytest
from websockets.asyncio.server import ServerConnection, serve

from adapters import names
from adapters.process import group_alive
from integration.browser import (
    BrowserError,
    Chromium,
    DevTools,
    Page,
    PageServer,
    chromium_executable,
)
from integration.browser_checks import BROWSER_CHECKS
from integration.browser_scenarios import BROWSER_INHERENT, BROWSER_SCENARIOS
from integration.report import render_json, render_markdown, render_tables
from integration.results import BrowserGroup, Cell, Report, ServerRun
from integration.runner import select, select_browser
from integration.scenarios import EVIDENCE

if TYPE_CHECKING:
    from conftest import RequireServer

ROOT = Path(__file__).resolve().parent.parent


def test_every_browser_row_has_one_check_and_every_check_a_row() -> None:
    rows = [s["name"] for s in BROWSER_SCENARIOS] + [row["id"] for row in BROWSER_INHERENT]
    assert len(rows) == len(set(rows))
    assert set(rows) == set(BROWSER_CHECKS)


def test_browser_inherent_rows_have_one_value_per_server_and_their_evidence() -> None:
    evidence = (ROOT / EVIDENCE).read_text(encoding="utf-8")
    for row in BROWSER_INHERENT:
        assert set(row["expect"]) == set(names()), row["id"]
        values = {json.dumps(outcome, sort_keys=True) for outcome in row["expect"].values()}
        assert len(values) > 1, f"{row['id']}: the same on every server is a scenario"
        assert f"### {row['id']}\n" in evidence, f"{row['id']}: no evidence in {EVIDENCE}"
    ids = {row["id"] for row in BROWSER_INHERENT}
    for scenario in BROWSER_SCENARIOS:
        assert set(scenario["expect"]) == {"app", "client"}
        assert set(scenario.get("see", [])) <= ids, scenario["name"]


def test_a_name_selects_its_row_in_both_groups() -> None:
    assert [s["name"] for s in select(["echo-text"])[0]] == ["echo-text"]
    assert [s["name"] for s in select_browser(["echo-text"])[0]] == ["echo-text"]
    assert select_browser(["origin-refused"])[0][0]["name"] == "origin-refused"
    assert select(["origin-refused"]) == ((), ())  # a browser-only name is known
    with pytest.raises(KeyError):
        select(["no-such-row"])


def _report(status: str) -> Report:
    scenario = BROWSER_SCENARIOS[0]
    expected = scenario["expect"]
    observed = expected if status == "as expected" else {"app": None, "client": None}
    cell = Cell("daphne", scenario["name"], "as expected", expected, expected, None)
    if status != "as expected":
        cell = Cell("daphne", scenario["name"], "differs", expected, observed, None)
    run = ServerRun(
        "daphne", "4.2", "ws://127.0.0.1:1", None, "ran", None, (), browser_cells=(cell,)
    )
    group = BrowserGroup("chromium 1.2.3", "ran", None, (scenario,), ())
    return Report((), (), (run,), group)


def test_the_report_has_the_browser_column_group() -> None:
    report = _report("as expected")
    assert report.ok
    tables = render_tables(report)
    assert "**chromium 1.2.3: identical on every server: 1/1 scenarios;" in tables
    assert "| chromium 1.2.3 | daphne |" in tables
    assert "| echo-text | ✔ |" in tables
    assert "## Browser (chromium 1.2.3)" in render_markdown(report)
    data = json.loads(render_json(report))
    assert data["browser"]["browser"] == "chromium 1.2.3"
    assert data["browser"]["identical"] == ["echo-text"]
    assert [cell["row"] for cell in data["browser"]["cells"]] == ["echo-text"]


def test_a_browser_cell_that_differs_fails_the_run() -> None:
    report = _report("differs")
    assert not report.ok
    assert "✘ [1]" in render_tables(report)
    assert "- browser: daphne / echo-text: differs" in render_markdown(report)


def test_a_browser_that_did_not_start_fails_the_run() -> None:
    group = BrowserGroup("chromium", "start-failed", "no DevTools endpoint", (), ())
    report = Report((), (), (), group)
    assert not report.ok
    assert "chromium: start-failed: no DevTools endpoint" in render_tables(report)


# The CDP client against a stand-in endpoint (no browser).


async def _endpoint(ws: ServerConnection) -> None:
    """Answers two commands in reverse order (the second with an error), an event first."""
    first, second = json.loads(await ws.recv()), json.loads(await ws.recv())
    created = {"method": "Network.webSocketCreated", "params": {"url": "u"}, "sessionId": "s"}
    await ws.send(json.dumps(created))
    await ws.send(json.dumps({"id": second["id"], "error": {"code": -32601, "message": "nope"}}))
    await ws.send(json.dumps({"id": first["id"], "result": {"product": "Chrome/1.2.3"}}))
    await ws.wait_closed()


async def test_devtools_answers_by_id_and_keeps_events_for_later() -> None:
    async with serve(_endpoint, "127.0.0.1", 0) as server:
        port = next(iter(server.sockets)).getsockname()[1]
        async with DevTools.connect(f"ws://127.0.0.1:{port}") as devtools:
            first = asyncio.create_task(devtools.send("Browser.getVersion"))
            second = asyncio.create_task(devtools.send("No.such"))
            assert (await first)["product"] == "Chrome/1.2.3"
            with pytest.raises(BrowserError, match=r"No\.such: nope"):
                await second
            event = await devtools.wait_event(lambda e: e["method"] == "Network.webSocketCreated")
            assert event.get("sessionId") == "s"
            with pytest.raises(BrowserError, match="no such CDP event within"):
                await devtools.wait_event(lambda e: False, timeout=0.05)


# Chromium itself (skipped without it; under CI, a failure).


@pytest.fixture
def chromium(require_server: RequireServer) -> Iterator[Chromium]:
    missing = None if chromium_executable() else "not installed (apt-get install chromium)"
    require_server("chromium", missing)
    with Chromium() as browser:
        yield browser


def test_chromium_stops_with_every_helper_and_its_profile(chromium: Chromium) -> None:
    profile = chromium.profile
    assert profile is not None
    assert profile.is_dir()
    assert group_alive(chromium.pid)
    chromium.stop()
    assert not group_alive(chromium.pid)
    assert not profile.exists()


async def test_the_page_is_served_from_127_0_0_1(chromium: Chromium) -> None:
    with PageServer() as pages:
        async with (
            DevTools.connect(chromium.devtools_url) as devtools,
            Page.open(devtools, pages.url) as page,
        ):
            assert await page.evaluate("typeof wsSession", 5) == "function"
            assert await page.evaluate("location.origin", 5) == pages.origin
            assert pages.origin.startswith("http://127.0.0.1:")
