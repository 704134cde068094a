"""The bench's own measures: the server's process tree, its GC log and its task counts."""

from __future__ import annotations

import json
import os
import subprocess
import sys
import time
from pathlib import Path

from bench import procstat
from bench.server import Backend, Server, venv_bin


def test_the_process_tree_includes_workers_and_their_children() -> None:
    # A parent that forks a child that sleeps: both are counted, the bench process is not.
    script = (
        "import subprocess, sys, time; "
        "c = subprocess.Popen([sys.executable, '-c', 'import time; time.sleep(30)']); "
        "print(c.pid, flush=True); time.sleep(30)"
    )
    parent = subprocess.Popen([sys.executable, "-c", script], stdout=subprocess.PIPE, text=True)
    try:
        assert parent.stdout is not None
        child = int(parent.stdout.readline())
        tree = procstat.with_descendants([parent.pid])
        assert sorted(tree) == sorted([parent.pid, child])
        assert os.getpid() not in tree
        rss, _ = procstat.tree_rss_bytes(parent.pid)
        assert rss > procstat.rss_bytes(parent.pid)[0] > 0
    finally:
        subprocess.run(["pkill", "-P", str(parent.pid)], check=False)
        parent.kill()
        parent.wait()


def run_probed(tmp_path: Path, log_variable: str, script: str) -> list[str]:
    """``script`` in a Python process with a server's environment (bench/gcprobe on its path)
    and ``log_variable`` naming a log file; the log's lines."""
    log = tmp_path / f"{log_variable}.log"
    env = Server(Backend("sqlite", tmp_path)).env()
    env[log_variable] = str(log)
    subprocess.run([sys.executable, "-c", script], env=env, check=True)
    return log.read_text().splitlines()


def test_gc_pauses_are_read_for_the_window_only(tmp_path: Path) -> None:
    server = Server(Backend("sqlite", tmp_path))
    now = time.time()
    server.gc_log_path.write_text(
        f"{now - 10:.4f} 2 80.00\n"  # before the window
        f"{now + 1:.4f} 0 1.50\n"
        f"{now + 2:.4f} 2 12.25\n"
        f"{now + 3:.4f} 1 3.00\n"
        f"{now + 20:.4f} 2 90.00\n"  # after it
    )
    assert server.gc_pauses(now, now + 5) == {
        "count": 3,
        "total_ms": 16.8,
        "max_ms": 12.2,
        "full_collections": 1,
        "full_max_ms": 12.2,
    }


def test_the_gc_probe_logs_a_servers_collections(tmp_path: Path) -> None:
    # Enough cyclic garbage that a full collection takes over a millisecond.
    script = (
        "import gc\n"
        "junk = []\n"
        "for i in range(300000):\n"
        "    a = []; a.append(a); junk.append(a)\n"
        "del junk; gc.collect()\n"
    )
    lines = run_probed(tmp_path, "BENCH_GC_LOG", script)
    gens = {line.split()[1] for line in lines if line}
    assert "2" in gens, lines


def test_task_counts_are_read_for_the_window_per_process(tmp_path: Path) -> None:
    server = Server(Backend("sqlite", tmp_path), count_tasks=True)
    assert "BENCH_TASK_LOG" in server.env()
    now = time.time()

    def snap(t: float, pid: int, **counts: int) -> str:
        return json.dumps({"t": now + t, "pid": pid, "counts": counts}) + "\n"

    server.task_log_path.write_text(
        snap(-1.0, 1, handler=100, request=50)
        + snap(0.0, 1, handler=110, request=55)  # the last before the window: the baseline
        + snap(0.0, 2, handler=7)
        + snap(2.0, 2, handler=9, flight=1)
        + snap(4.0, 1, handler=150, request=75)  # the last by the window's end
        + snap(5.0, 2, handler=11, flight=1)
        + snap(9.0, 1, handler=500, request=500)  # after it
    )
    made = server.tasks_in(now, now + 4.0)
    # pid 1: 40 handlers and 20 requests over exactly the window; pid 2: 2 handlers and a
    # flight over half of it (its last snapshot by the end is at 2 s), so twice that.
    assert made == {"handler": 44.0, "request": 20.0, "flight": 2.0}
    assert list(made) == ["handler", "request", "flight"]
    assert Server(Backend("sqlite", tmp_path / "none")).tasks_in(now, now + 4.0) == {}
    assert "BENCH_TASK_LOG" not in Server(Backend("sqlite", tmp_path / "none")).env()


def test_the_probe_counts_a_servers_tasks_by_coroutine(tmp_path: Path) -> None:
    script = (
        "import asyncio\n"
        "async def handler(i): await asyncio.sleep(0)\n"
        "async def main():\n"
        "    await asyncio.gather(*(asyncio.create_task(handler(i)) for i in range(7)))\n"
        "asyncio.run(main())\n"
    )
    last = json.loads(run_probed(tmp_path, "BENCH_TASK_LOG", script)[-1])  # written at exit
    counts = last["counts"]
    assert (counts["main"], counts["handler"]) == (1, 7), last  # and asyncio.run's shutdown's


def test_the_server_can_run_from_another_virtualenv(tmp_path: Path) -> None:
    """``--server-bin``: the server under test is that directory's printrelay (another
    Python, say); without it, the one beside the bench's interpreter."""
    other = tmp_path / "bin"
    other.mkdir()
    (other / "printrelay").write_text("#!/bin/sh\n")
    assert venv_bin("printrelay", str(other)) == str(other / "printrelay")
    assert venv_bin("printrelay") == str(Path(sys.executable).parent / "printrelay")
    server = Server(Backend("sqlite", tmp_path), bin_dir=str(other))
    assert venv_bin("printrelay", server.bin_dir) == str(other / "printrelay")
