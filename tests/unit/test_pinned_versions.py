"""Libraries whose internals Printrelay builds on are pinned, and the installed ones are in range.

``app/realtime/websocket_loop.py`` replaces python-engineio's websocket loop and reads its
socket's fields; ``app/realtime/rooms_manager.py`` and ``packets.py`` subclass python-socketio's
manager and packet; ``app/serving.py`` hooks uvicorn's httptools protocol. None of that is public
API, so pyproject.toml allows only the minor versions those modules were tested with, and this
test says which modules to revisit when an installed version leaves that range.
"""

from __future__ import annotations

import tomllib
from importlib.metadata import version
from pathlib import Path

import pytest
from packaging.requirements import Requirement
from packaging.version import Version

PYPROJECT = Path(__file__).resolve().parents[2] / "pyproject.toml"

BUILT_ON_INTERNALS = {
    "python-engineio": ["app/realtime/websocket_loop.py"],
    "python-socketio": [
        "app/realtime/websocket_loop.py",
        "app/realtime/rooms_manager.py",
        "app/realtime/packets.py",
    ],
    "uvicorn": ["app/serving.py"],
}


def _requirements() -> dict[str, Requirement]:
    dependencies = tomllib.loads(PYPROJECT.read_text())["project"]["dependencies"]
    return {(r := Requirement(d)).name: r for d in dependencies}


@pytest.mark.parametrize("package", sorted(BUILT_ON_INTERNALS))
def test_a_library_whose_internals_we_use_is_pinned_below_its_next_minor(package: str) -> None:
    revisit = ", ".join(BUILT_ON_INTERNALS[package])
    requirement = _requirements().get(package)
    assert requirement is not None, f"pyproject.toml must name {package} (used by {revisit})"
    upper = [s for s in requirement.specifier if s.operator == "<"]
    assert upper, f"{package} needs an upper bound in pyproject.toml: {revisit} use its internals"
    lower = [Version(s.version) for s in requirement.specifier if s.operator == ">="]
    assert lower, f"{package} needs a lower bound (the version tested)"
    ceiling = Version(upper[0].version)
    assert (ceiling.major, ceiling.minor) <= (lower[0].major, lower[0].minor + 1), (
        f"{package} {requirement.specifier} allows more than the next minor after the tested one"
    )


@pytest.mark.parametrize("package", sorted(BUILT_ON_INTERNALS))
def test_the_installed_version_is_the_tested_range(package: str) -> None:
    requirement = _requirements()[package]
    installed = version(package)
    assert requirement.specifier.contains(installed, prereleases=True), (
        f"{package} {installed} is installed but Printrelay was tested with "
        f"{requirement.specifier}: revisit {', '.join(BUILT_ON_INTERNALS[package])} against its "
        "changes, run tests/realtime and tests/security, then widen the range in pyproject.toml"
    )
