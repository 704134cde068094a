"""USB and serial transports with python-escpos's device object replaced by a stub.

No printer hangs on this machine's USB or serial ports, so the stub stands in for
``escpos.printer.Usb``/``Serial`` only; the transport code around it is the real one.
"""

from __future__ import annotations

import array
import asyncio
import threading
import time
from collections.abc import Callable
from typing import Any, ClassVar

import pytest
from escpos.exceptions import DeviceNotFoundError

from bridge_agent.transports import PrinterState, TransportError, open_transport
from bridge_agent.transports.device import (
    USB_TIMEOUT_MS,
    EscposDevice,
    EscposDeviceTransport,
    serial_transport,
)
from bridge_agent.transports.tcp import TcpTransport
from tests.bridge_agent.printer_sim import STATUS_ANSWERS, PrinterSimulator

GATE_WAIT_S = 10.0


class Concurrency:
    """Counts how many stub devices are inside a blocking call at once."""

    def __init__(self) -> None:
        self._lock = threading.Lock()
        self.now = 0
        self.peak = 0

    def __enter__(self) -> None:
        with self._lock:
            self.now += 1
            self.peak = max(self.peak, self.now)

    def __exit__(self, *exc: object) -> None:
        with self._lock:
            self.now -= 1


class StubDevice:
    """Behaves like an opened escpos.printer.Usb: blocking calls, one status byte per query."""

    def __init__(
        self,
        answers: dict[int, int] | None = None,
        *,
        call_s: float = 0.0,
        concurrency: Concurrency | None = None,
        gate: threading.Event | None = None,
        on_call: Callable[[], object] | None = None,
    ) -> None:
        self.answers = answers  # None: the printer never answers DLE EOT
        self.call_s = call_s
        # With a gate, each call waits for it instead of sleeping; whether it opened in time.
        self.gate = gate
        self.gate_opened: list[bool] = []
        self.on_call = on_call  # told (from the calling thread) as each call starts
        self.concurrency = concurrency or Concurrency()
        self.data = bytearray()
        self.chunks: list[int] = []
        self.queries: list[int] = []
        self.threads: set[int] = set()
        self.opened = 0
        self.closed = 0
        self.fail_open = False
        self.fail_raw = False
        self.read_raises = False
        self._answer: int | None = None

    def _blocking_call(self) -> None:
        self.threads.add(threading.get_ident())
        with self.concurrency:
            if self.on_call is not None:
                self.on_call()
            if self.gate is not None:
                self.gate_opened.append(self.gate.wait(GATE_WAIT_S))
            else:
                time.sleep(self.call_s)

    def open(self, raise_not_found: bool = True) -> None:
        self._blocking_call()
        if self.fail_open:
            raise DeviceNotFoundError("Unable to open USB printer on (1208, 514)")
        self.opened += 1

    def close(self) -> None:
        self._blocking_call()
        self.closed += 1

    def _raw(self, msg: bytes) -> None:
        self._blocking_call()
        if self.fail_raw:
            raise OSError("[Errno 19] No such device (it may have been disconnected)")
        if msg[:2] == b"\x10\x04" and len(msg) == 3:
            self.queries.append(msg[2])
            self._answer = None if self.answers is None else self.answers[msg[2]]
        else:
            self.chunks.append(len(msg))
            self.data += msg

    def _read(self) -> bytes:
        self._blocking_call()
        if self.read_raises:
            raise OSError("[Errno 110] Operation timed out")
        answer, self._answer = self._answer, None
        return b"" if answer is None else bytes([answer])


def transport_for(device: StubDevice, key: str = "usb:04b8:0202") -> EscposDeviceTransport:
    return EscposDeviceTransport("usb://04b8:0202", key, lambda: device)


async def test_write_hands_every_byte_over_in_chunks() -> None:
    device = StubDevice()
    job = bytes(range(256)) * 100
    await transport_for(device).write(job)
    assert bytes(device.data) == job
    assert max(device.chunks) <= 4096
    assert device.opened == 1


async def test_every_device_call_runs_off_the_event_loop_thread() -> None:
    device = StubDevice(STATUS_ANSWERS[PrinterState.ONLINE])
    transport = transport_for(device)
    await transport.write(b"x")
    await transport.status()
    await transport.close()
    assert device.opened == device.closed == 1
    assert device.threads
    assert threading.get_ident() not in device.threads


async def test_a_slow_device_does_not_block_the_event_loop() -> None:
    # The device call tells the event loop it started, then waits until the loop opens its
    # gate: the loop can do that only if the call runs off it (no count of timer ticks).
    loop = asyncio.get_running_loop()
    started = asyncio.Event()
    gate = threading.Event()
    device = StubDevice(gate=gate, on_call=lambda: loop.call_soon_threadsafe(started.set))
    transport = transport_for(device)

    async def open_the_gate_during_the_call() -> None:
        await started.wait()
        gate.set()

    opener = asyncio.create_task(open_the_gate_during_the_call())
    await transport.write(b"slow")
    opener.cancel()
    assert device.gate_opened and device.gate_opened[0] is True


async def test_one_device_is_used_by_one_call_at_a_time() -> None:
    concurrency = Concurrency()
    device = StubDevice(STATUS_ANSWERS[PrinterState.ONLINE], call_s=0.02, concurrency=concurrency)
    # two transports on the same device, as when a test print runs beside the bridge
    first, second = transport_for(device), transport_for(device)
    await asyncio.gather(
        first.write(b"a" * 10_000), second.write(b"b" * 10_000), first.status(), second.status()
    )
    assert concurrency.peak == 1
    assert bytes(device.data) in (b"a" * 10_000 + b"b" * 10_000, b"b" * 10_000 + b"a" * 10_000)


async def test_different_devices_do_not_wait_for_each_other() -> None:
    concurrency = Concurrency()
    kitchen = StubDevice(call_s=0.2, concurrency=concurrency)
    bar = StubDevice(call_s=0.2, concurrency=concurrency)
    await asyncio.gather(
        transport_for(kitchen, "usb:04b8:0202").write(b"k"),
        transport_for(bar, "serial:/dev/ttyUSB0").write(b"b"),
    )
    assert concurrency.peak == 2


@pytest.mark.parametrize("state", list(PrinterState))
async def test_status_maps_like_tcp(state: PrinterState) -> None:
    device = StubDevice(STATUS_ANSWERS[state])
    assert await transport_for(device).status() is state
    assert device.queries == [1, 2, 4]
    async with PrinterSimulator(state=state) as sim:
        assert await TcpTransport(sim.host, sim.port).status() is state


async def test_status_reads_pyusb_arrays() -> None:
    device = StubDevice()
    device._read = lambda: array.array("B", [0x1A])  # type: ignore[method-assign,assignment,return-value]
    assert await transport_for(device).status() is PrinterState.OFFLINE


@pytest.mark.parametrize("read_raises", [False, True])
async def test_a_device_that_never_answers_is_online(read_raises: bool) -> None:
    device = StubDevice(answers=None)
    device.read_raises = read_raises  # pyusb raises on a read timeout, pyserial returns b""
    assert await transport_for(device).status() is PrinterState.ONLINE
    assert device.queries == [1]


async def test_missing_device_is_offline_and_fails_writes_until_it_returns() -> None:
    device = StubDevice(STATUS_ANSWERS[PrinterState.ONLINE])
    device.fail_open = True
    transport = transport_for(device)
    assert await transport.status() is PrinterState.OFFLINE
    with pytest.raises(TransportError, match="no such USB device 04b8:0202"):
        await transport.write(b"x")
    device.fail_open = False
    assert await transport.status() is PrinterState.ONLINE
    await transport.write(b"x")
    assert device.data == b"x"


async def test_unplugged_device_fails_the_job_and_is_reopened_next_time() -> None:
    device = StubDevice(STATUS_ANSWERS[PrinterState.ONLINE])
    transport = transport_for(device)
    await transport.write(b"first")
    device.fail_raw = True
    with pytest.raises(TransportError, match="no such USB device 04b8:0202"):
        await transport.write(b"lost")
    assert device.closed == 1
    assert await transport.status() is PrinterState.OFFLINE
    device.fail_raw = False
    await transport.write(b"second")
    assert device.data == b"firstsecond"
    assert device.opened == 3  # first job, the failed status check's reopen, the second job


class RecordingEscposClass:
    """Replaces escpos.printer.Usb/Serial to see how the transport constructs it."""

    made: ClassVar[list[dict[str, Any]]] = []

    def __init__(self, **kwargs: Any) -> None:
        RecordingEscposClass.made.append(kwargs)
        self.device = StubDevice(STATUS_ANSWERS[PrinterState.PAPER_LOW])

    @staticmethod
    def is_usable() -> bool:
        return True

    def open(self, raise_not_found: bool = True) -> None:
        self.device.open()

    def close(self) -> None:
        self.device.close()

    def _raw(self, msg: bytes) -> None:
        self.device._raw(msg)

    def _read(self) -> bytes:
        return self.device._read()


@pytest.fixture
def recording_escpos(monkeypatch: pytest.MonkeyPatch) -> list[dict[str, Any]]:
    import escpos.printer

    RecordingEscposClass.made = []
    monkeypatch.setattr(escpos.printer, "Usb", RecordingEscposClass)
    monkeypatch.setattr(escpos.printer, "Serial", RecordingEscposClass)
    return RecordingEscposClass.made


async def test_usb_url_builds_an_escpos_usb_printer(recording_escpos: list[dict[str, Any]]) -> None:
    transport = open_transport("usb://04b8:0e15?in_ep=0x81&out_ep=0x03")
    assert await transport.status() is PrinterState.PAPER_LOW
    await transport.write(b"x")
    assert len(recording_escpos) == 1  # opened once, kept open between operations
    made = recording_escpos[0]
    assert (made["idVendor"], made["idProduct"]) == (0x04B8, 0x0E15)
    assert (made["in_ep"], made["out_ep"]) == (0x81, 0x03)
    assert made["timeout"] == USB_TIMEOUT_MS


async def test_serial_url_builds_an_escpos_serial_printer(
    recording_escpos: list[dict[str, Any]],
) -> None:
    transport = open_transport("serial:///dev/ttyUSB0?baudrate=19200")
    assert await transport.status() is PrinterState.PAPER_LOW
    made = recording_escpos[0]
    assert (made["devfile"], made["baudrate"]) == ("/dev/ttyUSB0", 19200)


async def test_escpos_without_its_driver_reports_error(monkeypatch: pytest.MonkeyPatch) -> None:
    import escpos.printer

    monkeypatch.setattr(escpos.printer.Serial, "is_usable", staticmethod(lambda: False))
    transport = serial_transport("serial:///dev/ttyUSB0", "/dev/ttyUSB0")
    assert await transport.status() is PrinterState.ERROR
    with pytest.raises(TransportError, match="pyserial"):
        await transport.write(b"x")


@pytest.mark.parametrize("url", ["usb://04b8:0202", "serial:///dev/printrelay-no-such-tty"])
async def test_real_escpos_classes_without_a_printer(url: str) -> None:
    """The real python-escpos path: no device here, so never online and never a silent write."""
    transport = open_transport(url)
    assert await transport.status() in (PrinterState.OFFLINE, PrinterState.ERROR)
    with pytest.raises(TransportError):
        await transport.write(b"x")
    await transport.close()


def test_stub_matches_the_protocol() -> None:
    device: EscposDevice = StubDevice()
    assert device is not None
