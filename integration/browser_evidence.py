"""Raw-ASGI evidence for the browser's ``app-close-was-clean`` row (``adapters/DIALECTS.md``).

The probe app (``adapters.probe_app``, no lilya_ws) accepts, closes 4000 "r" and
keeps receiving; a raw socket reads the server's close frame, answers it (or not),
and reports how and when the server then ends TCP: a FIN, a reset, or not within
:data:`WAIT`. RFC 6455 section 7.1.1 has the server close TCP once it has sent
and received a close frame; a browser calls a close clean only when the closing
handshake completed and TCP ended without a reset. ::

    python -m integration.browser_evidence [configuration ...]
"""

from __future__ import annotations

import asyncio
import sys
import time
from typing import Final

from adapters import get, names
from integration.client import REPO_ROOT, RawConnection, Target

PROBE_APP: Final = "adapters.probe_app:app"
PATH: Final = "/accept-headers?code=4000&reason=r"
WAIT: Final = 3.0
AT_ONCE: Final = 0.5


class _Connection(RawConnection):
    async def tcp_ending(self, timeout: float) -> str:
        """How and when the server ends TCP: ``FIN``/``reset`` ``at once`` (within
        :data:`AT_ONCE`) or ``after <n> s``, or ``open`` after ``timeout``."""
        started = time.monotonic()
        try:
            while await asyncio.wait_for(self._reader.read(65536), timeout):
                pass
            how = "FIN"
        except ConnectionResetError:
            how = "reset"
        except asyncio.TimeoutError:
            return f"open after {timeout:g} s"
        elapsed = time.monotonic() - started
        return f"{how} {'at once' if elapsed < AT_ONCE else f'after {elapsed:.0f} s'}"


async def _ending(target: Target, *, answer: bool) -> str:
    connection = await _Connection.open(target, PATH)
    assert isinstance(connection, _Connection)
    try:
        opcode, payload = await connection.next_frame()
        if opcode != 0x8:
            return f"opcode {opcode}, not a close frame"
        if answer:
            connection.send_close(int.from_bytes(payload[:2], "big"), "")
        return await connection.tcp_ending(WAIT)
    finally:
        connection.close()


async def _row(target: Target) -> str:
    answered = await _ending(target, answer=True)
    unanswered = await _ending(target, answer=False)
    return f"| {target.name} | {answered} | {unanswered} |"


def main(argv: list[str]) -> int:
    print("| configuration | client answers the close frame | client does not answer |")
    print("|---|---|---|")
    for name in argv or names():
        with get(name).start(PROBE_APP, cwd=REPO_ROOT) as server:
            print(asyncio.run(_row(Target(name, server.ws_url))), flush=True)
    return 0


if __name__ == "__main__":
    sys.exit(main(sys.argv[1:]))
