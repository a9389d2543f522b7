"""Start an ASGI app under a real server, and know that server's WebSocket dialect.

Seven configurations are known by name (see ``registry.AdapterName``)::

    from . import get

    with get("hypercorn-trio").start("adapters.echo_app:app") as server:
        print(server.ws_url, server.pid)

Each adapter's ``capabilities`` is the dialect measured by ``adapters.probe``,
written once in ``lilya_ws.servers`` and summarised in ``adapters/DIALECTS.md``.
"""

from lilya_ws.servers import ServerCapabilities

from .base import ServerAdapter
from .errors import (
    AdapterError,
    PortInUseError,
    ServerStartError,
    ServerUnavailableError,
    UnknownAdapterError,
)
from .process import RunningServer
from .registry import ADAPTERS, AdapterName, available, get, names

__all__ = [
    "ADAPTERS",
    "AdapterError",
    "AdapterName",
    "PortInUseError",
    "RunningServer",
    "ServerAdapter",
    "ServerCapabilities",
    "ServerStartError",
    "ServerUnavailableError",
    "UnknownAdapterError",
    "available",
    "get",
    "names",
]
