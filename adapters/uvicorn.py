"""uvicorn, with each of its three WebSocket implementations (``--ws``)."""

from __future__ import annotations

import sys
from typing import Final, Literal

from .base import CommandBuilder, ServerAdapter
from .process import TLSFiles

WsImplementation = Literal["websockets", "websockets-sansio", "wsproto"]


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


ADAPTERS: Final = (
    ServerAdapter(
        "uvicorn-websockets", "uvicorn", ("uvicorn", "websockets"), command("websockets")
    ),
    ServerAdapter(
        "uvicorn-websockets-sansio",
        "uvicorn",
        ("uvicorn", "websockets"),
        command("websockets-sansio"),
    ),
    ServerAdapter("uvicorn-wsproto", "uvicorn", ("uvicorn", "wsproto"), command("wsproto")),
)
