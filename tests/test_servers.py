"""``lilya_ws.servers`` is the one place each server fact lives: every other view is
derived from it (the library's quirks, the test client's presets, the adapters'
declarations, DIALECTS.md's summary), and changing one fact there changes them all."""

from __future__ import annotations

import dataclasses
from typing import Any, cast

import pytest

from adapters import dialects_md
from adapters.registry import get, names
from lilya_ws import servers
from lilya_ws.capabilities import quirks_of
from lilya_ws.servers import SERVERS, Server
from lilya_ws.testing import DIALECTS, preset


def test_every_adapter_configuration_has_one_record() -> None:
    assert tuple(SERVERS) == names()
    assert all(server.name == name for name, server in SERVERS.items())


@pytest.mark.parametrize("name", names())
def test_a_restricted_close_code_list_is_what_makes_1011_fail(name: str) -> None:
    server = SERVERS[name]
    assert server.capabilities.standard_close_codes == (server.close_codes is None)


@pytest.mark.parametrize("name", names())
def test_presets_and_declarations_are_the_records(name: str) -> None:
    assert DIALECTS[name] == preset(SERVERS[name])
    assert get(name).capabilities is SERVERS[name].capabilities


def test_dialects_md_summary_is_generated_from_the_records() -> None:
    text = dialects_md.PATH.read_text(encoding="utf-8")
    assert dialects_md.current(text) == dialects_md.render(), (
        "adapters/DIALECTS.md is stale: run `python -m adapters dialects-md`"
    )


def _change(monkeypatch: pytest.MonkeyPatch, name: str, **facts: Any) -> Server:
    """Replace one record's facts in ``SERVERS`` for the test; returns the old record."""
    old = SERVERS[name]
    new = dataclasses.replace(old, capabilities=dataclasses.replace(old.capabilities, **facts))
    monkeypatch.setitem(cast("dict[str, Server]", servers.SERVERS), name, new)
    return old


@pytest.mark.parametrize(
    ("name", "fact", "quirk", "dialect_field"),
    [
        ("granian", "accept_headers", "drops_accept_headers", "accept_headers"),
        ("daphne", "close_reason", "drops_close_reason", "close_reason"),
        ("granian", "streamed_denial", "streams_denial_body", "streamed_denial"),
        ("hypercorn-asyncio", "empty_text_sent", "drops_empty_messages", "drops_empty_sends"),
        ("granian", "answers_close_without_receive", "defers_close_reply", None),
        ("uvicorn-wsproto", "answers_ping_without_receive", "reads_only_while_receiving", None),
    ],
)
def test_changing_one_fact_changes_every_derived_view(
    monkeypatch: pytest.MonkeyPatch, name: str, fact: str, quirk: str, dialect_field: str | None
) -> None:
    family = SERVERS[name].family
    before = (quirks_of(family), preset(SERVERS[name]), dialects_md.render())
    value = not getattr(SERVERS[name].capabilities, fact)
    _change(monkeypatch, name, **{fact: value})
    quirks, dialect, summary = quirks_of(family), preset(SERVERS[name]), dialects_md.render()
    assert getattr(quirks, quirk) != getattr(before[0], quirk)  # recognition's expectation
    if dialect_field is not None:  # the test client does not model the closing handshake
        assert getattr(dialect, dialect_field) != getattr(before[1], dialect_field)
    assert getattr(get(name).capabilities, fact) == value  # the adapter's declaration
    assert summary != before[2]  # DIALECTS.md's summary


def test_daphnes_send_limit_reaches_quirks_declaration_and_summary(
    monkeypatch: pytest.MonkeyPatch,
) -> None:
    assert quirks_of("daphne").max_send_size == 1024 * 1024
    assert quirks_of("daphne").longest_unchecked == 2**18  # 4-byte characters: 1 MiB
    assert not quirks_of("daphne").sends_as_given
    summary = dialects_md.render()
    _change(monkeypatch, "daphne", max_send_size=2 * 1024 * 1024)
    assert quirks_of("daphne").max_send_size == 2 * 1024 * 1024
    assert quirks_of("daphne").longest_unchecked == 2**19  # what the fast send compares
    assert get("daphne").capabilities.max_send_size == 2 * 1024 * 1024
    assert dialects_md.render() != summary


def test_a_quirk_of_one_configuration_is_its_familys(monkeypatch: pytest.MonkeyPatch) -> None:
    assert SERVERS["hypercorn-trio"].waits_for_close_reply
    assert not SERVERS["hypercorn-asyncio"].waits_for_close_reply
    assert quirks_of("hypercorn").waits_for_close_reply  # the scope cannot tell them apart
    _change(monkeypatch, "uvicorn-wsproto", close_reason=False)
    assert quirks_of("uvicorn").drops_close_reason


def test_a_silent_send_after_departure_is_what_arms_the_read_ahead(
    monkeypatch: pytest.MonkeyPatch,
) -> None:
    assert not quirks_of("uvicorn").silent_after_departure  # its send raises: nothing to read
    assert all(quirks_of(f).silent_after_departure for f in ("hypercorn", "daphne", "granian"))
    _change(monkeypatch, "granian", send_after_close="oserror")
    assert not quirks_of("granian").silent_after_departure
    _change(monkeypatch, "uvicorn-wsproto", send_after_close="silent")
    assert quirks_of("uvicorn").silent_after_departure
