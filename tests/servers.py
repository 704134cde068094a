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


class ServerProcess:
    """``printrelay serve`` in a child process that a test can kill and start again (same port)."""

    def __init__(
        self,
        database_url: str,
        *,
        cwd: Path,
        extra_env: dict[str, str] | None = None,
        extra_args: tuple[str, ...] = (),
    ) -> None:
        self.extra_args = extra_args
        self.port = free_port()
        self.url = f"http://127.0.0.1:{self.port}"
        self.cwd = cwd
        self.env = {
            **os.environ,
            "PRINTRELAY_ENV": "production",
            "PRINTRELAY_DATABASE_URL": database_url,
            "PRINTRELAY_ADMIN_TOKEN": ADMIN_TOKEN,
            **(extra_env or {}),
        }
        if "PRINTRELAY_REDIS_URL" not in (extra_env or {}):
            self.env.pop("PRINTRELAY_REDIS_URL", None)
        self.log_path = cwd / f"server-{self.port}.log"
        self.proc: subprocess.Popen[bytes] | None = None

    def start(self) -> str:
        with open(self.log_path, "ab") as log:
            self.proc = subprocess.Popen(
                [
                    sys.executable,
                    "-m",
                    "app.cli",
                    "serve",
                    "--port",
                    str(self.port),
                    "--log-level",
                    "warning",
                    *self.extra_args,
                ],
                cwd=self.cwd,
                env=self.env,
                stdout=log,
                stderr=subprocess.STDOUT,
            )
        wait_healthy(self.url, self.proc, self.log_path)
        return self.url

    def kill(self) -> None:
        """SIGKILL: no shutdown, no lock released, sockets dropped mid-frame."""
        if self.proc is not None and self.proc.poll() is None:
            self.proc.kill()
            self.proc.wait()

    def stop(self) -> None:
        if self.proc is None or self.proc.poll() is not None:
            return
        self.proc.terminate()
        try:
            self.proc.wait(timeout=10)
        except subprocess.TimeoutExpired:
            self.proc.kill()
            self.proc.wait()


@contextmanager
def running_server(
    database_url: str, *, cwd: Path, extra_env: dict[str, str] | None = None
) -> Iterator[str]:
    """``printrelay serve`` in a child process; yields its base URL once /healthz answers."""
    server = ServerProcess(database_url, cwd=cwd, extra_env=extra_env)
    try:
        yield server.start()
    finally:
        server.stop()


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
