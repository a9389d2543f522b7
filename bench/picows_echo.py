"""A picows echo server with no ASGI in the way: the fastest server the load client meets.

``bench/endtoend.py`` runs its client against it to measure the client's own
capacity, so the ASGI servers' numbers can be shown not to be client-bound.

Example: ``python -m bench.picows_echo 127.0.0.1 8765``.
"""

from __future__ import annotations

import asyncio
import sys

from picows import WSFrame, WSListener, WSMsgType, WSTransport, ws_create_server


class EchoListener(WSListener):
    """Send every data frame back as it came; answer a close with a close."""

    def on_ws_frame(self, transport: WSTransport, frame: WSFrame) -> None:
        if frame.msg_type in (WSMsgType.TEXT, WSMsgType.BINARY):
            transport.send(frame.msg_type, frame.get_payload_as_bytes())
        elif frame.msg_type is WSMsgType.CLOSE:
            transport.send_close(frame.get_close_code(), frame.get_close_message())
            transport.disconnect()


async def serve(host: str, port: int) -> None:
    """Serve until killed."""
    server = await ws_create_server(lambda _request: EchoListener(), host, port)
    async with server:
        await server.serve_forever()


if __name__ == "__main__":
    asyncio.run(serve(sys.argv[1], int(sys.argv[2])))
