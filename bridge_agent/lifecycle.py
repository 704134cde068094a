"""What the agent process holds for its whole life: the state dir's lock (one agent per state
dir), and how a stop signal reaches it (before, during and after the event loop; on POSIX and
on Windows, whose event loops have no ``add_signal_handler``)."""

from __future__ import annotations

import asyncio
import contextlib
import errno
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
# What a lock held by another process answers: flock EWOULDBLOCK, msvcrt EDEADLOCK or EACCES.
HELD_ERRNOS = frozenset({errno.EAGAIN, errno.EWOULDBLOCK, errno.EACCES, errno.EDEADLK})
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
        except OSError as exc:
            pid = _read_pid(fd) if exc.errno in HELD_ERRNOS else None
            os.close(fd)
            if exc.errno in HELD_ERRNOS:
                raise AlreadyRunning(self.state_dir, pid) from None
            raise  # no locking here at all (some network file systems): say so, not "running"
        if sys.platform != "win32":  # Windows locks are mandatory: no one else could read it
            os.ftruncate(fd, 0)
            os.write(fd, f"{os.getpid()}\n".encode())
        self._fd = fd

    def holder(self) -> int | None:
        """The pid of the agent holding the lock (0 when its pid cannot be read), or None when
        no agent holds it. Takes the lock for an instant when it is free: an agent starting in
        that instant is refused, so this is for ``status`` and ``pair``, not for polling."""
        try:
            fd = os.open(self.path, os.O_RDWR)
        except FileNotFoundError:
            return None
        try:
            _lock(fd)
        except OSError as exc:
            if exc.errno not in HELD_ERRNOS:
                raise
            return _read_pid(fd) or 0
        finally:
            os.close(fd)  # drops the lock if it was taken here
        return None

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


# Set by a stop signal that came while no event loop was listening; the next loop honors it.
_stop_requested = False


def defer_stop_signals() -> None:
    """While no event loop listens (from the process's first lines, and after a loop ended): a
    stop signal is only noted, and the next ``call_on_stop_signals`` delivers it. Noting is safe
    at any bytecode, unlike raising KeyboardInterrupt there (inside logging's lock, an import or
    a finalizer); without a handler at all, SIGTERM would kill the process mid-way."""
    for sig in STOP_SIGNALS:
        signal.signal(sig, _note_stop)


def _note_stop(signum: int, frame: FrameType | None) -> None:
    global _stop_requested
    _stop_requested = True


def call_on_stop_signals(loop: asyncio.AbstractEventLoop, callback: Callable[[], object]) -> str:
    """While ``loop`` runs: a stop signal (or one noted before the loop ran) runs ``callback`` on
    the loop, never inside whatever the loop was doing. Returns how: ``loop``
    (loop.add_signal_handler, POSIX) or ``signal``.

    Windows' event loops raise NotImplementedError for add_signal_handler; there a plain handler
    hands the callback to the loop with call_soon_threadsafe (safe from a signal handler, and
    the loop's self-pipe wakes it). Call ``defer_stop_signals`` again once the loop ends."""

    def hand_to_loop(signum: int, frame: FrameType | None) -> None:
        with contextlib.suppress(RuntimeError):  # the loop has just closed: the stop is under way
            loop.call_soon_threadsafe(callback)

    how = "loop"
    for sig in STOP_SIGNALS:
        try:
            loop.add_signal_handler(sig, callback)
        except NotImplementedError:
            signal.signal(sig, hand_to_loop)
            how = "signal"
    if _stop_requested:  # checked after the handlers are in place: no signal falls between
        loop.call_soon(callback)
    return how
