"""The client side's tools: the ``websockets`` client, raw sockets and the apps' side channel.

Every step is bounded (:data:`STEP_TIMEOUT`); a step that times out raises
:class:`CheckFailed`. Raw sockets speak RFC 6455 by hand where a client library
would refuse to (an unmasked frame, invalid UTF-8, a close frame with the TCP
connection kept open, a reset).
"""

from __future__ import annotations

import asyncio
import base64
import json
import os
import socket
import ssl
import struct
import uuid
from collections.abc import Awaitable, Mapping, Sequence
from dataclasses import dataclass
from pathlib import Path
from typing import Any, Final, TypeVar, cast
from urllib.parse import urlsplit

from websockets.asyncio.client import ClientConnection, connect
from websockets.datastructures import Headers
from websockets.exceptions import ConnectionClosed, InvalidStatus
from websockets.typing import Subprotocol

from adapters.handshake import client_frame, header_lines
from integration import protocol as p

__all__ = ["CheckFailed", "NotRunnable", "RawConnection", "Target", "bounded", "open_ws"]

REPO_ROOT: Final = Path(__file__).resolve().parent.parent
"""Where the servers import the apps from."""
STEP_TIMEOUT: Final = 15.0
"""Bound on every single client step (a handshake, a receive, a close)."""
CLIENT_MAX_SIZE: Final = 64 * 1024 * 1024

_T = TypeVar("_T")


class CheckFailed(AssertionError):
    """A client step did not complete (timeout, refused connection, missing report)."""


class NotRunnable(Exception):
    """The scenario needs something this run lacks (a ``wss://`` URL, a local server)."""


@dataclass(frozen=True)
class Target:
    """A server configuration that serves ``integration.apps:app``, as the checks reach it."""

    name: str
    url: str
    """``ws://host:port``, without a path."""
    tls_url: str | None = None
    """The same app served over TLS (``wss://host:port``), if this run has one."""
    cafile: Path | None = None
    """The CA that signed the ``wss://`` server's certificate."""
    local: bool = False
    """Checks may start their own server of this configuration (not in ``--target`` mode)."""

    def secure(self) -> Target:
        """This target reached over ``wss://``; raises :class:`NotRunnable` without one."""
        if self.tls_url is None:
            raise NotRunnable("no wss:// server in this run")
        return Target(self.name, self.tls_url, None, self.cafile, self.local)

    @property
    def host(self) -> str:
        return urlsplit(self.url).hostname or "127.0.0.1"

    @property
    def port(self) -> int:
        parts = urlsplit(self.url)
        return parts.port or (443 if parts.scheme == "wss" else 80)

    @property
    def tls(self) -> bool:
        return self.url.startswith("wss://")

    def ssl_context(self) -> ssl.SSLContext | None:
        if not self.tls:
            return None
        cafile = None if self.cafile is None else str(self.cafile)
        return ssl.create_default_context(cafile=cafile)


async def bounded(awaitable: Awaitable[_T], timeout: float = STEP_TIMEOUT) -> _T:
    """``awaitable`` with a deadline; a timeout is a failed check, not a hang."""
    try:
        return await asyncio.wait_for(awaitable, timeout)
    except asyncio.TimeoutError:  # wait_for's on 3.10; the builtin from 3.11 on
        raise CheckFailed(f"no answer within {timeout:g}s") from None


def open_ws(
    target: Target,
    path: str,
    *,
    subprotocols: Sequence[str] | None = None,
    headers: Sequence[tuple[str, str]] | None = None,
    compression: str | None = "deflate",
    max_queue: int | None = 16,
) -> connect:
    """A ``websockets`` client connection to ``path``, every timeout bounded, no proxy.

    ``max_queue``: the messages it holds unread before it stops reading the socket
    (``websockets``' default); ``None`` reads on, so a close frame queued behind a
    flood of messages still arrives."""
    return connect(
        target.url + path,
        subprotocols=[Subprotocol(s) for s in subprotocols] if subprotocols else None,
        additional_headers=headers,
        compression=compression,
        proxy=None,
        ssl=target.ssl_context(),
        open_timeout=STEP_TIMEOUT,
        close_timeout=STEP_TIMEOUT,
        ping_interval=None,
        max_size=CLIENT_MAX_SIZE,
        max_queue=max_queue,
    )


async def recv(ws: ClientConnection) -> str | bytes:
    return await bounded(ws.recv())


async def recv_json(ws: ClientConnection) -> Any:
    message = await recv(ws)
    if not isinstance(message, str):
        raise CheckFailed(f"expected a JSON text frame, received {len(message)} bytes")
    return json.loads(message)


async def closed_by_server(ws: ClientConnection) -> tuple[int | None, str]:
    """Wait for the server's close frame: its code and reason (None: no close frame)."""
    try:
        while True:
            await recv(ws)
    except ConnectionClosed as exc:
        return (exc.rcvd.code, exc.rcvd.reason) if exc.rcvd else (None, "")


async def client_close(ws: ClientConnection, timeout: float = STEP_TIMEOUT) -> str:
    """Close with 4001 "client bye"; ``"completed"`` once the server's close frame came.

    Without an answer within ``timeout`` the connection is dropped (not left to the
    client library's own, longer, close timeout).
    """
    try:
        await asyncio.wait_for(ws.close(p.CLIENT_CLOSE_CODE, p.CLIENT_CLOSE_REASON), timeout)
    except asyncio.TimeoutError:
        ws.transport.abort()
        return f"no close frame from the server within {timeout:g}s"
    return "completed" if ws.protocol.close_rcvd is not None else "no close frame from the server"


async def rejected(target: Target, path: str) -> tuple[int, Headers, bytes]:
    """Open ``path`` expecting the handshake to be refused; the HTTP status, headers, body."""
    try:
        async with open_ws(target, path):
            pass
    except InvalidStatus as exc:
        response = exc.response
        return response.status_code, response.headers, bytes(response.body)
    raise CheckFailed("the handshake was accepted; expected an HTTP refusal")


async def report(target: Target, token: str) -> Mapping[str, Any]:
    """What the app stored under ``token``, fetched over ``/report/<token>``."""
    async with open_ws(target, p.REPORT_ROUTE + token) as ws:
        answer = await recv_json(ws)
    if not answer.get("found"):
        raise CheckFailed(f"the app stored no report within {p.REPORT_WAIT:g}s")
    return cast("Mapping[str, Any]", answer["result"])


async def late_report(target: Target, token: str, within: float) -> Mapping[str, Any]:
    """``report`` for an app that stores its result up to ``within`` seconds from now,
    past one ``REPORT_WAIT``: asked again until then."""
    deadline = asyncio.get_running_loop().time() + within
    while True:
        try:
            return await report(target, token)
        except CheckFailed:
            if asyncio.get_running_loop().time() >= deadline:
                raise


async def signal(target: Target, token: str) -> None:
    """Tell the app waiting on ``token`` that the client has left."""
    async with open_ws(target, p.SIGNAL_ROUTE + token) as ws:
        await closed_by_server(ws)


async def tally(target: Target, token: str) -> list[str]:
    """Every outcome the apps appended under ``token``."""
    async with open_ws(target, p.TALLY_ROUTE + token) as ws:
        return cast("list[str]", await recv_json(ws))


async def leave_before_accept(target: Target, path: str, token: str, how: str) -> None:
    """Send the handshake request to ``path`` (``accept=late`` or ``never``) and, once
    the app says it waits to accept, drop TCP (``fin`` or ``reset``) and tell it."""
    raw = await RawConnection.request(target, path)
    await report(target, token)  # the app runs, and waits to accept
    raw.abort(reset=how == "reset")
    await signal(target, token)


def new_token() -> str:
    return uuid.uuid4().hex


async def http_get(target: Target, path: str) -> tuple[int, bytes]:
    """A plain HTTP/1.1 GET (``Connection: close``): status and body."""
    reader, writer = await bounded(
        asyncio.open_connection(target.host, target.port, ssl=target.ssl_context())
    )
    try:
        writer.write(
            f"GET {path} HTTP/1.1\r\nHost: {target.host}:{target.port}\r\n"
            "Connection: close\r\n\r\n".encode("ascii")
        )
        data = await bounded(reader.read())
    finally:
        writer.close()
    head, _, body = data.partition(b"\r\n\r\n")
    status = int(head.split(b" ", 2)[1])
    if b"transfer-encoding: chunked" in head.lower():
        body = _dechunk(body)
    return status, body


def _dechunk(data: bytes) -> bytes:
    body = b""
    while data:
        size_line, _, data = data.partition(b"\r\n")
        size = int(size_line.split(b";")[0] or b"0", 16)
        if size == 0:
            break
        body, data = body + data[:size], data[size + 2 :]
    return body


async def answer(
    target: Target,
    path: str,
    headers: Sequence[tuple[bytes, bytes]] = (),
    *,
    http_version: str = "1.1",
    websocket_version: str = "13",
    key: str | None = None,
    hosts: Sequence[str] | None = None,
) -> int | str:
    """The status of the server's answer to an opening handshake's request
    (``RawConnection.request``'s), ``"no answer"`` when none came within ``HANG_LIMIT``;
    the connection is closed then."""
    raw = await RawConnection.request(
        target,
        path,
        headers,
        http_version=http_version,
        websocket_version=websocket_version,
        key=key,
        hosts=hosts,
    )
    try:
        return await raw.status(p.HANG_LIMIT)
    finally:
        raw.close()


class RawConnection:
    """A WebSocket over a bare stream: frames built by hand, the server's frames parsed."""

    def __init__(self, reader: asyncio.StreamReader, writer: asyncio.StreamWriter) -> None:
        self._reader = reader
        self._writer = writer
        self.answer_headers: dict[str, list[str]] = {}
        """The headers of the server's answer, by lower-case name, once ``status()`` read it."""

    @classmethod
    async def request(
        cls,
        target: Target,
        path: str,
        headers: Sequence[tuple[bytes, bytes]] = (),
        receive_buffer: int | None = None,
        *,
        http_version: str = "1.1",
        websocket_version: str = "13",
        key: str | None = None,
        early: bytes = b"",
        hosts: Sequence[str] | None = None,
    ) -> RawConnection:
        """Connect and send the opening handshake's request, with ``path`` (the request
        target, sent as UTF-8) and ``headers`` as given (bytes no client library would
        send), not waiting for the answer (the server
        runs the app, which has not accepted yet). ``receive_buffer``: the socket's
        ``SO_RCVBUF``, set before connecting (a slow reader's small window). The HTTP
        and WebSocket versions and the key (16 random bytes' base64 when ``None``) can
        be ones RFC 6455 section 4.1 does not allow; so are ``early`` bytes (frames),
        written with the request instead of after the server's answer. ``hosts``: the
        values of the Host headers, none or several (default: one, the target's)."""
        if receive_buffer is None:
            opening = asyncio.open_connection(target.host, target.port, ssl=target.ssl_context())
        else:
            sock = socket.socket()
            sock.setsockopt(socket.SOL_SOCKET, socket.SO_RCVBUF, receive_buffer)
            sock.setblocking(False)
            await bounded(asyncio.get_running_loop().sock_connect(sock, (target.host, target.port)))
            opening = asyncio.open_connection(sock=sock, ssl=target.ssl_context())
        reader, writer = await bounded(opening)
        key = key or base64.b64encode(os.urandom(16)).decode("ascii")
        if hosts is None:
            hosts = [f"{target.host}:{target.port}"]
        writer.write(
            (
                f"GET {path} HTTP/{http_version}\r\n"
                + "".join(f"Host: {host}\r\n" for host in hosts)
                + "Upgrade: websocket\r\nConnection: Upgrade\r\n"
                f"Sec-WebSocket-Key: {key}\r\nSec-WebSocket-Version: {websocket_version}\r\n"
            ).encode()
            + header_lines(headers)
            + b"\r\n"
            + early
        )
        return cls(reader, writer)

    @classmethod
    async def open(cls, target: Target, path: str) -> RawConnection:
        """Connect and complete the opening handshake (status 101 or :class:`CheckFailed`)."""
        raw = await cls.request(target, path)
        status = await raw.status(STEP_TIMEOUT)
        if status != 101:
            raw.close()
            raise CheckFailed(f"handshake answered {status}")
        return raw

    async def status(self, timeout: float) -> int | str:
        """The status of the server's answer to the request, ``"no answer"`` when none
        came within ``timeout`` (or the server closed the connection first)."""
        try:
            head = await asyncio.wait_for(self._reader.readuntil(b"\r\n\r\n"), timeout)
        except (asyncio.TimeoutError, asyncio.IncompleteReadError, ConnectionError):
            return "no answer"
        status_line, *lines = head.decode("latin-1").split("\r\n")
        for line in filter(None, lines):
            name, _, value = line.partition(":")
            self.answer_headers.setdefault(name.lower(), []).append(value.strip())
        return int(status_line.split(" ", 2)[1])

    def send_frame(self, opcode: int, payload: bytes, *, masked: bool = True) -> None:
        """One final frame; clients must mask (RFC 6455 section 5.3), ``masked=False`` does not."""
        self._writer.write(client_frame(opcode, payload, masked=masked))

    async def send_until_blocked(self, frame: bytes, count: int, within: float) -> int:
        """Write ``frame`` up to ``count`` times, each once the last has left the stream's
        buffer, for at most ``within`` seconds: how many were written (fewer when the
        server stopped reading, and TCP stopped the writes; the last may still be in the
        buffer)."""
        deadline = asyncio.get_running_loop().time() + within
        for written in range(1, count + 1):
            self._writer.write(frame)
            remaining = deadline - asyncio.get_running_loop().time()
            try:
                await asyncio.wait_for(self._writer.drain(), max(remaining, 0))
            except asyncio.TimeoutError:
                return written
        return count

    async def flush(self) -> None:
        """Wait until everything written has left the stream's buffer."""
        await bounded(self._writer.drain())

    def send_close(self, code: int, reason: str) -> None:
        self.send_frame(0x8, struct.pack("!H", code) + reason.encode("utf-8"))

    async def server_close(self, timeout: float = p.HANG_LIMIT) -> int | str | None:
        """The code of the server's close frame (1005, "no status received", for one
        without a code); ``"dropped"`` when the connection ended without one, ``"none"``
        when neither happened within ``timeout``."""
        deadline = asyncio.get_running_loop().time() + timeout
        try:
            while True:
                remaining = deadline - asyncio.get_running_loop().time()
                opcode, payload = await asyncio.wait_for(self._frame(), max(remaining, 0))
                if opcode == 0x8:
                    return struct.unpack("!H", payload[:2])[0] if len(payload) >= 2 else 1005
        except (asyncio.IncompleteReadError, ConnectionError):
            return "dropped"
        except asyncio.TimeoutError:
            return "none"

    async def answered(self, opcode: int, timeout: float = p.HANG_LIMIT) -> bool:
        """Whether the server sends a frame with ``opcode`` within ``timeout`` (the
        frames before it are skipped)."""

        async def until_it_comes() -> None:
            while (await self._frame())[0] != opcode:
                pass

        try:
            await asyncio.wait_for(until_it_comes(), timeout)
        except (asyncio.TimeoutError, asyncio.IncompleteReadError, ConnectionError):
            return False
        return True

    async def next_frame(self) -> tuple[int, bytes]:
        """The server's next frame: its opcode and payload."""
        return await bounded(self._frame())

    async def tcp_closed(self, timeout: float = p.HANG_LIMIT) -> bool:
        """Whether the server ends the TCP connection within ``timeout`` (data is skipped)."""
        try:
            while await asyncio.wait_for(self._reader.read(65536), timeout):
                pass
        except ConnectionError:
            return True
        except asyncio.TimeoutError:
            return False
        return True

    async def _frame(self) -> tuple[int, bytes]:
        first, second = await self._reader.readexactly(2)
        length = second & 0x7F
        if length == 126:
            length = struct.unpack("!H", await self._reader.readexactly(2))[0]
        elif length == 127:
            length = struct.unpack("!Q", await self._reader.readexactly(8))[0]
        return first & 0x0F, await self._reader.readexactly(length)

    def abort(self, *, reset: bool) -> None:
        """Drop the connection with no close frame: a FIN, or an RST when ``reset``."""
        sock = self._writer.get_extra_info("socket")
        if reset and sock is not None:
            sock.setsockopt(socket.SOL_SOCKET, socket.SO_LINGER, struct.pack("ii", 1, 0))
        self._writer.transport.abort()

    def close(self) -> None:
        self._writer.transport.abort()
