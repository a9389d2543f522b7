"""granian (a Rust server) on its ASGI interface."""

from __future__ import annotations

import sys
from typing import Final

from .base import ServerAdapter
from .process import TLSFiles


def command(app: str, host: str, port: int, /, tls: TLSFiles | None = None) -> list[str]:
    """The granian command line: ASGI interface, one worker."""
    argv = [sys.executable, "-m", "granian", "--interface", "asgi", "--host", host]
    if tls is not None:
        argv += ["--ssl-certificate", str(tls.certfile), "--ssl-keyfile", str(tls.keyfile)]
    return [*argv, "--port", str(port), "--workers", "1", "--log-level", "warning", app]


ADAPTERS: Final = (ServerAdapter("granian", "granian", ("granian",), command),)
