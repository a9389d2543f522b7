"""Start an ASGI app under a real server, and know that server's WebSocket dialect.

Seven configurations are known by name (see ``registry.AdapterName``)::

    from adapters import get

    with get("hypercorn-trio").start("adapters.echo_app:app") as server:
        print(server.ws_url, server.pid)

Each adapter's ``capabilities`` is the dialect measured by ``adapters.probe``,
written once in ``lilya_ws.servers`` and summarised in ``adapters/DIALECTS.md``.
"""

from adapters.base import ServerAdapter
from adapters.errors import (
    AdapterError,
    PortInUseError,
    ServerStartError,
    ServerUnavailableError,
    UnknownAdapterError,
)
from adapters.process import RunningServer
from adapters.registry import ADAPTERS, AdapterName, available, get, names
from lilya_ws.servers import ServerCapabilities

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
