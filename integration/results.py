"""What a matrix run found: each cell, each server's run, the browser's group, the report.

A :class:`Cell` holds the observation made on the real server and the row's
expectation; it is as expected only when the two are equal. The report's
headline counts the scenarios identical on every server that ran.
"""

from __future__ import annotations

from collections.abc import Sequence
from dataclasses import dataclass
from typing import Literal

from integration.scenarios import Inherent, Outcome, Scenario

__all__ = ["BrowserGroup", "Cell", "Report", "RunStatus", "ServerRun", "Status"]

Status = Literal["as expected", "differs", "failed", "not run"]
RunStatus = Literal["ran", "unavailable", "start-failed"]


@dataclass(frozen=True)
class Cell:
    """One row on one server: what was observed in this run, and what was expected."""

    server: str
    row: str
    status: Status
    expected: Outcome | None
    observed: Outcome | None
    """None when the check could not complete (see :attr:`error`) or did not run."""
    error: str | None

    @property
    def as_expected(self) -> bool:
        return self.status in ("as expected", "not run")


@dataclass(frozen=True)
class ServerRun:
    """One server configuration in a run: how it went and its cells."""

    name: str
    version: str | None
    url: str | None
    tls_url: str | None
    status: RunStatus
    error: str | None
    cells: tuple[Cell, ...]
    seconds: float = 0.0
    restarts: tuple[str, ...] = ()
    """Rows after which the server had stopped serving and was started again."""
    browser_cells: tuple[Cell, ...] = ()
    """The browser's rows on this server (:class:`BrowserGroup`)."""

    def cell(self, row: str) -> Cell | None:
        return next((cell for cell in self.cells if cell.row == row), None)

    def browser_cell(self, row: str) -> Cell | None:
        return next((cell for cell in self.browser_cells if cell.row == row), None)


@dataclass(frozen=True)
class BrowserGroup:
    """The browser's column group: its rows, and whether the browser ran."""

    browser: str
    """``chromium <version>``, or ``chromium`` when it did not start."""
    status: RunStatus
    error: str | None
    scenarios: tuple[Scenario, ...]
    inherent: tuple[Inherent, ...]


@dataclass(frozen=True)
class Report:
    """A whole run: the rows in order and every server's cells."""

    scenarios: tuple[Scenario, ...]
    inherent: tuple[Inherent, ...]
    servers: tuple[ServerRun, ...]
    browser: BrowserGroup | None = None
    """None: no browser row was selected (or ``--target`` mode)."""

    @property
    def ran(self) -> tuple[ServerRun, ...]:
        return tuple(run for run in self.servers if run.status == "ran")

    def identical(self, scenario: str) -> bool:
        """✔ on every server that ran (and run on at least one)."""
        cells = [run.cell(scenario) for run in self.ran]
        statuses = {cell.status for cell in cells if cell is not None}
        return statuses == {"as expected"}

    def browser_identical(self, row: str) -> bool:
        """A browser row ✔ on every server that ran."""
        cells = [run.browser_cell(row) for run in self.ran]
        statuses = {cell.status for cell in cells if cell is not None}
        return statuses == {"as expected"}

    @property
    def browser_headline(self) -> str | None:
        group = self.browser
        if group is None:
            return None
        if group.status != "ran":
            return f"{group.browser}: {group.status}: {(group.error or '').splitlines()[0]}"
        identical = sum(self.browser_identical(s["name"]) for s in group.scenarios)
        held = sum(self.browser_identical(row["id"]) for row in group.inherent)
        verdict = _verdict(identical, len(group.scenarios), held, group.inherent)
        return f"{group.browser}: {verdict}"

    @property
    def headline(self) -> str:
        identical = sum(self.identical(s["name"]) for s in self.scenarios)
        held = sum(self.identical(row["id"]) for row in self.inherent)
        return _verdict(identical, len(self.scenarios), held, self.inherent)

    @property
    def ok(self) -> bool:
        """Every cell as expected and no server that should have run failed to start."""
        browser_failed = self.browser is not None and self.browser.status == "start-failed"
        return not browser_failed and all(
            run.status != "start-failed"
            and all(cell.as_expected for cell in (*run.cells, *run.browser_cells))
            for run in self.servers
        )


def _verdict(identical: int, scenarios: int, held: int, inherent: Sequence[Inherent]) -> str:
    """The matrix's one-line result, for the Python client's rows or a browser's."""
    return (
        f"identical on every server: {identical}/{scenarios} scenarios; "
        f"inherent differences: {len(inherent)} ({held} as expected)"
    )
