"""Printer transports: they only move bytes to a printer and read its status.

``open_transport(url)`` picks one from a printer URL (CONTRACT: Commands). Every transport
satisfies ``Transport``; ``status()`` answers a ``PrinterState`` and ``write()`` raises
``TransportError``.
"""

from bridge_agent.transports.base import PrinterState, Transport, TransportError
from bridge_agent.transports.urls import PrinterTarget, open_transport, parse_printer_url

__all__ = [
    "PrinterState",
    "PrinterTarget",
    "Transport",
    "TransportError",
    "open_transport",
    "parse_printer_url",
]
