"""Run the matrix: start each server (``ws://`` and ``wss://``), run every row's check, compare.

Data flows one way: row (``integration.scenarios``) → adapter → server → app →
client check → :class:`Cell`. A cell holds the observation made on the real
server in this run and the row's expectation (the scenario's one outcome, or
this server's entry of an inherent row); it is as expected only when the two
are equal. The browser's rows (``integration.browser_scenarios``) run the same
way from one headless Chromium started for the whole run, on each server while
it serves the matrix: their own column group (:class:`BrowserGroup`).
"""

from __future__ import annotations

import asyncio
import contextlib
import json
import socket
import tempfile
import time
from collections.abc import Awaitable, Callable, Iterable, Sequence
from dataclasses import dataclass
from pathlib import Path
from typing import Final

from websockets.exceptions import WebSocketException

import integration.checks
import integration.inherent  # noqa: F401  # importing the checks registers them
from adapters import ServerAdapter, ServerStartError, get, names
from adapters.process import RunningServer, TLSFiles
from integration import protocol as p
from integration.browser import (
    BrowserError,
    Chromium,
    DevTools,
    Page,
    PageServer,
    chromium_executable,
)
from integration.browser_checks import BROWSER_CHECKS, BrowserCheck
from integration.browser_scenarios import BROWSER_INHERENT, BROWSER_SCENARIOS
from integration.client import REPO_ROOT, CheckFailed, NotRunnable, Target, open_ws
from integration.outcomes import CHECKS
from integration.results import BrowserGroup, Cell, Report, ServerRun, Status
from integration.scenarios import INHERENT, JSON, SCENARIOS, Inherent, Outcome, Scenario

__all__ = [
    "APP",
    "Browser",
    "Servers",
    "execution_order",
    "make_tls",
    "run_browser_rows",
    "run_cell",
    "run_local",
    "run_target",
]

APP: Final = p.SCENARIO_APP
CHECK_TIMEOUT: Final = 90.0
"""No cell takes longer than this (the close race and the 16 MiB messages are the longest)."""
READY_TIMEOUT: Final = 30.0

Row = Scenario | Inherent
Progress = Callable[[str], None]
Check = Callable[[Target], Awaitable[Outcome]]


def _plain(value: object) -> JSON:
    """``value`` as JSON would bring it back (tuples become lists)."""
    result: JSON = json.loads(json.dumps(value))
    return result


async def run_cell(target: Target, row: Row, check: Check | None = None) -> Cell:
    """Run ``row``'s check (or ``check``) against ``target``, bounded by :data:`CHECK_TIMEOUT`."""
    name = row_name(row)
    expected = _expectation(row, target.name)
    observed: Outcome | None = None
    error: str | None = None
    status: Status = "failed"
    try:
        outcome = await asyncio.wait_for((check or CHECKS[name])(target), CHECK_TIMEOUT)
        observed = {"app": _plain(outcome["app"]), "client": _plain(outcome["client"])}
        status = "as expected" if observed == expected else "differs"
    except NotRunnable as exc:
        status, error = "not run", str(exc)
    except asyncio.TimeoutError:
        error = f"no outcome within {CHECK_TIMEOUT:g}s"
    except (CheckFailed, BrowserError) as exc:
        error = str(exc)
    except Exception as exc:  # a crashed check is a failed cell, never a crashed run
        error = f"{type(exc).__name__}: {exc}"
    return Cell(target.name, name, status, expected, observed, error)


def row_name(row: Row) -> str:
    """A scenario's name or an inherent row's id."""
    return row["name"] if "name" in row else row["id"]


def _expectation(row: Row, server: str) -> Outcome | None:
    expected = row["expect"] if "name" in row else row["expect"].get(server)
    if expected is None:
        return None
    return {"app": _plain(expected["app"]), "client": _plain(expected["client"])}


def select(selected: Iterable[str] | None) -> tuple[tuple[Scenario, ...], tuple[Inherent, ...]]:
    """The named rows (scenario names, inherent ids) in report order, or all of them."""
    if selected is None:
        return SCENARIOS, INHERENT
    wanted = set(selected)
    rows: list[Row] = [*SCENARIOS, *INHERENT, *BROWSER_SCENARIOS, *BROWSER_INHERENT]
    unknown = wanted - {row_name(row) for row in rows}
    if unknown:
        raise KeyError(f"unknown scenarios: {', '.join(sorted(unknown))}")
    return (
        tuple(s for s in SCENARIOS if s["name"] in wanted),
        tuple(row for row in INHERENT if row["id"] in wanted),
    )


def select_browser(
    selected: Iterable[str] | None,
) -> tuple[tuple[Scenario, ...], tuple[Inherent, ...]]:
    """The named browser rows in report order, or all of them (names as for :func:`select`,
    which checks them)."""
    if selected is None:
        return BROWSER_SCENARIOS, BROWSER_INHERENT
    wanted = set(selected)
    return (
        tuple(s for s in BROWSER_SCENARIOS if s["name"] in wanted),
        tuple(row for row in BROWSER_INHERENT if row["id"] in wanted),
    )


async def _run_rows(target: Target, rows: Sequence[Row]) -> tuple[Cell, ...]:
    """One row after the other (the apps' side channel assumes it)."""
    return tuple([await run_cell(target, row) for row in rows])


def execution_order(scenarios: Sequence[Scenario], inherent: Sequence[Inherent]) -> list[Row]:
    """The order the rows run in: the report's, with the rows that stress the server last."""
    rows: list[Row] = [*scenarios, *inherent]
    return sorted(rows, key=lambda row: "name" in row and row.get("runs_last", False))


def _quiet(message: str) -> None:
    pass


@dataclass(frozen=True)
class Browser:
    """The run's Chromium (its DevTools endpoint) and the page its checks run in."""

    devtools_url: str
    page_url: str


async def run_browser_rows(
    browser: Browser, target: Target, rows: Sequence[Row]
) -> tuple[Cell, ...]:
    """The browser's rows against ``target``, one after the other, in one new tab; every
    row failed, with the reason, when the tab cannot be had."""
    try:
        async with (
            DevTools.connect(browser.devtools_url) as devtools,
            Page.open(devtools, browser.page_url) as page,
        ):
            return tuple(
                [
                    await run_cell(target, row, _in_page(BROWSER_CHECKS[row_name(row)], page))
                    for row in rows
                ]
            )
    except (BrowserError, OSError, WebSocketException) as exc:
        error = f"no browser tab: {type(exc).__name__}: {exc}"
        return tuple(
            Cell(target.name, row_name(row), "failed", _expectation(row, target.name), None, error)
            for row in rows
        )


def _in_page(check: BrowserCheck, page: Page) -> Check:
    async def run(target: Target) -> Outcome:
        return await check(target, page)

    return run


async def _browser_version(devtools_url: str) -> str:
    """``chromium <version>`` as the browser itself reports it."""
    async with DevTools.connect(devtools_url) as devtools:
        product = str((await devtools.send("Browser.getVersion"))["product"])
    return "chromium " + product.rpartition("/")[2]


def _start_browser(
    stack: contextlib.ExitStack, rows: tuple[tuple[Scenario, ...], tuple[Inherent, ...]]
) -> tuple[BrowserGroup, Browser | None]:
    """Chromium and the page server for the whole run (stopped with ``stack``), or why not."""
    scenarios, inherent = rows
    if chromium_executable() is None:
        error = "chromium is not installed (apt-get install chromium): the browser rows not run"
        return BrowserGroup("chromium", "unavailable", error, scenarios, inherent), None
    try:
        chromium = stack.enter_context(Chromium())
        pages = stack.enter_context(PageServer())
        version = asyncio.run(_browser_version(chromium.devtools_url))
    except (BrowserError, OSError, WebSocketException) as exc:
        error = f"{type(exc).__name__}: {exc}"
        return BrowserGroup("chromium", "start-failed", error, scenarios, inherent), None
    group = BrowserGroup(version, "ran", None, scenarios, inherent)
    return group, Browser(chromium.devtools_url, pages.url)


def run_local(
    servers: Iterable[str] | None = None,
    selected: Iterable[str] | None = None,
    progress: Progress = _quiet,
    *,
    browser: bool = True,
) -> Report:
    """Start each configuration in turn on 127.0.0.1 (and over TLS when a row needs it);
    with ``browser``, one Chromium for the run drives the browser rows on each."""
    scenarios, inherent = select(selected)
    rows = execution_order(scenarios, inherent)
    browser_rows = select_browser(selected)
    with contextlib.ExitStack() as stack:
        tls = None
        if any(row["transport"] == "wss" for row in rows):
            tls = make_tls(Path(stack.enter_context(tempfile.TemporaryDirectory())))
            if tls is None:
                progress("trustme is not installed: the wss:// rows are not run")
        group, chromium = None, None
        if browser and any(browser_rows):
            group, chromium = _start_browser(stack, browser_rows)
            progress(
                f"browser: {group.browser}: {group.status}"
                + (f": {group.error}" if group.error else "")
            )
        in_browser: list[Row] = []
        if chromium is not None:
            in_browser = [*browser_rows[0], *browser_rows[1]]
        runs = []
        for name in servers or names():
            run = _run_adapter(get(name), rows, tls, chromium, in_browser)
            progress(_progress_line(run))
            runs.append(run)
    return Report(scenarios, inherent, tuple(runs), group)


def make_tls(directory: Path) -> TLSFiles | None:
    """A CA and a certificate for 127.0.0.1 and localhost, made now (``trustme``, of the
    dev extra); None without ``trustme``: the ``wss://`` rows are then not run."""
    try:
        import trustme
    except ImportError:
        return None

    ca = trustme.CA()
    cert = ca.issue_cert("127.0.0.1", "localhost")
    files = TLSFiles(directory / "cert.pem", directory / "key.pem", directory / "ca.pem")
    cert.cert_chain_pems[0].write_to_path(str(files.certfile))
    cert.private_key_pem.write_to_path(str(files.keyfile))
    ca.cert_pem.write_to_path(str(files.cafile))
    return files


def _progress_line(run: ServerRun) -> str:
    if run.status != "ran":
        return f"{run.name}: {run.status}: {(run.error or '').splitlines()[0] if run.error else ''}"
    counts: dict[Status, int] = {}
    for cell in run.cells:
        counts[cell.status] = counts.get(cell.status, 0) + 1
    summary = ", ".join(f"{count} {status}" for status, count in counts.items())
    if run.browser_cells:
        in_browser = sum(cell.status == "as expected" for cell in run.browser_cells)
        summary += f"; browser {in_browser}/{len(run.browser_cells)} as expected"
    if run.restarts:
        summary += f"; restarted after {', '.join(run.restarts)}"
    return f"{run.name}: {summary} ({run.seconds:.0f} s)"


def _run_adapter(
    adapter: ServerAdapter,
    rows: Sequence[Row],
    tls: TLSFiles | None,
    browser: Browser | None = None,
    browser_rows: Sequence[Row] = (),
) -> ServerRun:
    version = adapter.version()
    started = time.monotonic()
    if (reason := adapter.unavailable_reason()) is not None:
        return ServerRun(adapter.name, version, None, None, "unavailable", reason, ())
    cells: list[Cell] = []
    restarts: list[str] = []
    with contextlib.ExitStack() as stack:
        try:
            servers = stack.enter_context(Servers(adapter, tls))
        except ServerStartError as exc:
            return ServerRun(adapter.name, version, None, None, "start-failed", str(exc), ())
        browser_cells: tuple[Cell, ...] = ()
        if browser is not None and browser_rows:
            # Before the matrix's rows: those that stress the server run last.
            browser_cells = asyncio.run(run_browser_rows(browser, servers.target(), browser_rows))
        for row in rows:
            cell = asyncio.run(run_cell(servers.target(), row))
            cells.append(cell)
            if cell.status != "as expected" and not servers.serving():
                # The row took the server down (its cell says so); the rows after it
                # get a fresh one, so that they are still observed.
                restarts.append(cell.row)
                servers.restart()
        url, tls_url = servers.urls
    seconds = round(time.monotonic() - started, 1)
    return ServerRun(
        adapter.name,
        version,
        url,
        tls_url,
        "ran",
        None,
        tuple(cells),
        seconds,
        tuple(restarts),
        browser_cells,
    )


class Servers:
    """One configuration serving the app over ``ws://`` (and ``wss://`` with ``tls``)."""

    def __init__(self, adapter: ServerAdapter, tls: TLSFiles | None) -> None:
        self._adapter = adapter
        self._tls = tls
        self._running: list[RunningServer] = []

    def __enter__(self) -> Servers:
        self.restart()
        return self

    def __exit__(self, *exc_info: object) -> None:
        for server in self._running:
            server.stop()

    @property
    def running(self) -> tuple[RunningServer, ...]:
        return tuple(self._running)

    def restart(self) -> None:
        for server in self._running:
            server.stop()
        self._running = []
        self._running.append(self._adapter.start(APP, cwd=REPO_ROOT))
        if self._tls is not None:
            self._running.append(self._adapter.start(APP, cwd=REPO_ROOT, tls=self._tls))

    @property
    def urls(self) -> tuple[str, str | None]:
        secure = self._running[1].ws_url if len(self._running) > 1 else None
        return self._running[0].ws_url, secure

    def target(self) -> Target:
        url, tls_url = self.urls
        cafile = None if self._tls is None else self._tls.cafile
        return Target(self._adapter.name, url, tls_url, cafile, local=True)

    def serving(self) -> bool:
        """Every process still runs and accepts a TCP connection."""
        for server in self._running:
            if server.poll() is not None:
                return False
            try:
                socket.create_connection((server.host, server.port), timeout=1.0).close()
            except OSError:
                return False
        return True


def run_target(
    targets: Sequence[tuple[str, str]],
    selected: Iterable[str] | None = None,
    ready_timeout: float = READY_TIMEOUT,
    cafile: Path | None = None,
    progress: Progress = _quiet,
) -> Report:
    """Run the rows against running servers, given as (configuration, URL); a configuration
    given twice, with a ``ws://`` and a ``wss://`` URL, runs the TLS rows too."""
    scenarios, inherent = select(selected)
    rows = execution_order(scenarios, inherent)
    urls: dict[str, dict[str, str]] = {}
    for name, url in targets:
        urls.setdefault(name, {})["wss" if url.startswith("wss://") else "ws"] = url.rstrip("/")
    runs = []
    for name, by_scheme in urls.items():
        plain = by_scheme.get("ws") or by_scheme["wss"]
        target = Target(name, plain, by_scheme.get("wss"), cafile)
        error = asyncio.run(_wait_ready(target, ready_timeout))
        if error is not None:
            run = ServerRun(name, None, plain, target.tls_url, "start-failed", error, ())
        else:
            started = time.monotonic()
            cells = asyncio.run(_run_rows(target, rows))
            seconds = time.monotonic() - started
            version = get(name).version()
            run = ServerRun(name, version, plain, target.tls_url, "ran", None, cells, seconds)
        progress(_progress_line(run))
        runs.append(run)
    return Report(scenarios, inherent, tuple(runs))


async def _wait_ready(target: Target, timeout: float) -> str | None:
    """Wait until ``target`` completes a handshake; the last error on timeout."""
    deadline = time.monotonic() + timeout
    last = "no attempt"
    while time.monotonic() < deadline:
        try:
            async with open_ws(target, "/"):
                return None
        except (OSError, WebSocketException, TimeoutError) as exc:
            last = f"{type(exc).__name__}: {exc}"
        # A refused connect returns at once: pace the retries (this is polling, bounded above).
        await asyncio.sleep(0.2)
    return f"{target.url} not ready within {timeout:g}s ({last})"
