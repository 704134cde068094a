"""What every printer transport shares: the states, the error, the Protocol, per-device locks."""

from __future__ import annotations

import asyncio
import weakref
from enum import StrEnum
from typing import Protocol


class PrinterState(StrEnum):
    """What ``printer.status`` reports (CONTRACT: Socket.IO table)."""

    ONLINE = "online"
    OFFLINE = "offline"
    PAPER_LOW = "paper_low"
    PAPER_OUT = "paper_out"
    COVER_OPEN = "cover_open"
    ERROR = "error"


class TransportError(Exception):
    """The bytes could not be handed to the printer (unreachable, refused, stalled, unplugged).

    ``str()`` is the whole message, naming the printer's URL; ``cause`` is why, in a few words
    (``connection refused``, ``no such serial port /dev/ttyUSB0``).
    """

    def __init__(self, message: str, cause: str | None = None) -> None:
        super().__init__(message)
        self.cause = cause or message


class Transport(Protocol):
    """Moves bytes to one printer and reads its status. Nothing else: rendering is elsewhere."""

    url: str
    # Why the last ``status()`` was not ``online``, in a few words ("connection refused", "no
    # such serial port /dev/ttyUSB0"); None when it was online or the state says it all.
    status_cause: str | None

    async def status(self) -> PrinterState:
        """The printer's state now. Never raises for an unreachable printer: that is ``offline``."""
        ...

    async def write(self, data: bytes) -> None:
        """Hand every byte of ``data`` to the device or socket, or raise ``TransportError``."""
        ...

    async def close(self) -> None:
        """Release the device. The transport may be used again afterwards (it reopens)."""
        ...


# One lock per device and event loop: two transports opened on the same URL (say the runner's
# and a test print) still never talk to the device at the same time. Keyed by loop because an
# asyncio.Lock binds to the loop that first waits on it; the weak key drops a closed loop's locks.
_DEVICE_LOCKS: weakref.WeakKeyDictionary[asyncio.AbstractEventLoop, dict[str, asyncio.Lock]] = (
    weakref.WeakKeyDictionary()
)


def device_lock(device_key: str) -> asyncio.Lock:
    """The lock guarding ``device_key`` (e.g. ``usb:04b8:0202``) on the running event loop."""
    locks = _DEVICE_LOCKS.setdefault(asyncio.get_running_loop(), {})
    lock = locks.get(device_key)
    if lock is None:
        lock = locks[device_key] = asyncio.Lock()
    return lock
