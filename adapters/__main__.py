"""Command line: list the configurations, serve an app under one, or re-measure dialects.

::

    python -m adapters list
    python -m adapters serve granian adapters.echo_app:app --port 8000 [--host 0.0.0.0]
    python -m adapters probe daphne hypercorn-trio --json dialects.json
"""

from __future__ import annotations

import argparse
import asyncio
import dataclasses
import json
import signal
import sys
from collections.abc import Sequence
from pathlib import Path
from types import FrameType

from adapters.errors import AdapterError
from adapters.probe import PROBE_APP, capabilities_from, measure
from adapters.registry import ADAPTERS, get


def main(argv: Sequence[str] | None = None) -> int:
    """Run the command line; returns the process exit status."""
    parser = argparse.ArgumentParser(prog="python -m adapters", description=__doc__.split("\n")[0])
    commands = parser.add_subparsers(dest="command", required=True)
    commands.add_parser("list", help="each configuration and whether it can run here")
    serve = commands.add_parser("serve", help="serve an app until Ctrl-C or SIGTERM")
    serve.add_argument("name", help="configuration name (see `list`)")
    serve.add_argument("app", help="the ASGI app as module:attr, importable from the cwd")
    serve.add_argument("--port", type=int, default=None, help="default: a free port")
    serve.add_argument(
        "--host",
        default="127.0.0.1",
        help="interface to bind (0.0.0.0 only inside a container, as docker-compose does)",
    )
    probe = commands.add_parser("probe", help="measure configurations' WebSocket dialects")
    probe.add_argument("names", nargs="*", help="default: every available configuration")
    probe.add_argument("--json", type=Path, help="also write the raw observations here")
    args = parser.parse_args(argv)
    try:
        if args.command == "list":
            return _list()
        if args.command == "serve":
            return _serve(args.name, args.app, args.port, args.host)
        return _probe(args.names, args.json)
    except AdapterError as exc:
        print(f"error: {exc}", file=sys.stderr)
        return 2


def _list() -> int:
    for adapter in ADAPTERS.values():
        reason = adapter.unavailable_reason()
        status = (
            f"unavailable: {reason}" if reason else f"{adapter.distribution} {adapter.version()}"
        )
        print(f"{adapter.name:28} {status}")
    return 0


def _serve(name: str, app: str, port: int | None, host: str) -> int:
    def interrupt(signum: int, frame: FrameType | None) -> None:
        raise KeyboardInterrupt

    signal.signal(signal.SIGTERM, interrupt)
    with get(name).start(app, port=port, host=host) as server:
        print(f"{name} serving {app} on {server.ws_url} (pid {server.pid}); Ctrl-C stops it")
        try:
            code = server.wait()
        except KeyboardInterrupt:
            return 0
        print(f"{name} exited with code {code}:\n{server.log_tail()}", file=sys.stderr)
        return 1


def _probe(names: Sequence[str], json_path: Path | None) -> int:
    adapters = [get(name) for name in names] or [a for a in ADAPTERS.values() if a.available]
    dialects = []
    differs = False
    for adapter in adapters:
        with adapter.start(PROBE_APP) as server:
            dialect = asyncio.run(measure(server))
        dialects.append(dialect)
        measured = dataclasses.asdict(capabilities_from(dialect))
        declared = dataclasses.asdict(adapter.capabilities)
        changed = {key: value for key, value in measured.items() if declared[key] != value}
        differs = differs or bool(changed)
        print(f"{adapter.name} ({adapter.distribution} {adapter.version()}):")
        for key, value in measured.items():
            note = f"   <- declared {declared[key]!r}" if key in changed else ""
            print(f"  {key:30} {value!r}{note}")
    if json_path is not None:
        json_path.write_text(json.dumps(dialects, indent=1) + "\n", encoding="utf-8")
    return 1 if differs else 0


if __name__ == "__main__":
    sys.exit(main())
