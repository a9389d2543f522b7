"""The WebSocket's shape as tools see it: real coroutine functions and async generators,
so ``inspect``, ``AsyncMock`` and ``create_autospec`` treat it as Starlette's class."""

from __future__ import annotations

import inspect
from unittest.mock import AsyncMock, create_autospec

import pytest
from starlette.websockets import WebSocket as StarletteWebSocket

from lilya_ws import WebSocket

COROUTINES = [
    "accept",
    "close",
    "receive",
    "send",
    "receive_text",
    "receive_bytes",
    "receive_json",
    "send_text",
    "send_bytes",
    "send_json",
    "send_denial_response",
]
GENERATORS = ["iter_text", "iter_bytes", "iter_json"]


@pytest.mark.parametrize("name", COROUTINES)
def test_operations_are_coroutine_functions_as_in_starlette(name: str) -> None:
    assert inspect.iscoroutinefunction(getattr(WebSocket, name))
    assert inspect.iscoroutinefunction(getattr(StarletteWebSocket, name))


@pytest.mark.parametrize("name", GENERATORS)
def test_iterators_are_async_generator_functions_as_in_starlette(name: str) -> None:
    assert inspect.isasyncgenfunction(getattr(WebSocket, name))
    assert inspect.isasyncgenfunction(getattr(StarletteWebSocket, name))


DATA_METHODS = {
    "send_text": ["self", "data"],
    "send_bytes": ["self", "data"],
    "receive_text": ["self"],
    "receive_bytes": ["self"],
    "iter_text": ["self"],
    "iter_bytes": ["self"],
}


@pytest.mark.parametrize(("name", "parameters"), DATA_METHODS.items())
def test_made_data_methods_look_written(name: str, parameters: list[str]) -> None:
    """fastpaths.py makes them; tools see the name, docstring and signature of a method."""
    method = getattr(WebSocket, name)
    assert method.__name__ == name
    assert method.__qualname__ == f"WebSocket.{name}"
    assert method.__doc__
    assert list(inspect.signature(method).parameters) == parameters


async def test_create_autospec_gives_awaitable_methods() -> None:
    mock = create_autospec(WebSocket, instance=True)
    mock.receive_text.return_value = "hi"
    assert await mock.receive_text() == "hi"
    await mock.send_json({"a": 1}, mode="binary")
    mock.send_json.assert_awaited_once_with({"a": 1}, mode="binary")
    with pytest.raises(TypeError):
        await mock.send_text("a", "too many")  # the real signature is enforced


async def test_async_mock_with_spec_sees_the_coroutines() -> None:
    mock = AsyncMock(spec=WebSocket)
    await mock.accept(subprotocol="chat")
    mock.accept.assert_awaited_once_with(subprotocol="chat")
    assert isinstance(mock.receive_bytes, AsyncMock)
