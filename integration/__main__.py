"""Command line: run the integration matrix and write its report.

::

    python -m integration                                  # every installed server
    python -m integration --servers daphne,granian --scenarios echo-text,denial-plain
    python -m integration --target uvicorn-wsproto=ws://127.0.0.1:8000
    python -m integration --out build/ --update-readme README.md

Exit status: 0 when every cell is as expected, 1 otherwise, 2 on a usage error.
"""

from __future__ import annotations

import argparse
import sys
from collections.abc import Sequence
from pathlib import Path

from adapters import UnknownAdapterError, get
from integration.matrix import (
    READY_TIMEOUT,
    render_json,
    render_markdown,
    render_table,
    run_local,
    run_target,
    update_readme,
)


def _names(value: str) -> list[str]:
    return [name.strip() for name in value.split(",") if name.strip()]


def _target(value: str) -> tuple[str, str]:
    name, sep, url = value.partition("=")
    if not sep or not url.startswith(("ws://", "wss://")):
        raise argparse.ArgumentTypeError(f"expected NAME=ws://HOST:PORT, got {value!r}")
    return name, url


def main(argv: Sequence[str] | None = None) -> int:
    """Run the command line; returns the exit status."""
    parser = argparse.ArgumentParser(
        prog="python -m integration", description=__doc__.split("\n")[0]
    )
    parser.add_argument("--servers", type=_names, help="comma-separated configurations")
    parser.add_argument("--scenarios", type=_names, help="comma-separated scenarios")
    parser.add_argument(
        "--target",
        type=_target,
        action="append",
        help="NAME=ws://HOST:PORT: check an already running server serving "
        "integration.apps:app (repeatable); no server is started",
    )
    parser.add_argument("--ready-timeout", type=float, default=READY_TIMEOUT)
    parser.add_argument("--out", type=Path, default=Path.cwd(), help="report directory")
    parser.add_argument("--update-readme", type=Path, metavar="PATH")
    args = parser.parse_args(argv)
    try:
        for name in (args.servers or []) + [name for name, _ in args.target or []]:
            get(name)
        if args.target:
            report = run_target(args.target, args.scenarios, args.ready_timeout)
        else:
            report = run_local(args.servers, args.scenarios)
    except (UnknownAdapterError, KeyError) as exc:
        print(f"error: {exc.args[0]}", file=sys.stderr)
        return 2
    args.out.mkdir(parents=True, exist_ok=True)
    (args.out / "integration-report.md").write_text(render_markdown(report), encoding="utf-8")
    (args.out / "integration-report.json").write_text(render_json(report), encoding="utf-8")
    if args.update_readme is not None:
        update_readme(args.update_readme, report)
    print(render_table(report), end="")
    print("all cells as expected" if report.ok else "some cells differ from expected")
    return 0 if report.ok else 1


if __name__ == "__main__":
    sys.exit(main())
