"""The agent's light install (issue 24): the ``printrelay-bridge`` distribution in packaging/bridge.

It holds the ``bridge_agent`` package only, requires none of the server's packages, pins what
the main pyproject pins, and brings every package the agent imports. The agent never imports
the server: every module and every command runs in a process where importing the server's
packages raises. Everything here is built offline (no index, no build isolation).
"""

from __future__ import annotations

import ast
import importlib.metadata
import os
import subprocess
import sys
import tarfile
import textwrap
import tomllib
import zipfile
from collections.abc import Iterable
from pathlib import Path

import pytest
from packaging.requirements import Requirement
from packaging.utils import canonicalize_name

ROOT = Path(__file__).resolve().parents[2]
LIGHT = ROOT / "packaging" / "bridge"
AGENT = ROOT / "bridge_agent"
# The server's packages (import names) and their distributions: none may reach the agent.
SERVER_MODULES = (
    "app",
    "fastapi",
    "starlette",
    "sqlalchemy",
    "asyncpg",
    "aiosqlite",
    "uvicorn",
    "alembic",
    "pydantic",
    "pydantic_settings",
    "prometheus_client",
    "redis",
    "orjson",
)
SERVER_DISTRIBUTIONS = {
    "fastapi",
    "sqlalchemy",
    "asyncpg",
    "aiosqlite",
    "uvicorn",
    "alembic",
    "pydantic",
    "pydantic-settings",
    "prometheus-client",
    "redis",
    "orjson",
}


def _project(path: Path) -> dict[str, object]:
    project: dict[str, object] = tomllib.loads(path.read_text())["project"]
    return project


def _requirements(project: dict[str, object]) -> dict[str, Requirement]:
    deps = project["dependencies"]
    assert isinstance(deps, list)
    return {canonicalize_name(req.name): req for req in map(Requirement, deps)}


def _offline_env() -> dict[str, str]:
    return {**os.environ, "PIP_NO_INDEX": "1", "PIP_DISABLE_PIP_VERSION_CHECK": "1"}


PIP_WHEEL_OFFLINE = (
    sys.executable,
    "-m",
    "pip",
    "wheel",
    "-q",
    "--no-deps",
    "--no-build-isolation",
)


def _pip_wheel(source: Path, out: Path) -> zipfile.ZipFile:
    subprocess.run(
        [*PIP_WHEEL_OFFLINE, str(source), "-w", str(out)],
        check=True,
        capture_output=True,
        env=_offline_env(),
        timeout=300,
    )
    (wheel,) = out.glob("printrelay_bridge-*.whl")
    return zipfile.ZipFile(wheel)


def _agent_files() -> set[str]:
    return {
        path.relative_to(ROOT).as_posix()
        for path in AGENT.rglob("*")
        if path.is_file() and "__pycache__" not in path.parts and path.suffix != ".pyc"
    }


@pytest.fixture(scope="module")
def light_wheel(tmp_path_factory: pytest.TempPathFactory) -> zipfile.ZipFile:
    return _pip_wheel(LIGHT, tmp_path_factory.mktemp("light-wheel"))


def test_the_light_distribution_pins_what_the_main_one_pins() -> None:
    main, light = _project(ROOT / "pyproject.toml"), _project(LIGHT / "pyproject.toml")
    for key in ("version", "requires-python", "license"):
        assert light[key] == main[key], key
    assert light["scripts"] == {"printrelay-bridge": "bridge_agent.cli:main"}
    main_scripts = main["scripts"]
    assert isinstance(main_scripts, dict)
    assert main_scripts["printrelay-bridge"] == "bridge_agent.cli:main"
    main_reqs, light_reqs = _requirements(main), _requirements(light)
    for name, req in light_reqs.items():
        assert name in main_reqs, f"{name} is not a dependency of the main distribution"
        assert (req.specifier, req.extras) == (main_reqs[name].specifier, main_reqs[name].extras)
    assert not set(light_reqs) & SERVER_DISTRIBUTIONS


def test_the_light_install_brings_every_package_the_agent_imports() -> None:
    """Each third-party import in bridge_agent comes from a distribution that installing the
    light distribution's requirements installs (their closure, read from this environment)."""
    imported = set()
    for path in AGENT.rglob("*.py"):
        for node in ast.walk(ast.parse(path.read_text(), str(path))):
            if isinstance(node, ast.Import):
                imported |= {alias.name.partition(".")[0] for alias in node.names}
            elif isinstance(node, ast.ImportFrom) and node.level == 0 and node.module:
                imported.add(node.module.partition(".")[0])
    third_party = imported - set(sys.stdlib_module_names) - {"bridge_agent", "__future__"}
    assert {"socketio", "aiohttp", "escpos", "usb", "serial", "PIL"} <= third_party

    installed = _closure(_requirements(_project(LIGHT / "pyproject.toml")).values())
    providers = importlib.metadata.packages_distributions()
    for module in sorted(third_party):
        dists = {canonicalize_name(dist) for dist in providers.get(module, [])}
        assert dists & installed, f"bridge_agent imports {module}, which the light install lacks"
    assert not installed & SERVER_DISTRIBUTIONS


def _closure(requirements: Iterable[Requirement]) -> set[str]:
    """The distributions installing ``requirements`` installs, extras and markers followed."""
    todo = list(requirements)
    seen: set[tuple[str, frozenset[str]]] = set()
    while todo:
        req = todo.pop()
        key = (canonicalize_name(req.name), frozenset(req.extras))
        if key in seen:
            continue
        seen.add(key)
        for raw in importlib.metadata.distribution(req.name).requires or []:
            sub = Requirement(raw)
            wanted = sub.marker is None or any(
                sub.marker.evaluate({"extra": extra}) for extra in {"", *req.extras}
            )
            if wanted:
                todo.append(sub)
    return {name for name, _ in seen}


def test_the_light_wheel_holds_the_agent_and_nothing_else(light_wheel: zipfile.ZipFile) -> None:
    names = light_wheel.namelist()
    info = "printrelay_bridge-0.1.0.dist-info/"
    assert {name for name in names if not name.startswith(info)} == _agent_files()
    assert "bridge_agent/data/60-printrelay-usb-printers.rules" in names
    metadata = light_wheel.read(info + "METADATA").decode()
    requires = [
        canonicalize_name(Requirement(line.removeprefix("Requires-Dist: ")).name)
        for line in metadata.splitlines()
        if line.startswith("Requires-Dist: ")
    ]
    assert requires and not set(requires) & SERVER_DISTRIBUTIONS
    assert "Name: printrelay-bridge" in metadata
    entry_points = light_wheel.read(info + "entry_points.txt").decode()
    assert "printrelay-bridge = bridge_agent.cli:main" in entry_points


def test_the_light_sdist_builds_the_same_wheel(
    light_wheel: zipfile.ZipFile, tmp_path: Path
) -> None:
    subprocess.run(
        [
            sys.executable,
            "-c",
            f"from hatchling.build import build_sdist; build_sdist({str(tmp_path)!r})",
        ],
        cwd=LIGHT,
        check=True,
        capture_output=True,
        timeout=300,
    )
    (sdist,) = tmp_path.glob("printrelay_bridge-*.tar.gz")
    with tarfile.open(sdist) as archive:
        archive.extractall(tmp_path / "unpacked", filter="data")
    (source,) = (tmp_path / "unpacked").iterdir()
    assert (source / "bridge_agent" / "cli.py").is_file()
    rebuilt = _pip_wheel(source, tmp_path / "wheel")
    assert sorted(rebuilt.namelist()) == sorted(light_wheel.namelist())


BLOCKED_RUN = textwrap.dedent(
    """
    import contextlib, importlib, importlib.abc, io, pkgutil, re, sys

    SERVER = set(sys.argv[1].split(","))

    class ServerBlocker(importlib.abc.MetaPathFinder):
        def find_spec(self, name, path=None, target=None):
            if name.partition(".")[0] in SERVER:
                raise ImportError(f"the agent imported the server's {name}")
            return None

    assert not SERVER & {name.partition(".")[0] for name in sys.modules}
    sys.meta_path.insert(0, ServerBlocker())

    import bridge_agent
    from bridge_agent.cli import main

    modules = [m.name for m in pkgutil.walk_packages(bridge_agent.__path__, "bridge_agent.")]
    for name in modules:
        importlib.import_module(name)

    def run(*argv):
        out = io.StringIO()
        with contextlib.redirect_stdout(out):
            try:
                code = main(list(argv))
            except SystemExit as exc:
                code = exc.code
        assert code == 0, (argv, code, out.getvalue())
        return out.getvalue()

    commands = re.search(r"{([a-z,-]+)}", run("--help")).group(1).split(",")
    for command in commands:
        run(command, "--help")
    run("printers", "--scan", "127.0.0.1/32", "--port", sys.argv[2], "--json")
    run("test-print", "--printer", "file://" + sys.argv[3])
    assert not SERVER & {name.partition(".")[0] for name in sys.modules}
    print(len(modules), "modules;", ",".join(commands))
    """
)


def blocked_args(port: int, printer_file: Path) -> list[str]:
    return [",".join(SERVER_MODULES), str(port), str(printer_file)]


def test_the_agent_runs_where_the_servers_packages_cannot_be_imported(tmp_path: Path) -> None:
    from tests.servers import free_port

    printed = tmp_path / "printer.bin"
    proc = subprocess.run(
        [sys.executable, "-c", BLOCKED_RUN, *blocked_args(free_port(), printed)],
        capture_output=True,
        text=True,
        timeout=120,
        cwd=tmp_path,  # not the repository: only what is installed is importable
    )
    assert proc.returncode == 0, proc.stderr
    count, _, commands = proc.stdout.strip().partition(" modules; ")
    assert int(count) >= 30
    assert {"pair", "run", "test-print", "preview", "install-service", "printers"} <= set(
        commands.split(",")
    )
    assert printed.stat().st_size > 100  # the sample ticket, rendered by python-escpos


def test_the_blocker_catches_a_server_import(tmp_path: Path) -> None:
    """The check above can fail: the same blocker stops an import of the server."""
    script = BLOCKED_RUN.replace("import bridge_agent\n", "import bridge_agent\nimport app\n", 1)
    proc = subprocess.run(
        [sys.executable, "-c", script, *blocked_args(9, Path(os.devnull))],
        capture_output=True,
        text=True,
        timeout=120,
        cwd=tmp_path,
    )
    assert proc.returncode != 0
    assert "ImportError: the agent imported the server's app" in proc.stderr
