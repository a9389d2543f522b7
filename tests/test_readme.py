"""README examples run, so they never rot."""

from __future__ import annotations

import re
from pathlib import Path

import pytest

from lilya_ws import WebSocketDisconnect

README = Path(__file__).parent.parent / "README.md"


def test_readme_python_examples_run_in_order() -> None:
    blocks = re.findall(r"```python\n(.*?)```", README.read_text(), flags=re.DOTALL)
    assert len(blocks) >= 2
    namespace: dict[str, object] = {"__name__": "readme"}
    for block in blocks:
        exec(compile(block, str(README), "exec"), namespace)


def test_readme_test_command_is_what_ci_runs() -> None:
    ci = (README.parent / ".ci" / "run").read_text()
    command = re.search(r"&& (\.venv/bin/pytest)\n", README.read_text())
    assert command is not None
    assert command.group(1) in ci.splitlines()


def test_readme_idle_timeout_example_closes_1001() -> None:
    from lilya_ws.testing import connect_sync

    blocks = re.findall(r"```python\n(.*?)```", README.read_text(), flags=re.DOTALL)
    namespace: dict[str, object] = {"__name__": "readme"}
    for block in blocks:
        exec(compile(block, str(README), "exec"), namespace)
    chat = namespace["chat"]
    namespace["WebSocket"] = _short_timeout(namespace["WebSocket"])
    with connect_sync(chat) as ws:  # type: ignore[arg-type]  # the README's app
        ws.send_text("hi")
        assert ws.receive_text() == "hi"
        with pytest.raises(WebSocketDisconnect) as closed:
            ws.receive(timeout=2)
    assert (closed.value.code, closed.value.reason) == (1001, "Idle timeout")


def _short_timeout(websocket_class: object) -> object:
    """The README's class with its 60 s idle timeout cut to 50 ms, for the test."""
    assert isinstance(websocket_class, type)

    class Quick(websocket_class):  # type: ignore[misc,valid-type]  # lilya_ws.WebSocket
        def __init__(self, *args: object, **kwargs: object) -> None:
            kwargs["receive_timeout"] = 0.05
            super().__init__(*args, **kwargs)

    return Quick
