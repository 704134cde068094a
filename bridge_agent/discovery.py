"""What printers this PC can reach (``printrelay-bridge printers``), as printer URLs with a status.

USB: every device of a receipt printer maker below, or with a printer interface (class 7), found
through pyusb from its descriptors; the URL names its bulk endpoints when they are not the agent's
defaults. Serial: pyserial's list of ports, never opened (opening one toggles its control lines).
TCP: only when asked, one network of at most 256 addresses (a /24), each address connected to
with a short timeout, many at once; an open port is asked the ESC/POS status (DLE EOT) on the
connection the scan opened. The udev rule in ``data/`` matches the same makers (a test holds
``PRINTER_MAKERS`` and ``PRINTER_CHIPS`` equal to it).
"""

from __future__ import annotations

import asyncio
import contextlib
import ipaddress
import os
import sys
from dataclasses import asdict, dataclass, field
from enum import StrEnum
from pathlib import Path
from typing import Any
from urllib.parse import quote

from bridge_agent.transports.device import DEFAULT_USB_IN_EP, DEFAULT_USB_OUT_EP
from bridge_agent.transports.escpos_status import decode_answers
from bridge_agent.transports.tcp import DEFAULT_PORT, ask_status

# Vendor ids of receipt printer makers (usb.ids names them; Gainscha and HPRT from their
# printers' descriptors). Any device of theirs with a bulk OUT endpoint is listed.
PRINTER_MAKERS: dict[int, str] = {
    0x04B8: "Epson",
    0x0519: "Star Micronics",
    0x1504: "Bixolon",
    0x0DD4: "Custom",
    0x1D90: "Citizen",
    0x2730: "Citizen",
    0x1343: "Citizen",
    0x08BD: "Citizen",
    0x154F: "SNBC",
    0x0D3A: "Posiflex",
    0x0619: "Seiko Instruments",
    0x6868: "Gainscha (Gprinter)",
    0x20D1: "HPRT",
}
# Printers that show their USB chip's vendor id, so only vendor and product together say printer.
PRINTER_CHIPS: dict[tuple[int, int], str] = {
    (0x0416, 0x5011): "58 mm printer on a Winbond chip (Zjiang, POS-58)",
    (0x0483, 0x5743): "Xprinter",
}
USB_PRINTER_CLASS = 7
USB_DEVICE_NODES = Path("/dev/bus/usb")  # Linux: usbfs nodes, BUS/ADDRESS, which libusb opens
UDEV_RULE = Path(__file__).parent / "data" / "60-printrelay-usb-printers.rules"

SCAN_PORT = DEFAULT_PORT  # raw TCP printing ("JetDirect")
MAX_SCAN_ADDRESSES = 256  # a /24: a shop's network, never the internet
SCAN_CONCURRENCY = 64  # connections open at once
SCAN_CONNECT_TIMEOUT_S = 0.5  # a printer on the LAN answers a SYN within milliseconds
SCAN_REPLY_TIMEOUT_S = 0.5  # each DLE EOT answer of an open port

READY = "ready"
PORT_PRESENT = "port present"
NO_STATUS_ANSWER = "port open, no status answer"


class Kind(StrEnum):
    USB = "usb"
    SERIAL = "serial"
    TCP = "tcp"


@dataclass(frozen=True)
class FoundPrinter:
    kind: Kind
    url: str  # as `run --printer` takes it
    status: str
    detail: str = ""  # maker, product or port description, when known


@dataclass(frozen=True)
class ScanPlan:
    network: ipaddress.IPv4Network | ipaddress.IPv6Network
    port: int
    addresses: int  # how many will be tried (a /24 has 254 hosts)

    def describe(self) -> str:
        what = "address" if self.addresses == 1 else "addresses"
        return f"{self.addresses} {what} of {self.network} on port {self.port}"


@dataclass
class Discovery:
    printers: list[FoundPrinter] = field(default_factory=list)
    notes: list[str] = field(default_factory=list)  # why a kind could not be searched, fixes
    scan: ScanPlan | None = None

    def as_json(self) -> dict[str, Any]:
        scan = self.scan
        return {
            "printers": [asdict(printer) for printer in self.printers],
            "notes": self.notes,
            "scanned": None
            if scan is None
            else {"network": str(scan.network), "port": scan.port, "addresses": scan.addresses},
        }

    def as_lines(self) -> list[str]:
        """One printer a line: its URL, its status, and what it is in parentheses."""
        width = max((len(printer.url) for printer in self.printers), default=0)
        return [
            f"{printer.url:<{width}}  {printer.status}"
            + (f"  ({printer.detail})" if printer.detail else "")
            for printer in self.printers
        ]

    def summary(self) -> list[str]:
        """For the person reading (stderr): notes, the count, and where network printers are."""
        lines = [f"note: {note}" for note in self.notes]
        counts = {kind: sum(p.kind is kind for p in self.printers) for kind in Kind}
        network = f"{self.scan.network} port {self.scan.port}" if self.scan else "not scanned"
        lines.append(
            f"found {len(self.printers)}: {counts[Kind.USB]} USB, {counts[Kind.SERIAL]} serial, "
            f"{counts[Kind.TCP]} network ({network})"
        )
        if self.scan is None:
            lines.append("network printers: add --scan with your network, e.g. 192.168.1.0/24")
        return lines


async def discover(scan: ScanPlan | None = None) -> Discovery:
    """USB printers and serial ports (in worker threads: pyusb blocks), and ``scan`` if given."""
    usb = asyncio.to_thread(usb_printers)
    serial = asyncio.to_thread(serial_ports)
    network = scan_tcp(scan) if scan is not None else _nothing()
    (usb_found, usb_notes), (serial_found, serial_notes), tcp_found = await asyncio.gather(
        usb, serial, network
    )
    return Discovery([*usb_found, *serial_found, *tcp_found], [*usb_notes, *serial_notes], scan)


async def _nothing() -> list[FoundPrinter]:
    return []


# -- USB --------------------------------------------------------------------------------------


def usb_printers() -> tuple[list[FoundPrinter], list[str]]:
    """The USB printers pyusb sees, and notes (no pyusb, no libusb, no permission: the fix)."""
    try:
        import usb.core
    except ImportError:
        return [], ["USB not searched: pyusb is missing (pip install 'python-escpos[usb]')"]
    try:
        devices = list(usb.core.find(find_all=True))
    except usb.core.NoBackendError:
        return [], [f"USB not searched: no USB backend (libusb) installed; {_LIBUSB_HINT}"]
    except usb.core.USBError as exc:
        return [], [f"USB not searched: {exc}"]
    found = [printer for device in devices if (printer := _usb_printer(device)) is not None]
    notes = []
    if any(printer.status.startswith("no permission") for printer in found):
        notes.append(
            f"USB printers need permission: sudo cp {UDEV_RULE} /etc/udev/rules.d/ && "
            "sudo udevadm control --reload-rules && sudo udevadm trigger (then replug the "
            "printer; the README's 'The agent on a shop PC' says more)"
        )
    return found, notes


_LIBUSB_HINT = {
    "linux": "apt-get install libusb-1.0-0 (Debian, Ubuntu) or dnf install libusb1",
    "darwin": "brew install libusb",
    "win32": "put libusb-1.0.dll (libusb.info) on the PATH, and give the printer the WinUSB "
    "driver with Zadig",
}.get(sys.platform, "install libusb 1.0")


def _usb_printer(device: Any) -> FoundPrinter | None:
    vendor, product = int(device.idVendor), int(device.idProduct)
    try:
        interfaces = [interface for config in device for interface in config]
    except Exception:  # pyusb raises USBError, backends their own: an unreadable device
        return None
    printer_interfaces = [i for i in interfaces if i.bInterfaceClass == USB_PRINTER_CLASS]
    maker = PRINTER_CHIPS.get((vendor, product)) or PRINTER_MAKERS.get(vendor)
    if not printer_interfaces and maker is None:
        return None
    in_ep, out_ep = _bulk_endpoints([*printer_interfaces, *interfaces])
    if out_ep is None:
        return None  # nothing to write to: a maker's scanner or hub, not a printer
    url = f"usb://{vendor:04x}:{product:04x}"
    query = []
    if in_ep is not None and in_ep != DEFAULT_USB_IN_EP:
        query.append(f"in_ep=0x{in_ep:02x}")
    if out_ep != DEFAULT_USB_OUT_EP:
        query.append(f"out_ep=0x{out_ep:02x}")
    if query:
        url += "?" + "&".join(query)
    status, name = _usb_status(device)
    detail = ", ".join(part for part in (maker or "USB printer class", name) if part)
    return FoundPrinter(Kind.USB, url, status, detail)


def _bulk_endpoints(interfaces: list[Any]) -> tuple[int | None, int | None]:
    """The bulk IN and OUT endpoint addresses of the first interface with a bulk OUT."""
    import usb.util

    for interface in interfaces:
        ins: list[int] = []
        outs: list[int] = []
        for endpoint in interface:
            if usb.util.endpoint_type(endpoint.bmAttributes) != usb.util.ENDPOINT_TYPE_BULK:
                continue
            address = int(endpoint.bEndpointAddress)
            direction = usb.util.endpoint_direction(address)
            (ins if direction == usb.util.ENDPOINT_IN else outs).append(address)
        if outs:
            return (ins[0] if ins else None), outs[0]
    return None, None


def _usb_status(device: Any) -> tuple[str, str]:
    """Whether this user can open the device, and its product name when it can be read.

    On Linux the usbfs node's permissions say it without opening anything; elsewhere the only
    way to know is to open it, which reading the product name does.
    """
    if sys.platform.startswith("linux"):
        node = USB_DEVICE_NODES / f"{int(device.bus):03d}" / f"{int(device.address):03d}"
        if not node.exists():
            return f"no device node {node}", ""
        if not _can_open(node):
            return "no permission: add the udev rule (see the note below)", ""
    try:
        return READY, _product_name(device)
    except Exception as exc:  # the same unrelated exception types as above
        if sys.platform == "win32":
            fix = "give it the WinUSB driver with Zadig, or use its network or serial port"
        else:
            fix = "is another program holding it?"
        return f"cannot open it ({exc}): {fix}", ""


def _can_open(node: Path) -> bool:
    return os.access(node, os.R_OK | os.W_OK)


def _product_name(device: Any) -> str:
    import usb.util

    if not device.iProduct:
        return ""
    name = usb.util.get_string(device, device.iProduct)
    return str(name).strip() if name else ""


# -- serial -----------------------------------------------------------------------------------


def serial_ports() -> tuple[list[FoundPrinter], list[str]]:
    """Every serial port pyserial lists, unopened: which one holds a printer only a test print
    says. A port this user cannot open says which group to join."""
    try:
        from serial.tools import list_ports
    except ImportError:
        return [], ["serial ports not listed: pyserial is missing (pip install pyserial)"]
    found = []
    for port in sorted(list_ports.comports(), key=lambda port: port.device):
        device = str(port.device)
        detail = port.description if port.description not in (None, "", "n/a") else ""
        if port.vid is not None and port.pid is not None:
            detail = ", ".join(filter(None, [detail, f"USB {port.vid:04x}:{port.pid:04x}"]))
        found.append(FoundPrinter(Kind.SERIAL, serial_url(device), _serial_status(device), detail))
    return found, []


def serial_url(device: str) -> str:
    """``serial:///dev/ttyUSB0``, or ``serial://COM3`` for a Windows port."""
    return "serial://" + (quote(device) if device.startswith("/") else device)


def _serial_status(device: str) -> str:
    if os.name != "posix" or _can_open(Path(device)):
        return PORT_PRESENT
    try:
        import grp

        group = grp.getgrgid(os.stat(device).st_gid).gr_name
    except (OSError, KeyError):
        group = "dialout"
    return f"port present, no permission: sudo usermod -aG {group} $USER, then log in again"


# -- TCP --------------------------------------------------------------------------------------


def scan_plan(cidr: str, port: int = SCAN_PORT) -> ScanPlan:
    """What ``--scan CIDR`` would try; ValueError saying what to type instead."""
    try:
        network = ipaddress.ip_network(cidr.strip(), strict=False)
    except ValueError:
        raise ValueError(
            f"--scan takes a network such as 192.168.1.0/24, or one address; not {cidr!r}"
        ) from None
    if network.num_addresses > MAX_SCAN_ADDRESSES:
        smallest = 32 if network.version == 4 else 128
        prefix = smallest - (MAX_SCAN_ADDRESSES.bit_length() - 1)
        narrower = ipaddress.ip_network(f"{network.network_address}/{prefix}", strict=False)
        raise ValueError(
            f"--scan {network} has {network.num_addresses:,} addresses; a scan covers a "
            f"/{prefix} at most ({MAX_SCAN_ADDRESSES} addresses), e.g. {narrower}"
        )
    if not 1 <= port <= 65535:
        raise ValueError(f"--port must be 1-65535, not {port}")
    return ScanPlan(network, port, sum(1 for _ in network.hosts()))


async def scan_tcp(plan: ScanPlan) -> list[FoundPrinter]:
    """Each address of ``plan`` with its port open, in address order, with its status."""
    limit = asyncio.Semaphore(SCAN_CONCURRENCY)
    hosts = list(plan.network.hosts())
    results = await asyncio.gather(*(_probe(str(host), plan.port, limit) for host in hosts))
    return [found for found in results if found is not None]


async def _probe(host: str, port: int, limit: asyncio.Semaphore) -> FoundPrinter | None:
    async with limit:
        try:
            async with asyncio.timeout(SCAN_CONNECT_TIMEOUT_S):
                reader, writer = await asyncio.open_connection(host, port)
        except (OSError, TimeoutError):
            return None  # refused, unreachable or silent: nothing listens there
        try:
            answers = await ask_status(
                reader,
                writer,
                reply_timeout_s=SCAN_REPLY_TIMEOUT_S,
                write_timeout_s=SCAN_REPLY_TIMEOUT_S,
            )
            status = decode_answers(answers).value if answers else NO_STATUS_ANSWER
        except (OSError, TimeoutError):
            status = "port open, dropped the status query"
        finally:
            writer.close()
            with contextlib.suppress(OSError, TimeoutError):
                async with asyncio.timeout(SCAN_REPLY_TIMEOUT_S):
                    await writer.wait_closed()
    address = f"[{host}]" if ":" in host else host
    return FoundPrinter(Kind.TCP, f"tcp://{address}:{port}", status)
