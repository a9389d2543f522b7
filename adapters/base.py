"""What every server adapter is: a command line, what the server can do, and availability.

A :class:`ServerAdapter` is data plus two small behaviours (check the imports,
start the process). Each server module builds instances of it; the registry
names them. Its :attr:`~ServerAdapter.capabilities` is read from
``lilya_ws.servers``, where each configuration's measured dialect is written once
(``adapters.probe`` measures it, ``adapters/DIALECTS.md`` summarises it).
"""

from __future__ import annotations

import functools
import importlib
import importlib.metadata
import warnings
from collections.abc import Sequence
from dataclasses import dataclass
from pathlib import Path
from typing import Final, Protocol

from lilya_ws.servers import SERVERS, ServerCapabilities

from .errors import ServerUnavailableError
from .process import RunningServer, TLSFiles, start_server

HOST: Final = "127.0.0.1"
STARTUP_TIMEOUT: Final = 20.0


class CommandBuilder(Protocol):
    """Build the argv that serves ``app`` (``module:attr``) on ``host:port``, over TLS
    with ``tls``'s certificate and key when given."""

    def __call__(
        self, app: str, host: str, port: int, /, tls: TLSFiles | None = None
    ) -> list[str]: ...


@dataclass(frozen=True)
class ServerAdapter:
    """One server configuration: how to launch it and what it can do."""

    name: str
    distribution: str
    """The distribution whose version identifies the server (``pip show`` name)."""
    modules: tuple[str, ...]
    """Modules that must import for this configuration to run."""
    command: CommandBuilder

    @property
    def capabilities(self) -> ServerCapabilities:
        """The configuration's measured dialect, from ``lilya_ws.servers``."""
        return SERVERS[self.name].capabilities

    def version(self) -> str | None:
        """The installed version of the server distribution, or None."""
        try:
            return importlib.metadata.version(self.distribution)
        except importlib.metadata.PackageNotFoundError:
            return None

    def unavailable_reason(self) -> str | None:
        """Why this configuration cannot run here, or None when it can."""
        return _import_problem(self.modules)

    @property
    def available(self) -> bool:
        """True when every module of :attr:`modules` imports."""
        return self.unavailable_reason() is None

    def start(
        self,
        app: str,
        *,
        port: int | None = None,
        host: str = HOST,
        cwd: Path | None = None,
        ready_path: str = "/",
        timeout: float = STARTUP_TIMEOUT,
        wrapper: Sequence[str] = (),
        tls: TLSFiles | None = None,
        keep_log: bool = False,
    ) -> RunningServer:
        """Start serving ``app`` and return once it completes a WebSocket handshake.

        ``port=None`` picks a free port. ``cwd`` (default: the current directory)
        is where ``app`` is imported from. ``wrapper`` is an argv prefix the server
        runs under (``["valgrind", "--tool=callgrind"]``, ``["taskset", "-c", "1"]``).
        ``tls`` serves ``wss://`` with its certificate; readiness then trusts its CA.
        ``keep_log`` leaves the server's log (:attr:`RunningServer.log_path`) after it stops.
        Use the result as a context manager so the process always stops. Raises
        :class:`~adapters.errors.ServerStartError`.
        """
        if (reason := self.unavailable_reason()) is not None:
            raise ServerUnavailableError(self.name, reason)
        return start_server(
            self.name,
            lambda chosen: [*wrapper, *self.command(app, host, chosen, tls)],
            host=host,
            port=port,
            cwd=cwd or Path.cwd(),
            ready_path=ready_path,
            timeout=timeout,
            tls=tls,
            keep_log=keep_log,
        )


@functools.cache
def _import_problem(modules: tuple[str, ...]) -> str | None:
    for module in modules:
        try:
            with warnings.catch_warnings():
                warnings.simplefilter("ignore")
                importlib.import_module(module)
        except Exception as exc:
            return f"cannot import {module}: {type(exc).__name__}: {exc}"
    return None
