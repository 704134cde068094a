"""Real server processes on loopback, for tests that cross a real socket."""

from __future__ import annotations

import os
import socket
import subprocess
import sys
import time
from collections.abc import Iterator
from contextlib import contextmanager
from pathlib import Path

import httpx

from tests.world import ADMIN_TOKEN

STARTUP_TIMEOUT_S = 30


def free_port() -> int:
    with socket.socket() as s:
        s.bind(("127.0.0.1", 0))
        port: int = s.getsockname()[1]
        return port


@contextmanager
def running_server(
    database_url: str, *, cwd: Path, extra_env: dict[str, str] | None = None
) -> Iterator[str]:
    """``printrelay serve`` in a child process; yields its base URL once /healthz answers."""
    port = free_port()
    env = {
        **os.environ,
        "PRINTRELAY_ENV": "production",
        "PRINTRELAY_DATABASE_URL": database_url,
        "PRINTRELAY_ADMIN_TOKEN": ADMIN_TOKEN,
        **(extra_env or {}),
    }
    if "PRINTRELAY_REDIS_URL" not in (extra_env or {}):
        env.pop("PRINTRELAY_REDIS_URL", None)
    log_path = cwd / f"server-{port}.log"
    with open(log_path, "wb") as log:
        proc = subprocess.Popen(
            [
                sys.executable,
                "-m",
                "app.cli",
                "serve",
                "--port",
                str(port),
                "--log-level",
                "warning",
            ],
            cwd=cwd,
            env=env,
            stdout=log,
            stderr=subprocess.STDOUT,
        )
    base_url = f"http://127.0.0.1:{port}"
    try:
        wait_healthy(base_url, proc, log_path)
        yield base_url
    finally:
        proc.terminate()
        try:
            proc.wait(timeout=10)
        except subprocess.TimeoutExpired:
            proc.kill()
            proc.wait()


def wait_healthy(base_url: str, proc: subprocess.Popen[bytes], log_path: Path) -> None:
    deadline = time.monotonic() + STARTUP_TIMEOUT_S
    while time.monotonic() < deadline:
        if proc.poll() is not None:
            raise RuntimeError(f"server exited {proc.returncode}: {log_path.read_text()[-2000:]}")
        try:
            if httpx.get(f"{base_url}/healthz", timeout=1).status_code == 200:
                return
        except httpx.TransportError:
            pass
        time.sleep(0.1)
    raise RuntimeError(
        f"server not healthy in {STARTUP_TIMEOUT_S} s: {log_path.read_text()[-2000:]}"
    )
