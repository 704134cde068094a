"""``printrelay-bridge printers`` (issue 24): what the PC can reach, as printer URLs with a status.

The TCP scan runs against real printers on loopback (the simulator, on addresses of 127/8 other
than 127.0.0.1, so port 9100 is free there) and real closed ports; the CLI runs in a child
process. No test machine has a USB printer, so pyusb's enumeration is faked with objects shaped
like its devices; its descriptor helpers (usb.util) are the real ones.
"""

from __future__ import annotations

import json
import random
import re
import shutil
import subprocess
import sys
from collections.abc import Iterator
from contextlib import contextmanager
from dataclasses import dataclass
from pathlib import Path
from typing import Any

import pytest
import usb.core
import usb.util

from bridge_agent import discovery
from bridge_agent.discovery import Kind
from bridge_agent.transports import PrinterState, parse_printer_url
from bridge_agent.transports.urls import SerialTarget, UsbTarget
from tests.bridge_agent.agent_cli import cli, one_line
from tests.bridge_agent.printer_sim import PrinterSimulator, ThreadedPrinterSimulator
from tests.servers import free_port

_random = random.Random()


def _loopback_address() -> str:
    return "127." + ".".join(str(_random.randrange(1, 255)) for _ in range(3))


@contextmanager
def printer_on_port_9100(**options: Any) -> Iterator[tuple[ThreadedPrinterSimulator, str]]:
    """A simulated printer listening on ADDRESS:9100 for some free loopback address."""
    for _ in range(20):
        address = _loopback_address()
        try:
            sim = ThreadedPrinterSimulator(host=address, port=9100, **options)
        except OSError:
            continue  # that address's 9100 is taken (another test, another program)
        with sim:
            yield sim, address
        return
    raise AssertionError("no loopback address with port 9100 free in 20 tries")


def _tcp(found: dict[str, Any]) -> list[dict[str, Any]]:
    return [printer for printer in found["printers"] if printer["kind"] == "tcp"]


# -- the CLI, as a user runs it ---------------------------------------------------------------


def test_a_scan_of_one_address_lists_the_printer_listening_on_9100() -> None:
    with printer_on_port_9100() as (sim, address):
        proc = cli("printers", "--scan", f"{address}/32", "--json")
        assert proc.returncode == 0, proc.stderr
        found = json.loads(proc.stdout)
        assert sim.sim.connections == 1  # one connection: the scan asks its status on it
        assert sim.jobs == []
        assert _tcp(found) == [
            {"kind": "tcp", "url": f"tcp://{address}:9100", "status": "online", "detail": ""}
        ]
        printed = cli("test-print", "--printer", _tcp(found)[0]["url"])  # the URL as found
        assert printed.returncode == 0, printed.stderr
        assert b"Test print" in sim.wait_for_jobs(1)[0]
    assert f"scanning 1 address of {address}/32 on port 9100" in proc.stderr
    assert found["scanned"] == {"network": f"{address}/32", "port": 9100, "addresses": 1}


def test_the_text_listing_names_the_printer_its_status_and_the_count() -> None:
    with printer_on_port_9100(state=PrinterState.PAPER_OUT) as (_sim, address):
        proc = cli("printers", "--scan", address)
    assert proc.returncode == 0, proc.stderr
    assert re.search(rf"^tcp://{re.escape(address)}:9100 +paper_out$", proc.stdout, re.M)
    for line in proc.stdout.splitlines():  # one printer URL a line, nothing else
        assert parse_printer_url(line.split()[0]), line
    last = proc.stderr.strip().splitlines()[-1]
    assert re.fullmatch(
        rf"found \d+: \d+ USB, \d+ serial, 1 network \({re.escape(address)}/32 port 9100\)", last
    ), proc.stderr


def test_nothing_is_scanned_unless_asked() -> None:
    with printer_on_port_9100() as (sim, _address):
        proc = cli("printers", "--json")
        assert sim.sim.connections == 0
    assert proc.returncode == 0, proc.stderr
    found = json.loads(proc.stdout)
    assert found["scanned"] is None
    assert _tcp(found) == []
    assert "scanning" not in proc.stderr


@pytest.mark.parametrize("network", ["10.0.0.0/23", "192.168.0.0/16", "0.0.0.0/0", "fd00::/112"])
def test_a_network_bigger_than_a_slash_24_is_refused_before_any_connection(network: str) -> None:
    proc = cli("printers", "--scan", network)
    line = one_line(proc.stderr)
    assert proc.returncode == 2
    assert "at most (256 addresses)" in line
    assert "scanning" not in proc.stderr
    assert proc.stdout == ""


@pytest.mark.parametrize(
    "cidr", ["192.168.1.300/24", "192.168.1.0/33", "printer.local", "192.168.1.0/24x", ""]
)
def test_a_bad_network_is_one_line_and_exit_2(cidr: str) -> None:
    proc = cli("printers", "--scan", cidr)
    line = one_line(proc.stderr)
    assert proc.returncode == 2
    assert "--scan takes a network such as 192.168.1.0/24" in line
    assert repr(cidr) in line


def test_port_without_scan_and_a_bad_port_are_refused() -> None:
    alone = cli("printers", "--port", "9101")
    assert alone.returncode == 2
    assert "--port goes with --scan" in one_line(alone.stderr)
    bad = cli("printers", "--scan", "127.0.0.1/32", "--port", "70000")
    assert bad.returncode == 2
    assert "--port must be 1-65535" in one_line(bad.stderr)


# -- the scan, in process -----------------------------------------------------------------------


def test_the_largest_scan_is_a_slash_24_of_its_254_hosts() -> None:
    plan = discovery.scan_plan("192.168.1.77/24")
    assert (str(plan.network), plan.port, plan.addresses) == ("192.168.1.0/24", 9100, 254)
    assert plan.describe() == "254 addresses of 192.168.1.0/24 on port 9100"
    assert discovery.scan_plan("192.168.1.5").addresses == 1
    assert discovery.scan_plan("fd00::/120", 9101).addresses == 255  # v6: no broadcast
    with pytest.raises(ValueError, match=r"e\.g\. 10\.1\.2\.0/24"):
        discovery.scan_plan("10.1.2.0/23")


async def test_a_whole_slash_24_is_scanned_and_only_the_open_port_is_listed() -> None:
    """254 real connections on loopback: 253 refused, one printer on a non-default port."""
    prefix = f"127.{_random.randrange(1, 255)}.{_random.randrange(1, 255)}"
    async with PrinterSimulator(host=f"{prefix}.{_random.randrange(1, 255)}", port=0) as sim:
        plan = discovery.scan_plan(f"{prefix}.0/24", sim.port)
        found = await discovery.scan_tcp(plan)
        assert sim.connections == 1
    assert plan.addresses == 254
    assert [(p.kind, p.url, p.status) for p in found] == [(Kind.TCP, sim.url, "online")]


async def test_a_closed_port_is_not_listed() -> None:
    async with PrinterSimulator(host=_loopback_address(), port=0) as sim:
        pass  # it listened once; now it is off and the port is closed
    assert not sim.running
    assert await discovery.scan_tcp(discovery.scan_plan(f"{sim.host}/32", sim.port)) == []


@pytest.mark.parametrize(
    ("options", "status"),
    [
        ({"state": PrinterState.PAPER_LOW}, "paper_low"),
        ({"state": PrinterState.COVER_OPEN}, "cover_open"),
        ({"answers_status": False}, "port open, no status answer"),
    ],
)
async def test_an_open_port_is_asked_its_status(options: dict[str, Any], status: str) -> None:
    async with PrinterSimulator(host=_loopback_address(), port=0, **options) as sim:
        found = await discovery.scan_tcp(discovery.scan_plan(f"{sim.host}/32", sim.port))
        assert sim.jobs == []  # status queries only: nothing printed
    assert [(p.url, p.status) for p in found] == [(sim.url, status)]


async def test_the_scan_finds_several_printers_in_address_order() -> None:
    prefix = f"127.{_random.randrange(1, 255)}.{_random.randrange(1, 255)}"
    port = free_port()
    async with (
        PrinterSimulator(host=f"{prefix}.6", port=port) as second,
        PrinterSimulator(host=f"{prefix}.2", port=port, state=PrinterState.PAPER_OUT) as first,
    ):
        found = await discovery.scan_tcp(discovery.scan_plan(f"{prefix}.0/29", port))
    assert [(p.url, p.status) for p in found] == [
        (first.url, "paper_out"),
        (second.url, "online"),
    ]


# -- USB: pyusb's enumeration faked, its descriptor helpers real ---------------------------------

BULK, INTERRUPT = 0x02, 0x03


@dataclass
class FakeEndpoint:
    bEndpointAddress: int
    bmAttributes: int = BULK


@dataclass
class FakeInterface:
    bInterfaceClass: int
    endpoints: list[FakeEndpoint]

    def __iter__(self) -> Iterator[FakeEndpoint]:
        return iter(self.endpoints)


@dataclass
class FakeDevice:
    """What discovery reads of a pyusb ``Device``: ids, bus/address, configs → interfaces."""

    idVendor: int
    idProduct: int
    interfaces: list[FakeInterface]
    bus: int = 1
    address: int = 5
    iProduct: int = 0

    def __iter__(self) -> Iterator[list[FakeInterface]]:
        return iter([self.interfaces])


def printer_interface(in_ep: int = 0x82, out_ep: int = 0x01, cls: int = 7) -> FakeInterface:
    return FakeInterface(cls, [FakeEndpoint(in_ep), FakeEndpoint(out_ep)])


@pytest.fixture
def usb_nodes(tmp_path: Path, monkeypatch: pytest.MonkeyPatch) -> Path:
    """usbfs nodes for bus 1, addresses 1-9, that this user may open (unless a test says no)."""
    if not sys.platform.startswith("linux"):
        pytest.skip("the usbfs permission check is Linux's")
    (tmp_path / "001").mkdir()
    for address in range(1, 10):
        (tmp_path / "001" / f"{address:03d}").touch()
    monkeypatch.setattr(discovery, "USB_DEVICE_NODES", tmp_path)
    return tmp_path


def _enumerate(monkeypatch: pytest.MonkeyPatch, *devices: FakeDevice) -> None:
    def find(find_all: bool = False, **_: Any) -> Iterator[FakeDevice]:
        assert find_all
        return iter(devices)

    monkeypatch.setattr(usb.core, "find", find)


def test_usb_printers_by_maker_by_class_and_by_chip_with_their_endpoints(
    usb_nodes: Path, monkeypatch: pytest.MonkeyPatch
) -> None:
    _enumerate(
        monkeypatch,
        FakeDevice(0x04B8, 0x0E15, [printer_interface()], address=1),  # Epson, default endpoints
        FakeDevice(0x6868, 0x0200, [printer_interface(0x81, 0x02)], address=2),  # Gprinter
        FakeDevice(0x1234, 0x0001, [printer_interface(0x84, 0x03)], address=3),  # unknown maker
        FakeDevice(0x0416, 0x5011, [printer_interface(cls=0xFF)], address=4),  # Winbond chip
        FakeDevice(0x0416, 0x1234, [printer_interface(cls=0xFF)], address=5),  # other Winbond
        FakeDevice(0x046D, 0xC31C, [FakeInterface(3, [FakeEndpoint(0x81, INTERRUPT)])]),  # kbd
        FakeDevice(0x04B8, 0x0142, [FakeInterface(0xFF, [FakeEndpoint(0x81)])]),  # no bulk OUT
    )
    found, notes = discovery.usb_printers()
    assert notes == []
    assert [(p.kind, p.url, p.status, p.detail) for p in found] == [
        (Kind.USB, "usb://04b8:0e15", "ready", "Epson"),
        (Kind.USB, "usb://6868:0200?in_ep=0x81&out_ep=0x02", "ready", "Gainscha (Gprinter)"),
        (Kind.USB, "usb://1234:0001?in_ep=0x84&out_ep=0x03", "ready", "USB printer class"),
        (Kind.USB, "usb://0416:5011", "ready", discovery.PRINTER_CHIPS[(0x0416, 0x5011)]),
    ]
    gprinter = parse_printer_url(found[1].url)
    assert gprinter == UsbTarget(0x6868, 0x0200, in_ep=0x81, out_ep=0x02)


def test_a_usb_printer_this_user_cannot_open_points_to_the_udev_rule(
    usb_nodes: Path, monkeypatch: pytest.MonkeyPatch
) -> None:
    _enumerate(monkeypatch, FakeDevice(0x0519, 0x0003, [printer_interface()], address=7))
    monkeypatch.setattr(discovery, "_can_open", lambda node: node != usb_nodes / "001" / "007")
    found, notes = discovery.usb_printers()
    assert [(p.url, p.status) for p in found] == [
        ("usb://0519:0003", "no permission: add the udev rule (see the note below)")
    ]
    assert len(notes) == 1
    assert f"sudo cp {discovery.UDEV_RULE} /etc/udev/rules.d/" in notes[0]
    assert "sudo udevadm control --reload-rules && sudo udevadm trigger" in notes[0]
    assert discovery.UDEV_RULE.is_file()


def test_a_ready_usb_printer_says_its_product_name(
    usb_nodes: Path, monkeypatch: pytest.MonkeyPatch
) -> None:
    device = FakeDevice(0x04B8, 0x0202, [printer_interface()], address=2, iProduct=2)
    _enumerate(monkeypatch, device)
    monkeypatch.setattr(
        usb.util, "get_string", lambda dev, index: "TM-T88V " if (dev, index) == (device, 2) else ""
    )
    found, _ = discovery.usb_printers()
    assert [(p.status, p.detail) for p in found] == [("ready", "Epson, TM-T88V")]


def test_a_usb_device_without_its_node_says_so(
    usb_nodes: Path, monkeypatch: pytest.MonkeyPatch
) -> None:
    _enumerate(monkeypatch, FakeDevice(0x04B8, 0x0202, [printer_interface()], bus=3))
    found, _ = discovery.usb_printers()
    assert [p.status for p in found] == [f"no device node {usb_nodes / '003' / '005'}"]


def test_without_libusb_usb_is_a_note_not_a_failure(monkeypatch: pytest.MonkeyPatch) -> None:
    def find(**_: Any) -> None:
        raise usb.core.NoBackendError("No backend available")

    monkeypatch.setattr(usb.core, "find", find)
    found, notes = discovery.usb_printers()
    assert found == []
    assert len(notes) == 1
    assert notes[0].startswith("USB not searched: no USB backend (libusb) installed; ")


def test_printers_udev_rule_prints_the_shipped_rule() -> None:
    proc = cli("printers", "--udev-rule")
    assert proc.returncode == 0, proc.stderr
    assert proc.stdout == discovery.UDEV_RULE.read_text()
    assert proc.stdout.startswith("# Printrelay bridge agent")


@pytest.mark.skipif(
    shutil.which("udevadm") is None
    or subprocess.run(["udevadm", "verify", "--help"], capture_output=True).returncode != 0,
    reason="needs udevadm verify (systemd 254 or later)",
)
def test_udevadm_finds_the_rule_well_formed() -> None:
    proc = subprocess.run(
        ["udevadm", "verify", "--no-style", str(discovery.UDEV_RULE)],
        capture_output=True,
        text=True,
    )
    assert proc.returncode == 0, proc.stdout + proc.stderr


def test_the_udev_rule_matches_the_printer_class_and_the_same_makers_as_discovery() -> None:
    rule = discovery.UDEV_RULE.read_text()
    assert 'ENV{ID_USB_INTERFACES}=="*:0701??:*"' in rule
    vendors = re.findall(r'^ATTR\{idVendor\}=="([0-9a-f|]+)", GOTO=', rule, re.M)
    assert len(vendors) == 1
    assert {int(vid, 16) for vid in vendors[0].split("|")} == set(discovery.PRINTER_MAKERS)
    chips = re.findall(r'^ATTR\{idVendor\}=="(\w{4})", ATTR\{idProduct\}=="(\w{4})"', rule, re.M)
    assert {(int(v, 16), int(p, 16)) for v, p in chips} == set(discovery.PRINTER_CHIPS)
    assert 'MODE="0664", GROUP="lp", TAG+="uaccess"' in rule


# -- serial: pyserial's listing, never opened ---------------------------------------------------


def test_serial_ports_are_listed_as_urls_the_agent_takes(monkeypatch: pytest.MonkeyPatch) -> None:
    from serial.tools import list_ports, list_ports_common

    usb_serial = list_ports_common.ListPortInfo("/dev/ttyUSB0", skip_link_detection=True)
    usb_serial.description, usb_serial.vid, usb_serial.pid = "FT232R USB UART", 0x0403, 0x6001
    com = list_ports_common.ListPortInfo("COM3", skip_link_detection=True)
    monkeypatch.setattr(list_ports, "comports", lambda: [usb_serial, com])
    monkeypatch.setattr(discovery, "_can_open", lambda path: True)
    found, notes = discovery.serial_ports()
    assert notes == []
    assert [(p.kind, p.url, p.status, p.detail) for p in found] == [
        (Kind.SERIAL, "serial:///dev/ttyUSB0", "port present", "FT232R USB UART, USB 0403:6001"),
        (Kind.SERIAL, "serial://COM3", "port present", ""),
    ]
    assert [parse_printer_url(p.url) for p in found] == [
        SerialTarget("/dev/ttyUSB0"),
        SerialTarget("COM3"),
    ]


@pytest.mark.skipif(sys.platform == "win32", reason="groups own device nodes on POSIX")
def test_a_serial_port_this_user_cannot_open_names_the_group_to_join(
    tmp_path: Path, monkeypatch: pytest.MonkeyPatch
) -> None:
    import grp
    import os

    from serial.tools import list_ports, list_ports_common

    node = tmp_path / "ttyS7"
    node.touch()
    port = list_ports_common.ListPortInfo(str(node), skip_link_detection=True)
    monkeypatch.setattr(list_ports, "comports", lambda: [port])
    monkeypatch.setattr(discovery, "_can_open", lambda path: False)
    found, _ = discovery.serial_ports()
    group = grp.getgrgid(os.stat(node).st_gid).gr_name
    assert [p.status for p in found] == [
        f"port present, no permission: sudo usermod -aG {group} $USER, then log in again"
    ]
