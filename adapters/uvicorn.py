"""uvicorn, with each of its three WebSocket implementations (``--ws``)."""

from __future__ import annotations

import sys
from dataclasses import replace
from typing import Final, Literal

from adapters.base import CommandBuilder, ServerAdapter, ServerCapabilities
from adapters.process import TLSFiles

WsImplementation = Literal["websockets", "websockets-sansio", "wsproto"]

MEASURED_WITH: Final = "uvicorn 0.54.0, websockets 17.4, wsproto 1.3.2"


def command(ws: WsImplementation) -> CommandBuilder:
    """The uvicorn command line for one ``--ws`` implementation."""

    def build(app: str, host: str, port: int, /, tls: TLSFiles | None = None) -> list[str]:
        argv = [
            *(sys.executable, "-m", "uvicorn", app, "--host", host, "--port", str(port)),
            *("--ws", ws, "--log-level", "warning", "--no-access-log"),
        ]
        if tls is not None:
            argv += ["--ssl-certfile", str(tls.certfile), "--ssl-keyfile", str(tls.keyfile)]
        return argv

    return build


WEBSOCKETS: Final = ServerCapabilities(
    spec_version="2.4",
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
    receive_has_both_keys=False,
    empty_text_delivered=True,
    empty_bytes_delivered=True,
    empty_text_sent=True,
    empty_bytes_sent=True,
    max_message_size=16 * 1024 * 1024,
    clean_close_code=4001,
    disconnect_reason=True,
    abrupt_close_code=1006,
    disconnect_code_types=frozenset({"int", "CloseCode"}),
    second_receive_hangs=False,
    answers_close_without_receive=True,
    send_after_close="oserror",
    send_after_close_error="uvicorn.protocols.utils.ClientDisconnected",
    send_after_disconnect="runtimeerror",
    send_after_disconnect_error="RuntimeError",
    standard_close_codes=True,
)
"""``--ws websockets``: the legacy websockets protocol. An abrupt drop's 1006 is a
``websockets.frames.CloseCode``; a send after the disconnect raises ``RuntimeError``."""

WEBSOCKETS_SANSIO: Final = replace(
    WEBSOCKETS,
    abrupt_close_code=1005,
    disconnect_code_types=frozenset({"int"}),
    second_receive_hangs=True,
    send_after_disconnect="oserror",
    send_after_disconnect_error="uvicorn.protocols.utils.ClientDisconnected",
    standard_close_codes=True,
)
"""``--ws websockets-sansio``: an abrupt drop is a plain 1005 and leaves the next
``receive()`` hanging; sends after the disconnect raise ``ClientDisconnected``."""

WSPROTO: Final = replace(WEBSOCKETS_SANSIO)
"""``--ws wsproto``: measured identical to ``websockets-sansio``."""

ADAPTERS: Final = (
    ServerAdapter(
        "uvicorn-websockets",
        "uvicorn",
        ("uvicorn", "websockets"),
        command("websockets"),
        WEBSOCKETS,
        MEASURED_WITH,
    ),
    ServerAdapter(
        "uvicorn-websockets-sansio",
        "uvicorn",
        ("uvicorn", "websockets"),
        command("websockets-sansio"),
        WEBSOCKETS_SANSIO,
        MEASURED_WITH,
    ),
    ServerAdapter(
        "uvicorn-wsproto",
        "uvicorn",
        ("uvicorn", "wsproto"),
        command("wsproto"),
        WSPROTO,
        MEASURED_WITH,
    ),
)
