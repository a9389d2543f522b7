"""Drop-in check: run Starlette's and Lilya's own WebSocket tests with lilya_ws substituted.

Not part of the default pytest run (it builds a virtualenv and downloads sdists).
See README.md beside this file. Usage::

    python tests/dropin/run_dropin.py --lilya-tests /path/to/lilya-checkout

Each framework's suite runs unchanged in up to three modes, through a pytest
plugin this script writes (nothing in the test files is modified):

``baseline``  the framework as released;
``strict``    ``WebSocket``, ``WebSocketDisconnect`` and ``WebSocketState`` of the
              framework's ``websockets`` module (and every re-export of them in
              the framework's modules) are lilya_ws's;
``adopted``   as ``strict``, plus what a framework adopting lilya_ws would do:
              its state-error class (Starlette's ``WebSocketDisconnected``,
              Lilya's ``WebSocketRuntimeError``) is ``lilya_ws.WebSocketStateError``
              and its ``WebSocket`` is ``lilya_ws.WebSocket`` composed with the
              framework's connection base (``url_for``, ``session``, ``user``...).

A regression is a test that passed at baseline and does not pass in a mode.
The exit status is 1 when the ``--gate`` mode has regressions, 2 on a setup
error (no tests in an sdist, pip failure), 0 otherwise. Every run promotes
warnings to errors, so "no warnings in normal use" is checked too.
"""

from __future__ import annotations

import argparse
import dataclasses
import importlib.metadata
import os
import shutil
import subprocess
import sys
import tarfile
import tempfile
import textwrap
import venv
import xml.etree.ElementTree as ET
from collections.abc import Sequence
from pathlib import Path
from typing import Final

REPO_ROOT: Final = Path(__file__).resolve().parents[2]
MODES: Final = ("baseline", "strict", "adopted")
FRAMEWORKS: Final = ("starlette", "lilya")
FALLBACK_VERSIONS: Final = {"starlette": "1.10.0", "lilya": "0.29.0"}

SUITE_FILES: Final = {
    "starlette": (
        "tests/test_websockets.py",
        "tests/test_testclient.py",
        "tests/test_routing.py",
        "tests/test_endpoints.py",
    ),
    "lilya": ("tests/test_websockets.py",),
}
"""The WebSocket-related test files of each suite (those present are run)."""

TEST_PACKAGES: Final = (
    "pytest",
    "anyio[trio]",
    "trio",
    "httpx",
    "httpx2[zstd]",
    "blockbuster",
    "msgspec",
    "attrs",
)
"""What the suites' conftests and tests import, besides the frameworks' extras."""

PLUGIN_NAME: Final = "lilya_ws_dropin"
PLUGIN_SOURCE: Final = textwrap.dedent(
    '''
    """Written by tests/dropin/run_dropin.py: swaps lilya_ws into a framework."""
    from __future__ import annotations

    import importlib
    import os
    import sys

    FRAMEWORK = os.environ["LILYA_WS_DROPIN_FRAMEWORK"]
    MODE = os.environ["LILYA_WS_DROPIN_MODE"]
    NAMES = ("WebSocket", "WebSocketDisconnect", "WebSocketState")
    WEBSOCKETS_MODULE = {"starlette": "starlette.websockets", "lilya": "lilya.websockets"}
    STATE_ERRORS = {
        "starlette": [("starlette.websockets", "WebSocketDisconnected")],
        "lilya": [("lilya.exceptions", "WebSocketRuntimeError")],
    }
    CONNECTION_BASE = {
        "starlette": ("starlette.requests", "HTTPConnection"),
        "lilya": ("lilya._internal._connection", "Connection"),
    }
    REPLACED = {}


    def _sweep(originals):
        """Replace every reference to an original in the framework's loaded modules."""
        for mod_name, mod in list(sys.modules.items()):
            if mod is None or mod_name.split(".")[0] != FRAMEWORK:
                continue
            for attr, value in list(vars(mod).items()):
                for original, replacement in originals:
                    if value is original:
                        setattr(mod, attr, replacement)


    def _patch():
        import lilya_ws

        module = importlib.import_module(WEBSOCKETS_MODULE[FRAMEWORK])
        replacements = {name: getattr(lilya_ws, name) for name in NAMES}
        pairs = []
        if MODE == "adopted":
            base_module, base_name = CONNECTION_BASE[FRAMEWORK]
            base = getattr(importlib.import_module(base_module), base_name)
            replacements["WebSocket"] = type("WebSocket", (lilya_ws.WebSocket, base), {})
            for mod_name, attr in STATE_ERRORS[FRAMEWORK]:
                original = getattr(importlib.import_module(mod_name), attr, None)
                if original is not None:
                    pairs.append((original, lilya_ws.WebSocketStateError))
                    REPLACED[mod_name + "." + attr] = lilya_ws.WebSocketStateError
        for name in NAMES:
            pairs.append((getattr(module, name), replacements[name]))
            REPLACED[module.__name__ + "." + name] = replacements[name]
        _sweep(pairs)


    if MODE != "baseline":
        _patch()


    def pytest_configure(config):
        # Every warning is an error, first in the list so the suite's own ignores win.
        lines = config.getini("filterwarnings")
        if "error" not in lines:
            lines.insert(0, "error")


    def pytest_report_header(config):
        import lilya_ws

        where = os.path.dirname(lilya_ws.__file__)
        return [f"lilya_ws drop-in: framework={FRAMEWORK} mode={MODE} lilya_ws={where}"]


    def pytest_sessionstart(session):
        for dotted, replacement in REPLACED.items():
            mod_name, attr = dotted.rsplit(".", 1)
            if getattr(sys.modules[mod_name], attr) is not replacement:
                raise RuntimeError(f"lilya_ws drop-in: {dotted} was not replaced")
    '''
)


class SetupError(Exception):
    """The check cannot run: missing tests, a failed install."""


@dataclasses.dataclass(frozen=True)
class Outcome:
    status: str  # "passed", "failed", "skipped"
    message: str


@dataclasses.dataclass
class RunResult:
    outcomes: dict[str, Outcome]
    returncode: int

    def count(self, status: str) -> int:
        return sum(1 for outcome in self.outcomes.values() if outcome.status == status)


def installed_version(name: str) -> str:
    """The version installed beside this interpreter, else the one this check was written for."""
    try:
        return importlib.metadata.version(name)
    except importlib.metadata.PackageNotFoundError:
        return FALLBACK_VERSIONS[name]


def run(cmd: Sequence[str], *, cwd: Path | None = None, env: dict[str, str] | None = None) -> None:
    print("+", " ".join(cmd), flush=True)
    completed = subprocess.run(cmd, cwd=cwd, env=env, capture_output=True, text=True, check=False)
    if completed.returncode != 0:
        tail = "\n".join((completed.stdout + completed.stderr).splitlines()[-30:])
        raise SetupError(f"command failed ({completed.returncode}): {' '.join(cmd)}\n{tail}")


def venv_python(venv_dir: Path) -> Path:
    return venv_dir / ("Scripts" if os.name == "nt" else "bin") / "python"


def make_venv(venv_dir: Path, versions: dict[str, str]) -> Path:
    python = venv_python(venv_dir)
    if not python.exists():
        print(f"Creating virtualenv {venv_dir}", flush=True)
        venv.EnvBuilder(with_pip=True).create(venv_dir)
    requirements = [
        f"starlette[full]=={versions['starlette']}",
        f"lilya=={versions['lilya']}",
        *TEST_PACKAGES,
    ]
    pip = [str(python), "-m", "pip", "install", "--quiet", "--disable-pip-version-check"]
    run([*pip, *requirements])
    run([*pip, "-e", str(REPO_ROOT)])
    return python


def fetch_sdist(python: Path, name: str, version: str, dest: Path) -> Path:
    """Download and unpack the sdist of ``name==version``; return the unpacked folder."""
    download = dest / "download"
    download.mkdir(parents=True, exist_ok=True)
    run(
        [
            str(python),
            "-m",
            "pip",
            "download",
            "--quiet",
            "--disable-pip-version-check",
            "--no-deps",
            "--no-binary",
            ":all:",
            f"{name}=={version}",
            "-d",
            str(download),
        ]
    )
    archives = sorted(download.glob(f"{name}-{version}.tar.gz"))
    if not archives:
        raise SetupError(f"no sdist {name}-{version}.tar.gz in {download}")
    with tarfile.open(archives[0]) as archive:
        if hasattr(tarfile, "data_filter"):
            archive.extractall(dest, filter="data")
        else:  # pragma: no cover - Python without PEP 706
            archive.extractall(dest)
    folder = dest / f"{name}-{version}"
    if not folder.is_dir():
        raise SetupError(f"the sdist of {name} {version} did not unpack to {folder}")
    return folder


def suite_dir(
    framework: str, python: Path, version: str, workdir: Path, override: Path | None
) -> Path:
    """Where the framework's tests are: the sdist, or a given checkout."""
    if override is not None:
        if not (override / "tests" / "test_websockets.py").is_file():
            raise SetupError(f"{override} has no tests/test_websockets.py")
        return override
    folder = fetch_sdist(python, framework, version, workdir / "sdist")
    if not (folder / "tests" / "test_websockets.py").is_file():
        raise SetupError(
            f"The PyPI sdist of {framework} {version} ships no tests "
            f"(no tests/test_websockets.py in {folder.name}). Give a checkout of the "
            f"framework's repository at the tag {version} with --{framework}-tests DIR."
        )
    return folder


def parse_junit(path: Path) -> dict[str, Outcome]:
    outcomes: dict[str, Outcome] = {}
    if not path.exists():
        return outcomes
    for case in ET.parse(path).getroot().iter("testcase"):
        test_id = f"{case.get('classname', '')}::{case.get('name', '')}"
        status, message = "passed", ""
        for child in case:
            if child.tag in ("failure", "error"):
                status, message = "failed", child.get("message") or ""
                break
            if child.tag == "skipped":
                status, message = "skipped", child.get("message") or ""
        outcomes[test_id] = Outcome(status, message)
    return outcomes


def run_suite(
    python: Path,
    framework: str,
    mode: str,
    directory: Path,
    plugin_dir: Path,
    workdir: Path,
    extra_args: Sequence[str],
) -> RunResult:
    files = [name for name in SUITE_FILES[framework] if (directory / name).is_file()]
    junit = workdir / f"junit-{framework}-{mode}.xml"
    env = dict(os.environ)
    env["PYTHONPATH"] = os.pathsep.join([str(plugin_dir), *filter(None, [env.get("PYTHONPATH")])])
    env["LILYA_WS_DROPIN_FRAMEWORK"] = framework
    env["LILYA_WS_DROPIN_MODE"] = mode
    cmd = [
        str(python),
        "-m",
        "pytest",
        "-p",
        PLUGIN_NAME,
        "-p",
        "no:cacheprovider",
        "-q",
        "--tb=short",
        f"--rootdir={directory}",
        f"--junitxml={junit}",
        *extra_args,
        *files,
    ]
    print(f"\n=== {framework} / {mode}: pytest {' '.join(files)}", flush=True)
    log = workdir / f"pytest-{framework}-{mode}.log"
    with log.open("w") as out:
        completed = subprocess.run(
            cmd, cwd=directory, env=env, stdout=out, stderr=subprocess.STDOUT, check=False
        )
    lines = log.read_text(errors="replace").splitlines()
    print(lines[-1] if lines else "(no output)")
    print(f"    log: {log} (kept with --keep or --workdir)")
    return RunResult(parse_junit(junit), completed.returncode)


def report(framework: str, results: dict[str, RunResult]) -> dict[str, list[str]]:
    """Print counts and regressions against the baseline; return regressions per mode."""
    regressions: dict[str, list[str]] = {}
    baseline = results.get("baseline")
    print(f"\n##### {framework}")
    for mode, result in results.items():
        counts = (
            f"{result.count('passed')} passed, {result.count('failed')} failed, "
            f"{result.count('skipped')} skipped"
        )
        print(f"{mode:>9}: {counts}")
        if baseline is None or mode == "baseline":
            continue
        lost = sorted(
            test_id
            for test_id, outcome in baseline.outcomes.items()
            if outcome.status == "passed"
            and result.outcomes.get(test_id, Outcome("failed", "not run")).status != "passed"
        )
        regressions[mode] = lost
        for test_id in lost:
            outcome = result.outcomes.get(test_id, Outcome("failed", "not run"))
            first_line = outcome.message.splitlines()[0][:160] if outcome.message else ""
            print(f"           REGRESSION {test_id}: {first_line}")
    return regressions


def parse_args(argv: Sequence[str] | None) -> argparse.Namespace:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--workdir", type=Path, help="keep everything here (default: a temp dir)")
    parser.add_argument("--venv", type=Path, help="virtualenv to create or reuse")
    parser.add_argument("--frameworks", default=",".join(FRAMEWORKS))
    parser.add_argument("--modes", default=",".join(MODES))
    parser.add_argument("--gate", default="adopted", choices=(*MODES[1:], "none"))
    parser.add_argument("--starlette-version", default=installed_version("starlette"))
    parser.add_argument("--lilya-version", default=installed_version("lilya"))
    parser.add_argument("--starlette-tests", type=Path, help="a Starlette checkout (has tests/)")
    parser.add_argument("--lilya-tests", type=Path, help="a Lilya checkout (has tests/)")
    parser.add_argument("--keep", action="store_true", help="keep the temp dir")
    parser.add_argument("pytest_args", nargs="*", help="extra pytest arguments (after --)")
    return parser.parse_args(argv)


def main(argv: Sequence[str] | None = None) -> int:
    args = parse_args(argv)
    frameworks = [name for name in args.frameworks.split(",") if name]
    modes = [name for name in args.modes.split(",") if name]
    if "baseline" not in modes:
        modes.insert(0, "baseline")
    unknown = [name for name in frameworks if name not in FRAMEWORKS] + [
        name for name in modes if name not in MODES
    ]
    if unknown:
        print(f"unknown framework or mode: {', '.join(unknown)}", file=sys.stderr)
        return 2
    workdir: Path = args.workdir or Path(tempfile.mkdtemp(prefix="lilya_ws_dropin_"))
    workdir = workdir.resolve()
    workdir.mkdir(parents=True, exist_ok=True)
    versions = {"starlette": args.starlette_version, "lilya": args.lilya_version}
    overrides: dict[str, Path | None] = {
        "starlette": args.starlette_tests,
        "lilya": args.lilya_tests,
    }
    print(f"lilya_ws drop-in check in {workdir} (versions: {versions})", flush=True)
    gate_failed = False
    setup_failed = False
    try:
        python = make_venv((args.venv or workdir / "venv").resolve(), versions)
        plugin_dir = workdir / "plugin"
        plugin_dir.mkdir(exist_ok=True)
        (plugin_dir / f"{PLUGIN_NAME}.py").write_text(PLUGIN_SOURCE)
        for framework in frameworks:
            override = overrides[framework]
            try:
                directory = suite_dir(
                    framework,
                    python,
                    versions[framework],
                    workdir,
                    override.resolve() if override else None,
                )
            except SetupError as exc:
                print(f"\n##### {framework}: NOT RUN\n{exc}", file=sys.stderr)
                setup_failed = True
                continue
            results = {
                mode: run_suite(
                    python, framework, mode, directory, plugin_dir, workdir, args.pytest_args
                )
                for mode in modes
            }
            regressions = report(framework, results)
            if args.gate != "none" and regressions.get(args.gate):
                gate_failed = True
    except SetupError as exc:
        print(f"setup failed: {exc}", file=sys.stderr)
        return 2
    finally:
        if args.workdir is None and not args.keep:
            shutil.rmtree(workdir, ignore_errors=True)
    if gate_failed:
        print(f"\nFAIL: regressions in mode {args.gate!r}")
        return 1
    if setup_failed:
        return 2
    print("\nOK" if args.gate == "none" else f"\nOK: no regressions in mode {args.gate!r}")
    return 0


if __name__ == "__main__":
    sys.exit(main())
