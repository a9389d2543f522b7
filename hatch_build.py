"""Editable installs: make ``lilya_ws_adapters`` import the repository's live ``adapters/``.

The wheel ships ``adapters/`` as ``lilya_ws_adapters`` (``sources`` in pyproject.toml),
a name no other distribution uses; the pytest plugin imports it by that name. An
editable install puts the repository on ``sys.path`` (``dev-mode-dirs``), which
gives ``adapters`` but not its shipped name, and hatchling would only copy a
forced directory. So editable builds get an import hook (the ``editables``
package, as hatchling's own exact mode uses) that maps the shipped name to the
folder: edits to ``adapters/`` show through both names without a reinstall.
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
"""The import hook's module, imported by a .pth at start-up. pytest marks every top-level
module of a plugin's distribution for assertion rewriting and warns about one already
imported, except editable finders named ``__editable__*`` (as setuptools names them)."""


class CustomBuildHook(BuildHookInterface[BuilderConfig]):
    """Adds the ``lilya_ws_adapters`` import hook to editable wheels only."""

    _scratch: Path | None = None

    def initialize(self, version: str, build_data: dict[str, Any]) -> None:
        if self.target_name != "wheel" or version != "editable":
            return
        from editables import EditableProject

        project = EditableProject(SHIPPED_NAME, self.root)
        project.map(SHIPPED_NAME, FOLDER)
        self._scratch = Path(tempfile.mkdtemp(prefix="lilya-ws-editable-"))
        files = {
            f"{FINDER}.pth": f"import {FINDER}\n",
            f"{FINDER}.py": project.bootstrap_file() + "\n",
        }
        for name, content in files.items():
            path = self._scratch / name
            path.write_text(content, encoding="utf-8")
            build_data["force_include_editable"][str(path)] = name
        build_data["dependencies"].extend(project.dependencies())

    def finalize(self, version: str, build_data: dict[str, Any], artifact_path: str) -> None:
        if self._scratch is not None:
            shutil.rmtree(self._scratch, ignore_errors=True)
