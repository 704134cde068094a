"""Printer URLs (CONTRACT: Commands) parsed into typed targets, and turned into transports.

    tcp://host[:port]                  port defaults to 9100
    usb://VID:PID[?in_ep=0x82&out_ep=0x01]   hex vendor and product ids (``usb://04b8:0202``)
    serial:///dev/ttyUSB0[?baudrate=19200]   baudrate defaults to 9600; ``serial://COM3`` on Windows
    file:///path                       appends to a file or device node
    fake://[name][?state=paper_out]    in-memory, for tests

Anything else raises ``ValueError`` with a message fit for the command line.
"""

from __future__ import annotations

import re
from dataclasses import dataclass
from pathlib import Path
from urllib.parse import parse_qs, urlsplit
from urllib.request import url2pathname

from bridge_agent.transports.base import PrinterState, Transport
from bridge_agent.transports.device import (
    DEFAULT_BAUDRATE,
    DEFAULT_USB_IN_EP,
    DEFAULT_USB_OUT_EP,
    serial_transport,
    usb_transport,
)
from bridge_agent.transports.fake import FakeTransport
from bridge_agent.transports.file import FileTransport
from bridge_agent.transports.tcp import DEFAULT_PORT, TcpTransport

SUPPORTED_SCHEMES = ("tcp", "usb", "serial", "file", "fake")
MAX_BAUDRATE = 4_000_000

_USB_IDS = re.compile(r"(?:0x)?([0-9a-f]{1,4}):(?:0x)?([0-9a-f]{1,4})", re.IGNORECASE)
_WINDOWS_COM_PORT = re.compile(r"/?(COM\d+)", re.IGNORECASE)


@dataclass(frozen=True)
class TcpTarget:
    host: str
    port: int = DEFAULT_PORT


@dataclass(frozen=True)
class UsbTarget:
    vendor_id: int
    product_id: int
    in_ep: int = DEFAULT_USB_IN_EP
    out_ep: int = DEFAULT_USB_OUT_EP


@dataclass(frozen=True)
class SerialTarget:
    devfile: str
    baudrate: int = DEFAULT_BAUDRATE


@dataclass(frozen=True)
class FileTarget:
    path: Path


@dataclass(frozen=True)
class FakeTarget:
    state: PrinterState = PrinterState.ONLINE


PrinterTarget = TcpTarget | UsbTarget | SerialTarget | FileTarget | FakeTarget


def parse_printer_url(url: str) -> PrinterTarget:
    """Validate ``url`` and say what it points at; raises ValueError when it is not usable."""
    if "://" not in url:
        raise _invalid(url, "expected scheme://…, e.g. tcp://192.168.1.50:9100")
    parts = urlsplit(url)
    scheme = parts.scheme.lower()
    if scheme not in SUPPORTED_SCHEMES:
        supported = ", ".join(f"{name}://" for name in SUPPORTED_SCHEMES)
        raise _invalid(url, f"unsupported scheme {parts.scheme!r}; use one of {supported}")
    if parts.fragment:
        raise _invalid(url, "a fragment (#…) means nothing here")
    if parts.username is not None or parts.password is not None:
        raise _invalid(url, "credentials do not belong in a printer URL")
    query = _query(url, parts.query)
    if scheme == "tcp":
        try:
            port = parts.port
        except ValueError as exc:
            raise _invalid(url, f"bad port ({exc})") from None
        return _tcp(url, parts.hostname, parts.path, query, port)
    if scheme == "usb":
        return _usb(url, parts.netloc, parts.path, query)
    if scheme == "serial":
        return _serial(url, parts.netloc, parts.path, query)
    if scheme == "file":
        return _file(url, parts.netloc, parts.path, query)
    return _fake(url, query)


def open_transport(url: str) -> Transport:
    """The transport for ``url``. Nothing is opened yet: devices are opened on first use."""
    target = parse_printer_url(url)
    if isinstance(target, TcpTarget):
        return TcpTransport(target.host, target.port, url=url)
    if isinstance(target, UsbTarget):
        return usb_transport(
            url, target.vendor_id, target.product_id, in_ep=target.in_ep, out_ep=target.out_ep
        )
    if isinstance(target, SerialTarget):
        return serial_transport(url, target.devfile, target.baudrate)
    if isinstance(target, FileTarget):
        return FileTransport(target.path, url=url)
    return FakeTransport(url, target.state)


def _tcp(
    url: str, host: str | None, path: str, query: dict[str, str], port: int | None
) -> TcpTarget:
    if not host:
        raise _invalid(url, "missing host, e.g. tcp://192.168.1.50:9100")
    _no_path(url, path)
    _only(url, query, ())
    if port is None:
        return TcpTarget(host)
    if not 1 <= port <= 65535:
        raise _invalid(url, "port must be 1-65535")
    return TcpTarget(host, port)


def _usb(url: str, netloc: str, path: str, query: dict[str, str]) -> UsbTarget:
    ids = _USB_IDS.fullmatch(netloc)
    if ids is None:
        raise _invalid(url, "expected usb://VID:PID in hex, e.g. usb://04b8:0202")
    _no_path(url, path)
    _only(url, query, ("in_ep", "out_ep"))
    return UsbTarget(
        vendor_id=int(ids.group(1), 16),
        product_id=int(ids.group(2), 16),
        in_ep=_endpoint(url, query.get("in_ep"), DEFAULT_USB_IN_EP),
        out_ep=_endpoint(url, query.get("out_ep"), DEFAULT_USB_OUT_EP),
    )


def _endpoint(url: str, raw: str | None, default: int) -> int:
    if raw is None:
        return default
    try:
        value = int(raw, 0)
    except ValueError:
        raise _invalid(url, f"bad USB endpoint {raw!r}; write it like 0x82") from None
    if not 0 <= value <= 0xFF:
        raise _invalid(url, f"USB endpoint {raw!r} out of range 0x00-0xff")
    return value


def _serial(url: str, netloc: str, path: str, query: dict[str, str]) -> SerialTarget:
    if netloc and path:
        raise _invalid(url, "expected serial:///dev/ttyUSB0 (three slashes) or serial://COM3")
    com_port = _WINDOWS_COM_PORT.fullmatch(netloc or path)
    if com_port is not None:
        devfile = com_port.group(1).upper()
    elif netloc or not path.startswith("/") or path == "/":
        raise _invalid(url, "expected serial:///dev/ttyUSB0 (three slashes) or serial://COM3")
    else:
        devfile = url2pathname(path)
    _only(url, query, ("baudrate",))
    baudrate = DEFAULT_BAUDRATE
    if "baudrate" in query:
        raw = query["baudrate"]
        if not raw.isdigit() or not 0 < int(raw) <= MAX_BAUDRATE:
            raise _invalid(url, f"baudrate must be a positive whole number, not {raw!r}")
        baudrate = int(raw)
    return SerialTarget(devfile, baudrate)


def _file(url: str, netloc: str, path: str, query: dict[str, str]) -> FileTarget:
    if netloc not in ("", "localhost"):
        raise _invalid(url, "expected an absolute path: file:///path (three slashes)")
    _only(url, query, ())
    file_path = Path(url2pathname(path))
    if not path or path.endswith("/") or not file_path.is_absolute():
        raise _invalid(url, "expected a file path: file:///path/to/printer.bin")
    return FileTarget(file_path)


def _fake(url: str, query: dict[str, str]) -> FakeTarget:
    _only(url, query, ("state",))
    raw_state = query.get("state", PrinterState.ONLINE.value)
    try:
        return FakeTarget(PrinterState(raw_state))
    except ValueError:
        states = ", ".join(state.value for state in PrinterState)
        raise _invalid(url, f"state must be one of {states}") from None


def _query(url: str, raw_query: str) -> dict[str, str]:
    try:
        values = parse_qs(raw_query, keep_blank_values=True, strict_parsing=bool(raw_query))
    except ValueError:
        raise _invalid(url, f"bad query string {raw_query!r}") from None
    repeated = sorted(name for name, items in values.items() if len(items) > 1)
    if repeated:
        raise _invalid(url, f"parameter given twice: {', '.join(repeated)}")
    return {name: items[0] for name, items in values.items()}


def _only(url: str, query: dict[str, str], allowed: tuple[str, ...]) -> None:
    unknown = sorted(set(query) - set(allowed))
    if unknown:
        accepted = ", ".join(allowed) if allowed else "none"
        raise _invalid(url, f"unknown parameter {', '.join(unknown)} (accepted: {accepted})")


def _no_path(url: str, path: str) -> None:
    if path not in ("", "/"):
        raise _invalid(url, f"unexpected path {path!r}")


def _invalid(url: str, reason: str) -> ValueError:
    return ValueError(f"invalid printer URL {url!r}: {reason}")
