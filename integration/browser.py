"""Headless Chromium as a WebSocket client, driven over its DevTools protocol (CDP).

Browsers are stricter clients than Python libraries (Chromium fails a handshake
whose response picks no subprotocol when it offered some), and ``--dump-dom``
returns before WebSocket events finish, so the checks speak CDP: one browser per
matrix run (:class:`Chromium`, stopped by process group), one DevTools connection
per server (:class:`DevTools`), one tab per check (:class:`Page`) showing a page
served from 127.0.0.1 (:class:`PageServer`) so that every handshake carries a real
``Origin``. A page's JavaScript cannot read the status of a refused handshake;
the Network domain's events can (:meth:`Page.handshake_status`).
"""

from __future__ import annotations

import asyncio
import contextlib
import http.server
import itertools
import json
import os
import queue
import re
import shutil
import signal
import subprocess
import tempfile
import threading
import time
from collections.abc import AsyncIterator, Callable, Mapping
from pathlib import Path
from typing import IO, Any, Final, TypedDict, cast

import psutil
from typing_extensions import NotRequired
from websockets.asyncio.client import ClientConnection, connect
from websockets.exceptions import ConnectionClosed

from adapters.process import group_alive, group_processes

__all__ = [
    "BrowserError",
    "Chromium",
    "DevTools",
    "Page",
    "PageServer",
    "chromium_executable",
]

START_TIMEOUT: Final = 30.0
"""Chromium prints its DevTools endpoint within this (two shared cores: generous)."""
COMMAND_TIMEOUT: Final = 15.0
"""Bound on every CDP command and every awaited event."""
STOP_TIMEOUT: Final = 5.0
PAGE: Final = Path(__file__).with_name("browser_page.html")
FLAGS: Final = (
    "--headless",
    "--no-sandbox",  # as root Chromium refuses to start with its sandbox
    "--disable-gpu",
    "--disable-quic",
    "--no-first-run",
    # Without these Chromium keeps dialling out; on a closed network that stalls it.
    "--disable-background-networking",
    "--disable-component-update",
    "--disable-sync",
    "--remote-debugging-address=127.0.0.1",
    "--remote-debugging-port=0",
)
_DEVTOOLS_LINE: Final = re.compile(r"DevTools listening on (ws://127\.0\.0\.1:\d+/\S+)")
_STDERR_TAIL: Final = 20
_HANDSHAKE_OUTCOMES: Final = (
    "Network.webSocketHandshakeResponseReceived",
    # A refused handshake has no response event: Chromium reports it as a frame error
    # whose message names the status ("Unexpected response code: 403").
    "Network.webSocketFrameError",
    "Network.webSocketClosed",
)
_UNEXPECTED_STATUS: Final = re.compile(r"Unexpected response code: (\d{3})")


class BrowserError(RuntimeError):
    """Chromium did not start, a CDP command failed, or an awaited event never came."""


# CDP messages (JSON over the DevTools WebSocket).


class CommandJSON(TypedDict):
    id: int
    method: str
    params: Mapping[str, object]
    sessionId: NotRequired[str]


class ErrorJSON(TypedDict):
    code: int
    message: str
    data: NotRequired[str]


class ReplyJSON(TypedDict):
    """The answer to the command with the same ``id``: ``result`` or ``error``."""

    id: int
    result: NotRequired[dict[str, Any]]
    error: NotRequired[ErrorJSON]
    sessionId: NotRequired[str]


class EventJSON(TypedDict):
    method: str
    params: dict[str, Any]
    sessionId: NotRequired[str]


def chromium_executable() -> str | None:
    """Debian's ``chromium`` on ``PATH`` (``apt-get install chromium``), or None."""
    return shutil.which("chromium")


class Chromium:
    """One headless Chromium for a whole run: a fresh profile, stopped by process group.

    Usage::

        with Chromium() as browser:
            async with DevTools.connect(browser.devtools_url) as devtools: ...
    """

    def __init__(self, executable: str | None = None) -> None:
        found = executable or chromium_executable()
        if found is None:
            raise BrowserError("chromium is not installed (apt-get install chromium)")
        self.executable = found
        self.devtools_url = ""
        self._process: subprocess.Popen[bytes] | None = None
        self._profile: str | None = None
        self._stderr: list[str] = []
        self._pid: int | None = None
        self._pump: threading.Thread | None = None

    @property
    def pid(self) -> int:
        """The browser's PID, also its process group's id (kept after :meth:`stop`)."""
        if self._pid is None:
            raise BrowserError("Chromium was never started")
        return self._pid

    @property
    def profile(self) -> Path | None:
        """The fresh ``--user-data-dir`` (None once stopped: it is removed)."""
        return None if self._profile is None else Path(self._profile)

    def __enter__(self) -> Chromium:
        self._profile = tempfile.mkdtemp(prefix="lilya-ws-chromium-")
        try:
            self._process = subprocess.Popen(
                [self.executable, *FLAGS, f"--user-data-dir={self._profile}", "about:blank"],
                stdin=subprocess.DEVNULL,
                stdout=subprocess.DEVNULL,
                stderr=subprocess.PIPE,
                start_new_session=True,  # its own process group: stop() reaches every helper
            )
            self._pid = self._process.pid
            self.devtools_url = self._await_endpoint(cast(IO[bytes], self._process.stderr))
        except BaseException:
            self.stop()
            raise
        return self

    def __exit__(self, *exc_info: object) -> None:
        self.stop()

    def _await_endpoint(self, stderr: IO[bytes]) -> str:
        """Read stderr (on a thread, to its end, so the pipe never fills) until Chromium
        names its DevTools endpoint."""
        lines: queue.Queue[str | None] = queue.Queue()

        def pump() -> None:
            for raw in stderr:
                lines.put(raw.decode("utf-8", "replace").rstrip())
            lines.put(None)

        self._pump = threading.Thread(target=pump, name="chromium-stderr", daemon=True)
        self._pump.start()
        deadline = time.monotonic() + START_TIMEOUT
        while True:
            try:
                line = lines.get(timeout=max(deadline - time.monotonic(), 0.0))
            except queue.Empty:
                what = f"no DevTools endpoint within {START_TIMEOUT:g}s"
                raise BrowserError(self._failure(what)) from None
            if line is None:
                raise BrowserError(self._failure("Chromium exited before it was ready"))
            self._stderr = [*self._stderr, line][-_STDERR_TAIL:]
            if match := _DEVTOOLS_LINE.search(line):
                return match.group(1)

    def _failure(self, what: str) -> str:
        return f"{what}; its stderr ended with:\n" + "\n".join(self._stderr)

    def stop(self) -> None:
        """SIGTERM to the process group, SIGKILL after :data:`STOP_TIMEOUT`; the profile
        removed. Idempotent."""
        process, self._process = self._process, None
        if process is not None:
            if process.poll() is None:
                _signal_group(process.pid, signal.SIGTERM)
                try:
                    process.wait(STOP_TIMEOUT)
                except subprocess.TimeoutExpired:
                    _signal_group(process.pid, signal.SIGKILL)
                    process.wait(STOP_TIMEOUT)
            # Chromium's helpers (zygote, renderers) share its group; none may outlive it.
            helpers = [helper for _, helper in group_processes(process.pid)]
            _, alive = psutil.wait_procs(helpers, STOP_TIMEOUT)
            if alive or group_alive(process.pid):
                _signal_group(process.pid, signal.SIGKILL)
                psutil.wait_procs(alive, STOP_TIMEOUT)
            if self._pump is not None:
                self._pump.join(STOP_TIMEOUT)  # the pipe ends with the processes
            if process.stderr is not None:
                process.stderr.close()
        profile, self._profile = self._profile, None
        if profile is not None:
            shutil.rmtree(profile, ignore_errors=True)


def _signal_group(pgid: int, signum: signal.Signals) -> None:
    with contextlib.suppress(ProcessLookupError, PermissionError):
        os.killpg(pgid, signum)


class DevTools:
    """One CDP connection: commands answered by ``id``, events kept for :meth:`wait_event`."""

    def __init__(self, ws: ClientConnection) -> None:
        self._ws = ws
        self._ids = itertools.count(1)
        self._replies: dict[int, asyncio.Future[ReplyJSON]] = {}
        self._events: list[EventJSON] = []
        self._arrived = asyncio.Condition()
        self._closed: str | None = None

    @classmethod
    @contextlib.asynccontextmanager
    async def connect(cls, url: str) -> AsyncIterator[DevTools]:
        """Connect to the browser's endpoint; the reader runs until the block ends."""
        async with connect(
            url, max_size=None, proxy=None, ping_interval=None, open_timeout=COMMAND_TIMEOUT
        ) as ws:
            devtools = cls(ws)
            reader = asyncio.create_task(devtools._read())
            try:
                yield devtools
            finally:
                reader.cancel()
                with contextlib.suppress(asyncio.CancelledError):
                    await reader

    async def _read(self) -> None:
        try:
            async for raw in self._ws:
                message = json.loads(raw)
                if "id" in message:
                    future = self._replies.pop(message["id"], None)
                    if future is not None and not future.done():
                        future.set_result(cast(ReplyJSON, message))
                else:
                    async with self._arrived:
                        self._events.append(cast(EventJSON, message))
                        self._arrived.notify_all()
            self._closed = "the DevTools connection closed"
        except ConnectionClosed as exc:
            self._closed = f"the DevTools connection closed: {exc}"
        finally:
            for future in self._replies.values():
                if not future.done():
                    future.set_exception(BrowserError(self._closed or "reader stopped"))
            async with self._arrived:
                self._arrived.notify_all()

    async def send(
        self,
        method: str,
        params: Mapping[str, object] | None = None,
        session: str | None = None,
        timeout: float = COMMAND_TIMEOUT,
    ) -> dict[str, Any]:
        """Run one command (in ``session``'s target, for a tab); its ``result``."""
        if self._closed is not None:
            raise BrowserError(self._closed)
        command: CommandJSON = {"id": next(self._ids), "method": method, "params": params or {}}
        if session is not None:
            command["sessionId"] = session
        future = asyncio.get_running_loop().create_future()
        self._replies[command["id"]] = future
        await self._ws.send(json.dumps(command))
        try:
            reply = await asyncio.wait_for(future, timeout)
        except asyncio.TimeoutError:  # Python 3.10's is not yet the builtin TimeoutError
            raise BrowserError(f"{method}: no reply within {timeout:g}s") from None
        finally:
            self._replies.pop(command["id"], None)
        if "error" in reply:
            raise BrowserError(f"{method}: {reply['error']['message']}")
        result: dict[str, Any] = reply.get("result", {})
        return result

    async def wait_event(
        self, accept: Callable[[EventJSON], bool], timeout: float = COMMAND_TIMEOUT
    ) -> EventJSON:
        """The first event (received so far or later) that ``accept`` takes."""

        def found() -> EventJSON | None:
            return next((event for event in self._events if accept(event)), None)

        async def arrival() -> EventJSON:
            async with self._arrived:
                while (event := found()) is None:
                    if self._closed is not None:
                        raise BrowserError(self._closed)
                    await self._arrived.wait()
                return event

        try:
            return await asyncio.wait_for(arrival(), timeout)
        except asyncio.TimeoutError:  # as above
            raise BrowserError(f"no such CDP event within {timeout:g}s") from None


class Page:
    """A new tab attached in flat mode (its own ``sessionId``), Network events on."""

    def __init__(self, devtools: DevTools, target: str, session: str) -> None:
        self.devtools = devtools
        self.target = target
        self.session = session

    @classmethod
    @contextlib.asynccontextmanager
    async def open(cls, devtools: DevTools, url: str) -> AsyncIterator[Page]:
        """A tab showing ``url`` (loaded), closed when the block ends."""
        created = await devtools.send("Target.createTarget", {"url": "about:blank"})
        target = str(created["targetId"])
        try:
            attached = await devtools.send(
                "Target.attachToTarget", {"targetId": target, "flatten": True}
            )
            page = cls(devtools, target, str(attached["sessionId"]))
            await page.command("Page.enable")
            await page.command("Network.enable")
            navigated = await page.command("Page.navigate", {"url": url})
            if "errorText" in navigated:
                raise BrowserError(f"navigating to {url}: {navigated['errorText']}")
            await devtools.wait_event(
                lambda e: (
                    e["method"] == "Page.loadEventFired" and e.get("sessionId") == page.session
                )
            )
            yield page
        finally:
            with contextlib.suppress(BrowserError):
                await devtools.send("Target.closeTarget", {"targetId": target})

    async def command(
        self,
        method: str,
        params: Mapping[str, object] | None = None,
        timeout: float = COMMAND_TIMEOUT,
    ) -> Any:
        return await self.devtools.send(method, params, self.session, timeout)

    async def evaluate(self, expression: str, timeout: float) -> Any:
        """The value of ``expression`` in the page, a promise awaited (at most ``timeout``)."""
        params = {
            "expression": expression,
            "awaitPromise": True,
            "returnByValue": True,
            "timeout": timeout * 1000,
        }
        result = await self.command("Runtime.evaluate", params, timeout + COMMAND_TIMEOUT)
        if "exceptionDetails" in result:
            details = result["exceptionDetails"]
            text = details.get("exception", {}).get("description") or details.get("text")
            raise BrowserError(f"the page's script failed: {text}")
        return result["result"].get("value")

    async def handshake(self, url: str) -> str:
        """The outcome of the page's handshake to ``url`` as the Network domain saw it:
        ``"HTTP 101"``, ``"HTTP <status>"`` for a refusal, or Chromium's words for a
        failure that names no status (a 401, a missing subprotocol)."""
        created = await self.devtools.wait_event(
            lambda e: (
                e["method"] == "Network.webSocketCreated"
                and e.get("sessionId") == self.session
                and e["params"].get("url") == url
            )
        )
        request = created["params"]["requestId"]
        outcome = await self.devtools.wait_event(
            lambda e: (
                e.get("sessionId") == self.session
                and e["params"].get("requestId") == request
                and e["method"] in _HANDSHAKE_OUTCOMES
            )
        )
        params = outcome["params"]
        if outcome["method"] == "Network.webSocketHandshakeResponseReceived":
            return f"HTTP {params['response']['status']}"
        if outcome["method"] == "Network.webSocketClosed":
            return "closed before any handshake response"
        message = str(params.get("errorMessage", ""))
        if status := _UNEXPECTED_STATUS.search(message):
            return f"HTTP {status.group(1)}"
        return message.removeprefix("Error during WebSocket handshake: ")


class PageServer:
    """:data:`PAGE` over HTTP on 127.0.0.1 (a thread): the origin of the checks' handshakes."""

    def __init__(self) -> None:
        body = PAGE.read_bytes()

        class Handler(http.server.BaseHTTPRequestHandler):
            def do_GET(self) -> None:
                found = self.path.split("?")[0] == "/"
                self.send_response(200 if found else 404)
                self.send_header("Content-Type", "text/html; charset=utf-8")
                self.send_header("Content-Length", str(len(body) if found else 0))
                self.end_headers()
                if found:
                    self.wfile.write(body)

            def log_message(self, format: str, *args: Any) -> None:
                pass  # the matrix's output stays the report's

        self._server = http.server.ThreadingHTTPServer(("127.0.0.1", 0), Handler)
        self._thread = threading.Thread(
            target=self._server.serve_forever, name="browser-page-server", daemon=True
        )

    @property
    def origin(self) -> str:
        """``http://127.0.0.1:<port>``: what the page's handshakes send as ``Origin``."""
        return f"http://127.0.0.1:{self._server.server_address[1]}"

    @property
    def url(self) -> str:
        return self.origin + "/"

    def __enter__(self) -> PageServer:
        self._thread.start()
        return self

    def __exit__(self, *exc_info: object) -> None:
        self._server.shutdown()
        self._server.server_close()
        self._thread.join(STOP_TIMEOUT)
