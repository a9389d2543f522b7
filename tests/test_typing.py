"""The typing promises, checked by running mypy --strict on small apps."""

from __future__ import annotations

import re
from pathlib import Path

import pytest
from mypy import api

HERE = Path(__file__).parent


def run_mypy(*paths: Path) -> tuple[str, int]:
    stdout, stderr, status = api.run(["--strict", "--no-incremental", *map(str, paths)])
    return stdout + stderr, status


@pytest.mark.parametrize(
    "app",
    [
        "asgiref_style_app.py",
        "starlette_style_app.py",
        "lilya_ws_style_app.py",
        "lifespan_app.py",  # lifespan, HTTP and a WebSocket with lilya_ws.types alone
        "framework_extras.py",  # Starlette's url_for, session and user, no ignore
    ],
)
def test_apps_of_every_typing_school_build_a_websocket_without_cast(app: str) -> None:
    path = HERE / "typecheck" / app
    text = path.read_text()
    assert "cast(" not in text
    assert "type: ignore" not in text
    assert not re.search(r"^\s*assert\s", text, re.MULTILINE)  # assert_type is fine
    output, status = run_mypy(path)
    assert status == 0, output


def error_lines(tmp_path: Path, *lines: str) -> tuple[set[int], str]:
    """The lines mypy --strict refuses in a module made of ``lines``, and its output."""
    module = tmp_path / "bad.py"
    module.write_text("".join(f"{line}\n" for line in lines))
    output, status = run_mypy(module)
    assert status == (1 if "error:" in output else 0), output
    return {int(line) for line in re.findall(r"bad\.py:(\d+): error:", output)}, output


def test_a_wrong_message_shape_is_a_type_error(tmp_path: Path) -> None:
    lines, output = error_lines(
        tmp_path,
        "from lilya_ws.types import Receive, Scope, Send",
        "async def app(scope: Scope, receive: Receive, send: Send) -> None:",
        '    await send({"type": "websocket.send", "text": 1})',
        '    await send({"type": "websocket.close", "code": "1000"})',
        '    await send({"type": "http.response.start", "status": "200"})',
        '    await send({"type": "http.response.body", "body": "text"})',
        '    await send({"type": "lifespan.startup.failed", "message": 1})',
        '    await send({"type": "lifespan.startup.done"})',
    )
    # Each wrong message is rejected (a shape two TypedDicts share gets two errors).
    assert lines == set(range(3, 9)), output


def test_json_mode_is_a_literal(tmp_path: Path) -> None:
    lines, output = error_lines(
        tmp_path,
        "from lilya_ws import WebSocket",
        "async def f(ws: WebSocket) -> None:",
        '    await ws.send_json({}, mode="xml")',
    )
    assert lines == {3}, output
    assert "Literal" in output, output


def test_data_methods_refuse_the_other_payload_type(tmp_path: Path) -> None:
    lines, output = error_lines(
        tmp_path,
        "from lilya_ws import WebSocket",
        "async def f(ws: WebSocket) -> None:",
        '    await ws.send_text(b"bytes")',
        '    await ws.send_bytes("text")',
        "    text: str = await ws.receive_bytes()",
    )
    assert lines == {3, 4, 5}, output
