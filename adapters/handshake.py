"""A raw, blocking WebSocket opening handshake over a stdlib socket.

Used to decide that a server is ready (it answered ``101 Switching Protocols``)
and, by the probe, to see exactly what a server puts on the wire when it
refuses a handshake (RFC 6455 section 4.1) or when a client vanishes without
a closing handshake. A real client library would hide both.
"""

from __future__ import annotations

import base64
import os
import socket
import struct
import time
from dataclasses import dataclass, field
from types import TracebackType

_HEAD_LIMIT = 64 * 1024


@dataclass
class Handshake:
    """An answered handshake: the status line, headers and the still-open socket."""

    sock: socket.socket
    status: int
    headers: tuple[tuple[str, str], ...]
    buffered: bytes = field(default=b"", repr=False)

    def header(self, name: str) -> str | None:
        """The first value of header ``name`` (case-insensitive), if present."""
        wanted = name.lower()
        return next((value for key, value in self.headers if key == wanted), None)

    def read_body(self, timeout: float) -> bytes:
        """Read a refusal's body, by Content-Length, chunked coding or until EOF."""
        deadline = time.monotonic() + timeout
        data = self.buffered
        if (length := self.header("content-length")) is not None:
            while len(data) < int(length) and (chunk := self._recv(deadline)):
                data += chunk
            return data[: int(length)]
        if (self.header("transfer-encoding") or "").lower() == "chunked":
            while (body := _dechunk(data)) is None and (chunk := self._recv(deadline)):
                data += chunk
            return body if body is not None else data
        while chunk := self._recv(deadline):
            data += chunk
        return data

    def send_close(self, code: int, reason: str, timeout: float) -> bool:
        """Send a close frame and wait up to ``timeout`` for the server's close frame.

        Returns whether the server answered; frames before its close are skipped.
        """
        deadline = time.monotonic() + timeout
        data = self.buffered
        try:
            self.sock.sendall(close_frame(code, reason))
            while not _close_frame_seen(data):
                if not (chunk := self._recv(deadline)):
                    return False
                data += chunk
        except OSError:
            return False
        return True

    def close_cleanly(self, timeout: float) -> None:
        """Close with 1000, wait briefly for the server's answer, then close the socket."""
        try:
            self.send_close(1000, "", timeout)
        finally:
            self.sock.close()

    def abort(self, *, reset: bool) -> None:
        """Drop the connection with no close frame: a FIN, or an RST when ``reset``."""
        if reset:
            self.sock.setsockopt(socket.SOL_SOCKET, socket.SO_LINGER, struct.pack("ii", 1, 0))
        self.sock.close()

    def __enter__(self) -> Handshake:
        return self

    def __exit__(
        self,
        exc_type: type[BaseException] | None,
        exc: BaseException | None,
        tb: TracebackType | None,
    ) -> None:
        self.sock.close()

    def _recv(self, deadline: float) -> bytes:
        remaining = deadline - time.monotonic()
        if remaining <= 0:
            return b""
        self.sock.settimeout(remaining)
        try:
            return self.sock.recv(65536)
        except (TimeoutError, ConnectionError):
            return b""


def open_handshake(host: str, port: int, path: str = "/", *, timeout: float) -> Handshake:
    """Send an HTTP/1.1 Upgrade request and parse the answer's status and headers.

    Raises ``OSError`` when nothing answers (connection refused, timeout, or the
    server closed the connection before a complete response head).
    """
    sock = socket.create_connection((host, port), timeout=timeout)
    try:
        key = base64.b64encode(os.urandom(16)).decode("ascii")
        request = (
            f"GET {path} HTTP/1.1\r\n"
            f"Host: {host}:{port}\r\n"
            "Upgrade: websocket\r\n"
            "Connection: Upgrade\r\n"
            f"Sec-WebSocket-Key: {key}\r\n"
            "Sec-WebSocket-Version: 13\r\n"
            "\r\n"
        )
        sock.sendall(request.encode("ascii"))
        data = b""
        while b"\r\n\r\n" not in data:
            chunk = sock.recv(65536)
            if not chunk or len(data) > _HEAD_LIMIT:
                raise ConnectionError("connection closed before a complete response head")
            data += chunk
    except BaseException:
        sock.close()
        raise
    head, _, rest = data.partition(b"\r\n\r\n")
    status_line, *header_lines = head.decode("latin-1").split("\r\n")
    headers = tuple(
        (name.strip().lower(), value.strip())
        for name, _, value in (line.partition(":") for line in header_lines)
    )
    return Handshake(sock, int(status_line.split()[1]), headers, rest)


def close_frame(code: int, reason: str) -> bytes:
    """A client-to-server close frame, masked as RFC 6455 section 5.3 requires."""
    payload = struct.pack("!H", code) + reason.encode("utf-8")
    mask = os.urandom(4)
    masked = bytes(byte ^ mask[index % 4] for index, byte in enumerate(payload))
    return bytes([0x88, 0x80 | len(payload)]) + mask + masked


def _dechunk(data: bytes) -> bytes | None:
    """Decode a complete chunked body, or None while the last chunk is missing."""
    body = b""
    while True:
        size_line, sep, data = data.partition(b"\r\n")
        if not sep:
            return None
        size = int(size_line.split(b";")[0], 16)
        if size == 0:
            return body
        if len(data) < size + 2:
            return None
        body, data = body + data[:size], data[size + 2 :]


def _close_frame_seen(data: bytes) -> bool:
    """Whether the server's (unmasked) frames in ``data`` include a close frame yet."""
    while len(data) >= 2:
        length, offset = data[1] & 0x7F, 2
        if length >= 126:
            size = 2 if length == 126 else 8
            if len(data) < 2 + size:
                return False
            length, offset = int.from_bytes(data[2 : 2 + size], "big"), 2 + size
        if data[0] & 0x0F == 0x8:
            return True
        if len(data) < offset + length:
            return False
        data = data[offset + length :]
    return False
