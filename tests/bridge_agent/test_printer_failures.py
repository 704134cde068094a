"""A printer that fails: reset mid-job (issue 19 item 10), and saying why it is offline (item 15).

Real TCP printers on loopback (the simulator, a closed port, a port that never answers), the real
python-escpos serial path, and the real CLI; a stub device only where no USB printer can be had.
"""

from __future__ import annotations

import subprocess
import sys

import pytest
from escpos.exceptions import DeviceNotFoundError

from bridge_agent.transports import PrinterState, TransportError, open_transport
from bridge_agent.transports.tcp import TcpTransport
from tests.bridge_agent.printer_sim import PrinterSimulator
from tests.bridge_agent.test_device_transports import StubDevice, transport_for
from tests.servers import free_port

# 437 bytes, about the size of the ticket in the field report (430), without any DLE EOT in it.
JOB = b"\x1b@" + b"1x Burger, no onions ...... 9.50\n" * 13 + b"\x1bd\x03\x1dV\x00"

# -- item 10: a reset before the printer confirmed the whole job fails it --------------------


@pytest.mark.parametrize("reset_after", [0, 1, 128, len(JOB) - 1, len(JOB)])
async def test_a_printer_that_resets_mid_job_fails_the_job(reset_after: int) -> None:
    async with PrinterSimulator(reset_after_bytes=reset_after) as sim:
        transport = TcpTransport(sim.host, sim.port)
        with pytest.raises(TransportError, match="may be incomplete") as caught:
            await transport.write(JOB)
        assert sim.url in str(caught.value)
        assert "before it confirmed the job" in str(caught.value)
        assert sim.received == JOB[:reset_after]  # the printer really got only part of it


@pytest.mark.parametrize("answers_status", [True, False])
async def test_a_printer_that_takes_the_whole_job_confirms_it(answers_status: bool) -> None:
    # Answered status query, or (no back channel) a clean close: both confirm the job.
    async with PrinterSimulator(answers_status=answers_status) as sim:
        await TcpTransport(sim.host, sim.port).write(JOB)
        assert sim.jobs == [JOB]


async def test_a_reset_after_the_printer_confirmed_the_job_does_not_fail_it() -> None:
    # The printer reads the job and the query (3 bytes), answers, and only then resets.
    async with PrinterSimulator(reset_after_bytes=len(JOB) + 3) as sim:
        await TcpTransport(sim.host, sim.port).write(JOB)
        assert sim.received == JOB
        assert sim.status_queries == [1]


# -- item 15: "offline" names its cause and the printer ----------------------------------------


async def test_a_refused_connection_is_named() -> None:
    url = f"tcp://127.0.0.1:{free_port()}"  # nothing listens there
    transport = open_transport(url)
    assert await transport.status() is PrinterState.OFFLINE
    assert transport.status_cause is not None
    assert transport.status_cause.startswith("connection refused")
    with pytest.raises(TransportError) as caught:
        await transport.write(JOB)
    assert str(caught.value).startswith(f"printer {url} unreachable: connection refused")


async def test_a_connection_that_times_out_is_named(unanswered_port: int) -> None:
    transport = TcpTransport("127.0.0.1", unanswered_port, connect_timeout_s=0.3)
    assert await transport.status() is PrinterState.OFFLINE
    assert transport.status_cause is not None
    assert transport.status_cause.startswith("no answer to the connection within 0.3 s")
    with pytest.raises(TransportError, match=f"tcp://127.0.0.1:{unanswered_port} unreachable"):
        await transport.write(JOB)


async def test_a_printer_that_reports_itself_offline_says_so() -> None:
    async with PrinterSimulator(state=PrinterState.COVER_OPEN) as sim:
        transport = open_transport(sim.url)
        assert await transport.status() is PrinterState.COVER_OPEN
        assert transport.status_cause == "the printer itself reports cover_open"
        sim.state = PrinterState.ONLINE
        assert await transport.status() is PrinterState.ONLINE
        assert transport.status_cause is None


async def test_a_missing_serial_port_is_named() -> None:
    url = "serial:///dev/printrelay-no-such-tty"  # the real python-escpos and pyserial path
    transport = open_transport(url)
    assert await transport.status() is PrinterState.OFFLINE
    assert transport.status_cause == (
        "no such serial port /dev/printrelay-no-such-tty: not plugged in, or another name?"
    )
    with pytest.raises(TransportError) as caught:
        await transport.write(JOB)
    assert str(caught.value) == f"printer {url}: {transport.status_cause}"


async def test_a_missing_usb_device_is_named() -> None:
    device = StubDevice()  # no USB printer on this machine: python-escpos's own error, stubbed
    device.open = lambda raise_not_found=True: (_ for _ in ()).throw(  # type: ignore[method-assign]
        DeviceNotFoundError("Unable to open USB printer on (1208, 514)")
    )
    transport = transport_for(device)
    assert await transport.status() is PrinterState.OFFLINE
    assert transport.status_cause == (
        "no such USB device 04b8:0202: not plugged in, or another name?"
    )


async def test_usb_without_libusb_or_without_the_device_is_named() -> None:
    transport = open_transport("usb://04b8:0202")  # the real pyusb path on this machine
    assert await transport.status() is PrinterState.OFFLINE
    assert transport.status_cause in (
        "libusb is not installed, so no USB printer can be opened",
        "no such USB device 04b8:0202: not plugged in, or another name?",
    )


def test_test_print_says_why_the_printer_is_offline() -> None:
    url = f"tcp://127.0.0.1:{free_port()}"
    proc = subprocess.run(
        [sys.executable, "-m", "bridge_agent.cli", "test-print", "--printer", url],
        capture_output=True,
        text=True,
        timeout=60,
    )
    assert proc.returncode == 4
    assert f"printer {url} is offline (connection refused: is the printer on" in proc.stderr, (
        proc.stderr
    )
