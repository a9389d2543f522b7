"""A user's tests: each runs once per installed server (``test_echo[daphne]`` ...)."""

from __future__ import annotations

from websockets.sync.client import ClientConnection, connect


def test_echo(lilya_ws_client: ClientConnection) -> None:
    lilya_ws_client.send("hello")
    assert lilya_ws_client.recv(timeout=5) == "hello"


def test_two_clients(lilya_ws_url: str) -> None:
    with connect(lilya_ws_url) as first, connect(lilya_ws_url) as second:
        second.send("two")
        first.send("one")
        assert (first.recv(timeout=5), second.recv(timeout=5)) == ("one", "two")
