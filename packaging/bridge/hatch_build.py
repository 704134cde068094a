"""Adds the repository's ``bridge_agent`` package to this distribution's wheel and sdist.

Built from the repository (``pip install ./packaging/bridge``, ``pipx install``, a git URL with
``#subdirectory=packaging/bridge``) the package is ``../../bridge_agent``; built from this
distribution's sdist it is ``./bridge_agent``, where the sdist put it.
"""

from __future__ import annotations

from pathlib import Path
from typing import Any

from hatchling.builders.hooks.plugin.interface import BuildHookInterface

PACKAGE = "bridge_agent"


class CustomBuildHook(BuildHookInterface):  # type: ignore[type-arg]
    def initialize(self, version: str, build_data: dict[str, Any]) -> None:
        root = Path(self.root)
        in_sdist = root / PACKAGE
        if (in_sdist / "__init__.py").is_file():
            if self.target_name == "sdist":
                return  # already selected as a file of this directory
            source = in_sdist
        else:
            source = root.parent.parent / PACKAGE
            if not (source / "__init__.py").is_file():
                raise RuntimeError(f"{PACKAGE} not found at {source} nor at {in_sdist}")
        build_data["force_include"][str(source)] = PACKAGE
