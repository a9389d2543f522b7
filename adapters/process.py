"""Run a server as a subprocess: pick a port, wait for a real handshake, stop it for sure.

The server starts in its own session (POSIX) so that stopping it signals the
whole process group and no worker survives. Readiness is a completed
WebSocket handshake, polled against a deadline; the short pause between
attempts is a wait on the process itself, so an early exit is seen at once.
"""

from __future__ import annotations

import contextlib
import http.client
import os
import signal
import socket
import ssl
import subprocess
import sys
import tempfile
import time
from collections.abc import Callable, Iterator
from dataclasses import dataclass
from pathlib import Path
from typing import Final

import psutil

from .errors import PortInUseError, ServerStartError
from .handshake import open_handshake

STOP_TIMEOUT: Final = 5.0
_POLL_INTERVAL: Final = 0.05
_LOG_TAIL_LINES: Final = 30
_POSIX: Final = os.name == "posix"


@dataclass(frozen=True)
class TLSFiles:
    """A certificate and its key for a server to serve ``wss://``, and the CA that signed it.

    Clients (the readiness check included) trust :attr:`cafile`; test certificates
    are made at run time (``trustme``), never checked in.
    """

    certfile: Path
    keyfile: Path
    cafile: Path

    def client_context(self) -> ssl.SSLContext:
        """A client-side context that trusts :attr:`cafile` and checks the host name."""
        return ssl.create_default_context(cafile=str(self.cafile))


class RunningServer:
    """A started server process; a context manager that stops it on exit."""

    def __init__(
        self,
        name: str,
        process: subprocess.Popen[bytes],
        host: str,
        port: int,
        log_path: Path,
        tls: TLSFiles | None = None,
        *,
        keep_log: bool = False,
    ) -> None:
        self.name = name
        self.keep_log = keep_log
        """When set, :meth:`stop` leaves :attr:`log_path` in place (``adapters serve``)."""
        self.tls = tls
        # A server bound to every interface (in a container) is reached on loopback.
        self.host = "127.0.0.1" if host == "0.0.0.0" else host
        self.port = port
        self.log_path = log_path
        self._process = process
        self._final_log: str | None = None

    @property
    def pid(self) -> int:
        """PID of the server's main process (also its process group on POSIX)."""
        return self._process.pid

    @property
    def ws_url(self) -> str:
        """Base URL to connect to, without a path: ``ws://127.0.0.1:PORT`` (``wss://`` with TLS)."""
        return f"{'wss' if self.tls else 'ws'}://{self.host}:{self.port}"

    def log(self) -> str:
        """Everything the server wrote to stdout and stderr so far."""
        if self._final_log is not None:
            return self._final_log
        return self.log_path.read_text(encoding="utf-8", errors="replace")

    def log_tail(self, lines: int = _LOG_TAIL_LINES) -> str:
        """The last ``lines`` lines of :meth:`log`."""
        return "\n".join(self.log().splitlines()[-lines:])

    def poll(self) -> int | None:
        """The exit code if the server process has exited, else None."""
        return self._process.poll()

    def wait(self, timeout: float | None = None) -> int:
        """Block until the server process exits and return its exit code."""
        return self._process.wait(timeout)

    def stop(self, timeout: float = STOP_TIMEOUT) -> None:
        """Terminate the server and its workers, kill them after ``timeout``; idempotent."""
        if self._final_log is not None:
            return
        try:
            if self._process.poll() is None:
                self._signal(signal.SIGTERM)
                try:
                    self._process.wait(timeout)
                except subprocess.TimeoutExpired:
                    self._signal(signal.SIGKILL)
                    self._process.wait(timeout)
            # Helpers that outlive the main process (hypercorn's multiprocessing resource
            # tracker, granian workers) get a moment to exit on their own, then SIGKILL.
            if not self._group_gone(timeout):
                self._signal(signal.SIGKILL)
                self._group_gone(timeout)
        finally:
            self._final_log = self.log_path.read_text(encoding="utf-8", errors="replace")
            if not self.keep_log:
                self.log_path.unlink(missing_ok=True)

    def _group_gone(self, timeout: float) -> bool:
        """Wait until no process of the server's group is left (zombies included)."""
        if not _POSIX:
            return True
        # psutil waits on processes that are not our children (a bounded wait).
        _, alive = psutil.wait_procs([process for _, process in group_processes(self.pid)], timeout)
        return not alive and not group_alive(self.pid)

    def _signal(self, signum: signal.Signals) -> None:
        with contextlib.suppress(ProcessLookupError, PermissionError):
            if _POSIX:
                os.killpg(self._process.pid, signum)
            elif signum == signal.SIGTERM:
                self._process.terminate()
            else:
                self._process.kill()

    def __enter__(self) -> RunningServer:
        return self

    def __exit__(self, *exc_info: object) -> None:
        self.stop()

    def __repr__(self) -> str:
        return f"<RunningServer {self.name} pid={self.pid} {self.ws_url}>"


def group_alive(pgid: int) -> bool:
    """Whether any process of group ``pgid`` is left, zombies included (POSIX)."""
    try:
        os.killpg(pgid, 0)
    except ProcessLookupError:
        return False
    except PermissionError:  # someone else's process: it exists
        return True
    return True


def group_processes(pgid: int) -> Iterator[tuple[int, psutil.Process]]:
    """Every live process of group ``pgid``, by PID. A server started here is alone in
    its group with the workers it forks, so this is the whole server (POSIX).

    psutil, not a ``/proc`` scan: it reads process tables portably and knows which
    processes vanished while it looked.
    """
    for process in psutil.process_iter():
        with contextlib.suppress(ProcessLookupError):
            if os.getpgid(process.pid) == pgid:
                yield process.pid, process


def group_rss_bytes(pgid: int) -> int:
    """Resident memory summed over every process of group ``pgid``, in bytes."""
    total = 0
    for _, process in group_processes(pgid):
        with contextlib.suppress(psutil.NoSuchProcess):
            total += int(process.memory_info().rss)
    return total


def group_cpu_seconds(pgid: int) -> float:
    """CPU seconds used by every process of group ``pgid`` (the server and its workers)
    and by the children they reaped: user, system, children's user and system."""
    total = 0.0
    for _, process in group_processes(pgid):
        with contextlib.suppress(psutil.NoSuchProcess):
            times = process.cpu_times()
            total += times.user + times.system + times.children_user + times.children_system
    return total


def free_port(host: str) -> int:
    """A port on ``host`` that nothing listens on right now (the kernel's pick)."""
    with socket.socket(socket.AF_INET, socket.SOCK_STREAM) as sock:
        sock.bind((host, 0))
        port: int = sock.getsockname()[1]
        return port


def check_port_free(name: str, host: str, port: int) -> None:
    """Raise :class:`PortInUseError` if something already listens on ``host:port``."""
    with socket.socket(socket.AF_INET, socket.SOCK_STREAM) as sock:
        # Like the servers themselves, ignore connections lingering in TIME_WAIT.
        sock.setsockopt(socket.SOL_SOCKET, socket.SO_REUSEADDR, 1)
        try:
            sock.bind((host, port))
        except OSError as exc:
            raise PortInUseError(name, f"port {host}:{port} is already in use ({exc})") from exc


def start_server(
    name: str,
    command: Callable[[int], list[str]],
    *,
    host: str,
    port: int | None,
    cwd: Path,
    ready_path: str,
    timeout: float,
    tls: TLSFiles | None = None,
    keep_log: bool = False,
) -> RunningServer:
    """Spawn ``command(port)`` in ``cwd`` and wait until it completes a handshake
    (over TLS, trusting ``tls.cafile``, when ``tls`` is given); ``keep_log`` leaves
    the server's log file in place once it stops."""
    if port is None:
        port = free_port(host)
    else:
        check_port_free(name, host, port)
    env = dict(os.environ, PYTHONUNBUFFERED="1")
    env["PYTHONPATH"] = os.pathsep.join(filter(None, [str(cwd), env.get("PYTHONPATH")]))
    fd, log_name = tempfile.mkstemp(prefix=f"adapters-{name}-", suffix=".log")
    with os.fdopen(fd, "wb") as log_file:
        try:
            process = subprocess.Popen(
                command(port),
                stdin=subprocess.DEVNULL,
                stdout=log_file,
                stderr=subprocess.STDOUT,
                cwd=cwd,
                env=env,
                start_new_session=_POSIX,
            )
        except OSError as exc:
            Path(log_name).unlink(missing_ok=True)
            raise ServerStartError(name, f"cannot launch {sys.executable}: {exc}") from exc
    server = RunningServer(name, process, host, port, Path(log_name), tls, keep_log=keep_log)
    try:
        _wait_ready(server, ready_path, timeout)
    except BaseException:
        server.stop()
        raise
    return server


def _wait_ready(server: RunningServer, path: str, timeout: float) -> None:
    deadline = time.monotonic() + timeout
    last = "no connection yet"
    while True:
        if (code := server.poll()) is not None:
            server.stop()
            raise ServerStartError(
                server.name, f"exited with code {code} before it was ready", server.log_tail()
            )
        remaining = deadline - time.monotonic()
        if remaining <= 0:
            server.stop()
            raise ServerStartError(
                server.name,
                f"no WebSocket handshake on {server.ws_url}{path} within {timeout:g}s ({last})",
                server.log_tail(),
            )
        try:
            if server.tls is not None:
                status = _tls_handshake_status(server, path, min(1.0, remaining))
                if status == 101:
                    return
                last = f"last answer: HTTP {status}"
            else:
                with open_handshake(
                    server.host, server.port, path, timeout=min(1.0, remaining)
                ) as hs:
                    if hs.status == 101:
                        hs.close_cleanly(timeout=1.0)
                        return
                    last = f"last answer: HTTP {hs.status}"
        except OSError as exc:
            last = f"last attempt: {type(exc).__name__}: {exc}"
        with contextlib.suppress(subprocess.TimeoutExpired):
            server.wait(min(_POLL_INTERVAL, max(deadline - time.monotonic(), 0)))


def _tls_handshake_status(server: RunningServer, path: str, timeout: float) -> int:
    """The HTTP status a ``wss://`` opening handshake gets (101 when the server is ready).

    ``http.client`` returns the 101 head without reading a body; the socket is then
    closed without a closing handshake, which no server logs at warning level.
    """
    assert server.tls is not None
    connection = http.client.HTTPSConnection(
        server.host, server.port, timeout=timeout, context=server.tls.client_context()
    )
    try:
        connection.request(
            "GET",
            path,
            headers={
                "Upgrade": "websocket",
                "Connection": "Upgrade",
                "Sec-WebSocket-Key": "dGhlIHNhbXBsZSBub25jZQ==",  # RFC 6455 section 1.3's
                "Sec-WebSocket-Version": "13",
            },
        )
        return connection.getresponse().status
    except (http.client.HTTPException, ssl.SSLError) as exc:
        raise ConnectionError(f"{type(exc).__name__}: {exc}") from exc
    finally:
        connection.close()
