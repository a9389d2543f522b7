"""Measure a running server's ASGI WebSocket dialect with ``adapters.probe_app``.

:func:`measure` drives every experiment of the probe app with a real client
(``websockets``) and, where a real client would hide the wire, with the raw
socket of ``adapters.handshake``. :func:`capabilities_from` condenses the
observations into a :class:`~lilya_ws.servers.ServerCapabilities`.

Example::

    with ADAPTERS["daphne"].start(PROBE_APP) as server:
        dialect = asyncio.run(measure(server))
"""

from __future__ import annotations

import asyncio
import contextlib
import json
import random
import time
import uuid
from collections.abc import Awaitable, Callable, Sequence
from typing import Final, TypedDict, TypeVar, cast

from websockets.asyncio.client import ClientConnection, connect
from websockets.exceptions import ConnectionClosed, WebSocketException
from websockets.typing import Subprotocol

from lilya_ws.servers import PROBE_CLOSE_CODE, SendAfterClose, ServerCapabilities

from .handshake import Handshake, drop, open_handshake, send_upgrade_request
from .probe_app import (
    ACCEPT_HEADER,
    CLOSE_REASON,
    DENIAL_PARTS,
    DENIAL_STATUS,
    HANG_TIMEOUT,
    MessageShape,
    Outcome,
)
from .process import RunningServer

PROBE_APP: Final = f"{__package__}.probe_app:app"
CLIENT_CLOSE_CODE: Final = PROBE_CLOSE_CODE
CLIENT_CLOSE_REASON: Final = "bye"
MIB: Final = 1024 * 1024
SIZES: Final = (MIB, MIB + 1, 8 * MIB, 16 * MIB, 16 * MIB + 1)
"""Message sizes tried in each direction; the +1 sizes find the exact limits."""
STEP_TIMEOUT: Final = 15.0
SUBPROTOCOLS: Final = (Subprotocol("probe.one"), Subprotocol("probe.two"))

_T = TypeVar("_T")


class ScopeEntry(TypedDict):
    """One scope key: its type shape (``list[tuple[bytes, bytes]]``) and its value."""

    shape: str
    value: object


class DenialSeen(TypedDict):
    """What the client received for a denial response, and what the app's sends did."""

    status: int | None
    headers: dict[str, str]
    body: str
    client_error: str | None
    app: list[Outcome]


class CloseSeen(TypedDict):
    """The close code and reason the client received."""

    code: int | None
    reason: str | None


class CloseCodeSeen(CloseSeen):
    """The close the client received, and what the app's ``websocket.close`` did."""

    app: Outcome


class EndingSeen(CloseSeen):
    """How a connection ended for the client, after how many seconds (None: it did not
    end within the step timeout, or the server never completed the handshake)."""

    seconds: float | None
    client_error: str | None


class PendingSeen(TypedDict):
    """A receive() the app left pending when it returned: what it did, and when."""

    receive: Outcome
    after: float
    task: str


class AcceptSeen(CloseSeen):
    """Whether the accept header arrived, plus the close that followed it."""

    header: str | None
    app: dict[str, Outcome]


class DisconnectSeen(TypedDict):
    """The app's view after the client left: disconnect, another receive, two sends."""

    disconnect: Outcome
    second: Outcome
    sends: list[Outcome]


class UnencodableSeen(TypedDict):
    """A text with no UTF-8 the app sent: its ``send()``, and what the client got."""

    send: Outcome
    client: list[str | bytes]


class GoneSeen(TypedDict):
    """Two sends made after the client left but before the app called receive().

    ``close_answered`` says whether the server answered the client's close frame
    within a second, before the app called receive() (None: the client dropped TCP);
    ``ping_answered`` the same of a ping sent just before it.
    """

    close_answered: bool | None
    ping_answered: bool | None
    sends: list[Outcome]
    receive: Outcome


class AppCloseSeen(CloseSeen):
    """The app closed after accepting; what the client saw and receive() returned."""

    receives: list[Outcome]


class Dialect(TypedDict):
    """Everything :func:`measure` observed about one configuration."""

    configuration: str
    scope: dict[str, ScopeEntry]
    text_message: MessageShape
    bytes_message: MessageShape
    empty_text_delivered: bool
    empty_bytes_delivered: bool
    empty_text_sent: bool
    empty_bytes_sent: bool
    accept: AcceptSeen
    close_before_accept_status: int | None
    denial_single: DenialSeen
    denial_streamed: DenialSeen
    clean_close: DisconnectSeen
    abrupt_fin: DisconnectSeen
    abrupt_rst: DisconnectSeen
    send_after_clean_close: GoneSeen
    send_after_abrupt_close: GoneSeen
    app_close: AppCloseSeen
    close_1011: CloseCodeSeen
    unencodable: UnencodableSeen
    inbound: dict[str, str]
    outbound: dict[str, str]


async def measure(server: RunningServer) -> Dialect:
    """Run every experiment against ``server`` (which must serve :data:`PROBE_APP`).

    Experiments run concurrently, each on its own connection, so the
    one-second hang checks overlap; the large messages go last, alone.
    """
    probe = Probe(server)
    ensure = asyncio.ensure_future
    scope, shapes, accept = ensure(probe.scope()), ensure(probe.shapes()), ensure(probe.accept())
    refused = ensure(probe.close_before_accept())
    single, streamed = ensure(probe.deny(parts=1)), ensure(probe.deny(parts=len(DENIAL_PARTS)))
    clean, fin, rst = (ensure(probe.disconnect(how)) for how in ("clean", "fin", "rst"))
    gone_clean, gone_abrupt = (ensure(probe.send_after_gone(abrupt=a)) for a in (False, True))
    app_close = ensure(probe.app_close())
    close_1011, unencodable = ensure(probe.close_1011()), ensure(probe.unencodable())
    await asyncio.gather(
        *(scope, shapes, accept, refused, single, streamed),
        *(clean, fin, rst, gone_clean, gone_abrupt, app_close, close_1011, unencodable),
    )
    inbound = await asyncio.gather(*(probe.size_in(size) for size in SIZES))
    outbound = await asyncio.gather(*(probe.size_out(size) for size in SIZES))
    received, empties = shapes.result()
    return {
        "configuration": server.name,
        "scope": scope.result(),
        "text_message": received[0],
        "bytes_message": received[1],
        "empty_text_delivered": any(_is_empty(shape, "text") for shape in received),
        "empty_bytes_delivered": any(_is_empty(shape, "bytes") for shape in received),
        "empty_text_sent": "" in empties,
        "empty_bytes_sent": b"" in empties,
        "accept": accept.result(),
        "close_before_accept_status": refused.result(),
        "denial_single": single.result(),
        "denial_streamed": streamed.result(),
        "clean_close": clean.result(),
        "abrupt_fin": fin.result(),
        "abrupt_rst": rst.result(),
        "send_after_clean_close": gone_clean.result(),
        "send_after_abrupt_close": gone_abrupt.result(),
        "app_close": app_close.result(),
        "close_1011": close_1011.result(),
        "unencodable": unencodable.result(),
        "inbound": dict(zip(map(str, SIZES), inbound, strict=True)),
        "outbound": dict(zip(map(str, SIZES), outbound, strict=True)),
    }


def capabilities_from(dialect: Dialect) -> ServerCapabilities:
    """Condense a measured :class:`Dialect` into the adapter's capability data."""
    scope = dialect["scope"]
    asgi = scope["asgi"]["value"]
    extensions = scope.get("extensions", {"shape": "", "value": None})["value"]
    expected_body = b"".join(DENIAL_PARTS).decode()
    gone = dialect["send_after_clean_close"]
    error = gone["sends"][0].get("error")
    leaves = (dialect["clean_close"], dialect["abrupt_fin"], dialect["abrupt_rst"])
    again = [seen["second"] for seen in leaves] + dialect["app_close"]["receives"][1:]
    inbound = [int(size) for size, seen in dialect["inbound"].items() if seen == "ok"]
    refused = [int(size) for size, seen in dialect["inbound"].items() if seen != "ok"]
    outbound = [int(size) for size, seen in dialect["outbound"].items() if seen == "ok"]
    too_big = [int(size) for size, seen in dialect["outbound"].items() if seen != "ok"]
    disconnect = dialect["clean_close"]["disconnect"].get("message")
    abrupt = dialect["abrupt_fin"]["disconnect"].get("message")
    return ServerCapabilities(
        spec_version=cast("dict[str, str]", asgi).get("spec_version"),
        scope_has_scheme="scheme" in scope,
        scope_has_http_version="http_version" in scope,
        extensions=tuple(extensions) if isinstance(extensions, dict) else None,
        scope_has_state="state" in scope,
        address_shape=scope["client"]["shape"],
        denial_response=_denied(dialect["denial_single"], expected_body),
        streamed_denial=_denied(dialect["denial_streamed"], expected_body),
        close_before_accept_status=dialect["close_before_accept_status"],
        accept_headers=dialect["accept"]["header"] == ACCEPT_HEADER[1].decode(),
        close_reason=dialect["accept"]["reason"] == CLOSE_REASON,
        receive_has_both_keys={"text", "bytes"} <= set(dialect["text_message"]["keys"]),
        empty_text_delivered=dialect["empty_text_delivered"],
        empty_bytes_delivered=dialect["empty_bytes_delivered"],
        empty_text_sent=dialect["empty_text_sent"],
        empty_bytes_sent=dialect["empty_bytes_sent"],
        max_message_size=max(inbound) if refused and inbound else None,
        max_send_size=max(outbound) if too_big and outbound else None,
        clean_close_code=disconnect.get("code", 0) if disconnect else 0,
        disconnect_reason=bool(disconnect and disconnect.get("reason") == CLIENT_CLOSE_REASON),
        abrupt_close_code=abrupt.get("code", 0) if abrupt else 0,
        disconnect_code_types=frozenset(
            message["types"]["code"]
            for seen in leaves
            if (message := seen["disconnect"].get("message")) and "code" in message["types"]
        ),
        second_receive_hangs=any(outcome["result"] == "hung" for outcome in again),
        answers_close_without_receive=gone["close_answered"] is True,
        answers_ping_without_receive=gone["ping_answered"] is True,
        send_after_close=_send_kind(error["mro"] if error else None),
        send_after_close_error=error["type"] if error else None,
        standard_close_codes=dialect["close_1011"]["code"] == 1011,
        unencodable_text_raises=dialect["unencodable"]["send"]["result"] == "raised",
    )


def _denied(seen: DenialSeen, body: str) -> bool:
    return seen["status"] == DENIAL_STATUS and seen["body"] == body


def _send_kind(mro: list[str] | None) -> SendAfterClose:
    if mro is None:
        return "silent"
    return "oserror" if "OSError" in mro else "runtimeerror"


def _is_empty(shape: MessageShape, key: str) -> bool:
    return shape.get("length") == 0 and shape["types"].get(key) in {"str", "bytes"}


class Probe:
    """The client side of each experiment; each method opens its own connection."""

    def __init__(self, server: RunningServer) -> None:
        self._server = server

    def _connect(self, path: str, subprotocols: Sequence[Subprotocol] | None = None) -> connect:
        return connect(
            self._server.ws_url + path,
            subprotocols=subprotocols,
            max_size=None,
            open_timeout=STEP_TIMEOUT,
            close_timeout=STEP_TIMEOUT,
            ping_interval=None,
        )

    async def visit(self, path: str) -> None:
        """Open ``path`` and close at once (1000)."""
        async with self._connect(path):
            pass

    async def signal(self, key: str) -> None:
        """Wake the experiment waiting on ``key`` (``/signal?id=``)."""
        async with self._connect(f"/signal?id={key}") as ws:
            await _closed(ws)

    async def report(self, key: str) -> object:
        """The findings the app stored under ``key`` (``/report?id=``)."""
        async with self._connect(f"/report?id={key}") as ws:
            return json.loads(await _bounded(ws.recv()))

    async def scope(self) -> dict[str, ScopeEntry]:
        async with self._connect("/scope?probe=1", subprotocols=SUBPROTOCOLS) as ws:
            return cast("dict[str, ScopeEntry]", json.loads(await _bounded(ws.recv())))

    async def shapes(self) -> tuple[list[MessageShape], list[str | bytes]]:
        """Shapes of the messages the app received, and the empties it sent back."""
        async with self._connect("/shapes") as ws:
            for message in ("x", b"\x01", "", b"", "end"):
                await ws.send(message)
            empties: list[str | bytes] = []
            while not isinstance(reply := await _bounded(ws.recv()), str) or not reply:
                empties.append(reply)
        return cast("list[MessageShape]", json.loads(reply)), empties

    async def unencodable(self) -> UnencodableSeen:
        """The app sends a text with no UTF-8, then ``end``: how its send went, and what
        the client got before ``end``."""
        key = uuid.uuid4().hex
        received: list[str | bytes] = []
        async with self._connect(f"/unencodable?id={key}") as ws:
            while (message := await _bounded(ws.recv())) != "end":
                received.append(message)
        app = cast("dict[str, Outcome]", await self.report(key))
        return {"send": app["send"], "client": received}

    async def accept(self, code: int | None = None, reason: str | None = None) -> AcceptSeen:
        """Accept with a header, then close with ``code`` and ``reason`` (default: the
        app's :data:`~adapters.probe_app.CLOSE_CODE` and ``CLOSE_REASON``)."""
        key = uuid.uuid4().hex
        close = "" if code is None else f"&code={code}&reason={reason or ''}"
        async with self._connect(f"/accept-headers?id={key}{close}") as ws:
            header = ws.response.headers.get(ACCEPT_HEADER[0].decode()) if ws.response else None
            code, reason = await _closed(ws)
        app = cast("dict[str, Outcome]", await self.report(key))
        return {"header": header, "code": code, "reason": reason, "app": app}

    async def close_before_accept(self) -> int | None:
        def attempt() -> int | None:
            try:
                with self._open("/close-before-accept") as handshake:
                    return handshake.status
            except OSError:
                return None

        return await asyncio.to_thread(attempt)

    async def deny(
        self, *, parts: int, status: int = DENIAL_STATUS, kind: str = "websocket.http"
    ) -> DenialSeen:
        """Ask for a denial response (``kind="http"``: with the HTTP message types)."""
        key = uuid.uuid4().hex

        def attempt() -> DenialSeen:
            seen: DenialSeen = {
                "status": None,
                "headers": {},
                "body": "",
                "client_error": None,
                "app": [],
            }
            try:
                path = f"/deny?parts={parts}&status={status}&kind={kind}&id={key}"
                with self._open(path) as handshake:
                    seen["status"], seen["headers"] = handshake.status, dict(handshake.headers)
                    seen["body"] = handshake.read_body(STEP_TIMEOUT / 3).decode("latin-1")
            except OSError as exc:
                seen["client_error"] = f"{type(exc).__name__}: {exc}"
            return seen

        seen = await asyncio.to_thread(attempt)
        seen["app"] = cast("dict[str, list[Outcome]]", await self.report(key))["sends"]
        return seen

    async def disconnect(self, how: str) -> DisconnectSeen:
        key = uuid.uuid4().hex
        await self._leave(f"/disconnect?id={key}", how)
        return cast(DisconnectSeen, await self.report(key))

    async def send_after_gone(self, *, abrupt: bool, reset: bool = False) -> GoneSeen:
        """Leave while the app is not receiving, then wake it to send.

        A clean leave pings (and waits up to a second for the pong), then does what
        a client with a one-second close timeout does: send the close frame, wait up
        to a second for the answer, close TCP.
        An abrupt one closes TCP (a FIN), or resets it when ``reset``.
        """
        key = uuid.uuid4().hex

        def leave() -> tuple[bool | None, bool | None]:
            with self._open(f"/send-after-gone?id={key}") as handshake:
                if abrupt:
                    handshake.abort(reset=reset)
                    return None, None
                pong = handshake.ping(timeout=HANG_TIMEOUT)
                closed = handshake.send_close(
                    CLIENT_CLOSE_CODE, CLIENT_CLOSE_REASON, timeout=HANG_TIMEOUT
                )
                return pong, closed

        pong, answered = await asyncio.to_thread(leave)
        await self.signal(key)
        seen = cast(GoneSeen, await self.report(key))
        seen["close_answered"] = answered
        seen["ping_answered"] = pong
        return seen

    async def after_leave(self, steps: str, *, reset: bool = False) -> list[Outcome]:
        """Drop TCP (a FIN, or a reset when ``reset``) once the app has made the calls
        ``steps`` names before ``wait`` (the handshake then completes first) or, with no
        ``wait``, once it says it waits; then wake it: every call's outcome."""
        key = uuid.uuid4().hex
        path = f"/after-leave?id={key}&steps={steps}"
        host, port = self._server.host, self._server.port
        if "wait" in steps:
            handshake = await asyncio.to_thread(
                open_handshake, host, port, path, timeout=STEP_TIMEOUT
            )
            handshake.abort(reset=reset)
        else:
            sock, _ = await asyncio.to_thread(
                send_upgrade_request, host, port, path, timeout=STEP_TIMEOUT
            )
            try:
                await self.report(f"{key}-waiting")
            finally:
                drop(sock, reset=reset)
        await self.signal(key)
        return cast("dict[str, list[Outcome]]", await self.report(key))["steps"]

    async def send_while_closing(self) -> Outcome:
        """Close 4001 while the app floods sends, wait for the server's answer (frames
        before it skipped), then tell the app: how its sends ended."""
        key = uuid.uuid4().hex

        def leave() -> None:
            with self._open(f"/flood?id={key}") as handshake:
                handshake.send_close(CLIENT_CLOSE_CODE, CLIENT_CLOSE_REASON, timeout=HANG_TIMEOUT)

        await asyncio.to_thread(leave)
        await self.signal(key)
        return cast("dict[str, Outcome]", await self.report(key))["ended"]

    async def two_receives(self, messages: int) -> list[dict[str, object]]:
        """Send ``messages`` messages, then close 4001: what each of the app's two
        receiving tasks got, and how it ended."""
        key = uuid.uuid4().hex
        async with self._connect(f"/two-receives?id={key}") as ws:
            for index in range(messages):
                await ws.send(f"message {index}")
            await ws.close(CLIENT_CLOSE_CODE, CLIENT_CLOSE_REASON)
        return cast("dict[str, list[dict[str, object]]]", await self.report(key))["tasks"]

    async def timed_receives(self, messages: int) -> dict[str, object]:
        """Send ``messages`` numbered texts 0-4 ms apart (a fixed pseudo-random pace),
        then close 4001: the texts the app got through receives cancelled after 3 ms."""
        key = uuid.uuid4().hex
        pace = random.Random(messages)
        async with self._connect(f"/timed-receives?id={key}") as ws:
            for index in range(messages):
                await ws.send(str(index))
                await asyncio.sleep(pace.random() * 0.004)  # the pace of the sends
            await ws.close(CLIENT_CLOSE_CODE, CLIENT_CLOSE_REASON)
        return cast("dict[str, object]", await self.report(key))

    async def app_close(self) -> AppCloseSeen:
        code, reason, app = await self._closed_by_app("/app-close")
        return {"code": code, "reason": reason, "receives": cast("list[Outcome]", app["receives"])}

    async def close_1011(self) -> CloseCodeSeen:
        code, reason, app = await self._closed_by_app("/close-code")
        return {"code": code, "reason": reason, "app": cast("Outcome", app["close"])}

    async def _closed_by_app(self, path: str) -> tuple[int | None, str | None, dict[str, object]]:
        """Connect to an app that closes by itself: the close the client saw, and the
        app's own report."""
        key = uuid.uuid4().hex
        async with self._connect(f"{path}?id={key}") as ws:
            code, reason = await _closed(ws)
        return code, reason, cast("dict[str, object]", await self.report(key))

    async def record(
        self, act: Callable[[ClientConnection], Awaitable[None]]
    ) -> tuple[CloseSeen, list[Outcome]]:
        """Run ``act`` on a connection to ``/record``: the close the client saw, and
        what each of the app's receive() calls returned."""
        key = uuid.uuid4().hex
        async with self._connect(f"/record?id={key}") as ws:
            with contextlib.suppress(ConnectionClosed):  # _closed() says how it closed
                await act(ws)
            code, reason = await _closed(ws)
        app = cast("dict[str, list[Outcome]]", await self.report(key))
        return {"code": code, "reason": reason}, app["received"]

    async def ending(self, path: str) -> EndingSeen:
        """Connect to ``path`` and wait for the server to end the connection."""
        started = time.monotonic()
        try:
            async with self._connect(path) as ws:
                code, reason = await _closed(ws)
        except (OSError, TimeoutError, WebSocketException) as exc:
            error = f"{type(exc).__name__}: {exc}"
            return {"code": None, "reason": None, "seconds": None, "client_error": error}
        seconds = round(time.monotonic() - started, 2)
        return {"code": code, "reason": reason, "seconds": seconds, "client_error": None}

    async def pending_receive(self) -> tuple[EndingSeen, PendingSeen]:
        """The app returns with a receive() pending: the client's end, and the receive's."""
        key = uuid.uuid4().hex
        ended = await self.ending(f"/pending-receive?id={key}")
        return ended, cast(PendingSeen, await self.report(key))

    async def size_in(self, size: int) -> str:
        try:
            async with self._connect("/size-in") as ws:
                await ws.send(b"x" * size)
                reply = await _bounded(ws.recv())
        except ConnectionClosed as exc:
            return f"closed {exc.rcvd.code if exc.rcvd else None}"
        return "ok" if reply == str(size) else f"wrong reply {reply!r}"

    async def size_out(self, size: int) -> str:
        key = uuid.uuid4().hex
        try:
            async with self._connect(f"/size-out?n={size}&id={key}") as ws:
                data = await _bounded(ws.recv())
            seen = "ok" if len(data) == size else f"got {len(data)} bytes"
        except ConnectionClosed as exc:
            seen = f"closed {exc.rcvd.code if exc.rcvd else None}"
        sent = cast("dict[str, Outcome]", await self.report(key))["send"]
        error = sent.get("error")
        return f"{seen}; app send raised {error['type']}" if error else seen

    async def _leave(self, path: str, how: str) -> None:
        """Connect, then leave cleanly (close 4001 "bye") or drop TCP (``fin``/``rst``)."""
        if how == "clean":
            async with self._connect(path) as ws:
                await ws.close(CLIENT_CLOSE_CODE, CLIENT_CLOSE_REASON)
            return

        def drop() -> None:
            with self._open(path) as handshake:
                handshake.abort(reset=how == "rst")

        await asyncio.to_thread(drop)

    def _open(self, path: str) -> Handshake:
        return open_handshake(self._server.host, self._server.port, path, timeout=STEP_TIMEOUT)


async def _closed(ws: ClientConnection) -> tuple[int | None, str | None]:
    """Wait for the server to close ``ws``; return the code and reason it sent."""
    try:
        while True:
            await _bounded(ws.recv())
    except ConnectionClosed as exc:
        return (exc.rcvd.code, exc.rcvd.reason) if exc.rcvd else (None, None)


async def _bounded(awaitable: Awaitable[_T]) -> _T:
    return await asyncio.wait_for(awaitable, STEP_TIMEOUT)
