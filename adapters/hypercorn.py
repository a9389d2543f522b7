"""hypercorn, with its asyncio and trio worker classes (``--worker-class``)."""

from __future__ import annotations

import sys
from typing import Final, Literal

from adapters.base import CommandBuilder, ServerAdapter, ServerCapabilities
from adapters.process import TLSFiles

WorkerClass = Literal["asyncio", "trio"]

MEASURED_WITH: Final = "hypercorn 0.18.0, wsproto 1.3.2, trio 0.35.0"


def command(worker_class: WorkerClass) -> CommandBuilder:
    """The hypercorn command line for one worker class."""

    def build(app: str, host: str, port: int, /, tls: TLSFiles | None = None) -> list[str]:
        argv = [sys.executable, "-m", "hypercorn", "--bind", f"{host}:{port}"]
        if tls is not None:
            argv += ["--certfile", str(tls.certfile), "--keyfile", str(tls.keyfile)]
        return [*argv, "--worker-class", worker_class, "--log-level", "WARNING", app]

    return build


CAPABILITIES: Final = ServerCapabilities(
    spec_version="2.3",
    scope_has_scheme=True,
    scope_has_http_version=True,
    scope_has_extensions=True,
    scope_has_state=True,
    address_shape="tuple[str, int]",
    http_response_extension=True,
    denial_response=True,
    streamed_denial=True,
    close_before_accept_status=403,
    accept_headers=True,
    close_reason=True,
    receive_has_both_keys=True,
    empty_text_delivered=True,
    empty_bytes_delivered=True,
    empty_text_sent=True,
    empty_bytes_sent=True,
    max_message_size=16 * 1024 * 1024,
    clean_close_code=1006,
    disconnect_reason=False,
    abrupt_close_code=1006,
    disconnect_code_types=frozenset({"int"}),
    second_receive_hangs=True,
    answers_close_without_receive=True,
    send_after_close="silent",
    send_after_close_error=None,
    send_after_disconnect="silent",
    send_after_disconnect_error=None,
    standard_close_codes=True,
)
"""Both worker classes measured identical (the WebSocket layer is shared)."""

ADAPTERS: Final = (
    ServerAdapter(
        "hypercorn-asyncio",
        "hypercorn",
        ("hypercorn",),
        command("asyncio"),
        CAPABILITIES,
        MEASURED_WITH,
    ),
    ServerAdapter(
        "hypercorn-trio",
        "hypercorn",
        ("hypercorn", "trio"),
        command("trio"),
        CAPABILITIES,
        MEASURED_WITH,
    ),
)
