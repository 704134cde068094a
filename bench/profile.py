"""``--profile``: py-spy attached to the server for the measurement window, and a summary of the
collapsed stacks it writes (open the ``.collapsed.txt`` file in https://www.speedscope.app or
flamegraph.pl for the full picture)."""

from __future__ import annotations

import asyncio
import re
import shutil
from collections import Counter
from dataclasses import dataclass
from pathlib import Path
from typing import Any

from bench.server import venv_bin

_FRAME = re.compile(r"^(?P<func>.*?) \((?P<file>[^()]*?)(?::(?P<line>\d+))?\)$")


def py_spy() -> str | None:
    exe = venv_bin("py-spy")
    return exe if Path(exe).exists() else shutil.which("py-spy")


class Recorder:
    def __init__(
        self, pid: int, output: Path, duration_s: float, rate: int = 100, subprocesses: bool = False
    ) -> None:
        self.pid = pid
        self.subprocesses = subprocesses
        self.output = output
        self.duration_s = duration_s
        self.rate = rate
        self.proc: asyncio.subprocess.Process | None = None

    async def start(self) -> None:
        exe = py_spy()
        if exe is None:
            raise RuntimeError('--profile needs py-spy: pip install -e ".[bench]"')
        self.proc = await asyncio.create_subprocess_exec(
            exe,
            "record",
            "--pid",
            str(self.pid),
            "--duration",
            str(max(1, round(self.duration_s))),
            "--rate",
            str(self.rate),
            "--format",
            "raw",
            "--nonblocking",
            *(["--subprocesses"] if self.subprocesses else []),
            "--output",
            str(self.output),
            stdout=asyncio.subprocess.DEVNULL,
            stderr=asyncio.subprocess.PIPE,
        )

    async def wait(self) -> None:
        if self.proc is None:
            return
        _, err = await self.proc.communicate()
        if self.proc.returncode != 0:
            raise RuntimeError(f"py-spy failed: {err.decode(errors='replace')[-500:]}")


@dataclass
class Frame:
    func: str
    file: str

    @property
    def package(self) -> str:
        path = self.file
        if path.startswith("<"):
            return path
        first = path.split("/", 1)[0]
        return first.removesuffix(".py")

    def __str__(self) -> str:
        return f"{self.func} ({self.file})"


def parse_frame(text: str) -> Frame:
    m = _FRAME.match(text)
    if m is None:
        return Frame(text, "?")
    return Frame(m["func"], m["file"])


def summarize(collapsed: Path, top: int = 15) -> dict[str, Any]:
    """Self and inclusive shares per function, self share per top-level package."""
    self_by_func: Counter[str] = Counter()
    incl_by_func: Counter[str] = Counter()
    self_by_package: Counter[str] = Counter()
    incl_by_package: Counter[str] = Counter()
    incl_app: Counter[str] = Counter()
    by_entry: Counter[str] = Counter()
    total = 0
    for line in collapsed.read_text(errors="replace").splitlines():
        stack, _, count_text = line.rpartition(" ")
        if not stack or not count_text.isdigit():
            continue
        count = int(count_text)
        total += count
        frames = [parse_frame(f) for f in stack.split(";")]
        leaf = frames[-1]
        self_by_func[str(leaf)] += count
        self_by_package[leaf.package] += count
        for name in {str(f) for f in frames}:
            incl_by_func[name] += count
        for pkg in {f.package for f in frames}:
            incl_by_package[pkg] += count
        for name in {
            str(f) for f in frames if f.file.startswith("app/") and f.file != "app/cli.py"
        }:
            incl_app[name] += count
        by_entry[entry_of(frames)] += count

    def share(counter: Counter[str], n: int) -> list[tuple[str, float]]:
        return [(k, round(100 * v / total, 1)) for k, v in counter.most_common(n)] if total else []

    return {
        "samples": total,
        "file": str(collapsed),
        "self_by_package_pct": share(self_by_package, 12),
        "inclusive_by_package_pct": share(incl_by_package, 12),
        "by_entry_pct": share(by_entry, 20),
        "app_inclusive_pct": share(incl_app, top),
        "self_by_function_pct": share(self_by_func, top),
        "inclusive_by_function_pct": [
            (k, v) for k, v in share(incl_by_func, top + 25) if not _is_plumbing(k)
        ][:top],
    }


def entry_of(frames: list[Frame]) -> str:
    """What the server was doing: which endpoint or socket handler, or else which layer."""
    for f in frames:
        if f.file in ("app/print_jobs/fast_submit.py", "app/print_jobs/submission.py"):
            return "REST submit (app/print_jobs/fast_submit.py)"
        if f.file.endswith("endpoints.py") and f.file.startswith("app/"):
            return f"REST {f.func} ({f.file})"
        if f.file == "app/realtime/server.py" and f.func.startswith(("Realtime.on_", "Realtime._")):
            return f"socket {f.func}"
        if f.file == "app/realtime/publisher.py":
            return f"publish {f.func}"
        if f.file == "app/sweeper.py":
            return "sweeper"
    for f in frames:
        if f.file.startswith("app/auth/"):
            return "REST authentication (before the endpoint)"
    files = " ".join(f.file for f in frames)
    if "greenlet" in files or frames[0].file.startswith("sqlalchemy/"):
        return "SQLAlchemy in a greenlet (caller not on this stack)"
    if "uvicorn/protocols/http/" in files:  # an HTTP request (Engine.IO's ASGI app is on it)
        return "HTTP plumbing (uvicorn, Starlette, FastAPI)"
    if "engineio/" in files or "socketio/" in files:
        return "Socket.IO / Engine.IO plumbing (pings, frames, emits)"
    if "uvicorn/" in files or "starlette/" in files or "fastapi/" in files:
        return "HTTP plumbing (uvicorn, Starlette, FastAPI)"
    if "redis/" in files:
        return "Redis client"
    if "aiosqlite/" in files or "threading.py" in files:
        return "aiosqlite worker thread"
    return "event loop and other"


def _is_plumbing(name: str) -> bool:
    """Frames on every stack (the event loop, uvicorn's entry) say nothing about cost."""
    return any(
        s in name
        for s in (
            "<module>",
            "run (asyncio/runners.py)",
            "run_until_complete",
            "run_forever",
            "_run_once",
            "_run (asyncio/events.py)",
            "main (app/cli.py)",
            "_serve (app/cli.py)",
            "run (uvicorn",
            "serve (uvicorn",
        )
    )
