"""``file:///path``: append the bytes to a file or a device node (``/dev/usb/lp0``).

For a spool file or a Linux printer device node. The file is created with mode 0600 when it does
not exist (jobs can hold customer data). Blocking I/O runs in a worker thread (the device's own:
bridge_agent.workers), one at a time.
"""

from __future__ import annotations

import asyncio
import os
from pathlib import Path

from bridge_agent.transports.base import PrinterState, TransportError, device_lock
from bridge_agent.transports.causes import describe_os_error
from bridge_agent.workers import run_blocking

FILE_MODE = 0o600


class FileTransport:
    def __init__(self, path: Path, *, url: str | None = None) -> None:
        self.path = path
        self.url = url or path.as_uri()
        self.status_cause: str | None = None

    @property
    def _lock(self) -> asyncio.Lock:
        return device_lock(f"file:{self.path}")

    async def status(self) -> PrinterState:
        async with self._lock:
            writable = await run_blocking(self._writable)
        self.status_cause = None if writable else f"cannot write {self.path}"
        return PrinterState.ONLINE if writable else PrinterState.ERROR

    async def write(self, data: bytes) -> None:
        async with self._lock:
            try:
                await run_blocking(self._append, data)
            except OSError as exc:
                cause = describe_os_error(exc)
                raise TransportError(f"cannot write {self.path}: {cause}", cause) from exc

    async def close(self) -> None:
        """Nothing is held open between jobs."""

    def _writable(self) -> bool:
        if self.path.exists():
            return not self.path.is_dir() and os.access(self.path, os.W_OK)
        return self.path.parent.is_dir() and os.access(self.path.parent, os.W_OK | os.X_OK)

    def _append(self, data: bytes) -> None:
        flags = os.O_WRONLY | os.O_APPEND | os.O_CREAT | getattr(os, "O_BINARY", 0)
        fd = os.open(self.path, flags, FILE_MODE)
        try:
            view = memoryview(data)
            while view:
                written = os.write(fd, view)
                view = view[written:]
        finally:
            os.close(fd)
