"""daphne (Twisted and autobahn underneath)."""

from __future__ import annotations

import sys
from pathlib import Path
from typing import Final

from adapters.base import ServerAdapter, ServerCapabilities
from adapters.process import TLSFiles

MEASURED_WITH: Final = "daphne 4.2.3, twisted 26.10.0, autobahn 26.10.2"


def command(app: str, host: str, port: int, /, tls: TLSFiles | None = None) -> list[str]:
    """The daphne command line; ``-v 0`` keeps warnings and errors, drops the access log.

    TLS is a Twisted ``ssl:`` server endpoint (``-e``) in place of ``-b``/``-p``.
    """
    if tls is None:
        where = ["-b", host, "-p", str(port)]
    else:
        key, cert = _endpoint_value(tls.keyfile), _endpoint_value(tls.certfile)
        where = ["-e", f"ssl:{port}:interface={host}:privateKey={key}:certKey={cert}"]
    return [sys.executable, "-m", "daphne", *where, "-v", "0", app]


def _endpoint_value(path: Path) -> str:
    """``path`` escaped for Twisted's endpoint syntax (``:`` separates its fields)."""
    return str(path).replace("\\", "\\\\").replace(":", "\\:")


CAPABILITIES: Final = ServerCapabilities(
    spec_version=None,
    scope_has_scheme=False,
    scope_has_http_version=False,
    scope_has_extensions=False,
    scope_has_state=False,
    address_shape="list[int | str]",
    http_response_extension=False,
    denial_response=False,
    streamed_denial=False,
    close_before_accept_status=403,
    accept_headers=False,
    close_reason=False,
    receive_has_both_keys=False,
    empty_text_delivered=True,
    empty_bytes_delivered=True,
    empty_text_sent=False,
    empty_bytes_sent=False,
    max_message_size=1024 * 1024,
    clean_close_code=4001,
    disconnect_reason=False,
    abrupt_close_code=1006,
    disconnect_code_types=frozenset({"int"}),
    second_receive_hangs=True,
    answers_close_without_receive=True,
    send_after_close="silent",
    send_after_close_error=None,
    send_after_disconnect="silent",
    send_after_disconnect_error=None,
    standard_close_codes=False,
)

ADAPTERS: Final = (
    ServerAdapter("daphne", "daphne", ("daphne",), command, CAPABILITIES, MEASURED_WITH),
)
