"""The test client's dialect presets and the library's server quirks agree with the
adapters' measured capabilities (which ``test_adapters.py`` checks against the real
servers), so a preset cannot drift from the server it stands for."""

from __future__ import annotations

import pytest

from adapters.registry import get
from lilya_ws.capabilities import Capabilities
from lilya_ws.testing import DIALECTS, build_scope

PRESET_SERVERS = {
    "uvicorn": "uvicorn-websockets",
    "uvicorn-websockets-sansio": "uvicorn-websockets-sansio",
    "uvicorn-wsproto": "uvicorn-wsproto",
    "hypercorn": "hypercorn-asyncio",
    "daphne": "daphne",
    "granian": "granian",
}
ADDRESS_SHAPES = {
    "tuple": "tuple[str, int]",
    "list": "list[int | str]",
    "str-port": "tuple[str, str]",
}


@pytest.mark.parametrize(("preset", "server"), sorted(PRESET_SERVERS.items()))
def test_preset_matches_the_measured_server(preset: str, server: str) -> None:
    dialect, measured = DIALECTS[preset], get(server).capabilities
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


@pytest.mark.parametrize("server", sorted(PRESET_SERVERS.values()))
def test_library_capabilities_predict_what_reaches_the_client(server: str) -> None:
    preset = next(name for name, target in PRESET_SERVERS.items() if target == server)
    caps = Capabilities.from_scope(build_scope("/", DIALECTS[preset]))
    measured = get(server).capabilities
    assert caps.accept_headers == measured.accept_headers
    assert caps.close_reason == measured.close_reason
    assert caps.denial_response == measured.http_response_extension
    assert caps.streamed_denial == measured.streamed_denial
    assert caps.quirks.drops_empty_messages == (not measured.empty_text_sent)
    assert caps.quirks.can_close_with(1011) == measured.standard_close_codes
