"""What every server adapter is: a command line, what the server can do, and availability.

A :class:`ServerAdapter` is data plus two small behaviours (check the imports,
start the process). Each server module builds instances of it; the registry
names them. :class:`ServerCapabilities` is the measured ASGI WebSocket dialect
of one configuration (see ``adapters/DIALECTS.md`` and ``adapters.probe``).
"""

from __future__ import annotations

import functools
import importlib
import importlib.metadata
import warnings
from collections.abc import Sequence
from dataclasses import dataclass
from pathlib import Path
from typing import Final, Literal, Protocol

from adapters.errors import ServerUnavailableError
from adapters.process import RunningServer, TLSFiles, start_server

HOST: Final = "127.0.0.1"
STARTUP_TIMEOUT: Final = 20.0

SendAfterClose = Literal["oserror", "runtimeerror", "silent"]


@dataclass(frozen=True)
class ServerCapabilities:
    """The ASGI WebSocket dialect of one server configuration, as measured.

    Every field is a fact observed by ``adapters.probe`` against the real server,
    not a reading of its documentation.
    """

    spec_version: str | None
    """``scope["asgi"]["spec_version"]``, or None when the key is missing (means 2.0)."""
    scope_has_scheme: bool
    scope_has_http_version: bool
    scope_has_extensions: bool
    scope_has_state: bool
    address_shape: str
    """Type shape of ``scope["client"]`` and ``scope["server"]``, e.g. ``tuple[str, int]``."""
    http_response_extension: bool
    """``"websocket.http.response"`` is advertised in ``scope["extensions"]``."""
    denial_response: bool
    """A single-body denial response reaches the client with its status and body."""
    streamed_denial: bool
    """A denial body sent in several ``more_body`` parts reaches the client complete."""
    close_before_accept_status: int | None
    """HTTP status the client gets when the app closes before accepting (None: no answer)."""
    accept_headers: bool
    """``headers`` in ``websocket.accept`` reach the client."""
    close_reason: bool
    """``reason`` in ``websocket.close`` reaches the client."""
    receive_has_both_keys: bool
    """``websocket.receive`` carries both ``text`` and ``bytes``, the unused one None."""
    empty_text_delivered: bool
    """An empty text frame from the client reaches the app as a ``websocket.receive``."""
    empty_bytes_delivered: bool
    empty_text_sent: bool
    """An app's ``websocket.send`` with ``text=""`` reaches the client."""
    empty_bytes_sent: bool
    max_message_size: int | None
    """Largest inbound message accepted by default; None if none was found."""
    clean_close_code: int
    """Disconnect code the app sees when the client closes with 4001."""
    disconnect_reason: bool
    """That ``websocket.disconnect`` carries the client's close ``reason``."""
    abrupt_close_code: int
    """Disconnect code the app sees when the client drops TCP without a close frame."""
    disconnect_code_types: frozenset[str]
    """Classes of the disconnect codes seen: ``int``, or an ``IntEnum`` like ``CloseCode``."""
    second_receive_hangs: bool
    """After ``websocket.disconnect`` another ``receive()`` can block forever."""
    answers_close_without_receive: bool
    """The server answers a client's close frame while the app is not in ``receive()``."""
    send_after_close: SendAfterClose
    """What ``send()`` does after the client closed, before the app saw the disconnect."""
    send_after_close_error: str | None
    """Qualified class of the exception ``send()`` raises then, if any."""
    send_after_disconnect: SendAfterClose
    """What ``send()`` does once the app has received ``websocket.disconnect``."""
    send_after_disconnect_error: str | None
    standard_close_codes: bool
    """The server sends a registered RFC 6455 code (1011) the app closes with; autobahn
    (daphne) sends only 1000 and 3000-4999 and raises on the others."""


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
    capabilities: ServerCapabilities
    measured_with: str
    """The package versions ``capabilities`` was measured with."""

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
    ) -> RunningServer:
        """Start serving ``app`` and return once it completes a WebSocket handshake.

        ``port=None`` picks a free port. ``cwd`` (default: the current directory)
        is where ``app`` is imported from. ``wrapper`` is an argv prefix the server
        runs under (``["valgrind", "--tool=callgrind"]``, ``["taskset", "-c", "1"]``).
        ``tls`` serves ``wss://`` with its certificate; readiness then trusts its CA.
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
