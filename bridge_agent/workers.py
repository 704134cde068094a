"""Where the agent's blocking calls run: each device's own worker threads.

Blocking calls (pyusb and pyserial writes, a device node, the journal's sqlite, rendering) run
off the event loop through ``run_blocking``. In an agent serving several devices each device's
task sets ``DEVICE_THREADS`` to its own small pool, and every task it starts inherits it: a
printer whose driver never returns (a hung USB printer, a device node nobody drains) holds its
own device's threads only. With asyncio's shared default executor (min(32, CPUs + 4) threads)
enough stuck calls would stall every other device's journal and printer.

The threads are daemon threads: a call stuck forever in the kernel cannot keep a stopped agent
alive (a non-daemon pool is joined at interpreter exit, and would be waited on forever).
Without ``DEVICE_THREADS`` set (tests, one-off commands) calls go to the default executor.
"""

from __future__ import annotations

import asyncio
import contextvars
import functools
import queue
import threading
from collections.abc import Callable
from concurrent.futures import Executor, Future
from typing import Any, ParamSpec, TypeVar

P = ParamSpec("P")
T = TypeVar("T")

# Two: one for the printer (its lock admits one call at a time) and one for the journal and the
# renderer, so a stuck printer never stops the device's own status file and journal either.
THREADS_PER_DEVICE = 2

DEVICE_THREADS: contextvars.ContextVar[Executor | None] = contextvars.ContextVar(
    "device_threads", default=None
)

_Work = tuple[Future[Any], Callable[[], Any]]


class DaemonThreadPool(Executor):
    """A fixed set of daemon threads taking calls from one queue, in order."""

    def __init__(self, name: str, threads: int = THREADS_PER_DEVICE) -> None:
        self._queue: queue.SimpleQueue[_Work | None] = queue.SimpleQueue()
        self._closed = False
        self._threads = [
            threading.Thread(target=self._serve, name=f"{name}-{n}", daemon=True)
            for n in range(threads)
        ]
        for thread in self._threads:
            thread.start()

    def submit(self, fn: Callable[P, T], /, *args: P.args, **kwargs: P.kwargs) -> Future[T]:
        if self._closed:
            raise RuntimeError("the device's threads are shut down")
        future: Future[T] = Future()
        self._queue.put((future, functools.partial(fn, *args, **kwargs)))
        return future

    def shutdown(self, wait: bool = True, *, cancel_futures: bool = False) -> None:
        self._closed = True
        if cancel_futures:
            while True:
                try:
                    work = self._queue.get_nowait()
                except queue.Empty:
                    break
                if work is not None:
                    work[0].cancel()
        for _ in self._threads:
            self._queue.put(None)
        if wait:
            for thread in self._threads:
                thread.join()

    def _serve(self) -> None:
        while (work := self._queue.get()) is not None:
            future, call = work
            if not future.set_running_or_notify_cancel():
                continue
            try:
                result = call()
            except BaseException as exc:  # handed to the caller, as concurrent.futures does
                future.set_exception(exc)
            else:
                future.set_result(result)


async def run_blocking(func: Callable[P, T], /, *args: P.args, **kwargs: P.kwargs) -> T:
    """``asyncio.to_thread`` on the current device's threads (the context goes along, so log
    lines from the thread still name the device)."""
    loop = asyncio.get_running_loop()
    call = functools.partial(contextvars.copy_context().run, func, *args, **kwargs)
    return await loop.run_in_executor(DEVICE_THREADS.get(), call)
