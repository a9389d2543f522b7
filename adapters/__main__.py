"""Command line: list the configurations, serve an app under one, or re-measure dialects.

::

    python -m adapters list
    python -m adapters serve granian adapters.echo_app:app --port 8000 [--host 0.0.0.0]
    python -m adapters serve daphne myapp:app --ready-path /ws   # handshake path for readiness
    python -m adapters probe daphne hypercorn-trio --json dialects.json
    python -m adapters record-scopes       # tests/recorded_scopes.json, every available one
    python -m adapters dialects-md         # regenerate DIALECTS.md's summary table

``probe`` and ``record-scopes`` need the ``websockets`` client; ``list`` and
``serve`` need only the server they run.
"""

from __future__ import annotations

import argparse
import asyncio
import dataclasses
import json
import signal
import subprocess
import sys
from collections.abc import Sequence
from pathlib import Path
from types import FrameType
from typing import Final, TextIO

from . import dialects_md
from .errors import AdapterError
from .process import RunningServer
from .registry import ADAPTERS, get

_FOLLOW_INTERVAL: Final = 0.2
"""How long ``serve`` waits on the server process between copies of its new output."""


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
    serve.add_argument(
        "--ready-path", default="/", help="path of the WebSocket handshake that proves readiness"
    )
    probe = commands.add_parser("probe", help="measure configurations' WebSocket dialects")
    probe.add_argument("names", nargs="*", help="default: every available configuration")
    probe.add_argument("--json", type=Path, help="also write the raw observations here")
    record = commands.add_parser("record-scopes", help="record each server's WebSocket scope")
    record.add_argument("names", nargs="*", help="default: every available configuration")
    record.add_argument("--path", type=Path, help="default: tests/recorded_scopes.json")
    commands.add_parser("dialects-md", help="regenerate the summary table of DIALECTS.md")
    args = parser.parse_args(argv)
    try:
        if args.command == "list":
            return _list()
        if args.command == "serve":
            return _serve(args.name, args.app, args.port, args.host, args.ready_path)
        if args.command == "record-scopes":
            return _record_scopes(args.names, args.path)
        if args.command == "dialects-md":
            changed = dialects_md.rewrite()
            print(f"{dialects_md.PATH}: {'rewritten' if changed else 'up to date'}")
            return 0
        return _probe(args.names, args.json)
    except AdapterError as exc:
        print(f"error: {exc}", file=sys.stderr)
        return 2


def _list() -> int:
    """One line per configuration: available with its server's version, or why not."""
    for adapter in ADAPTERS.values():
        reason = adapter.unavailable_reason()
        status = (
            f"unavailable: {reason}"
            if reason
            else f"available ({adapter.distribution} {adapter.version()})"
        )
        print(f"{adapter.name:28} {status}")
    return 0


def _serve(name: str, app: str, port: int | None, host: str, ready_path: str) -> int:
    def interrupt(signum: int, frame: FrameType | None) -> None:
        raise KeyboardInterrupt

    signal.signal(signal.SIGTERM, interrupt)
    with get(name).start(app, port=port, host=host, ready_path=ready_path, keep_log=True) as server:
        print(f"{name} serving {app} on {server.ws_url} (pid {server.pid}); Ctrl-C stops it")
        print(f"server output follows; kept in {server.log_path}", flush=True)
        try:
            code = _follow(server, sys.stdout)
        except KeyboardInterrupt:
            return 0
        finally:
            print(f"server log: {server.log_path}", file=sys.stderr)
        print(f"{name} exited with code {code}", file=sys.stderr)
        return 1


def _follow(server: RunningServer, out: TextIO) -> int:
    """Copy the server's output to ``out`` as it comes, until the server exits."""
    with server.log_path.open(encoding="utf-8", errors="replace") as log:
        while True:
            out.write(log.read())
            out.flush()
            try:
                code = server.wait(_FOLLOW_INTERVAL)
            except subprocess.TimeoutExpired:
                continue
            out.write(log.read())
            return code


def _record_scopes(names: Sequence[str], path: Path | None) -> int:
    from . import scopes  # needs the websockets client, as the probe does

    adapters = [get(name) for name in names] or [a for a in ADAPTERS.values() if a.available]
    scopes.record(adapters, path or scopes.FIXTURE)
    print(f"recorded {', '.join(a.name for a in adapters)} in {path or scopes.FIXTURE}")
    return 0


def _probe(names: Sequence[str], json_path: Path | None) -> int:
    from .probe import PROBE_APP, capabilities_from, measure  # needs websockets

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
