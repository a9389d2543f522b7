"""Errors raised while choosing or starting a server.

::

    AdapterError
    ├── UnknownAdapterError (LookupError)   no configuration has that name
    └── ServerStartError (RuntimeError)     the server did not become ready
        ├── ServerUnavailableError          its packages do not import
        └── PortInUseError                  the requested port is already bound
"""

from __future__ import annotations

from collections.abc import Iterable


class AdapterError(Exception):
    """Base class for every error of the ``adapters`` package."""


class UnknownAdapterError(AdapterError, LookupError):
    """No server configuration has this name; the message lists the known names."""

    def __init__(self, name: str, known: Iterable[str]) -> None:
        super().__init__(f"unknown server configuration {name!r}; known: {', '.join(known)}")
        self.name = name


class ServerStartError(AdapterError, RuntimeError):
    """The server process did not accept a WebSocket handshake.

    The message names the configuration, says why, and ends with the tail of
    the server's log, which usually holds the real cause (a bad ``module:attr``,
    a traceback, ``address already in use``).
    """

    def __init__(self, server: str, reason: str, log_tail: str = "") -> None:
        message = f"{server}: {reason}"
        if log_tail:
            message += f"\n--- last lines of the {server} log ---\n{log_tail}"
        super().__init__(message)
        self.server = server
        self.reason = reason
        self.log_tail = log_tail


class ServerUnavailableError(ServerStartError):
    """The server's packages are not importable in this interpreter."""


class PortInUseError(ServerStartError):
    """The explicitly requested port is already bound on the host."""
