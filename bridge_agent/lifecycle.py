"""What the agent process holds for its whole life: the state dir's lock (one agent per state
dir), and how a stop signal reaches it (before, during and after the event loop; on POSIX and
on Windows, whose event loops have no ``add_signal_handler``)."""

from __future__ import annotations

import asyncio
import os
import signal
import sys
from collections.abc import Callable
from pathlib import Path
from types import FrameType

if sys.platform == "win32":
    import msvcrt
else:
    import fcntl

LOCK_FILE = "agent.lock"
PID_MAX_BYTES = 32

STOP_SIGNALS: tuple[signal.Signals, ...] = (signal.SIGINT, signal.SIGTERM)
if sys.platform == "win32":
    STOP_SIGNALS += (signal.SIGBREAK,)  # Ctrl+Break, what service wrappers send


# -- one agent per state dir --------------------------------------------------------------------


class AlreadyRunning(Exception):
    def __init__(self, state_dir: Path, pid: int | None) -> None:
        holder = f" (pid {pid})" if pid else ""
        super().__init__(
            f"another agent{holder} is already running with the state dir {state_dir}; "
            "stop it first, or give this one its own --state-dir"
        )


class StateDirLock:
    """An OS lock on ``agent.lock`` in the state dir (flock on POSIX, msvcrt on Windows), held
    until the process ends. The OS drops it with the process, however that ends (SIGKILL, power
    cut), so a stale file never blocks a restart: no pid-file guessing. The file holds the pid
    of its holder, for the refusal's message only."""

    def __init__(self, state_dir: Path) -> None:
        self.state_dir = state_dir
        self.path = state_dir / LOCK_FILE
        self._fd: int | None = None

    def acquire(self) -> None:
        fd = os.open(self.path, os.O_RDWR | os.O_CREAT, 0o600)
        try:
            _lock(fd)
        except OSError:
            pid = _read_pid(fd)
            os.close(fd)
            raise AlreadyRunning(self.state_dir, pid) from None
        os.ftruncate(fd, 0)
        os.write(fd, f"{os.getpid()}\n".encode())
        self._fd = fd

    def release(self) -> None:
        if self._fd is not None:
            os.close(self._fd)  # closing the descriptor drops the lock
            self._fd = None


def _lock(fd: int) -> None:
    if sys.platform == "win32":
        msvcrt.locking(fd, msvcrt.LK_NBLCK, 1)
    else:
        fcntl.flock(fd, fcntl.LOCK_EX | fcntl.LOCK_NB)


def _read_pid(fd: int) -> int | None:
    try:  # on Windows the holder's locked byte cannot be read: then no pid, still a refusal
        text = os.read(fd, PID_MAX_BYTES).decode().strip()
    except (OSError, UnicodeDecodeError):
        return None
    return int(text) if text.isdigit() else None


# -- stop signals -------------------------------------------------------------------------------


def interrupt_on_stop_signals() -> None:
    """Outside the event loop (from the process's first lines, and after the loop has ended):
    a stop signal raises KeyboardInterrupt, as Ctrl+C does, so a stop unwinds through ``finally``
    blocks and ends as a clean exit instead of the default SIGTERM death."""
    for sig in STOP_SIGNALS:
        signal.signal(sig, _interrupt)


def _interrupt(signum: int, frame: FrameType | None) -> None:
    raise KeyboardInterrupt


def call_on_stop_signals(loop: asyncio.AbstractEventLoop, callback: Callable[[], object]) -> str:
    """While ``loop`` runs: a stop signal runs ``callback`` on the loop, never inside whatever
    the loop was doing. Returns how: ``loop`` (loop.add_signal_handler, POSIX) or ``signal``.

    Windows' event loops raise NotImplementedError for add_signal_handler; there a plain handler
    hands the callback to the loop with call_soon_threadsafe (safe from a signal handler, and
    the loop's self-pipe wakes it). Restore ``interrupt_on_stop_signals`` once the loop ends."""
    how = "loop"
    for sig in STOP_SIGNALS:
        try:
            loop.add_signal_handler(sig, callback)
        except NotImplementedError:
            signal.signal(sig, lambda _signum, _frame: loop.call_soon_threadsafe(callback))
            how = "signal"
    return how
