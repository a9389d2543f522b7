"""A blocking WebSocket opening handshake over a stdlib socket, the wire left in view.

Used to decide that a server is ready (it answered ``101 Switching Protocols``)
and, by the probe, to see exactly what a server puts on the wire when it
refuses a handshake (RFC 6455 section 4.1) or when a client vanishes without
a closing handshake. A real client library would hide both.

h11 writes the request and parses the answer (head, and a refusal's body by
``Content-Length``, chunked coding or end of stream), since HTTP/1.1 framing is
what it is for; wsproto's ``Connection`` frames the closing handshake that
follows a 101. Only the socket is ours, so a caller can still abort it or write
raw bytes to it.
"""

from __future__ import annotations

import base64
import os
import socket
import struct
import time
from collections.abc import Iterable, Mapping
from dataclasses import dataclass, field
from typing import Final, TypedDict

import h11
from wsproto.connection import Connection, ConnectionType
from wsproto.events import CloseConnection, Event, Ping, Pong


@dataclass
class Handshake:
    """An answered handshake: the status line, headers and the still-open socket."""

    sock: socket.socket
    status: int
    headers: tuple[tuple[str, str], ...]
    http: h11.Connection = field(repr=False)
    """The client side of the exchange, left after the response head."""
    frames: Connection | None = field(default=None, repr=False)
    """The client side of the WebSocket after the 101, made by the first frame sent."""

    @property
    def buffered(self) -> bytes:
        """Bytes the server sent after the response head, already read from the socket."""
        data, _ = self.http.trailing_data
        return data

    def header(self, name: str) -> str | None:
        """The first value of header ``name`` (case-insensitive), if present."""
        wanted = name.lower()
        return next((value for key, value in self.headers if key == wanted), None)

    def read_body(self, timeout: float) -> bytes:
        """Read a refusal's body, as far as it arrives within ``timeout``."""
        deadline = time.monotonic() + timeout
        body = b""
        while True:
            try:
                event = self.http.next_event()
            except h11.RemoteProtocolError:  # the stream ended inside the body
                return body
            if isinstance(event, h11.Data):
                body += event.data
            elif event is h11.NEED_DATA:
                if (chunk := self._recv(deadline)) is None:
                    return body
                self.http.receive_data(chunk)
            else:  # EndOfMessage, ConnectionClosed
                return body

    def send_close(self, code: int, reason: str, timeout: float) -> bool:
        """Send a close frame and wait up to ``timeout`` for the server's close frame.

        Returns whether the server answered; frames before its close are skipped.
        """
        return self._exchange(CloseConnection(code, reason), CloseConnection, timeout)

    def ping(self, timeout: float) -> bool:
        """Send a ping and wait up to ``timeout`` for the server's pong: whether it came."""
        return self._exchange(Ping(b"probe"), Pong, timeout)

    def _exchange(self, sent: Event, answer: type[Event], timeout: float) -> bool:
        deadline = time.monotonic() + timeout
        if self.frames is None:
            self.frames = Connection(ConnectionType.CLIENT, trailing_data=self.buffered)
        websocket = self.frames
        try:
            self.sock.sendall(websocket.send(sent))
            while not any(isinstance(event, answer) for event in websocket.events()):
                if not (chunk := self._recv(deadline)):
                    return False
                websocket.receive_data(chunk)
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
        drop(self.sock, reset=reset)

    def __enter__(self) -> Handshake:
        return self

    def __exit__(self, *exc_info: object) -> None:
        self.sock.close()

    def _recv(self, deadline: float) -> bytes | None:
        """What the server sends next: ``b""`` at the end of the stream (a reset
        included), None when nothing came before ``deadline``."""
        remaining = deadline - time.monotonic()
        if remaining <= 0:
            return None
        self.sock.settimeout(remaining)
        try:
            return self.sock.recv(65536)
        except TimeoutError:
            return None
        except ConnectionError:
            return b""


class Malformation(TypedDict, total=False):
    """What an opening handshake's request has instead of what RFC 6455 requires."""

    http_version: str
    websocket_version: str
    key: str


MALFORMED_REQUESTS: Final[Mapping[str, Malformation]] = {
    "Sec-WebSocket-Version: 8": {"websocket_version": "8"},
    "HTTP/1.0": {"http_version": "1.0"},
    "a 5-byte key": {"key": "c2hvcnQ="},
}
"""Requests RFC 6455 section 4.2.1 has a server refuse (it asks version 13, HTTP/1.1 or
later and a key of 16 bytes), one fault each."""

ODD_HEADER_VALUES: Final[Mapping[str, bytes]] = {
    "UTF-8": "café".encode(),
    "latin-1": "café".encode("latin-1"),
    "control byte": b"a\x01b",
}
"""Request header values a client library would not send: not ASCII, or with a control
byte (RFC 9110 forbids one in a field value)."""

HANDSHAKE_HEADERS: Final = 5
"""Header lines of every request sent here: Host, Upgrade, Connection and the two
Sec-WebSocket ones."""


def _headers_in_all(count: int) -> tuple[tuple[bytes, bytes], ...]:
    """Enough numbered headers for ``count`` header lines with the handshake's own."""
    return tuple((f"X-Header-{n}".encode(), b"v") for n in range(count - HANDSHAKE_HEADERS))


LARGE_REQUEST_HEADS: Final[Mapping[str, tuple[tuple[bytes, bytes], ...]]] = {
    "an 8 KiB header": ((b"Cookie", b"c=" + b"x" * 8192),),
    "120 headers": _headers_in_all(120),
    "200 headers": _headers_in_all(200),
    "600 headers": _headers_in_all(600),
}
"""Opening handshakes with a header line longer than 8 KiB (a large cookie), and with
120, 200 and 600 header lines in all: what a server's own limits on a request head
meet. Each head stays under 16 KiB, which h11 refuses when it arrives in pieces."""


def header_lines(headers: Iterable[tuple[bytes, bytes]]) -> bytes:
    """``headers`` as the lines of a request head."""
    return b"".join(name + b": " + value + b"\r\n" for name, value in headers)


HOST_HEADERS: Final[Mapping[str, tuple[str, ...]]] = {
    "no Host": (),
    "two Host headers": ("a.example", "b.example"),
}
"""The Host headers of opening handshakes that RFC 9112 has a server answer with 400: an
HTTP/1.1 request has exactly one."""

SUBPROTOCOL_OFFERS: Final[Mapping[str, tuple[bytes, ...]]] = {
    "two headers": (b"chat.v2", b"chat.v1"),
    "empty items": (b"chat.v2,,chat.v1",),
    "only empty items": (b",",),
}
"""``Sec-WebSocket-Protocol`` request headers, one per value, that no client library
sends but RFC 9110's list syntax allows (a list's recipient ignores empty items)."""

REQUEST_TARGETS: Final[Mapping[str, str]] = {
    "absolute-form": "ws://{authority}/{route}?{query}&q=1",
    "two leading slashes": "//{route}//{route}?{query}&q=1",
    "a fragment": "/{route}?{query}&q=1#top",
    "raw UTF-8": "/{route}/café?{query}&q=é",
}
"""Request targets of an opening handshake, ``str.format``-ed with the server's
``authority``, an app's ``route`` and a ``query`` of its own. The absolute form is one
RFC 9112 section 3.2.2 has a server accept; a path may start with ``//``; a fragment
(RFC 6455 section 3 forbids one) and bytes over 0x7F (RFC 3986 has them
percent-encoded) are what a client should not send."""

HEADERS_SERVERS_READ: Final[Mapping[str, bytes]] = {
    "X-Forwarded-For": b"203.0.113.9",
    "X-Forwarded-Proto": b"https",
    "Daphne-Root-Path": b"/root",
    "X_Value": b"underscored",
}
"""Request headers a server acts on before the app runs: uvicorn takes the client's
address and the scheme from ``X-Forwarded-*`` of a client it trusts (by default one on
127.0.0.1); daphne sets ``root_path`` from ``Daphne-Root-Path`` and drops a name
with ``_`` (CVE-2015-0219), both left out of the scope's headers."""


def client_frame(opcode: int, payload: bytes, *, masked: bool = True) -> bytes:
    """One final frame as a client sends it: masked (RFC 6455 section 5.3), or not with
    ``masked=False`` to see a server refuse it."""
    length = len(payload)
    mask_bit = 0x80 if masked else 0
    head = bytes([0x80 | opcode])
    if length < 126:
        head += bytes([mask_bit | length])
    elif length < 1 << 16:
        head += bytes([mask_bit | 126]) + struct.pack("!H", length)
    else:
        head += bytes([mask_bit | 127]) + struct.pack("!Q", length)
    if not masked:
        return head + payload
    mask = os.urandom(4)
    return head + mask + bytes(byte ^ mask[index % 4] for index, byte in enumerate(payload))


def send_upgrade_request(
    host: str, port: int, path: str = "/", *, timeout: float
) -> tuple[socket.socket, h11.Connection]:
    """Connect and send an HTTP/1.1 Upgrade request; the answer is left unread (the
    server runs the app, which has not accepted yet)."""
    http = h11.Connection(h11.CLIENT)
    key = base64.b64encode(os.urandom(16)).decode("ascii")
    request = h11.Request(
        method="GET",
        target=path,
        headers=[
            ("Host", f"{host}:{port}"),
            ("Upgrade", "websocket"),
            ("Connection", "Upgrade"),
            ("Sec-WebSocket-Key", key),
            ("Sec-WebSocket-Version", "13"),
        ],
    )
    sock = socket.create_connection((host, port), timeout=timeout)
    try:
        sock.sendall(http.send(request) or b"")
    except BaseException:
        sock.close()
        raise
    return sock, http


def drop(sock: socket.socket, *, reset: bool) -> None:
    """Close ``sock`` with no close frame: a FIN, or an RST when ``reset``."""
    if reset:
        sock.setsockopt(socket.SOL_SOCKET, socket.SO_LINGER, struct.pack("ii", 1, 0))
    sock.close()


def open_handshake(host: str, port: int, path: str = "/", *, timeout: float) -> Handshake:
    """Send an HTTP/1.1 Upgrade request and parse the answer's status and headers.

    Raises ``OSError`` when nothing answers (connection refused, timeout, or the
    server closed the connection before a complete response head).
    """
    sock, http = send_upgrade_request(host, port, path, timeout=timeout)
    try:
        while (event := http.next_event()) is h11.NEED_DATA:
            http.receive_data(sock.recv(65536))
    except h11.RemoteProtocolError as exc:
        sock.close()
        raise ConnectionError(f"no complete response head: {exc}") from exc
    except BaseException:
        sock.close()
        raise
    if not isinstance(event, h11.InformationalResponse | h11.Response):
        sock.close()
        raise ConnectionError(f"no response head, got {event!r}")
    headers = tuple(
        (name.decode("latin-1"), value.decode("latin-1")) for name, value in event.headers
    )
    return Handshake(sock, event.status_code, headers, http)
