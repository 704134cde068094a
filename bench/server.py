"""The server under test: a ``printrelay serve`` child process on a fresh database.

Backends:
- ``sqlite``: the embedded default (a SQLite file in a temporary directory, in-memory locks,
  rooms and rate limits), one process.
- ``postgres``: a fresh PostgreSQL database (created here, dropped afterwards) and a Redis
  database index (flushed first), python-socketio's Redis manager.
"""

from __future__ import annotations

import asyncio
import contextlib
import json
import os
import re
import secrets
import signal
import socket
import subprocess
import sys
import tempfile
import time
import uuid
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any

import aiohttp

from bench.procstat import with_descendants

POSTGRES_ADMIN_URL = os.environ.get("BENCH_POSTGRES_URL", "postgresql://root@127.0.0.1:5432/test")
REDIS_HOST_URL = os.environ.get("BENCH_REDIS_URL", "redis://127.0.0.1:6379")
STARTUP_TIMEOUT_S = 60
UNLIMITED = "1000000000"

# Limits that would refuse the bench's own traffic; everything else stays at its default.
BENCH_ENV = {
    "PRINTRELAY_ENV": "production",
    "PRINTRELAY_JOB_SUBMIT_RATE_LIMIT": UNLIMITED,
    "PRINTRELAY_PAIRING_RATE_LIMIT": UNLIMITED,
    "PRINTRELAY_PAIRING_GLOBAL_RATE_LIMIT": UNLIMITED,
    "PRINTRELAY_CLOUDPRNT_RATE_LIMIT": UNLIMITED,
}


try:  # resolved here, not in the forked child (which must not import or take locks)
    import ctypes

    _PRCTL: Any = ctypes.CDLL(None, use_errno=True).prctl
except (OSError, AttributeError):
    _PRCTL = None
_PR_SET_PDEATHSIG = 1


def _die_with_parent() -> None:
    """In the child: get SIGKILL when the bench dies, so no server outlives it (Linux)."""
    if _PRCTL is not None:
        _PRCTL(_PR_SET_PDEATHSIG, signal.SIGKILL)


def venv_bin(name: str, bin_dir: str | None = None) -> str:
    """A console script in ``bin_dir``, or beside the running interpreter (the project's
    .venv)."""
    candidate = Path(bin_dir or Path(sys.executable).parent) / name
    return str(candidate) if candidate.exists() else name


def free_port() -> int:
    with socket.socket() as s:
        s.bind(("127.0.0.1", 0))
        port: int = s.getsockname()[1]
        return port


async def _pg_admin(sql: str) -> list[Any]:
    import asyncpg

    conn = await asyncpg.connect(POSTGRES_ADMIN_URL, timeout=3)
    try:
        return list(await conn.fetch(sql))
    finally:
        await conn.close()


async def postgres_reachable() -> bool:
    try:
        await _pg_admin("SELECT 1")
    except Exception:
        return False
    return True


async def redis_reachable() -> bool:
    from redis.asyncio import Redis

    client = Redis.from_url(REDIS_HOST_URL, socket_timeout=2)
    try:
        return bool(await client.ping())
    except Exception:
        return False
    finally:
        await client.aclose()


@dataclass
class Backend:
    """Where the server keeps its data; made fresh for each scenario and removed after."""

    name: str  # "sqlite" | "postgres"
    workdir: Path
    database_url: str = ""
    redis_url: str | None = None
    pg_database: str | None = None

    @classmethod
    async def create(cls, name: str, redis_db: int) -> Backend:
        workdir = Path(tempfile.mkdtemp(prefix=f"printrelay-bench-{name}-"))
        backend = cls(name, workdir)
        if name == "sqlite":
            backend.database_url = f"sqlite+aiosqlite:///{workdir / 'bench.db'}"
            return backend
        db = f"printrelay_bench_{uuid.uuid4().hex[:10]}"
        await _pg_admin(f'CREATE DATABASE "{db}"')
        backend.pg_database = db
        host = POSTGRES_ADMIN_URL.split("://", 1)[1].rsplit("/", 1)[0]
        backend.database_url = f"postgresql+asyncpg://{host}/{db}"
        backend.redis_url = f"{REDIS_HOST_URL}/{redis_db}"
        from redis.asyncio import Redis

        client = Redis.from_url(backend.redis_url)
        try:
            await client.flushdb()
        finally:
            await client.aclose()
        return backend

    @property
    def uses_postgres(self) -> bool:
        return self.pg_database is not None

    async def drop(self) -> None:
        if self.pg_database is not None:
            await _pg_admin(f'DROP DATABASE IF EXISTS "{self.pg_database}" WITH (FORCE)')
        if self.redis_url is not None:
            from redis.asyncio import Redis

            client = Redis.from_url(self.redis_url)
            try:
                await client.flushdb()
            finally:
                await client.aclose()

    async def backend_pids_of_other_databases(self) -> set[int]:
        """PostgreSQL client backends connected to some other database (someone else's load)."""
        if self.pg_database is None:
            return set()
        rows = await _pg_admin(
            "SELECT pid, datname FROM pg_stat_activity WHERE backend_type = 'client backend'"
        )
        return {int(r["pid"]) for r in rows if r["datname"] not in (self.pg_database, None)}

    def uuid_sql(self, value: str) -> str:
        """A UUID literal as this backend stores it (SQLite: 32 hex digits, no dashes)."""
        parsed = uuid.UUID(value)
        return f"'{parsed}'" if self.uses_postgres else f"'{parsed.hex}'"

    async def query(self, sql: str) -> list[tuple[Any, ...]]:
        """Read the server's database directly (verification after a run)."""
        if self.pg_database is not None:
            import asyncpg

            host = POSTGRES_ADMIN_URL.split("://", 1)[1].rsplit("/", 1)[0]
            conn = await asyncpg.connect(f"postgresql://{host}/{self.pg_database}", timeout=5)
            try:
                return [tuple(r) for r in await conn.fetch(sql)]
            finally:
                await conn.close()
        import sqlite3

        path = self.database_url.split(":///", 1)[1]

        def run() -> list[tuple[Any, ...]]:
            conn = sqlite3.connect(path, timeout=30)
            try:
                return list(conn.execute(sql).fetchall())
            finally:
                conn.close()

        return await asyncio.to_thread(run)


@dataclass
class Server:
    """``printrelay serve`` as a child process; can be SIGKILLed and started again (same port)."""

    backend: Backend
    port: int = field(default_factory=free_port)
    admin_token: str = field(default_factory=lambda: secrets.token_urlsafe(32))
    extra_env: dict[str, str] = field(default_factory=dict)
    workers: int = 1  # more than one: uvicorn forks them, Redis joins them
    bin_dir: str | None = None  # run printrelay from another virtualenv (another Python)
    count_tasks: bool = False  # bench/gcprobe counts the asyncio tasks it makes (tasks_in())
    proc: subprocess.Popen[bytes] | None = None
    starts: int = 0
    kept_log: dict[str, Any] | None = None  # log_problems() of a log since removed

    @property
    def url(self) -> str:
        return f"http://127.0.0.1:{self.port}"

    @property
    def pid(self) -> int:
        assert self.proc is not None
        return self.proc.pid

    @property
    def log_path(self) -> Path:
        return self.backend.workdir / "server.log"

    def env(self) -> dict[str, str]:
        env = {
            k: v
            for k, v in os.environ.items()
            if not k.startswith("PRINTRELAY_") and k != "FORWARDED_ALLOW_IPS"
        }
        env.update(BENCH_ENV)
        env["PRINTRELAY_ADMIN_TOKEN"] = self.admin_token
        env["PRINTRELAY_DATABASE_URL"] = self.backend.database_url
        if self.backend.redis_url:
            env["PRINTRELAY_REDIS_URL"] = self.backend.redis_url
        # bench/gcprobe: the server logs its garbage-collection pauses (read by gc_pauses()).
        probe = str(Path(__file__).parent / "gcprobe")
        env["PYTHONPATH"] = os.pathsep.join(p for p in (probe, env.get("PYTHONPATH")) if p)
        env["BENCH_GC_LOG"] = str(self.gc_log_path)
        if self.count_tasks:
            env["BENCH_TASK_LOG"] = str(self.task_log_path)
        env.update(self.extra_env)
        return env

    @property
    def gc_log_path(self) -> Path:
        return self.backend.workdir / "gc.log"

    def gc_pauses(self, wall0: float, wall1: float) -> dict[str, Any]:
        """Collections of 1 ms or more between two time.time() readings, every process."""
        try:
            lines = self.gc_log_path.read_text().splitlines()
        except OSError:
            return {"count": 0}
        pauses = []
        for line in lines:
            at, gen, ms = line.split()
            if wall0 <= float(at) <= wall1:
                pauses.append((int(gen), float(ms)))
        full = [ms for gen, ms in pauses if gen == 2]
        return {
            "count": len(pauses),
            "total_ms": round(sum(ms for _, ms in pauses), 1),
            "max_ms": round(max((ms for _, ms in pauses), default=0.0), 1),
            "full_collections": len(full),
            "full_max_ms": round(max(full, default=0.0), 1),
        }

    @property
    def task_log_path(self) -> Path:
        return self.backend.workdir / "tasks.log"

    def tasks_in(self, wall0: float, wall1: float) -> dict[str, float]:
        """Asyncio tasks made between two time.time() readings, by coroutine name, summed over
        the server's processes: each process's counts at its last snapshot by wall1 less those
        at its last by wall0, scaled from the snapshots' span to the window's (snapshots come
        at most every 0.25 s). Empty without ``count_tasks`` or snapshots on both sides."""
        try:
            lines = self.task_log_path.read_text().splitlines()
        except OSError:
            return {}
        before: dict[int, dict[str, Any]] = {}
        by_end: dict[int, dict[str, Any]] = {}
        for line in lines:
            snap = json.loads(line)
            if snap["t"] <= wall0:
                before[snap["pid"]] = snap
            if snap["t"] <= wall1:
                by_end[snap["pid"]] = snap
        made: dict[str, float] = {}
        for pid, end in by_end.items():
            start = before.get(pid)
            if start is None or end["t"] <= start["t"]:
                continue
            scale = (wall1 - wall0) / (end["t"] - start["t"])
            for name, n in end["counts"].items():
                grew = n - start["counts"].get(name, 0)
                if grew:
                    made[name] = made.get(name, 0.0) + grew * scale
        return dict(sorted(made.items(), key=lambda kv: -kv[1]))

    def spawn(self) -> None:
        cmd = [
            venv_bin("printrelay", self.bin_dir),
            "serve",
            "--host",
            "127.0.0.1",
            "--port",
            str(self.port),
            "--log-level",
            "warning",
            "--workers",
            str(self.workers),
        ]
        with open(self.log_path, "ab") as log:
            log.write(f"\n=== start {self.starts + 1} at {time.time():.3f}\n".encode())
            self.proc = subprocess.Popen(  # noqa: S603 (our own console script)
                cmd,
                cwd=self.backend.workdir,
                env=self.env(),
                stdout=log,
                stderr=subprocess.STDOUT,
                preexec_fn=_die_with_parent,
            )
        self.starts += 1

    async def wait_healthy(self, session: aiohttp.ClientSession, poll_s: float = 0.02) -> None:
        deadline = time.monotonic() + STARTUP_TIMEOUT_S
        timeout = aiohttp.ClientTimeout(total=1)
        while time.monotonic() < deadline:
            if self.proc is None or self.proc.poll() is not None:
                raise RuntimeError(f"server exited: {self.log_tail()}")
            try:
                async with session.get(f"{self.url}/healthz", timeout=timeout) as r:
                    if r.status == 200:
                        return
            except (aiohttp.ClientError, TimeoutError, OSError):
                pass
            await asyncio.sleep(poll_s)
        raise RuntimeError(f"server not healthy in {STARTUP_TIMEOUT_S} s: {self.log_tail()}")

    async def start(self, session: aiohttp.ClientSession) -> None:
        self.spawn()
        await self.wait_healthy(session)

    def kill(self) -> None:
        """SIGKILL: no shutdown, no lock released, sockets dropped mid-frame."""
        if self.proc is not None and self.proc.poll() is None:
            tree = with_descendants([self.proc.pid])  # the workers die with their parent
            for pid in tree:
                with contextlib.suppress(ProcessLookupError):
                    os.kill(pid, signal.SIGKILL)
            self.proc.wait()

    def stop(self, timeout_s: float = 20) -> None:
        if self.proc is None or self.proc.poll() is not None:
            return
        self.proc.terminate()
        try:
            self.proc.wait(timeout=timeout_s)
        except subprocess.TimeoutExpired:
            self.kill()

    def log_tail(self, chars: int = 3000) -> str:
        try:
            return self.log_path.read_text(errors="replace")[-chars:]
        except OSError:
            return ""

    def keep_log(self, copy: Path) -> None:
        """Before the working directory goes: summarise the log, and point at its copy."""
        self.kept_log = {**self.log_problems(), "log": str(copy)}

    def log_problems(self) -> dict[str, Any]:
        """Errors and tracebacks the server logged (at --log-level warning)."""
        if self.kept_log is not None:
            return self.kept_log
        try:
            text = self.log_path.read_text(errors="replace")
        except OSError:
            return {"errors": 0, "warnings": 0, "tracebacks": 0, "samples": []}
        lines = text.splitlines()
        errors = [ln for ln in lines if re.search(r"\b(ERROR|CRITICAL)\b", ln)]
        warnings = [ln for ln in lines if re.search(r"\bWARNING\b", ln)]
        tracebacks = [i for i, ln in enumerate(lines) if ln.startswith("Traceback")]
        samples: list[str] = []
        for ln in errors + warnings:
            short = ln[:200]
            if short not in samples:
                samples.append(short)
            if len(samples) >= 8:
                break
        # The last line of each traceback: the exception itself.
        for i in tracebacks[:50]:
            j = i + 1
            while j < len(lines) and (lines[j].startswith(" ") or not lines[j].strip()):
                j += 1
            if j < len(lines) and lines[j][:200] not in samples and len(samples) < 12:
                samples.append(lines[j][:200])
        return {
            "errors": len(errors),
            "warnings": len(warnings),
            "tracebacks": len(tracebacks),
            "samples": samples,
            "log": str(self.log_path),
        }
