"""Loaded by the server under test (the bench puts this directory on its PYTHONPATH). Logs
every garbage collection that paused the process for 1 ms or more to ``$BENCH_GC_LOG``, as
``<time.time()> <generation> <ms>``. The bench reads the pauses of its measured window: a
tail latency made of a few long pauses is a collector problem, not a queueing one. With
``$BENCH_TASK_LOG`` set (``--count-tasks``) it also counts the asyncio tasks the server makes."""

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


# ``--count-tasks``: every asyncio task the server's event loop creates, counted by its
# coroutine's name; the cumulative counts go to ``$BENCH_TASK_LOG`` as one JSON line
# ``{"t": <time.time()>, "pid": <pid>, "counts": {name: n}}`` at most every 0.25 s while
# tasks are created, and once more at exit. The bench takes the difference over its window.
# A task costs more than its coroutine's work here (on Python 3.11 each creation also looks
# up the running loop, a getpid()); this says which code makes them. Off unless asked: the
# factory is Python code on every task.
_TASK_PATH = os.environ.get("BENCH_TASK_LOG")

if _TASK_PATH:
    import asyncio
    import asyncio.runners
    import atexit
    import collections
    import json

    _task_log = open(_TASK_PATH, "a", buffering=1)  # noqa: SIM115 (open for the process's life)
    _task_counts: collections.Counter[str] = collections.Counter()
    _next_write = [0.0]

    def _write_counts() -> None:
        _task_log.write(
            json.dumps({"t": time.time(), "pid": os.getpid(), "counts": _task_counts}) + "\n"
        )

    def _counting_factory(loop: Any, coro: Any, **kwargs: Any) -> Any:
        _task_counts[getattr(coro, "__qualname__", type(coro).__name__)] += 1
        now = time.time()
        if now >= _next_write[0]:
            _next_write[0] = now + 0.25
            _write_counts()
        return asyncio.Task(coro, loop=loop, **kwargs)

    _lazy_init = asyncio.runners.Runner._lazy_init  # type: ignore[attr-defined]

    def _lazy_init_counting(self: Any) -> None:  # the server's loop is made by asyncio.Runner
        _lazy_init(self)
        self._loop.set_task_factory(_counting_factory)

    asyncio.runners.Runner._lazy_init = _lazy_init_counting  # type: ignore[attr-defined]
    atexit.register(_write_counts)
