"""A worker killed without its clean exit (SIGKILL, the OOM killer) stops counting in the live
gauges at the next scrape; its counters stay (app.observability.metrics.forget_dead_workers).

Real processes write real multiprocess files; only the scrape runs in the test process."""

from __future__ import annotations

import os
import subprocess
import sys
from pathlib import Path

import pytest

from app.observability import metrics

WORKER = """
import os, sys
from prometheus_client import Counter, Gauge
bridges = Gauge("printrelay_bridges_connected", "x", multiprocess_mode="livesum")
submitted = Counter("printrelay_jobs_submitted", "x")
bridges.set(int(sys.argv[1]))
submitted.inc(int(sys.argv[1]))
print("ready", flush=True)
if sys.argv[2] == "killed":
    os._exit(0)  # no mark_process_dead: what SIGKILL leaves behind
sys.stdin.read()  # alive until the test closes our stdin
"""


def _worker(directory: Path, bridges: int, fate: str) -> subprocess.Popen[str]:
    env = {**os.environ, metrics.MULTIPROC_DIR_ENV: str(directory)}
    proc = subprocess.Popen(
        [sys.executable, "-c", WORKER, str(bridges), fate],
        env=env,
        stdin=subprocess.PIPE,
        stdout=subprocess.PIPE,
        text=True,
    )
    assert proc.stdout is not None
    assert proc.stdout.readline().strip() == "ready"
    return proc


def _sample(text: str, name: str) -> float:
    for line in text.splitlines():
        if line.startswith(name + " "):
            return float(line.split()[1])
    raise AssertionError(f"{name} not in the scrape:\n{text}")


def test_a_killed_workers_bridges_stop_counting_and_its_counters_stay(
    tmp_path: Path, monkeypatch: pytest.MonkeyPatch
) -> None:
    monkeypatch.setenv(metrics.MULTIPROC_DIR_ENV, str(tmp_path))
    alive = _worker(tmp_path, 2, "alive")
    try:
        killed = _worker(tmp_path, 3, "killed")
        killed.wait(timeout=10)
        assert any(p.name.endswith(f"_{killed.pid}.db") for p in tmp_path.glob("gauge_live*"))

        body, _ = metrics.exposition()
        text = body.decode()

        assert _sample(text, "printrelay_bridges_connected") == 2.0  # 3 of a dead worker gone
        assert _sample(text, "printrelay_jobs_submitted_total") == 5.0  # both workers counted
        assert not list(tmp_path.glob(f"gauge_live*_{killed.pid}.db"))
        assert list(tmp_path.glob(f"gauge_live*_{alive.pid}.db"))
    finally:
        assert alive.stdin is not None
        alive.stdin.close()
        alive.wait(timeout=10)


def test_only_dead_pids_are_marked(tmp_path: Path) -> None:
    gone = subprocess.run(
        [sys.executable, "-c", "import os; print(os.getpid())"],
        capture_output=True,
        text=True,
        check=True,
    )
    dead_pid = int(gone.stdout)
    for pid in (os.getpid(), os.getppid(), dead_pid):
        (tmp_path / f"gauge_livesum_{pid}.db").write_bytes(b"")
    (tmp_path / "counter_123.db").write_bytes(b"")
    (tmp_path / "gauge_livesum_notapid.db").write_bytes(b"")

    assert metrics.forget_dead_workers(str(tmp_path)) == [dead_pid]
    left = sorted(p.name for p in tmp_path.iterdir())
    assert left == sorted(
        [
            f"gauge_livesum_{os.getpid()}.db",
            f"gauge_livesum_{os.getppid()}.db",
            "counter_123.db",
            "gauge_livesum_notapid.db",
        ]
    )
