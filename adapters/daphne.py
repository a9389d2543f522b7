"""daphne (Twisted and autobahn underneath)."""

from __future__ import annotations

import sys
from pathlib import Path
from typing import Final

from .base import ServerAdapter
from .process import TLSFiles


def command(app: str, host: str, port: int, /, tls: TLSFiles | None = None) -> list[str]:
    """The daphne command line; ``-v 0`` keeps warnings and errors, drops the access log.

    TLS is a Twisted ``ssl:`` server endpoint (``-e``) in place of ``-b``/``-p``.
    """
    if tls is None:
        where = ["-b", host, "-p", str(port)]
    else:
        key, cert = _endpoint_value(tls.keyfile), _endpoint_value(tls.certfile)
        where = ["-e", f"ssl:{port}:interface={host}:privateKey={key}:certKey={cert}"]
    return [sys.executable, "-m", "daphne", *where, "-v", "0", app]


def _endpoint_value(path: Path) -> str:
    """``path`` escaped for Twisted's endpoint syntax (``:`` separates its fields)."""
    return str(path).replace("\\", "\\\\").replace(":", "\\:")


ADAPTERS: Final = (ServerAdapter("daphne", "daphne", ("daphne",), command),)
