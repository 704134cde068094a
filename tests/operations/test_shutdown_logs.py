"""A SIGTERM'd server writes every line it logged, the last requests' included.

The server writes INFO lines in batches (app.observability.logs.BatchedStreamHandler), and
uvicorn ends a SIGTERM'd process by raising the signal again, which kills it before atexit
would write what waits; so the server writes everything through once it starts shutting down.
The request here is answered a moment before the SIGTERM, well inside one batch interval."""

from __future__ import annotations

import json
import os
import subprocess
import sys
from pathlib import Path

import httpx
import pytest

from tests.servers import free_port, wait_healthy
from tests.world import ADMIN_TOKEN

pytestmark = pytest.mark.slow


@pytest.mark.parametrize("log_format", ["text", "json"])
def test_the_last_access_line_and_uvicorns_goodbye_survive_a_sigterm(
    tmp_path: Path, log_format: str
) -> None:
    log_path = tmp_path / "server.log"
    port = free_port()
    env = {
        **os.environ,
        "PRINTRELAY_ENV": "production",
        "PRINTRELAY_ADMIN_TOKEN": ADMIN_TOKEN,
        "PRINTRELAY_DATABASE_URL": f"sqlite:///{tmp_path / 'log.db'}",
        "PRINTRELAY_LOG_FORMAT": log_format,
    }
    env.pop("PRINTRELAY_REDIS_URL", None)
    url = f"http://127.0.0.1:{port}"
    command = [sys.executable, "-m", "app.cli", "serve", "--port", str(port), "--log-level", "info"]
    with open(log_path, "wb") as log:
        proc = subprocess.Popen(command, cwd=tmp_path, env=env, stdout=log, stderr=log)
        try:
            wait_healthy(url, proc, log_path)
            assert httpx.get(url + "/v1/last-request-before-sigterm").status_code == 404
        finally:
            proc.terminate()  # at once: the access line is still in its batch
            proc.wait(timeout=10)
    log = log_path.read_text()
    assert "/v1/last-request-before-sigterm" in log, log[-2000:]
    assert "Finished server process" in log, log[-2000:]
    if log_format == "json":
        for line in log.splitlines():
            if line.startswith("{"):
                json.loads(line)  # whole lines: nothing cut by the last writes
