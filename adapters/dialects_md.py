"""The summary table of ``adapters/DIALECTS.md``, generated from ``lilya_ws.servers``.

The table sits between two marker lines; ``python -m adapters dialects-md``
rewrites it and ``tests/test_servers.py`` fails when it is stale, so a fact is
edited in ``lilya_ws/servers.py`` only.
"""

from __future__ import annotations

import dataclasses
from collections.abc import Mapping
from pathlib import Path
from typing import Final

from lilya_ws.servers import SERVERS, Server

from .registry import SHORT_NAMES

PATH: Final = Path(__file__).with_name("DIALECTS.md")
BEGIN: Final = "<!-- generated from lilya_ws/servers.py: python -m adapters dialects-md -->"
END: Final = "<!-- end of summary -->"


def cell(value: object) -> str:
    """One fact as a table cell: ``yes``/``no``, ``-`` for None, code for the rest."""
    return _cell(value).replace("|", "\\|")  # a bare | would end the Markdown cell


def _cell(value: object) -> str:
    if isinstance(value, bool):
        return "yes" if value else "no"
    if value is None:
        return "-"
    if isinstance(value, frozenset):
        return ", ".join(f"`{item}`" for item in sorted(value))
    if isinstance(value, tuple):
        return ", ".join(_cell(item) for item in value) or "none"
    if isinstance(value, range):
        last = value.stop - 1
        return f"{value.start}" if value.start == last else f"{value.start}-{last}"
    return f"`{value}`"


def rows(servers: Mapping[str, Server]) -> list[tuple[str, list[object]]]:
    """Each fact's name and its value per configuration, in the records' field order."""
    chosen = [servers[name] for name in SHORT_NAMES]
    facts = [field.name for field in dataclasses.fields(chosen[0].capabilities)]
    table: list[tuple[str, list[object]]] = [
        (name, [getattr(server.capabilities, name) for server in chosen]) for name in facts
    ]
    table.append(("close_codes", [server.close_codes for server in chosen]))
    table.append(("waits_for_close_reply", [server.waits_for_close_reply for server in chosen]))
    return table


def render(servers: Mapping[str, Server] | None = None) -> str:
    """The summary table, marker lines included."""
    lines = [
        BEGIN,
        f"| fact | {' | '.join(SHORT_NAMES.values())} |",
        f"|---|{'---|' * len(SHORT_NAMES)}",
        *(
            f"| `{name}` | {' | '.join(cell(value) for value in values)} |"
            for name, values in rows(SERVERS if servers is None else servers)
        ),
        END,
    ]
    return "\n".join(lines)


def current(text: str) -> str:
    """The summary table as it stands in ``text`` (marker lines included)."""
    start, end = text.index(BEGIN), text.index(END) + len(END)
    return text[start:end]


def rewrite(path: Path = PATH) -> bool:
    """Replace the summary in ``path`` with a fresh one; returns whether it changed."""
    text = path.read_text(encoding="utf-8")
    fresh = text.replace(current(text), render())
    path.write_text(fresh, encoding="utf-8")
    return fresh != text
