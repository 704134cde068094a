"""Why a printer cannot be reached, in words a shop owner can act on.

``status()`` answers only a state (``offline``); each transport keeps the cause next to it in
``status_cause``, and its ``TransportError`` messages use the same words, so the agent's log and
``printrelay-bridge test-print`` say "connection refused" or "no such serial port", not just
"offline".
"""

from __future__ import annotations

import errno
import socket

from bridge_agent.transports.base import PrinterState

_ERRNO_CAUSES: dict[int, str] = {
    errno.ECONNREFUSED: "connection refused: is the printer on, and is the port right?",
    errno.ECONNRESET: "connection reset by the printer",
    errno.EPIPE: "the printer closed the connection",
    errno.ETIMEDOUT: "timed out",
    errno.EHOSTUNREACH: "no route to the printer's host: wrong address, or off the network?",
    errno.ENETUNREACH: "network unreachable",
    errno.EHOSTDOWN: "the printer's host is down",
    errno.ENOENT: "no such device",
    errno.ENODEV: "no such device: unplugged?",
    errno.ENXIO: "no such device: unplugged?",
    errno.EACCES: "permission denied",
    errno.EPERM: "permission denied",
    errno.EBUSY: "the device is busy: does another program have it open?",
    errno.EIO: "input/output error: check the cable and the power",
}


def describe_os_error(exc: BaseException) -> str:
    """A short cause for a connection or device error: ours for common errnos, else the system's."""
    if isinstance(exc, socket.gaierror):
        return f"host name not found: {exc.strerror or exc}"
    if isinstance(exc, OSError) and exc.errno in _ERRNO_CAUSES:
        return _ERRNO_CAUSES[exc.errno]
    if isinstance(exc, OSError) and exc.strerror:
        return exc.strerror
    return str(exc) or type(exc).__name__


def describe_device_error(exc: BaseException, kind: str, device: str) -> str:
    """A cause for a USB or serial printer that cannot be opened or written.

    python-escpos wraps pyusb's and pyserial's errors in its own, so the underlying one is found
    by the message or by walking ``__cause__``/``__context__`` to an ``OSError`` with an errno.
    """
    message = str(exc)
    if type(exc).__name__ == "NoBackendError" or "No backend available" in message:
        return "libusb is not installed, so no USB printer can be opened"
    inner = _errno_error(exc)
    if inner is not None and inner.errno in (errno.ENOENT, errno.ENODEV, errno.ENXIO):
        return f"no such {kind} {device}: not plugged in, or another name?"
    if inner is not None and inner.errno in (errno.EACCES, errno.EPERM):
        fix = (
            "the user needs the dialout group" if kind == "serial port" else "it needs a udev rule"
        )
        return f"permission denied on {kind} {device}: {fix}"
    if inner is not None and inner.errno in _ERRNO_CAUSES:
        return f"{kind} {device}: {_ERRNO_CAUSES[inner.errno]}"
    # python-escpos's DeviceNotFoundError / USBNotFoundError: pyusb found no such vendor:product
    if "NotFound" in type(exc).__name__ or "not found" in message.lower():
        return f"no such {kind} {device}: not plugged in, or another name?"
    return f"{kind} {device}: {message.splitlines()[0] if message else type(exc).__name__}"


def _errno_error(exc: BaseException) -> OSError | None:
    seen: set[int] = set()
    current: BaseException | None = exc
    while current is not None and id(current) not in seen:
        seen.add(id(current))
        if isinstance(current, OSError) and current.errno is not None:
            return current
        # pyserial and python-escpos quote the errno only in their messages
        for code in (errno.ENOENT, errno.EACCES, errno.EBUSY, errno.ENODEV):
            if f"[Errno {code}]" in str(current):
                return OSError(code, "")
        current = current.__cause__ or current.__context__
    return None


def reported_cause(state: PrinterState) -> str | None:
    """The cause of a state the printer answered itself (``DLE EOT``), None for ``online``."""
    return None if state is PrinterState.ONLINE else f"the printer itself reports {state.value}"
