"""granian (a Rust server) on its ASGI interface."""

from __future__ import annotations

import sys
from typing import Final

from adapters.base import ServerAdapter, ServerCapabilities
from adapters.process import TLSFiles

MEASURED_WITH: Final = "granian 2.8.9"


def command(app: str, host: str, port: int, /, tls: TLSFiles | None = None) -> list[str]:
    """The granian command line: ASGI interface, one worker."""
    argv = [sys.executable, "-m", "granian", "--interface", "asgi", "--host", host]
    if tls is not None:
        argv += ["--ssl-certificate", str(tls.certfile), "--ssl-keyfile", str(tls.keyfile)]
    return [*argv, "--port", str(port), "--workers", "1", "--log-level", "warning", app]


CAPABILITIES: Final = ServerCapabilities(
    spec_version="2.3",
    scope_has_scheme=True,
    scope_has_http_version=True,
    scope_has_extensions=True,
    scope_has_state=True,
    address_shape="tuple[str, str]",
    http_response_extension=True,
    denial_response=True,
    streamed_denial=False,
    close_before_accept_status=403,
    accept_headers=False,
    close_reason=True,
    receive_has_both_keys=False,
    empty_text_delivered=True,
    empty_bytes_delivered=True,
    empty_text_sent=True,
    empty_bytes_sent=True,
    max_message_size=16 * 1024 * 1024,
    clean_close_code=4001,
    disconnect_reason=False,
    abrupt_close_code=1005,
    disconnect_code_types=frozenset({"int"}),
    second_receive_hangs=False,
    answers_close_without_receive=False,
    send_after_close="silent",
    send_after_close_error=None,
    send_after_disconnect="silent",
    send_after_disconnect_error=None,
    standard_close_codes=True,
)

ADAPTERS: Final = (
    ServerAdapter("granian", "granian", ("granian",), command, CAPABILITIES, MEASURED_WITH),
)
