"""The WebSocket's operations, state machine and cross-server normalisation."""

from __future__ import annotations

import asyncio
import enum
from collections.abc import Awaitable, Callable, Mapping
from contextlib import nullcontext
from typing import Any, Final

import anyio
import anyio.lowlevel
import pytest

from lilya_ws import (
    ConnectionClosed,
    DenialResponseUnsupported,
    InvalidJSON,
    InvalidMessage,
    MessageTooLarge,
    OrjsonCodec,
    ReceiveTimeout,
    Response,
    ServerCapabilityWarning,
    StreamingResponse,
    UnexpectedMessageType,
    WebSocket,
    WebSocketDisconnect,
    WebSocketState,
    WebSocketStateError,
)
from lilya_ws import channel as channel_module
from lilya_ws.channel import IDLE_AFTER, SENDS_PER_TURN
from lilya_ws.concurrency import Event, new_event
from lilya_ws.errors import NoSubprotocolWarning
from lilya_ws.states import APP_TRANSITIONS, CLIENT_TRANSITIONS
from lilya_ws.testing import DIALECTS, ClientGone, HandshakeRejected, build_scope, connect
from lilya_ws.types import Receive, Scope, Send
from lilya_ws.websockets import WebSocketClose

App = Callable[[Scope, Receive, Send], Awaitable[None]]


def scripted(script: Callable[[WebSocket], Awaitable[None]]) -> App:
    async def app(scope: Scope, receive: Receive, send: Send) -> None:
        await script(WebSocket(scope, receive, send))

    return app


class Recorder:
    """A raw ASGI channel: replays server messages, records what the app sends."""

    def __init__(self, *incoming: Mapping[str, Any], scope: dict[str, Any] | None = None) -> None:
        self.incoming = list(incoming)
        self.sent: list[Mapping[str, Any]] = []
        self.scope: dict[str, Any] = scope or {
            "type": "websocket",
            "asgi": {"version": "3.0", "spec_version": "2.4"},
            "path": "/",
            "query_string": b"",
            "headers": [],
            "subprotocols": [],  # tests that offer some say so (accept() warns otherwise)
            "extensions": {"websocket.http.response": {}},
        }

    async def receive(self) -> Mapping[str, Any]:
        return self.incoming.pop(0)

    async def send(self, message: Mapping[str, Any]) -> None:
        self.sent.append(message)

    def websocket(self) -> WebSocket:
        return WebSocket(self.scope, self.receive, self.send)


CONNECT = {"type": "websocket.connect"}


# Echo of every payload kind, in every dialect.


async def test_text_bytes_and_json_echo(dialect: str) -> None:
    async def echo(ws: WebSocket) -> None:
        await ws.accept()
        await ws.send_text(await ws.receive_text())
        await ws.send_bytes(await ws.receive_bytes())
        await ws.send_json(await ws.receive_json())
        await ws.send_json(await ws.receive_json(mode="binary"), mode="binary")

    async with connect(scripted(echo), dialect=dialect) as client:
        await client.send_text("héllo ✓")
        assert await client.receive_text() == "héllo ✓"
        await client.send_bytes(b"\x00\xff")
        assert await client.receive_bytes() == b"\x00\xff"
        await client.send_json({"k": ["é", 1]})
        assert await client.receive_text() == '{"k":["é",1]}'  # compact, UTF-8
        await client.send_json({"b": True}, mode="binary")
        assert await client.receive_bytes() == b'{"b":true}'


@pytest.mark.parametrize("kind", ["text", "bytes", "json"])
async def test_iterators_end_on_disconnect_and_keep_the_close_code(dialect: str, kind: str) -> None:
    received: list[object] = []
    seen: list[tuple[int | None, str | None]] = []

    async def app(ws: WebSocket) -> None:
        await ws.accept()
        iterator = {"text": ws.iter_text, "bytes": ws.iter_bytes, "json": ws.iter_json}[kind]()
        async for item in iterator:
            received.append(item)
        seen.append((ws.close_code, ws.close_reason))

    async with connect(scripted(app), dialect=dialect) as client:
        for value in ("a", "b"):
            if kind == "bytes":
                await client.send_bytes(value.encode())
            elif kind == "json":
                await client.send_json({"v": value})
            else:
                await client.send_text(value)
        await client.close(4002, "done")
    expected = {"text": ["a", "b"], "bytes": [b"a", b"b"], "json": [{"v": "a"}, {"v": "b"}]}[kind]
    assert received == expected
    server = DIALECTS[dialect]
    reason = "done" if server.disconnect_reason else ""
    assert seen == [(server.clean_close_code or 4002, reason)]
    assert all(type(code) is int for code, _ in seen)


async def test_wrong_frame_type_raises_one_typed_error_with_the_payload(dialect: str) -> None:
    errors: list[UnexpectedMessageType] = []

    async def app(ws: WebSocket) -> None:
        await ws.accept()
        for receive in (ws.receive_text, ws.receive_bytes):
            try:
                await receive()
            except UnexpectedMessageType as exc:
                errors.append(exc)
        await ws.send_text("still open")

    async with connect(scripted(app), dialect=dialect) as client:
        await client.send_bytes(b"raw")
        await client.send_text("txt")
        assert await client.receive_text() == "still open"
    assert [(e.expected, e.payload) for e in errors] == [("text", b"raw"), ("bytes", "txt")]
    assert all(isinstance(e, TypeError) for e in errors)


async def test_empty_messages_are_received_as_empty_not_none(dialect: str) -> None:
    async def app(ws: WebSocket) -> None:
        await ws.accept()
        assert await ws.receive_text() == ""
        assert await ws.receive_bytes() == b""
        await ws.send_text("ok")

    async with connect(scripted(app), dialect=dialect) as client:
        await client.send_text("")
        await client.send_bytes(b"")
        assert await client.receive_text() == "ok"


async def test_a_text_with_no_utf8_is_refused_and_nothing_is_sent(dialect: str) -> None:
    """Six servers raise ``UnicodeEncodeError``, granian sends an empty text instead:
    ``InvalidMessage`` on all of them, and the connection goes on."""
    refused: list[InvalidMessage] = []

    async def app(ws: WebSocket) -> None:
        await ws.accept()
        for attempt in (
            ws.send_text("half \ud800"),
            ws.send_json(["\udfff"]),
            ws.send({"type": "websocket.send", "text": "\ud800"}),
        ):
            with pytest.raises(InvalidMessage, match="no UTF-8 for") as caught:
                await attempt
            refused.append(caught.value)
        await ws.send_text("héllo")  # not ASCII, and fine
        await ws.close()

    async with connect(scripted(app), dialect=dialect) as client:
        assert await client.receive_text() == "héllo"
    assert [str(error) for error in refused] == [
        "The text cannot be sent: no UTF-8 for '\\ud800' at 5 (surrogates not allowed)",
        "The text cannot be sent: no UTF-8 for '\\udfff' at 2 (surrogates not allowed)",
        "The text cannot be sent: no UTF-8 for '\\ud800' at 0 (surrogates not allowed)",
    ]
    assert all(isinstance(error.__cause__, UnicodeEncodeError) for error in refused)


async def test_invalid_json_keeps_payload_and_close_for_sends_1007(dialect: str) -> None:
    payloads: list[str | bytes] = []

    async def app(ws: WebSocket) -> None:
        await ws.accept()
        try:
            await ws.receive_json()
        except InvalidJSON as exc:
            payloads.append(exc.payload)
            await ws.close_for(exc)

    async with connect(scripted(app), dialect=dialect) as client:
        await client.send_text("{nope")
        with pytest.raises(WebSocketDisconnect) as closed:
            await client.receive()
    assert closed.value.code == (1007 if DIALECTS[dialect].close_codes is None else 4007)
    assert payloads == ["{nope"]
    assert closed.value.reason == ("Invalid JSON" if DIALECTS[dialect].close_reason else "")


async def test_close_for_never_leaks_the_exception_text() -> None:
    async def app(ws: WebSocket) -> None:
        await ws.accept()
        await ws.close_for(KeyError("secret database password"))

    async with connect(scripted(app)) as client:
        with pytest.raises(WebSocketDisconnect) as closed:
            await client.receive()
    assert (closed.value.code, closed.value.reason) == (1011, "Internal error")


async def test_receive_json_with_a_typed_decoder() -> None:
    def point(value: Any) -> tuple[int, int]:
        return int(value["x"]), int(value["y"])

    async def app(ws: WebSocket) -> None:
        await ws.accept()
        x, y = await ws.receive_json(decoder=point)
        await ws.send_json(x + y)

    async with connect(scripted(app)) as client:
        await client.send_json({"x": 2, "y": 3})
        assert await client.receive_json() == 5


async def test_orjson_codec_per_websocket() -> None:
    async def app(scope: Scope, receive: Receive, send: Send) -> None:
        ws = WebSocket(scope, receive, send, json_codec=OrjsonCodec())
        await ws.accept()
        await ws.send_json(await ws.receive_json(mode="binary"))

    async with connect(app) as client:
        await client.send_json({"é": [1, 2]}, mode="binary")
        assert await client.receive_text() == '{"é":[1,2]}'


@pytest.mark.parametrize("mode", ["txt", "BINARY", ""])
async def test_unknown_json_mode_is_a_clear_error(mode: Any) -> None:
    rec = Recorder(CONNECT)
    ws = rec.websocket()
    await ws.accept()
    with pytest.raises(InvalidMessage, match="mode must be"):
        await ws.send_json({}, mode=mode)
    with pytest.raises(InvalidMessage, match="mode must be"):
        await ws.receive_json(mode=mode)
    assert rec.sent == [{"type": "websocket.accept", "subprotocol": None, "headers": []}]


# Handshake: subprotocol, headers, denial.


async def test_subprotocol_and_accept_headers(dialect: str) -> None:
    async def app(ws: WebSocket) -> None:
        assert ws.subprotocols == ["v2.chat", "v1.chat"]
        await ws.accept(subprotocol="v1.chat", headers=[(b"x-server", b"lilya")])

    carried = DIALECTS[dialect].accept_headers
    with nullcontext() if carried else pytest.warns(ServerCapabilityWarning, match="drops it"):
        async with connect(
            scripted(app), subprotocols=["v2.chat", "v1.chat"], dialect=dialect
        ) as client:
            assert client.subprotocol == "v1.chat"
            assert client.accept_headers == ([(b"x-server", b"lilya")] if carried else [])


async def test_accepting_none_of_the_offered_subprotocols_warns() -> None:
    rec = Recorder(CONNECT)
    rec.scope["subprotocols"] = ["v2.chat", "v1.chat"]
    ws = rec.websocket()
    with pytest.warns(NoSubprotocolWarning, match=r"\['v2.chat', 'v1.chat'\].*browsers") as seen:
        await ws.accept()
    assert seen[0].filename == __file__  # it points at the app's accept() call
    assert rec.sent == [{"type": "websocket.accept", "subprotocol": None, "headers": []}]


@pytest.mark.parametrize(("offered", "chosen"), [([], None), (["chat"], "chat")])
async def test_no_subprotocol_warning_when_none_offered_or_one_chosen(
    offered: list[str], chosen: str | None
) -> None:
    rec = Recorder(CONNECT)
    rec.scope["subprotocols"] = offered
    await rec.websocket().accept(subprotocol=chosen)  # warnings are errors in this suite
    assert rec.sent == [{"type": "websocket.accept", "subprotocol": chosen, "headers": []}]


async def test_empty_items_of_the_offer_are_not_subprotocols() -> None:
    """``a,,b`` reaches the app as ``["a", "", "b"]`` from six configurations, as
    ``["a", "b"]`` from granian; a lone ``,`` as ``["", ""]`` or ``[]``."""
    rec = Recorder(CONNECT)
    rec.scope["subprotocols"] = ["v2.chat", "", "v1.chat"]
    assert rec.websocket().subprotocols == ["v2.chat", "v1.chat"]

    rec.scope["subprotocols"] = ["", ""]
    ws = rec.websocket()
    assert ws.subprotocols == []
    with pytest.raises(InvalidMessage, match="was not offered"):
        await ws.accept(subprotocol="")
    await ws.accept()  # no NoSubprotocolWarning: nothing was offered
    assert rec.sent == [{"type": "websocket.accept", "subprotocol": None, "headers": []}]


@pytest.mark.parametrize("response_kind", ["plain", "streamed"])
async def test_denial_response_or_documented_runtime_error(
    dialect: str, response_kind: str
) -> None:
    unsupported: list[RuntimeError] = []

    async def app(ws: WebSocket) -> None:
        if response_kind == "plain":
            response: Any = Response("go away", status_code=401, headers={"x-why": "auth"})
        else:
            response = StreamingResponse(
                [b"go ", "away"], status_code=401, headers={"x-why": "auth"}
            )
        try:
            await ws.send_denial_response(response)
        except DenialResponseUnsupported as exc:
            unsupported.append(exc)
            await ws.close()

    with pytest.raises(HandshakeRejected) as rejected:
        async with connect(scripted(app), dialect=dialect):
            pass
    if DIALECTS[dialect].denial_extension:
        assert rejected.value.status == 401
        assert (b"x-why", b"auth") in rejected.value.headers
        assert rejected.value.body == b"go away"
        assert not unsupported
    else:
        assert rejected.value.status == 403
        assert len(unsupported) == 1
        assert isinstance(unsupported[0], RuntimeError)


async def test_denial_response_unsupported_sends_nothing() -> None:
    rec = Recorder(CONNECT)
    rec.scope["extensions"] = {}
    with pytest.raises(DenialResponseUnsupported):
        await rec.websocket().send_denial_response(Response())
    assert rec.sent == []


async def test_header_values_sent_as_given_everywhere_are_accepted() -> None:
    rec = Recorder(CONNECT)
    await rec.websocket().accept(headers=[(b"x-v", b"a\tb c"), (b"x-empty", b"")])
    assert rec.sent[0]["headers"] == [(b"x-v", b"a\tb c"), (b"x-empty", b"")]


async def test_a_denial_response_with_a_header_value_servers_send_differently_is_refused() -> None:
    """Any response object (Starlette's, Lilya's, a bare ASGI callable) is checked too."""

    async def response(scope: Any, receive: Any, send: Any) -> None:
        await send({"type": "http.response.start", "status": 403, "headers": [(b"x-v", b"a ")]})
        await send({"type": "http.response.body", "body": b""})

    rec = Recorder(CONNECT)
    with pytest.raises(InvalidMessage, match="visible ASCII"):
        await rec.websocket().send_denial_response(response)
    assert rec.sent == []


@pytest.mark.parametrize("value", ["café".encode(), b" padded", b"a\x7fb"])
async def test_a_raw_denial_start_with_a_header_value_servers_send_differently_is_refused(
    value: bytes,
) -> None:
    rec = Recorder(CONNECT)
    start = {"type": "websocket.http.response.start", "status": 403, "headers": [(b"x-v", value)]}
    with pytest.raises(InvalidMessage, match="visible ASCII"):
        await rec.websocket().send(start)
    assert rec.sent == []


@pytest.mark.parametrize(
    "response",
    [
        Response(b"abcd", headers={"content-length": "2"}),  # the body says more
        Response(b"ab", headers={"content-length": "4"}),  # the length promises more
        Response(b"x", status_code=204),  # a status without a body
        Response(b"x", headers={"transfer-encoding": "chunked"}),  # the server's to write
        Response(b"x", headers={"content-length": "two"}),
    ],
)
async def test_a_denial_whose_framing_would_break_is_refused_before_anything_is_sent(
    response: Response,
) -> None:
    """uvicorn's websockets implementations had sent such a response as given, the h11
    servers raised their own LocalProtocolError, granian left the client waiting."""
    rec = Recorder(CONNECT)
    with pytest.raises(InvalidMessage):
        await rec.websocket().send_denial_response(response)
    assert rec.sent == []


async def test_a_streamed_denial_longer_than_its_length_is_refused_at_the_part_that_shows_it() -> (
    None
):
    rec = Recorder(CONNECT)
    response = StreamingResponse([b"ab", b"cd"], headers={"content-length": "3"})
    with pytest.raises(InvalidMessage, match="content-length"):
        await rec.websocket().send_denial_response(response)
    assert [message.get("body") for message in rec.sent] == [None, b"ab"]


async def test_a_denial_start_sent_raw_is_checked_too() -> None:
    rec = Recorder(CONNECT)
    ws = rec.websocket()
    start = {"type": "websocket.http.response.start", "status": 401, "headers": []}
    for bad in ([(b"upgrade", b"websocket")], [(b"x", b"a\r\nb")], [("x", "y")]):
        with pytest.raises(InvalidMessage):
            await ws.send({**start, "headers": bad})
    with pytest.raises(InvalidMessage, match="200-599"):
        await ws.send({**start, "status": 101})
    assert rec.sent == []
    response = Response(b"abcd", status_code=401, headers={"content-length": "4"})
    await ws.send_denial_response(response)
    assert [message["type"] for message in rec.sent] == [
        "websocket.http.response.start",
        "websocket.http.response.body",
    ]


@pytest.mark.parametrize("backend", ["asyncio", "trio"])
def test_sends_of_several_tasks_reach_the_server_one_at_a_time(backend: str) -> None:
    """uvicorn's websockets implementation fails a send that meets its flow control
    while another task's send waits there (adapters/DIALECTS.md, concurrent-sends)."""
    if backend == "trio":
        pytest.importorskip("trio")

    async def main() -> tuple[int, list[object]]:
        in_server = most = 0
        delivered: list[object] = []

        async def receive() -> Mapping[str, Any]:
            return CONNECT

        async def send(message: Mapping[str, Any]) -> None:
            nonlocal in_server, most
            in_server += 1
            most = max(most, in_server)
            for _ in range(3):  # a send that waits for the client, as under flow control
                await anyio.lowlevel.checkpoint()
            in_server -= 1
            delivered.append(message.get("bytes") or message.get("type"))

        ws = WebSocket(dict(Recorder().scope), receive, send)
        await ws.accept()

        async def sender(fill: bytes) -> None:
            for _ in range(5):
                await ws.send_bytes(fill)

        async with anyio.create_task_group() as senders:
            for fill in (b"a", b"b", b"c"):
                senders.start_soon(sender, fill)
            senders.start_soon(ws.send_text, "a text among them")
        await ws.close()
        return most, delivered

    most, delivered = anyio.run(main, backend=backend)
    assert most == 1
    assert sorted(map(str, delivered)) == sorted(
        ["websocket.accept", "websocket.send", "websocket.close"]
        + [str(fill) for fill in (b"a", b"b", b"c") * 5]
    )


async def test_a_send_that_waited_for_its_turn_is_refused_if_another_task_closed_meanwhile() -> (
    None
):
    in_server = anyio.Event()
    release = anyio.Event()
    sent: list[str] = []

    async def receive() -> Mapping[str, Any]:
        return CONNECT

    async def send(message: Mapping[str, Any]) -> None:
        sent.append(str(message.get("text") or message["type"]))
        if message.get("text") == "first":  # held, as under the server's flow control
            in_server.set()
            await release.wait()

    ws = WebSocket(dict(Recorder().scope), receive, send)
    await ws.accept()
    refused: list[BaseException] = []

    async def second() -> None:
        try:
            await ws.send_text("second")
        except WebSocketStateError as exc:
            refused.append(exc)

    async with anyio.create_task_group() as tasks:
        tasks.start_soon(ws.send_text, "first")
        await in_server.wait()
        tasks.start_soon(second)
        await anyio.wait_all_tasks_blocked()
        tasks.start_soon(ws.close)
        await anyio.wait_all_tasks_blocked()
        release.set()
    assert sent == ["websocket.accept", "first", "websocket.close"]
    assert len(refused) == 1


async def test_websocket_close_app_before_accept_is_403() -> None:
    with pytest.raises(HandshakeRejected) as rejected:
        async with connect(WebSocketClose(code=1008)):
            pass
    assert rejected.value.status == 403


# Validation (§2.6): a clear ValueError and nothing sent.


@pytest.mark.parametrize(
    ("kwargs", "match"),
    [
        ({"subprotocol": "nope"}, "not offered"),
        ({"headers": [(b"X-Upper", b"v")]}, "lowercase"),
        ({"headers": [(b"x-bad", b"a\r\nb")]}, "CR, LF"),
        ({"headers": [(b"bad name", b"v")]}, "HTTP token"),
        ({"headers": [(b"sec-websocket-protocol", b"chat")]}, "subprotocol"),
        ({"headers": [(b"sec-websocket-accept", b"x")]}, "written by the server"),
        ({"headers": [(b"x-ok", b"v"), (b"upgrade", b"h2c")]}, "written by the server"),
        ({"headers": [(b"date", b"Thu, 01 Jan 1970 00:00:00 GMT")]}, "written by the server"),
        ({"headers": [("str", "str")]}, "bytes"),
        ({"headers": [(b"caf\xc3\xa9", b"v")]}, "not ASCII"),
        # Values servers send differently (responses._FIELD_VALUE)
        ({"headers": [(b"x-v", "café".encode())]}, "visible ASCII"),
        ({"headers": [(b"x-v", "café".encode("latin-1"))]}, "visible ASCII"),
        ({"headers": [(b"x-v", b"  padded  ")]}, "visible ASCII"),
        ({"headers": [(b"x-v", b"v\t")]}, "visible ASCII"),
        ({"headers": [(b"x-v", b"a\x7fb")]}, "visible ASCII"),
    ],
)
async def test_invalid_accept_is_refused_before_sending(kwargs: Any, match: str) -> None:
    rec = Recorder(CONNECT)
    ws = rec.websocket()
    with pytest.raises(InvalidMessage, match=match):
        await ws.accept(**kwargs)
    assert rec.sent == []
    assert ws.application_state is WebSocketState.CONNECTING


@pytest.mark.parametrize(
    ("code", "reason", "match"),
    [
        (999, None, "cannot be sent"),
        (1004, None, "cannot be sent"),
        (1005, None, "cannot be sent"),
        (1006, None, "cannot be sent"),
        (1015, None, "cannot be sent"),
        (2000, None, "cannot be sent"),
        (5000, None, "cannot be sent"),
        (True, None, "must be an int"),
        (1000, "é" * 62, "124 bytes"),
        (4000, "half \ud800", "not valid Unicode text: surrogates not allowed"),
    ],
)
async def test_invalid_close_is_refused_before_sending(code: Any, reason: Any, match: str) -> None:
    rec = Recorder(CONNECT)
    ws = rec.websocket()
    await ws.accept()
    with pytest.raises(InvalidMessage, match=match):
        await ws.close(code, reason)
    assert rec.sent == [{"type": "websocket.accept", "subprotocol": None, "headers": []}]
    assert ws.application_state is WebSocketState.CONNECTED


@pytest.mark.parametrize(
    ("method", "data", "match"),
    [
        ("send_text", b"bytes", '"text" must be a str, not bytes'),
        ("send_text", 5, '"text" must be a str, not int'),
        ("send_bytes", "text", '"bytes" must be bytes, not str'),
        ("send_bytes", 5, '"bytes" must be bytes, not int'),  # not bytes(5): five zeros
    ],
)
async def test_a_payload_of_the_wrong_type_is_refused_before_sending(
    method: str, data: Any, match: str
) -> None:
    rec = Recorder(CONNECT)
    ws = rec.websocket()
    await ws.accept()
    with pytest.raises(InvalidMessage, match=match):
        await getattr(ws, method)(data)
    assert rec.sent == [{"type": "websocket.accept", "subprotocol": None, "headers": []}]


class TrimmingWebSocket(WebSocket):
    """Overrides made data methods and reaches them through super()."""

    async def receive_text(self) -> str:
        return (await super().receive_text()).strip()

    async def send_text(self, data: str) -> None:
        await super().send_text(f"[{data}]")


async def test_a_subclass_overrides_the_made_data_methods() -> None:
    rec = Recorder(CONNECT, {"type": "websocket.receive", "text": "  hi  "})
    ws = TrimmingWebSocket(rec.scope, rec.receive, rec.send)
    await ws.accept()
    await ws.send_text(await ws.receive_text())
    assert rec.sent[1:] == [{"type": "websocket.send", "text": "[hi]"}]


async def test_bytearray_and_memoryview_are_sent_as_bytes() -> None:
    rec = Recorder(CONNECT)
    ws = rec.websocket()
    await ws.accept()
    await ws.send_bytes(bytearray(b"ab"))
    await ws.send_bytes(memoryview(b"cd"))
    assert rec.sent[1:] == [
        {"type": "websocket.send", "bytes": b"ab"},
        {"type": "websocket.send", "bytes": b"cd"},
    ]


async def test_longest_close_reason_fits() -> None:
    rec = Recorder(CONNECT)
    ws = rec.websocket()
    await ws.accept()
    await ws.close(4999, "x" * 123)
    assert rec.sent[-1] == {"type": "websocket.close", "code": 4999, "reason": "x" * 123}


@pytest.mark.parametrize(
    ("data", "match"),
    [(None, "exactly one of"), (1, '"text" must be a str'), (b"bytes", '"text" must be a str')],
)
async def test_send_text_rejects_non_str(data: Any, match: str) -> None:
    rec = Recorder(CONNECT)
    ws = rec.websocket()
    await ws.accept()
    with pytest.raises(InvalidMessage, match=match):
        await ws.send_text(data)
    assert len(rec.sent) == 1


# Capabilities: keys an older server cannot carry are stripped, with a warning.


@pytest.mark.parametrize(
    ("spec", "headers_sent", "reason_sent"),
    [("2.0", False, False), ("2.1", True, False), ("2.3", True, True), ("2.4", True, True)],
)
async def test_spec_version_gates_accept_headers_and_close_reason(
    spec: str, headers_sent: bool, reason_sent: bool
) -> None:
    # Where no warning is expected, pytest's filterwarnings=error fails on any.
    rec = Recorder(CONNECT, {"type": "websocket.disconnect", "code": 1000})  # the close's answer
    rec.scope["asgi"] = {"version": "3.0", "spec_version": spec}
    ws = rec.websocket()
    with pytest.warns(ServerCapabilityWarning) if not headers_sent else nullcontext():
        await ws.accept(headers=[(b"x-a", b"1")])
    with pytest.warns(ServerCapabilityWarning) if not reason_sent else nullcontext():
        await ws.close(1000, "bye")
    accept, close = rec.sent
    assert ("headers" in accept) is headers_sent
    assert ("reason" in close) is reason_sent
    # close_reason says what was sent: a reason the server could not carry is not.
    assert ws.close_reason == ("bye" if reason_sent else "")


async def test_undeclared_spec_version_is_2_0_but_keys_still_reach_it() -> None:
    rec = Recorder(CONNECT)
    rec.scope["asgi"] = {"version": "3.0"}
    ws = rec.websocket()
    assert ws.spec_version == (2, 0)
    await ws.accept(headers=[(b"x-a", b"1")])
    await ws.close(1000, "bye")
    assert rec.sent[0]["headers"] == [(b"x-a", b"1")]
    assert rec.sent[1]["reason"] == "bye"


# Raw receive normalisation (§2.5).


class CloseCode(enum.IntEnum):
    GOING_AWAY = 1001


@pytest.mark.parametrize(
    ("server_message", "normalised"),
    [
        (
            {"type": "websocket.receive", "text": "a", "bytes": None},
            {"type": "websocket.receive", "text": "a"},
        ),
        (
            {"type": "websocket.receive", "text": None, "bytes": b"a"},
            {"type": "websocket.receive", "bytes": b"a"},
        ),
        ({"type": "websocket.receive", "text": ""}, {"type": "websocket.receive", "text": ""}),
        (
            {"type": "websocket.disconnect", "code": CloseCode.GOING_AWAY},
            {"type": "websocket.disconnect", "code": 1001, "reason": ""},
        ),
        (
            {"type": "websocket.disconnect"},
            {"type": "websocket.disconnect", "code": 1005, "reason": ""},
        ),
    ],
)
async def test_raw_receive_is_the_same_for_every_server(
    server_message: Mapping[str, Any], normalised: Mapping[str, Any]
) -> None:
    ws = Recorder(CONNECT, server_message).websocket()
    await ws.accept()
    message = await ws.receive()
    assert message == normalised
    if message["type"] == "websocket.disconnect":
        assert type(message.get("code")) is int


class IdleRecorder(Recorder):
    """A ``Recorder`` whose ``receive`` waits when it has nothing to deliver, like a real
    server's, until ``idle`` is set."""

    def __init__(self, *incoming: Mapping[str, Any]) -> None:
        super().__init__(*incoming)
        self.idle = asyncio.Event()
        self.waiting = asyncio.Event()
        """Set once a receive waits."""
        self.receiving = False

    async def receive(self) -> Mapping[str, Any]:
        # Real servers take one receive at a time: a second would hang or steal a message.
        assert not self.receiving, "a receive while another is pending"
        if not self.incoming:
            self.receiving = True
            self.waiting.set()
            try:
                await self.idle.wait()
            finally:
                self.receiving = False
        return self.incoming.pop(0)


class FailingSend(IdleRecorder):
    """A server whose ``send`` of one message type (data by default) raises ``error``."""

    def __init__(
        self, error: Exception, *incoming: Mapping[str, Any], failing: str = "websocket.send"
    ) -> None:
        super().__init__(*incoming)
        self.error = error
        self.failing = failing

    async def send(self, message: Mapping[str, Any]) -> None:
        if message["type"] == self.failing:
            raise self.error
        await super().send(message)


def deliver_once_waited_for(
    rec: IdleRecorder, monkeypatch: pytest.MonkeyPatch, message: Mapping[str, Any] | None = None
) -> None:
    """The server delivers what it holds (and ``message``) the moment lilya_ws begins to
    wait for another task's receive to take the disconnect: the event it makes then."""

    def deliver_then_make() -> Event:
        if message is not None:
            rec.incoming.append(message)
        rec.idle.set()
        return new_event()

    monkeypatch.setattr(channel_module, "new_event", deliver_then_make)


@pytest.mark.parametrize("gone", [ClientGone("the client has disconnected"), OSError()])
async def test_a_recognised_departure_error_carries_the_servers_code(gone: Exception) -> None:
    rec = FailingSend(gone, CONNECT)
    ws = rec.websocket()
    await ws.accept()
    rec.incoming.append({"type": "websocket.disconnect", "code": 4001, "reason": "bye"})
    with pytest.raises(WebSocketDisconnect) as lost:
        await ws.send_text("x")
    assert (lost.value.code, lost.value.reason) == (4001, "bye")
    assert lost.value.__cause__ is gone
    assert (ws.close_code, ws.close_reason) == (4001, "bye")
    assert ws.client_state is WebSocketState.DISCONNECTED
    with pytest.raises(WebSocketDisconnect):
        await ws.receive_text()  # never waits on the dead connection


async def test_a_departure_the_server_never_reports_is_1006(
    monkeypatch: pytest.MonkeyPatch,
) -> None:
    monkeypatch.setattr(channel_module, "DEPARTURE_WAIT", 0.01)
    rec = FailingSend(ClientGone(), CONNECT)
    ws = rec.websocket()
    await ws.accept()
    with pytest.raises(WebSocketDisconnect) as lost:
        await ws.send_bytes(b"x")
    assert lost.value.code == ws.close_code == 1006


@pytest.mark.parametrize("reported", ["before the send waits", "while it waits", "never"])
async def test_a_send_failing_while_another_task_receives_raises_with_that_receives_code(
    reported: str, monkeypatch: pytest.MonkeyPatch
) -> None:
    """uvicorn fails a writer task's send while a reader task's receive is pending: the
    send waits for that receive to take the server's disconnect and raises with its code,
    as the reader does. Unreported within ``DEPARTURE_WAIT``, the send raises 1006 and
    the pending receive still takes the disconnect when it comes."""
    rec = FailingSend(ClientGone("the client has disconnected"), CONNECT)
    monkeypatch.setattr(channel_module, "DEPARTURE_WAIT", 0.01 if reported == "never" else 5.0)
    if reported == "while it waits":
        deliver_once_waited_for(rec, monkeypatch)
    ws = rec.websocket()
    await ws.accept()
    reader = asyncio.create_task(ws.receive_text())
    await rec.waiting.wait()
    rec.incoming.append({"type": "websocket.disconnect", "code": 4001, "reason": "bye"})
    if reported == "before the send waits":
        rec.idle.set()  # uvicorn's order: its send raises once the disconnect is queued
    with pytest.raises(WebSocketDisconnect) as lost:
        await ws.send_text("x")
    assert lost.value.__cause__ is rec.error
    rec.idle.set()
    with pytest.raises(WebSocketDisconnect) as read:
        await reader
    assert (read.value.code, read.value.reason) == (ws.close_code, ws.close_reason) == (4001, "bye")
    assert lost.value.code == (1006 if reported == "never" else 4001)
    assert ws.client_state is WebSocketState.DISCONNECTED


@pytest.mark.parametrize("reading_ahead", [False, True])
@pytest.mark.parametrize("second", ["receive_text", "receive", "iter_text"])
async def test_a_second_receive_while_one_is_pending_is_refused(
    second: str, reading_ahead: bool
) -> None:
    """Servers differ on two receives at once (uvicorn's websockets raises, hypercorn and
    daphne leave the second waiting forever, granian alternates messages between them):
    the second is refused at once, and the first gets the next message."""
    rec = IdleRecorder(CONNECT)
    if reading_ahead:  # the first receive then waits on the read-ahead, not the server
        rec.scope = build_scope("/", DIALECTS["hypercorn-asyncio"])
    ws = rec.websocket()
    await ws.accept()
    if reading_ahead:
        await ws.send_text("one")
        await ws.send_text("two")  # an app that only sends: the read-ahead starts
        await rec.waiting.wait()
    started = asyncio.Event()

    async def receive_first() -> str:
        started.set()  # the test goes on once this task waits in receive_text()
        return await ws.receive_text()

    first = asyncio.create_task(receive_first())
    await started.wait()
    call = anext(ws.iter_text()) if second == "iter_text" else getattr(ws, second)()
    with pytest.raises(WebSocketStateError, match="Another receive is already waiting"):
        await call
    rec.incoming.append({"type": "websocket.receive", "text": "for the first"})
    rec.idle.set()
    assert await first == "for the first"


class LosesCancelledReceive(IdleRecorder):
    """granian: a receive takes its data message off the queue, then hands it over on a
    later turn of the loop (once ``hand_over`` is set); cancelled in between, it is lost."""

    def __init__(self, *incoming: Mapping[str, Any]) -> None:
        super().__init__(*incoming)
        self.hand_over = asyncio.Event()

    async def receive(self) -> Mapping[str, Any]:
        message = await super().receive()
        if message["type"] == "websocket.receive":
            await self.hand_over.wait()
        return message


@pytest.mark.parametrize("timed", ["receive(timeout=...)", "receive_timeout"])
async def test_a_receive_that_times_out_leaves_the_servers_running(timed: str) -> None:
    """The receive that timed out did not cancel the server's: its message goes to the
    next receive, where granian would have lost it."""
    rec = LosesCancelledReceive(CONNECT, {"type": "websocket.receive", "text": "kept"})
    ws = rec.websocket()
    await ws.accept()
    if timed == "receive_timeout":
        ws.receive_timeout = 0.01
    with pytest.raises(ReceiveTimeout):
        await (ws.receive(timeout=0.01) if timed != "receive_timeout" else ws.receive_text())
    rec.hand_over.set()
    ws.receive_timeout = None
    assert await asyncio.wait_for(ws.receive_text(), 5) == "kept"  # lost: would wait forever


class AnswersClose(IdleRecorder):
    """A server that reports the disconnect as soon as the app's close is sent, with
    its own code (unless ``answer_on_close`` is off); ``before_returning``: the close's
    send returns only once that task is done (granian's order: the app's pending
    receive takes the disconnect before the close's send returns)."""

    def __init__(self, answer: Mapping[str, Any], *incoming: Mapping[str, Any]) -> None:
        super().__init__(*incoming)
        self.answer = answer
        self.answer_on_close = True
        self.before_returning: asyncio.Task[Any] | None = None

    async def send(self, message: Mapping[str, Any]) -> None:
        await super().send(message)
        if message["type"] == "websocket.close" and self.answer_on_close:
            self.incoming.append(self.answer)
            self.idle.set()
            if self.before_returning is not None:
                await asyncio.wait([self.before_returning])


@pytest.mark.parametrize(
    ("dialect", "server_code", "answered"),
    [
        ("hypercorn-asyncio", 1000, "once close() waits for it"),
        ("hypercorn-asyncio", 1000, "after close() sent"),
        ("granian", 1005, "while close() sends"),
        ("granian", 1005, "after close() sent"),
        ("uvicorn-websockets", 4000, "while close() sends"),
        ("uvicorn-websockets", 4000, "after close() sent"),
    ],
)
async def test_a_receive_pending_when_the_app_closes_raises_with_the_apps_close(
    dialect: str, server_code: int, answered: str, monkeypatch: pytest.MonkeyPatch
) -> None:
    """Servers report the end of an app's close with 1000, 1005 or the code echoed, in
    either order with the close's send: another task's pending receive raises with the
    app's own code and reason, the ones ``close_code`` and ``close_reason`` keep. On
    hypercorn close() waits for the peer's answer: the pending receive takes it, and
    close() returns then, without a receive of its own (which would be a second one
    pending at the server)."""
    rec = AnswersClose({"type": "websocket.disconnect", "code": server_code}, CONNECT)
    rec.scope = build_scope("/", DIALECTS[dialect])
    if answered == "once close() waits for it":
        rec.answer_on_close = False
        deliver_once_waited_for(rec, monkeypatch, rec.answer)
    ws = rec.websocket()
    await ws.accept()
    reader = asyncio.create_task(ws.receive_text())
    await rec.waiting.wait()
    if answered == "while close() sends":
        rec.before_returning = reader
    await ws.close(4000, "app bye")
    with pytest.raises(WebSocketDisconnect) as read:
        await reader
    assert (read.value.code, read.value.reason) == (4000, "app bye")
    assert (ws.close_code, ws.close_reason) == (4000, "app bye")
    assert ws.client_state is ws.application_state is WebSocketState.DISCONNECTED


async def test_a_send_while_the_apps_close_is_on_its_way_is_refused() -> None:
    """From the moment close() hands its message over, another task's send is refused
    as after close() returned, and never reaches the server behind the close."""
    rec = AnswersClose({"type": "websocket.disconnect", "code": 1000}, CONNECT)
    ws = rec.websocket()
    await ws.accept()
    sender = asyncio.create_task(ws.send_text("late"))
    rec.before_returning = sender
    await ws.close()
    with pytest.raises(WebSocketStateError):
        await sender
    assert [message["type"] for message in rec.sent] == ["websocket.accept", "websocket.close"]


@pytest.mark.parametrize(
    "error", [ConnectionResetError("reset"), RuntimeError("middleware bug"), FileNotFoundError()]
)
async def test_other_send_errors_propagate_unchanged(error: Exception) -> None:
    rec = FailingSend(error, CONNECT, {"type": "websocket.receive", "text": "still here"})
    ws = rec.websocket()
    await ws.accept()
    with pytest.raises(type(error)) as raised:
        await ws.send_text("x")
    assert raised.value is error
    assert ws.client_state is WebSocketState.CONNECTED
    assert await ws.receive_text() == "still here"


@pytest.mark.parametrize("failing", ["websocket.accept", "websocket.close"])
async def test_a_failed_accept_or_close_raises_what_the_server_raised(failing: str) -> None:
    """An error that is not a departure propagates unchanged; nothing was delivered, so
    the application side stays where it was. (A departure: the next tests.)"""
    error = RuntimeError("a bug")
    rec = FailingSend(error, CONNECT, failing=failing)
    ws = rec.websocket()
    if failing == "websocket.close":
        await ws.accept()
    before = ws.application_state
    with pytest.raises(RuntimeError) as raised:
        await (ws.accept() if failing == "websocket.accept" else ws.close())
    assert raised.value is error
    assert ws.client_state is WebSocketState.CONNECTED
    assert ws.application_state is before
    assert ws.close_code is None


@pytest.mark.parametrize("accepted", [True, False])
async def test_a_close_the_server_refuses_because_the_client_left_returns(accepted: bool) -> None:
    """uvicorn refuses the close of a client that has left, the other servers take it
    silently: close() returns on all of them, with the application's code."""
    error = ClientGone("gone")
    rec = FailingSend(error, CONNECT, failing="websocket.close")
    ws = rec.websocket()
    if accepted:
        await ws.accept()
    rec.incoming.append({"type": "websocket.disconnect", "code": 1006})
    await ws.close(4003, "denied")
    assert ws.client_state is ws.application_state is WebSocketState.DISCONNECTED
    assert (ws.close_code, ws.close_reason) == (4003, "denied")
    with pytest.raises(WebSocketStateError, match="already closed"):
        await ws.send_text("late")


@pytest.mark.parametrize("call", ["send_text", "receive_text"])
async def test_an_accept_the_server_refuses_because_the_client_left_returns(call: str) -> None:
    """uvicorn's sans-I/O and wsproto configurations refuse the accept of a client that
    left during the handshake, the other servers take it silently: accept() returns on
    all of them, and the next call raises with the server's code."""
    rec = FailingSend(ClientGone("gone"), CONNECT, failing="websocket.accept")
    rec.incoming.append({"type": "websocket.disconnect", "code": 1006})
    ws = rec.websocket()
    await ws.accept()
    assert ws.application_state is WebSocketState.CONNECTED
    assert ws.client_state is WebSocketState.DISCONNECTED
    with pytest.raises(WebSocketDisconnect) as gone:
        await (ws.send_text("late") if call == "send_text" else ws.receive_text())
    assert gone.value.code == ws.close_code == 1006
    await ws.close()  # a no-op once the peer has left
    assert rec.sent == []


@pytest.mark.parametrize(
    ("error", "failing"),
    [
        (ClientGone("gone"), "websocket.http.response.start"),  # uvicorn
        (
            RuntimeError("ASGI flow error: Connection already upgraded"),
            "websocket.http.response.body",
        ),
    ],
)
async def test_a_denial_the_server_refuses_because_the_client_left_returns(
    error: Exception, failing: str
) -> None:
    """uvicorn refuses a denial's start to a client that has left, granian its body, the
    other servers take it silently: it returns on all of them, and the rest of the
    response goes nowhere."""
    rec = FailingSend(error, failing=failing)
    ws = rec.websocket()
    await ws.send_denial_response(StreamingResponse([b"a", b"b"], status_code=401))
    assert ws.client_state is ws.application_state is WebSocketState.DISCONNECTED
    assert ws.close_code == 1006
    sent = [message["type"] for message in rec.sent]
    assert failing not in sent
    assert sent == (["websocket.http.response.start"] if "body" in failing else [])
    with pytest.raises(WebSocketDisconnect):
        await ws.receive()


async def test_a_denial_once_the_application_knows_the_client_left_is_refused() -> None:
    rec = Recorder({"type": "websocket.disconnect", "code": 1001})
    ws = rec.websocket()
    assert (await ws.receive())["type"] == "websocket.disconnect"
    with pytest.raises(ConnectionClosed):
        await ws.send_denial_response(Response("no", status_code=401))
    assert rec.sent == []


async def test_accept_after_the_client_left_during_the_handshake_returns_and_sends_nothing() -> (
    None
):
    rec = Recorder({"type": "websocket.disconnect", "code": 1001})
    ws = rec.websocket()
    await ws.accept()
    with pytest.raises(WebSocketDisconnect) as lost:
        await ws.send_text("late")
    assert lost.value.code == ws.close_code == 1001
    assert ws.client_state is WebSocketState.DISCONNECTED
    assert rec.sent == []


async def test_accept_once_the_application_knows_the_client_left_is_refused() -> None:
    rec = Recorder({"type": "websocket.disconnect", "code": 1001})
    ws = rec.websocket()
    assert (await ws.receive())["type"] == "websocket.disconnect"
    with pytest.raises(ConnectionClosed):
        await ws.accept()
    assert rec.sent == []


async def test_accept_refuses_data_that_comes_before_the_connect() -> None:
    rec = Recorder({"type": "websocket.receive", "text": "early"})
    with pytest.raises(WebSocketStateError, match=r"websocket\.receive"):
        await rec.websocket().accept()
    assert rec.sent == []


def _read_aheads() -> int:
    """Read-ahead tasks running now (``lilya_ws/readahead.py`` names its task)."""
    return sum(task.get_name() == "lilya_ws read-ahead" for task in asyncio.all_tasks())


@pytest.mark.parametrize(
    ("spec_version", "reads_ahead"),
    [("2.4", False), ("2.3", True)],  # uvicorn's shape; hypercorn's (2.3 with extensions)
)
@pytest.mark.parametrize("use_send", [False, True])
async def test_sending_twice_reads_ahead_only_where_a_late_send_would_be_silent(
    spec_version: str, reads_ahead: bool, use_send: bool
) -> None:
    rec = IdleRecorder(CONNECT)
    rec.scope["asgi"]["spec_version"] = spec_version
    ws = rec.websocket()
    await ws.accept()
    for text in ("a", "b"):
        if use_send:
            await ws.send({"type": "websocket.send", "text": text})
        else:
            await ws.send_text(text)
    # Where a send after the peer left raises by itself, there is nothing to watch for.
    assert _read_aheads() == reads_ahead
    rec.incoming.append({"type": "websocket.disconnect", "code": 1000})
    rec.idle.set()
    await ws.close()
    assert _read_aheads() == 0


@pytest.mark.parametrize("dialect_name", sorted(DIALECTS))
async def test_send_after_client_left_is_websocket_disconnect_everywhere(dialect_name: str) -> None:
    outcome: list[object] = []

    async def app(ws: WebSocket) -> None:
        await ws.accept()
        try:
            await ws.receive_text()
        except WebSocketDisconnect as exc:
            outcome.append(exc.code)
        try:
            await ws.send_text("too late")
        except WebSocketDisconnect as exc:
            outcome.append(("send", exc.code))

    async with connect(scripted(app), dialect=dialect_name) as client:
        await client.abort()
    code = DIALECTS[dialect_name].abrupt_close_code
    assert outcome == [code, ("send", code)]


# The state machine as data.


def test_transition_tables_cover_the_documented_machine() -> None:
    S = WebSocketState
    assert APP_TRANSITIONS[(S.CONNECTING, "websocket.accept")] is S.CONNECTED
    assert APP_TRANSITIONS[(S.CONNECTING, "websocket.http.response.start")] is S.RESPONSE
    assert (S.DISCONNECTED, "websocket.send") not in APP_TRANSITIONS
    assert CLIENT_TRANSITIONS[(S.CONNECTED, "websocket.disconnect")] is S.DISCONNECTED
    assert {state for state, _ in APP_TRANSITIONS} == {S.CONNECTING, S.CONNECTED, S.RESPONSE}


@pytest.mark.parametrize(
    ("before", "operation", "match"),
    [
        ([], lambda ws: ws.send_text("x"), "call accept"),
        ([], lambda ws: ws.receive_text(), "call accept"),
        (["accept"], lambda ws: ws.accept(), "already accepted"),
        (["close"], lambda ws: ws.accept(), "already closed"),
        (["close"], lambda ws: ws.close(), "already closed"),
        (["accept", "close"], lambda ws: ws.close(), "already closed"),
        (["accept", "close"], lambda ws: ws.send_text("x"), "already closed"),
        (
            ["accept"],
            lambda ws: ws.send({"type": "websocket.http.response.start", "status": 403}),
            "already accepted",
        ),
        (["accept"], lambda ws: ws.send({"type": "nope"}), "already accepted"),
        (["accept"], lambda ws: ws.send({"text": "no type"}), "needs a str 'type'"),
    ],
)
async def test_state_machine_refuses_out_of_order_operations(
    before: list[str], operation: Callable[[WebSocket], Awaitable[Any]], match: str
) -> None:
    rec = Recorder(CONNECT)
    ws = rec.websocket()
    for step in before:
        await getattr(ws, step)()
    sent = list(rec.sent)
    with pytest.raises((WebSocketStateError, InvalidMessage), match=match):
        await operation(ws)
    assert rec.sent == sent


async def test_denial_response_walks_through_the_response_state() -> None:
    rec = Recorder(CONNECT)
    ws = rec.websocket()
    await ws.send_denial_response(StreamingResponse([b"a", b"b"], headers=[("x-a", "1")]))
    assert ws.application_state is WebSocketState.DISCONNECTED
    assert [m["type"] for m in rec.sent] == [
        "websocket.http.response.start",
        "websocket.http.response.body",
        "websocket.http.response.body",
        "websocket.http.response.body",
    ]
    assert rec.sent[0]["status"] == 403
    with pytest.raises(WebSocketDisconnect):
        await ws.receive()  # a denied connection never makes the app wait


def test_scope_must_be_a_websocket_scope() -> None:
    async def nothing() -> Mapping[str, Any]:
        return {}

    async def sink(message: Mapping[str, Any]) -> None:
        return None

    with pytest.raises(InvalidMessage, match="'websocket' scope"):
        WebSocket({"type": "http"}, nothing, sink)


# Limits (§2.8): receive timeout and maximum message size.


async def test_receive_timeout_raises_and_the_connection_stays_usable() -> None:
    async def app(scope: Scope, receive: Receive, send: Send) -> None:
        ws = WebSocket(scope, receive, send, receive_timeout=0.05)
        await ws.accept()
        try:
            await ws.receive_text()
        except ReceiveTimeout:
            await ws.send_text("timed out")
        await ws.send_text(await ws.receive_text())
        with pytest.raises(ReceiveTimeout):
            await ws.receive(timeout=0.01)
        await ws.close_for(ReceiveTimeout())

    async with connect(app) as client:
        assert await client.receive_text() == "timed out"
        await client.send_text("late but fine")
        assert await client.receive_text() == "late but fine"
        with pytest.raises(WebSocketDisconnect) as closed:
            await client.receive()
    assert (closed.value.code, closed.value.reason) == (1001, "Idle timeout")


def test_receive_timeout_under_trio() -> None:
    trio = pytest.importorskip("trio")

    async def main() -> str:
        to_app_send, to_app_receive = trio.open_memory_channel(10)
        sent: list[Mapping[str, Any]] = []

        async def receive() -> Mapping[str, Any]:
            message: Mapping[str, Any] = await to_app_receive.receive()
            return message

        async def send(message: Mapping[str, Any]) -> None:
            sent.append(message)

        scope = Recorder().scope
        ws = WebSocket(scope, receive, send, receive_timeout=0.05)
        await to_app_send.send(CONNECT)
        await ws.accept()
        with pytest.raises(ReceiveTimeout):
            await ws.receive_text()
        await to_app_send.send({"type": "websocket.receive", "text": "kept"})
        return await ws.receive_text()

    assert trio.run(main) == "kept"


async def test_max_message_size_closes_1009_and_raises() -> None:
    errors: list[MessageTooLarge] = []

    async def app(scope: Scope, receive: Receive, send: Send) -> None:
        ws = WebSocket(scope, receive, send, max_message_size=4)
        await ws.accept()
        assert await ws.receive_bytes() == b"1234"
        try:
            await ws.receive_text()
        except MessageTooLarge as exc:
            errors.append(exc)

    async with connect(app) as client:
        await client.send_bytes(b"1234")
        await client.send_text("12345")
        with pytest.raises(WebSocketDisconnect) as closed:
            await client.receive()
    assert (closed.value.code, closed.value.reason) == (1009, "Message too big")
    assert [(e.size, e.limit) for e in errors] == [(5, 4)]


@pytest.mark.parametrize(
    ("text", "too_big"), [("é" * 4, False), ("é" * 5, True), ("a" * 10, False)]
)
async def test_max_message_size_counts_utf8_bytes(text: str, too_big: bool) -> None:
    rec = Recorder(CONNECT, {"type": "websocket.receive", "text": text})
    rec.scope["headers"] = []
    ws = WebSocket(rec.scope, rec.receive, rec.send, max_message_size=9 if too_big else 10)
    await ws.accept()
    if too_big:
        with pytest.raises(MessageTooLarge):
            await ws.receive_text()
        assert rec.sent[-1] == {
            "type": "websocket.close",
            "code": 1009,
            "reason": "Message too big",
        }
    else:
        assert await ws.receive_text() == text


@pytest.mark.parametrize("payload", [b"\xff\xfe", b'{"a": "\xc3"}', b"\x00"])
async def test_non_utf8_json_is_invalid_json_with_the_bytes_kept(payload: bytes) -> None:
    rec = Recorder(CONNECT, {"type": "websocket.receive", "bytes": payload})
    ws = rec.websocket()
    await ws.accept()
    with pytest.raises(InvalidJSON) as invalid:
        await ws.receive_json(mode="binary")
    assert invalid.value.payload == payload
    assert ws.application_state is WebSocketState.CONNECTED  # still open: the app decides


GRANIAN_EXTENSIONS: dict[str, Any] = {"websocket.http.response": {}, "http.response.pathsend": {}}


class QueueServer(Recorder):
    """A server whose ``receive`` waits on a queue, as a real one does; ``pending`` is
    set while a receive waits."""

    def __init__(self) -> None:
        super().__init__()
        self.queue: asyncio.Queue[Mapping[str, Any]] = asyncio.Queue()
        self.pending = asyncio.Event()

    async def receive(self) -> Mapping[str, Any]:
        self.pending.set()
        try:
            return await self.queue.get()
        finally:
            self.pending.clear()


SILENT_SERVERS: Final = pytest.mark.parametrize(
    "extensions",
    [GRANIAN_EXTENSIONS, {"websocket.http.response": {}}],  # granian; hypercorn (2.3)
)
"""The two scope shapes of servers whose send after the peer left is silent."""


async def accepted_on_silent_server(
    extensions: dict[str, Any],
) -> tuple[QueueServer, WebSocket]:
    """An accepted WebSocket on a ``QueueServer`` in granian's or hypercorn's shape."""
    server = QueueServer()
    server.scope["extensions"] = extensions
    server.scope["asgi"]["spec_version"] = "2.3"
    server.queue.put_nowait(CONNECT)
    ws = server.websocket()
    await ws.accept()
    return server, ws


@SILENT_SERVERS
async def test_a_receive_is_kept_pending_once_the_app_works_where_the_server_needs_one(
    extensions: dict[str, Any],
) -> None:
    """granian answers pings and close frames only while a receive is pending, and
    hypercorn's send after the peer left is silent (DIALECTS.md, busy-app): once the
    app has not received for IDLE_AFTER, lilya_ws keeps a receive pending for it."""
    server, ws = await accepted_on_silent_server(extensions)
    receiving = asyncio.create_task(ws.receive_text())
    await asyncio.wait_for(server.pending.wait(), 1.0)  # the app's own receive
    server.queue.put_nowait({"type": "websocket.receive", "text": "work"})
    assert await receiving == "work"
    await ws.send_text("working")  # one send: not yet an app that only sends
    assert not server.pending.is_set()
    await asyncio.wait_for(server.pending.wait(), 4 * IDLE_AFTER)  # the read-ahead's
    server.queue.put_nowait({"type": "websocket.disconnect", "code": 4001})
    (ahead,) = [task for task in asyncio.all_tasks() if task.get_name() == "lilya_ws read-ahead"]
    await asyncio.wait_for(ahead, 1.0)  # it takes the departure, and stops
    with pytest.raises(WebSocketDisconnect) as gone:
        await ws.send_text("result")
    assert gone.value.code == ws.close_code == 4001
    assert [m.get("text") for m in server.sent if m["type"] == "websocket.send"] == ["working"]


async def test_a_send_within_idle_after_of_a_receive_learns_of_a_departure_one_call_late() -> None:
    """The limit README states: on a silent server (hypercorn's shape), a send made
    before IDLE_AFTER has passed since the app's last receive, after the client left,
    returns (nothing reads the server's disconnect yet); the next call raises."""
    server = QueueServer()
    server.scope["asgi"]["spec_version"] = "2.3"
    server.queue.put_nowait(CONNECT)
    ws = server.websocket()
    await ws.accept()
    receiving = asyncio.create_task(ws.receive_text())
    await asyncio.wait_for(server.pending.wait(), 1.0)
    server.queue.put_nowait({"type": "websocket.receive", "text": "work"})
    server.queue.put_nowait({"type": "websocket.disconnect", "code": 4001})
    assert await receiving == "work"
    await ws.send_text("answer")  # the server takes it silently
    with pytest.raises(WebSocketDisconnect) as gone:
        await ws.receive_text()
    assert gone.value.code == 4001


@SILENT_SERVERS
async def test_a_loop_of_sends_that_waits_for_nothing_learns_of_a_departure(
    extensions: dict[str, Any],
) -> None:
    """On a silent server a send after the client left returns; a loop of sends that
    awaits nothing else would never let the read-ahead take the server's disconnect.
    A send lets the loop turn when it has not since the previous one."""
    server, ws = await accepted_on_silent_server(extensions)

    async def send_flat_out() -> int:
        sent = 0
        try:
            while sent < 1_000:  # the server takes every send at once: nothing else waits
                await ws.send_text("tick")
                sent += 1
                if sent == 10:
                    server.queue.put_nowait({"type": "websocket.disconnect", "code": 4001})
        except WebSocketDisconnect:
            return sent
        return -1

    assert 10 <= await send_flat_out() <= 10 + SENDS_PER_TURN
    assert ws.close_code == 4001


@pytest.mark.parametrize(("extensions", "answered"), [(GRANIAN_EXTENSIONS, True), ({}, False)])
async def test_a_client_close_is_answered_where_the_server_waits_for_the_app(
    extensions: dict[str, Any], answered: bool
) -> None:
    """granian answers a client's close frame only once the app closes (DIALECTS.md)."""
    rec = Recorder(CONNECT, {"type": "websocket.disconnect", "code": 4001})
    rec.scope["extensions"] = extensions
    ws = rec.websocket()
    await ws.accept()
    with pytest.raises(WebSocketDisconnect):
        await ws.receive_text()
    closes = [m for m in rec.sent if m["type"] == "websocket.close"]
    assert closes == ([{"type": "websocket.close", "code": 1000}] if answered else [])
    await ws.close()  # the app's own close: nothing more is sent
    assert [m for m in rec.sent if m["type"] == "websocket.close"] == closes
