"""USB and serial printers through python-escpos (``escpos.printer.Usb`` / ``Serial``).

Every call into python-escpos blocks (pyusb, pyserial), so each runs in a worker thread (the
agent's device's own threads: bridge_agent.workers) while the device's lock is held: one
operation per device at a time, and the event loop never waits on a cable.

The device stays open between jobs (opening a USB printer resets it, opening a serial port
toggles its control lines) and is closed and reopened after any failure, so an unplugged and
replugged printer works again on the next job. Writes go in chunks so a printer that stops
taking data fails the job after one device timeout, not after the whole job's worth.
"""

from __future__ import annotations

import asyncio
import logging
from collections.abc import Callable
from typing import Protocol

from bridge_agent.transports.base import PrinterState, TransportError, device_lock
from bridge_agent.transports.causes import describe_device_error, reported_cause
from bridge_agent.transports.escpos_status import (
    STATUS_QUERIES,
    StatusQuery,
    decode_answers,
    last_status_byte,
    query_bytes,
)
from bridge_agent.workers import run_blocking

log = logging.getLogger(__name__)

# pyusb takes milliseconds; the timeout bounds each chunk written and each status read.
USB_TIMEOUT_MS = 5000
# pyserial's read timeout: how long a status query waits for its answer byte.
SERIAL_READ_TIMEOUT_S = 1.0
DEFAULT_BAUDRATE = 9600
WRITE_CHUNK_BYTES = 4096
# Epson TM printers' bulk endpoints; some other makes differ (usb://VID:PID?in_ep=0x81&out_ep=0x03)
DEFAULT_USB_IN_EP = 0x82
DEFAULT_USB_OUT_EP = 0x01


class EscposDevice(Protocol):
    """The part of ``escpos.printer.Usb``/``Serial`` used here; tests substitute a stub."""

    def open(self, raise_not_found: bool = ...) -> None: ...

    def close(self) -> None: ...

    def _raw(self, msg: bytes) -> None: ...

    def _read(self) -> bytes: ...


class DriverMissingError(TransportError):
    """python-escpos cannot drive this kind of device: pyusb or pyserial is not installed."""


class EscposDeviceTransport:
    """A printer reached through a python-escpos device object made by ``make_device``."""

    def __init__(self, url: str, device_key: str, make_device: Callable[[], EscposDevice]) -> None:
        self.url = url
        self.device_key = device_key
        self.status_cause: str | None = None
        kind, _, name = device_key.partition(":")
        self._kind, self._name = ("serial port", name) if kind == "serial" else ("USB device", name)
        self._make_device = make_device
        self._device: EscposDevice | None = None  # touched only in worker threads, under the lock

    @property
    def _lock(self) -> asyncio.Lock:
        return device_lock(self.device_key)

    async def status(self) -> PrinterState:
        async with self._lock:
            return await run_blocking(self._status_blocking)

    async def write(self, data: bytes) -> None:
        async with self._lock:
            await run_blocking(self._write_blocking, data)

    async def close(self) -> None:
        async with self._lock:
            await run_blocking(self._discard_device)

    # -- worker-thread side ----------------------------------------------------------------

    def _open_device(self) -> EscposDevice:
        if self._device is None:
            device = self._make_device()
            device.open()
            self._device = device
        return self._device

    def _discard_device(self) -> None:
        device, self._device = self._device, None
        if device is None:
            return
        try:
            device.close()
        except Exception as exc:  # the device is being dropped because it already failed
            log.debug("closing %s failed: %s", self.url, exc)

    def _write_blocking(self, data: bytes) -> None:
        try:
            device = self._open_device()
            for start in range(0, len(data), WRITE_CHUNK_BYTES):
                device._raw(data[start : start + WRITE_CHUNK_BYTES])
        except TransportError:
            raise
        except Exception as exc:  # pyusb, pyserial and escpos raise unrelated exception types
            self._discard_device()
            cause = describe_device_error(exc, self._kind, self._name)
            raise TransportError(f"printer {self.url}: {cause}", cause) from exc

    def _status_blocking(self) -> PrinterState:
        try:
            device = self._open_device()
        except DriverMissingError as exc:
            log.warning("%s", exc)
            self.status_cause = str(exc)
            return PrinterState.ERROR
        except Exception as exc:
            log.debug("printer %s not found: %s", self.url, exc)
            self.status_cause = describe_device_error(exc, self._kind, self._name)
            return PrinterState.OFFLINE
        answers: dict[StatusQuery, int] = {}
        for query in STATUS_QUERIES:
            try:
                device._raw(query_bytes(query))
            except Exception as exc:
                log.debug("printer %s failed a status query: %s", self.url, exc)
                self._discard_device()
                self.status_cause = describe_device_error(exc, self._kind, self._name)
                return PrinterState.OFFLINE
            answer = _read_answer(device)
            if answer is None:
                break  # no back channel: a reachable printer that never answers is online
            answers[query] = answer
        state = decode_answers(answers)
        self.status_cause = reported_cause(state)
        return state


def _read_answer(device: EscposDevice) -> int | None:
    try:
        reply = device._read()  # pyusb gives an array of ints, pyserial bytes
    except Exception:  # pyusb signals a read timeout by raising
        return None
    return last_status_byte(bytes(reply))


# -- python-escpos factories --------------------------------------------------------------


def usb_transport(
    url: str,
    vendor_id: int,
    product_id: int,
    *,
    in_ep: int = DEFAULT_USB_IN_EP,
    out_ep: int = DEFAULT_USB_OUT_EP,
) -> EscposDeviceTransport:
    def make_device() -> EscposDevice:
        from escpos.printer import Usb

        if not Usb.is_usable():
            raise DriverMissingError(
                f"printer {url}: USB printing needs pyusb and libusb "
                "(pip install 'python-escpos[usb]')"
            )
        device: EscposDevice = Usb(
            idVendor=vendor_id,
            idProduct=product_id,
            usb_args={"idVendor": vendor_id, "idProduct": product_id},
            timeout=USB_TIMEOUT_MS,
            in_ep=in_ep,
            out_ep=out_ep,
        )
        return device

    return EscposDeviceTransport(url, f"usb:{vendor_id:04x}:{product_id:04x}", make_device)


def serial_transport(
    url: str, devfile: str, baudrate: int = DEFAULT_BAUDRATE
) -> EscposDeviceTransport:
    def make_device() -> EscposDevice:
        from escpos.printer import Serial

        if not Serial.is_usable():
            raise DriverMissingError(
                f"printer {url}: serial printing needs pyserial "
                "(pip install 'python-escpos[serial]')"
            )
        device: EscposDevice = Serial(
            devfile=devfile, baudrate=baudrate, timeout=SERIAL_READ_TIMEOUT_S
        )
        return device

    return EscposDeviceTransport(url, f"serial:{devfile}", make_device)
