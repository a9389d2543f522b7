"""Command line: run the integration matrix and write its reports.

::

    python -m integration                                  # every installed server
    python -m integration --servers daphne,granian --scenarios echo-text,tls-scheme
    python -m integration --target uvicorn-wsproto=ws://127.0.0.1:8000
    python -m integration --out build/ --update-readme README.md
    python -m integration --no-browser                     # without Chromium's rows

``--scenarios`` takes scenario names and inherent-difference ids alike (a name
selects the row in the browser's group too). Debian's ``chromium``, when
installed, runs the browser's rows on every local server. Progress
goes to stderr, one line per server as it finishes; the headline, the tables and
where the reports were written go to stdout.

Exit status: 0 when every cell is as expected, 1 otherwise, 2 on a usage error.
"""

from __future__ import annotations

import argparse
import sys
from collections.abc import Sequence
from pathlib import Path

from adapters import UnknownAdapterError, get
from integration.report import render_json, render_markdown, render_tables, update_readme
from integration.runner import READY_TIMEOUT, run_local, run_target


def _names(value: str) -> list[str]:
    return [name.strip() for name in value.split(",") if name.strip()]


def _target(value: str) -> tuple[str, str]:
    name, sep, url = value.partition("=")
    if not sep or not url.startswith(("ws://", "wss://")):
        raise argparse.ArgumentTypeError(f"expected NAME=ws://HOST:PORT, got {value!r}")
    return name, url


def _progress(line: str) -> None:
    print(line, file=sys.stderr, flush=True)


def main(argv: Sequence[str] | None = None) -> int:
    """Run the command line; returns the exit status."""
    parser = argparse.ArgumentParser(
        prog="python -m integration", description=__doc__.split("\n")[0]
    )
    parser.add_argument("--servers", type=_names, help="comma-separated configurations")
    parser.add_argument(
        "--scenarios", type=_names, help="comma-separated scenario names or inherent-row ids"
    )
    parser.add_argument(
        "--target",
        type=_target,
        action="append",
        help="NAME=ws://HOST:PORT (or wss://): check an already running server serving "
        "integration.apps:app (repeatable; give a NAME twice for ws:// and wss://); "
        "no server is started",
    )
    parser.add_argument("--cafile", type=Path, help="CA of the --target wss:// servers")
    parser.add_argument("--ready-timeout", type=float, default=READY_TIMEOUT)
    parser.add_argument(
        "--no-browser", action="store_true", help="skip the browser rows (local servers only)"
    )
    parser.add_argument("--out", type=Path, default=Path.cwd(), help="report directory")
    parser.add_argument("--update-readme", type=Path, metavar="PATH")
    args = parser.parse_args(argv)
    try:
        for name in (args.servers or []) + [name for name, _ in args.target or []]:
            get(name)
        if args.target:
            report = run_target(
                args.target, args.scenarios, args.ready_timeout, args.cafile, _progress
            )
        else:
            _progress("starting each server configuration in turn (ws:// and wss://)")
            report = run_local(args.servers, args.scenarios, _progress, browser=not args.no_browser)
    except (UnknownAdapterError, KeyError) as exc:
        print(f"error: {exc.args[0]}", file=sys.stderr)
        return 2
    args.out.mkdir(parents=True, exist_ok=True)
    markdown = args.out / "integration-report.md"
    data = args.out / "integration-report.json"
    markdown.write_text(render_markdown(report), encoding="utf-8")
    data.write_text(render_json(report), encoding="utf-8")
    if args.update_readme is not None:
        update_readme(args.update_readme, report)
    print(render_tables(report), end="")
    print(f"\nreports: {markdown.resolve()} (Markdown), {data.resolve()} (JSON)")
    if args.update_readme is not None:
        print(f"updated the matrix block of {args.update_readme}")
    print("every cell as expected" if report.ok else "some cells are not as expected")
    return 0 if report.ok else 1


if __name__ == "__main__":
    sys.exit(main())
