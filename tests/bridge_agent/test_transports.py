"""Transports: TCP against a real loopback printer, file, fake, and printer URLs."""

from __future__ import annotations

import asyncio
import os
import stat
import time
from collections.abc import Iterator
from pathlib import Path

import pytest

from bridge_agent.transports import (
    PrinterState,
    TransportError,
    open_transport,
    parse_printer_url,
)
from bridge_agent.transports.fake import FakeTransport
from bridge_agent.transports.file import FileTransport
from bridge_agent.transports.tcp import CONNECT_TIMEOUT_S, TcpTransport
from bridge_agent.transports.urls import (
    FakeTarget,
    FileTarget,
    SerialTarget,
    TcpTarget,
    UsbTarget,
)
from tests.bridge_agent.printer_sim import PrinterSimulator

# Every byte value, ESC and NUL included, but never DLE EOT n (a real printer would answer it).
ALL_BYTE_VALUES = bytes(range(256))


def tcp(
    sim: PrinterSimulator,
    *,
    status_reply_timeout_s: float = 1.0,
    write_stall_timeout_s: float = 10.0,
) -> TcpTransport:
    return TcpTransport(
        sim.host,
        sim.port,
        status_reply_timeout_s=status_reply_timeout_s,
        write_stall_timeout_s=write_stall_timeout_s,
    )


# -- TCP against the simulator ---------------------------------------------------------------


async def test_tcp_write_delivers_every_byte_intact() -> None:
    job = b"\x1b@" + ALL_BYTE_VALUES * 4096 + b"\x00\x1bd\x03\x1dV\x00"  # ~1 MiB
    async with PrinterSimulator() as sim:
        await open_transport(sim.url).write(job)
        # write() returns once the printer closed the job's connection: nothing left to wait for
        assert sim.jobs == [job]
        assert sim.received == job


async def test_tcp_uses_one_connection_per_job_and_never_two_at_once() -> None:
    async with PrinterSimulator() as sim:
        transport = tcp(sim)
        await asyncio.gather(
            transport.write(b"first\n"),
            transport.status(),
            open_transport(sim.url).write(b"second\n"),
            transport.status(),
        )
        assert sorted(sim.jobs) == [b"first\n", b"second\n"]
        assert sim.connections == 4
        assert sim.peak_connections == 1


async def test_tcp_status_queries_are_not_job_data() -> None:
    async with PrinterSimulator() as sim:
        transport = tcp(sim)
        assert await transport.status() is PrinterState.ONLINE
        await transport.write(b"receipt")
        # the job ends with DLE EOT 1: its answer confirms the printer read the whole job
        assert sim.status_queries == [1, 2, 4, 1]
        assert sim.jobs == [b"receipt"]
        assert sim.raw_received == b"\x10\x04\x01\x10\x04\x02\x10\x04\x04receipt\x10\x04\x01"


@pytest.mark.parametrize("state", list(PrinterState))
async def test_tcp_status_reports_what_the_printer_answers(state: PrinterState) -> None:
    async with PrinterSimulator(state=state) as sim:
        assert await open_transport(sim.url).status() is state


async def test_tcp_status_follows_state_changes() -> None:
    async with PrinterSimulator() as sim:
        transport = tcp(sim)
        sim.state = PrinterState.COVER_OPEN
        assert await transport.status() is PrinterState.COVER_OPEN
        sim.state = PrinterState.PAPER_LOW
        assert await transport.status() is PrinterState.PAPER_LOW


async def test_tcp_printer_without_back_channel_is_online_when_reachable() -> None:
    async with PrinterSimulator(answers_status=False, state=PrinterState.PAPER_OUT) as sim:
        started = time.monotonic()
        assert await tcp(sim, status_reply_timeout_s=0.2).status() is PrinterState.ONLINE
        assert time.monotonic() - started < 1.0
        assert sim.status_queries == [1]  # gives up after the first unanswered query


async def test_tcp_printer_down_is_offline_and_fails_writes_then_recovers() -> None:
    async with PrinterSimulator() as sim:
        transport = open_transport(sim.url)
        await transport.write(b"before\n")
        port = sim.port
        await sim.stop()

        started = time.monotonic()
        assert await transport.status() is PrinterState.OFFLINE
        with pytest.raises(TransportError, match="unreachable"):
            await transport.write(b"while down\n")
        assert time.monotonic() - started < CONNECT_TIMEOUT_S

        await sim.start()
        assert sim.port == port
        assert await transport.status() is PrinterState.ONLINE
        await transport.write(b"after\n")
        assert sim.jobs == [b"before\n", b"after\n"]


async def test_tcp_connect_timeout_is_bounded(unanswered_port: int) -> None:
    assert CONNECT_TIMEOUT_S <= 3
    transport = TcpTransport("127.0.0.1", unanswered_port, connect_timeout_s=0.3)
    started = time.monotonic()
    assert await transport.status() is PrinterState.OFFLINE
    with pytest.raises(TransportError):
        await transport.write(b"x")
    assert time.monotonic() - started < 2.0


async def test_tcp_write_fails_when_the_printer_stops_taking_data() -> None:
    async with PrinterSimulator() as sim:
        sim.paused = True  # e.g. paper out mid-job: the printer's buffer fills up
        transport = tcp(sim, write_stall_timeout_s=0.3)
        started = time.monotonic()
        with pytest.raises(TransportError, match="accepted no data"):
            await transport.write(ALL_BYTE_VALUES * 256 * 1024)  # 64 MiB: more than any buffer
        assert time.monotonic() - started < 10
        sim.paused = False
        sim.clear()
        await transport.write(b"next job")
        assert sim.jobs[-1] == b"next job"


async def test_tcp_write_fails_when_the_printer_drops_the_connection() -> None:
    async with PrinterSimulator() as sim:
        sim.paused = True
        transport = tcp(sim)
        writing = asyncio.create_task(transport.write(ALL_BYTE_VALUES * 256 * 1024))
        await sim.wait_for_bytes(1)
        await sim.stop()
        with pytest.raises(TransportError):
            await writing


async def test_tcp_close_is_harmless_and_the_transport_stays_usable() -> None:
    async with PrinterSimulator() as sim:
        transport = tcp(sim)
        await transport.close()
        await transport.write(b"ok")
        assert sim.jobs == [b"ok"]


# -- file ------------------------------------------------------------------------------------


async def test_file_appends_and_creates_the_file_private(tmp_path: Path) -> None:
    target = tmp_path / "printer.bin"
    transport = open_transport(target.as_uri())
    assert await transport.status() is PrinterState.ONLINE
    await transport.write(b"\x1b@" + ALL_BYTE_VALUES)
    await transport.write(b"second")
    assert target.read_bytes() == b"\x1b@" + ALL_BYTE_VALUES + b"second"
    assert stat.S_IMODE(target.stat().st_mode) == 0o600


async def test_file_keeps_an_existing_files_mode_and_content(tmp_path: Path) -> None:
    target = tmp_path / "lp0"
    target.write_bytes(b"old")
    target.chmod(0o644)
    await FileTransport(target).write(b"new")
    assert target.read_bytes() == b"oldnew"
    assert stat.S_IMODE(target.stat().st_mode) == 0o644


async def test_file_in_a_missing_directory_is_an_error(tmp_path: Path) -> None:
    transport = FileTransport(tmp_path / "missing" / "printer.bin")
    assert await transport.status() is PrinterState.ERROR
    with pytest.raises(TransportError, match="cannot write"):
        await transport.write(b"x")


async def test_file_that_is_a_directory_is_an_error(tmp_path: Path) -> None:
    transport = FileTransport(tmp_path)
    assert await transport.status() is PrinterState.ERROR
    with pytest.raises(TransportError):
        await transport.write(b"x")


@pytest.fixture
def read_only_dir(tmp_path: Path) -> Iterator[Path]:
    tmp_path.chmod(0o500)
    yield tmp_path
    tmp_path.chmod(0o700)


@pytest.mark.skipif(os.geteuid() == 0, reason="root may write anywhere")
async def test_file_in_a_read_only_directory_is_an_error(read_only_dir: Path) -> None:
    assert await FileTransport(read_only_dir / "printer.bin").status() is PrinterState.ERROR


# -- fake ------------------------------------------------------------------------------------


async def test_fake_records_writes_and_reports_the_state_it_is_given() -> None:
    transport = FakeTransport()
    await transport.write(b"one")
    await transport.write(b"two")
    assert transport.writes == [b"one", b"two"]
    assert transport.received == b"onetwo"
    assert await transport.status() is PrinterState.ONLINE
    transport.state = PrinterState.PAPER_OUT
    assert await transport.status() is PrinterState.PAPER_OUT
    await transport.close()
    assert transport.closed


async def test_fake_fails_the_next_write_only() -> None:
    transport = FakeTransport()
    transport.fail_next_write("paper jam")
    with pytest.raises(TransportError, match="paper jam"):
        await transport.write(b"lost")
    await transport.write(b"kept")
    assert transport.writes == [b"kept"]
    transport.fail_writes = True
    with pytest.raises(TransportError):
        await transport.write(b"lost too")


async def test_fake_url_sets_the_initial_state() -> None:
    transport = open_transport("fake://kitchen?state=cover_open")
    assert isinstance(transport, FakeTransport)
    assert transport.url == "fake://kitchen?state=cover_open"
    assert await transport.status() is PrinterState.COVER_OPEN


# -- printer URLs ----------------------------------------------------------------------------


@pytest.mark.parametrize(
    ("url", "target"),
    [
        ("tcp://192.168.1.50:9100", TcpTarget("192.168.1.50", 9100)),
        ("tcp://printer.local", TcpTarget("printer.local", 9100)),
        ("TCP://printer.local:9101/", TcpTarget("printer.local", 9101)),
        ("tcp://[fe80::1]:9100", TcpTarget("fe80::1", 9100)),
        ("usb://04b8:0202", UsbTarget(0x04B8, 0x0202)),
        ("usb://0x0416:0x5011", UsbTarget(0x0416, 0x5011)),
        ("usb://04B8:0E15?in_ep=0x81&out_ep=0x03", UsbTarget(0x04B8, 0x0E15, 0x81, 0x03)),
        ("serial:///dev/ttyUSB0", SerialTarget("/dev/ttyUSB0", 9600)),
        ("serial:///dev/ttyUSB0?baudrate=19200", SerialTarget("/dev/ttyUSB0", 19200)),
        ("serial://COM3?baudrate=115200", SerialTarget("COM3", 115200)),
        ("serial:///com4", SerialTarget("COM4", 9600)),
        ("file:///var/spool/printer.bin", FileTarget(Path("/var/spool/printer.bin"))),
        ("file://localhost/dev/usb/lp0", FileTarget(Path("/dev/usb/lp0"))),
        ("file:///tmp/with%20space.bin", FileTarget(Path("/tmp/with space.bin"))),
        ("fake://", FakeTarget()),
        ("fake://x?state=paper_low", FakeTarget(PrinterState.PAPER_LOW)),
    ],
)
def test_good_printer_urls(url: str, target: object) -> None:
    assert parse_printer_url(url) == target


@pytest.mark.parametrize(
    ("url", "reason"),
    [
        ("", "scheme"),
        ("192.168.1.50:9100", "scheme"),
        ("http://printer:9100", "unsupported scheme"),
        ("lpd://printer/queue", "unsupported scheme"),
        ("tcp://", "missing host"),
        ("tcp://:9100", "missing host"),
        ("tcp://printer:0", "port"),
        ("tcp://printer:70000", "port"),
        ("tcp://printer:abc", "port"),
        ("tcp://printer:9100/queue", "path"),
        ("tcp://printer:9100?timeout=5", "unknown parameter"),
        ("tcp://user:secret@printer:9100", "credentials"),
        ("tcp://printer:9100#frag", "fragment"),
        ("usb://04b8", "VID:PID"),
        ("usb://04b8:", "VID:PID"),
        ("usb://04b8:zz02", "VID:PID"),
        ("usb://104b8:0202", "VID:PID"),
        ("usb://04b8:0202?in_ep=x82", "endpoint"),
        ("usb://04b8:0202?out_ep=0x100", "endpoint"),
        ("usb://04b8:0202/dev", "path"),
        ("serial://dev/ttyUSB0", "three slashes"),
        ("serial://", "three slashes"),
        ("serial:///dev/ttyUSB0?baudrate=fast", "baudrate"),
        ("serial:///dev/ttyUSB0?baudrate=0", "baudrate"),
        ("serial:///dev/ttyUSB0?baudrate=9600&baudrate=19200", "twice"),
        ("serial:///dev/ttyUSB0?parity=E", "unknown parameter"),
        ("file://relative/path", "absolute"),
        ("file://", "file path"),
        ("file:///tmp/", "file path"),
        ("fake://?state=on_fire", "state must be"),
    ],
)
def test_bad_printer_urls_say_why(url: str, reason: str) -> None:
    with pytest.raises(ValueError, match="invalid printer URL") as caught:
        open_transport(url)
    assert reason in str(caught.value)


def test_open_transport_keeps_the_url_it_was_given(tmp_path: Path) -> None:
    for url in ("tcp://10.0.0.5", "usb://04b8:0202", "serial:///dev/ttyS0", "fake://"):
        assert open_transport(url).url == url
    assert isinstance(open_transport((tmp_path / "p.bin").as_uri()), FileTransport)
