"""hypercorn, with its asyncio and trio worker classes (``--worker-class``)."""

from __future__ import annotations

import sys
from typing import Final, Literal

from .base import CommandBuilder, ServerAdapter
from .process import TLSFiles

WorkerClass = Literal["asyncio", "trio"]


def command(worker_class: WorkerClass) -> CommandBuilder:
    """The hypercorn command line for one worker class."""

    def build(app: str, host: str, port: int, /, tls: TLSFiles | None = None) -> list[str]:
        argv = [sys.executable, "-m", "hypercorn", "--bind", f"{host}:{port}"]
        if tls is not None:
            argv += ["--certfile", str(tls.certfile), "--keyfile", str(tls.keyfile)]
        return [*argv, "--worker-class", worker_class, "--log-level", "WARNING", app]

    return build


ADAPTERS: Final = (
    ServerAdapter("hypercorn-asyncio", "hypercorn", ("hypercorn",), command("asyncio")),
    ServerAdapter("hypercorn-trio", "hypercorn", ("hypercorn", "trio"), command("trio")),
)
