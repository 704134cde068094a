"""ESC/POS real-time status (``DLE EOT n``): the queries and how their answers map to states.

Shared by every transport that can read from the printer (TCP, USB, serial), so a printer reports
the same state whichever cable it hangs on. Bit meanings follow Epson's ESC/POS reference for
``DLE EOT n`` (10 04 n); each query is answered with exactly one byte whose bits 1 and 4 are
always on and bits 0 and 7 always off.
"""

from __future__ import annotations

from collections.abc import Iterable
from enum import IntEnum

from bridge_agent.transports.base import PrinterState

DLE_EOT = b"\x10\x04"

# Fixed bits of every DLE EOT answer: bit 1 and bit 4 on, bits 0 and 7 off.
_FIXED_MASK = 0x93
_FIXED_VALUE = 0x12

# n=1, printer status
PRINTER_OFFLINE_BIT = 0x08
# n=2, offline cause
COVER_OPEN_BIT = 0x04
PAPER_END_STOP_BIT = 0x20
ERROR_OCCURRED_BIT = 0x40
# n=4, roll paper sensor (each condition sets two bits; either one counts)
PAPER_NEAR_END_BITS = 0x0C
PAPER_END_BITS = 0x60


class StatusQuery(IntEnum):
    """The ``n`` of ``DLE EOT n`` this package asks, in the order it asks them."""

    PRINTER = 1
    OFFLINE_CAUSE = 2
    PAPER_SENSOR = 4


STATUS_QUERIES: tuple[StatusQuery, ...] = (
    StatusQuery.PRINTER,
    StatusQuery.OFFLINE_CAUSE,
    StatusQuery.PAPER_SENSOR,
)


def query_bytes(query: StatusQuery) -> bytes:
    """The three bytes that ask ``query``."""
    return DLE_EOT + bytes([query])


def is_status_byte(value: int) -> bool:
    """Whether ``value`` can be a DLE EOT answer (its fixed bits are right)."""
    return value & _FIXED_MASK == _FIXED_VALUE


def last_status_byte(reply: Iterable[int]) -> int | None:
    """The last byte of ``reply`` that is a valid status answer, or None.

    The last one, because a late answer to an earlier query or an XON/XOFF byte may precede it.
    """
    found: int | None = None
    for value in reply:
        if is_status_byte(value):
            found = value
    return found


def decode_status(
    printer: int | None, offline_cause: int | None, paper: int | None
) -> PrinterState:
    """Map the answers to DLE EOT 1, 2 and 4 (None: not answered) to one state.

    The most specific cause wins: an open cover also sets the error and offline bits, and an
    empty roll also sets the near-end bits, so those are checked first.
    """
    if offline_cause is not None and offline_cause & COVER_OPEN_BIT:
        return PrinterState.COVER_OPEN
    if offline_cause is not None and offline_cause & PAPER_END_STOP_BIT:
        return PrinterState.PAPER_OUT
    if paper is not None and paper & PAPER_END_BITS:
        return PrinterState.PAPER_OUT
    if offline_cause is not None and offline_cause & ERROR_OCCURRED_BIT:
        return PrinterState.ERROR
    if printer is not None and printer & PRINTER_OFFLINE_BIT:
        return PrinterState.OFFLINE
    if paper is not None and paper & PAPER_NEAR_END_BITS:
        return PrinterState.PAPER_LOW
    return PrinterState.ONLINE


def decode_answers(answers: dict[StatusQuery, int]) -> PrinterState:
    """``decode_status`` over whatever subset of the queries was answered."""
    return decode_status(
        answers.get(StatusQuery.PRINTER),
        answers.get(StatusQuery.OFFLINE_CAUSE),
        answers.get(StatusQuery.PAPER_SENSOR),
    )
