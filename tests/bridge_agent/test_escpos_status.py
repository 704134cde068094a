"""DLE EOT answers to printer states (shared by the TCP, USB and serial transports)."""

from __future__ import annotations

import pytest

from bridge_agent.transports import PrinterState
from bridge_agent.transports.escpos_status import (
    StatusQuery,
    decode_answers,
    decode_status,
    is_status_byte,
    last_status_byte,
    query_bytes,
)

FIXED = 0x12  # bits 1 and 4: an answer with nothing to report


def test_queries_are_dle_eot_n() -> None:
    assert query_bytes(StatusQuery.PRINTER) == b"\x10\x04\x01"
    assert query_bytes(StatusQuery.OFFLINE_CAUSE) == b"\x10\x04\x02"
    assert query_bytes(StatusQuery.PAPER_SENSOR) == b"\x10\x04\x04"


@pytest.mark.parametrize(
    ("printer", "offline_cause", "paper", "state"),
    [
        (FIXED, FIXED, FIXED, PrinterState.ONLINE),
        (FIXED | 0x04, FIXED, FIXED, PrinterState.ONLINE),  # drawer sensor high: not a problem
        (FIXED | 0x08, FIXED, FIXED, PrinterState.OFFLINE),
        (FIXED | 0x08, FIXED | 0x08, FIXED, PrinterState.OFFLINE),  # feeding by the button
        (FIXED | 0x08, FIXED | 0x04, FIXED, PrinterState.COVER_OPEN),
        (FIXED | 0x08, FIXED | 0x04 | 0x40, FIXED, PrinterState.COVER_OPEN),  # opened mid-print
        (FIXED | 0x08, FIXED | 0x20, FIXED | 0x6C, PrinterState.PAPER_OUT),
        (FIXED | 0x08, FIXED | 0x20, FIXED, PrinterState.PAPER_OUT),  # stopped at near end
        (FIXED, FIXED, FIXED | 0x60, PrinterState.PAPER_OUT),
        (FIXED | 0x08, FIXED | 0x40, FIXED, PrinterState.ERROR),
        (FIXED, FIXED, FIXED | 0x0C, PrinterState.PAPER_LOW),
        (FIXED | 0x08, FIXED, FIXED | 0x0C, PrinterState.OFFLINE),
        (FIXED | 0x08, None, None, PrinterState.OFFLINE),
        (None, None, FIXED | 0x0C, PrinterState.PAPER_LOW),
        (None, None, None, PrinterState.ONLINE),  # nothing answered: reachable means online
    ],
)
def test_decode_status(
    printer: int | None, offline_cause: int | None, paper: int | None, state: PrinterState
) -> None:
    assert decode_status(printer, offline_cause, paper) is state


def test_decode_answers_takes_any_subset() -> None:
    assert decode_answers({}) is PrinterState.ONLINE
    assert decode_answers({StatusQuery.PAPER_SENSOR: 0x7E}) is PrinterState.PAPER_OUT


def test_status_bytes_have_their_fixed_bits() -> None:
    assert is_status_byte(0x12)
    assert is_status_byte(0x7E)
    assert not is_status_byte(0x00)
    assert not is_status_byte(0x13)  # XOFF
    assert not is_status_byte(0x92)  # bit 7 on
    assert last_status_byte(b"") is None
    assert last_status_byte(b"\x13\x11") is None
    assert last_status_byte(b"\x12\x13\x1a\x11") == 0x1A
