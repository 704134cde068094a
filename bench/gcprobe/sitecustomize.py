"""Loaded by the server under test (the bench puts this directory on its PYTHONPATH): logs
every garbage collection that paused the process for 1 ms or more to ``$BENCH_GC_LOG``, as
``<time.time()> <generation> <ms>``. The bench reads the pauses of its measured window: a
tail latency made of a few long pauses is a collector problem, not a queueing one."""

from __future__ import annotations

import gc
import os
import time
from typing import Any

_PATH = os.environ.get("BENCH_GC_LOG")

if _PATH:
    _log = open(_PATH, "a", buffering=1)  # noqa: SIM115 (open for the process's life)
    _started = [0.0]

    def _on_gc(phase: str, info: dict[str, Any]) -> None:
        if phase == "start":
            _started[0] = time.perf_counter()
            return
        ms = 1000 * (time.perf_counter() - _started[0])
        if ms >= 1.0:
            _log.write(f"{time.time():.4f} {info['generation']} {ms:.2f}\n")

    gc.callbacks.append(_on_gc)
