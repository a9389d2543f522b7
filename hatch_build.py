"""Editable installs: make ``lilya_ws_adapters`` import the repository's live ``adapters/``.

The wheel ships ``adapters/`` as ``lilya_ws_adapters`` (``sources`` in pyproject.toml),
a name no other distribution uses; the pytest plugin imports it by that name. An
editable install puts the repository on ``sys.path`` (``dev-mode-dirs``), which
gives ``adapters`` but not its shipped name, and hatchling would only copy a
forced directory. So editable wheels get a small import hook, started by a
``.pth`` file, that maps the shipped name to the folder: edits to ``adapters/``
show through both names without a reinstall. It needs nothing but the standard
library, because installers such as tox take an editable wheel's dependencies
from metadata prepared before any build hook runs.
"""

from __future__ import annotations

import shutil
import tempfile
from pathlib import Path
from typing import Any

from hatchling.builders.config import BuilderConfig
from hatchling.builders.hooks.plugin.interface import BuildHookInterface

SHIPPED_NAME = "lilya_ws_adapters"
FOLDER = "adapters"
FINDER = "__editable___lilya_ws_adapters_finder"
"""The import hook's module. pytest marks every top-level module of a plugin's
distribution for assertion rewriting and warns about one already imported, except
editable finders named ``__editable__*`` (as setuptools names them)."""

FINDER_SOURCE = '''\
"""An editable install of lilya-ws: {name} is the repository's {folder}/ folder."""

import importlib.util
import sys


class Finder:
    @classmethod
    def find_spec(cls, name, path=None, target=None):
        if name != {name!r}:
            return None
        return importlib.util.spec_from_file_location(name, {init!r})


if Finder not in sys.meta_path:
    sys.meta_path.append(Finder)
'''


class CustomBuildHook(BuildHookInterface[BuilderConfig]):
    """Adds the ``lilya_ws_adapters`` import hook to editable wheels only."""

    _scratch: Path | None = None

    def initialize(self, version: str, build_data: dict[str, Any]) -> None:
        if self.target_name != "wheel" or version != "editable":
            return
        init = Path(self.root, FOLDER, "__init__.py").resolve()
        source = FINDER_SOURCE.format(name=SHIPPED_NAME, folder=FOLDER, init=str(init))
        self._scratch = Path(tempfile.mkdtemp(prefix="lilya-ws-editable-"))
        files = {f"{FINDER}.pth": f"import {FINDER}\n", f"{FINDER}.py": source}
        for name, content in files.items():
            path = self._scratch / name
            path.write_text(content, encoding="utf-8")
            build_data["force_include_editable"][str(path)] = name

    def finalize(self, version: str, build_data: dict[str, Any], artifact_path: str) -> None:
        if self._scratch is not None:
            shutil.rmtree(self._scratch, ignore_errors=True)
