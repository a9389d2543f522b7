"""README examples run, each ```python block on its own in a fresh namespace, so they
never rot and none leans on another's names."""

from __future__ import annotations

import re
import subprocess
from pathlib import Path
from typing import Any

import pytest
from lilya.testclient import TestClient as LilyaTestClient
from mypy import api as mypy_api
from starlette.testclient import TestClient

from lilya_ws import WebSocket, WebSocketDisconnect
from lilya_ws.testing import AppReceive, AppSend, connect_sync

README = Path(__file__).parent.parent / "README.md"
TEXT = README.read_text()
BLOCKS = [
    (TEXT.count("\n", 0, match.start()) + 2, match.group(1))
    for match in re.finditer(r"```python\n(.*?)```", TEXT, flags=re.DOTALL)
]
"""Each block with the README line its code starts on."""

FRAMEWORK_BLOCKS = {
    "starlette": "from starlette.applications import Starlette",
    "fastapi": "from fastapi import FastAPI",
    "lilya": "from lilya.apps import Lilya",
}


def run_block(line: int, code: str) -> dict[str, Any]:
    """Execute one block in a namespace of its own; its names, for the tests to use."""
    namespace: dict[str, Any] = {"__name__": f"readme_line_{line}"}
    padded = "\n" * (line - 1) + code  # tracebacks point at the README's own lines
    exec(compile(padded, str(README), "exec"), namespace)
    return namespace


def block_with(text: str) -> tuple[int, str]:
    (found,) = [(line, code) for line, code in BLOCKS if text in code]
    return found


@pytest.mark.parametrize(("line", "code"), BLOCKS, ids=[f"line-{line}" for line, _ in BLOCKS])
def test_each_python_block_runs_on_its_own(line: int, code: str) -> None:
    run_block(line, code)


def test_the_readme_shows_denials_lifespan_and_three_framework_routes() -> None:
    assert len(BLOCKS) >= 9
    for shown in (
        "send_denial_response(login)",  # lilya_ws.Response
        "StreamingResponse([",
        '"lifespan.startup.complete"',
        *FRAMEWORK_BLOCKS.values(),
    ):
        block_with(shown)


@pytest.mark.parametrize("framework", sorted(FRAMEWORK_BLOCKS))
def test_the_framework_blocks_route_to_the_endpoint(framework: str) -> None:
    app = run_block(*block_with(FRAMEWORK_BLOCKS[framework]))["app"]
    client = LilyaTestClient(app) if framework == "lilya" else TestClient(app)
    with client.websocket_connect("/rooms/lobby") as session:
        assert session.receive_text() == "Welcome to lobby"


def test_the_drop_in_class_is_the_type_checked_one() -> None:
    _, code = block_with("class WebSocket(lilya_ws.WebSocket):")
    definition = code[code.index("class WebSocket") :]
    typechecked = (README.parent / "tests" / "typecheck" / "framework_extras.py").read_text()
    assert definition in typechecked


def test_the_lifespan_block_answers_lifespan_and_websocket() -> None:
    app = run_block(*block_with('"lifespan.startup.complete"'))["app"]
    with TestClient(app) as client, client.websocket_connect("/") as session:  # lifespan runs
        session.send_text("hi")
        assert session.receive_text() == "hi"
        assert client.get("/missing").status_code == 404


def test_every_python_block_type_checks(tmp_path: Path) -> None:
    files = []
    for line, code in BLOCKS:
        path = tmp_path / f"readme_line_{line}.py"
        path.write_text(code)
        files.append(str(path))
    stdout, stderr, status = mypy_api.run(["--strict", "--no-incremental", *files])
    assert status == 0, stdout + stderr


def test_readme_test_command_is_what_ci_runs() -> None:
    ci = (README.parent / ".ci" / "run").read_text()
    command = re.search(r"&& (\.venv/bin/pytest[^\n]*)\n", TEXT)
    assert command is not None
    assert command.group(1) in ci.splitlines()


def test_ci_runs_the_pythons_it_has_and_says_which_it_has_not() -> None:
    """README: "A version the machine does not have is not run, and `.ci/run` says so"."""
    assert "NOT RUN: python3.X is not installed" in " ".join(TEXT.split())
    assert ". .ci/pythons" in (README.parent / ".ci" / "run").read_text().splitlines()
    bare = subprocess.run(  # a machine with no pyenv and no other Python on PATH
        ["bash", "-c", '. .ci/pythons; echo "envs=[$envs]"'],
        cwd=README.parent,
        env={"PATH": "/usr/bin:/bin"},
        capture_output=True,
        text=True,
        timeout=30,
        check=True,
    )
    assert bare.stdout == "envs=[]\n"
    for minor in ("3.10", "3.12", "3.13"):
        assert f"NOT RUN: python{minor} is not installed" in bare.stderr


def test_readme_idle_timeout_example_closes_1001() -> None:
    namespace = run_block(*block_with("async def chat("))
    chat = namespace["chat"]

    def quick(*args: Any, **kwargs: Any) -> WebSocket:
        """The README's WebSocket with its 60 s idle timeout cut to 50 ms, for the test."""
        return WebSocket(*args, **{**kwargs, "receive_timeout": 0.05})

    namespace["WebSocket"] = quick  # the name chat() looks up when it runs

    async def app(scope: dict[str, Any], receive: AppReceive, send: AppSend) -> None:
        await chat(scope, receive, send)

    with connect_sync(app) as ws:
        ws.send_text("hi")
        assert ws.receive_text() == "hi"
        with pytest.raises(WebSocketDisconnect) as closed:
            ws.receive(timeout=2)
    assert (closed.value.code, closed.value.reason) == (1001, "Idle timeout")
