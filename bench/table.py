"""Statistics and fixed-width tables shared by the benchmarks (``inprocess``,
``endtoend``, ``instructions``), so every table reports rounds the same way.

The statistics are the stdlib's (``statistics.median``); a table is a list of
``(title, format spec)`` columns, each cell formatted with its column's spec.
"""

from __future__ import annotations

import statistics
from collections.abc import Iterable, Sequence

Column = tuple[str, str]
"""A column's title and the format spec that aligns it, e.g. ``("ns/msg", ">9")``."""


def median(values: Sequence[float]) -> float | None:
    """The median of ``values``; None when there are none."""
    return statistics.median(values) if values else None


def percentile(sorted_values: Sequence[float], share: float) -> float:
    """The value below which ``share`` of ``sorted_values`` lie (nearest rank); 0 if empty."""
    if not sorted_values:
        return 0.0
    return float(sorted_values[min(len(sorted_values) - 1, int(share * len(sorted_values)))])


def number(value: float | None, spec: str) -> str:
    """``value`` formatted with ``spec``; ``-`` when it is None."""
    return "-" if value is None else format(value, spec)


def extent(values: Sequence[float], spec: str) -> str:
    """``(lowest-highest)`` of ``values`` formatted with ``spec``; empty when there are none."""
    return f"({min(values):{spec}}-{max(values):{spec}})" if values else ""


def verdict(ok: bool) -> str:
    """The last column of every table: whether every run of the row was verified."""
    return "yes" if ok else "NO"


def render(columns: Sequence[Column], rows: Iterable[Sequence[str]]) -> str:
    """The header and one line per row, each cell aligned by its column's spec."""
    lines = [[title for title, _ in columns], *rows]
    return "\n".join(
        " ".join(format(cell, spec) for cell, (_, spec) in zip(line, columns, strict=True)).rstrip()
        for line in lines
    )
