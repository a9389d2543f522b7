"""The test client's dialect presets and the library's server quirks agree with the
adapters' measured capabilities (which ``test_adapters.py`` checks against the real
servers), so a preset cannot drift from the server it stands for."""

from __future__ import annotations

import pytest

from adapters.registry import get, names
from lilya_ws.capabilities import Capabilities
from lilya_ws.testing import ALIASES, DIALECTS, build_scope, get_dialect

PRESETS = sorted(name for name in DIALECTS if name != "spec")


def test_presets_are_named_as_the_adapters_configurations() -> None:
    assert sorted(names()) == PRESETS
    assert {get_dialect(old).name for old in ALIASES} <= set(PRESETS)


ADDRESS_SHAPES = {
    "tuple": "tuple[str, int]",
    "list": "list[int | str]",
    "str-port": "tuple[str, str]",
}


@pytest.mark.parametrize("server", PRESETS)
def test_preset_matches_the_measured_server(server: str) -> None:
    dialect, measured = DIALECTS[server], get(server).capabilities
    assert dialect.spec_version == measured.spec_version
    assert dialect.denial_extension == measured.http_response_extension
    assert dialect.has_extensions == measured.scope_has_extensions
    assert dialect.has_scheme == measured.scope_has_scheme
    assert dialect.has_http_version == measured.scope_has_http_version
    assert dialect.has_state == measured.scope_has_state
    assert ADDRESS_SHAPES[dialect.client_as] == measured.address_shape
    assert dialect.receive_both_keys == measured.receive_has_both_keys
    assert dialect.code_as_intenum == (measured.disconnect_code_types != {"int"})
    assert dialect.disconnect_reason == measured.disconnect_reason
    assert (dialect.clean_close_code or 4001) == measured.clean_close_code
    assert dialect.abrupt_close_code == measured.abrupt_close_code
    assert dialect.send_after_close == measured.send_after_close
    assert dialect.drops_empty_sends == (not measured.empty_text_sent)
    assert dialect.accept_headers == measured.accept_headers
    assert dialect.close_reason == measured.close_reason
    assert dialect.streamed_denial == measured.streamed_denial
    assert (dialect.close_codes is None) == measured.standard_close_codes


@pytest.mark.parametrize("server", PRESETS)
def test_library_capabilities_predict_what_reaches_the_client(server: str) -> None:
    caps = Capabilities.from_scope(build_scope("/", DIALECTS[server]))
    measured = get(server).capabilities
    assert caps.accept_headers == measured.accept_headers
    assert caps.close_reason == measured.close_reason
    assert caps.denial_response == measured.http_response_extension
    assert caps.streamed_denial == measured.streamed_denial
    assert caps.quirks.drops_empty_messages == (not measured.empty_text_sent)
    assert caps.quirks.can_close_with(1011) == measured.standard_close_codes
