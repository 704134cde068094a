"""Whole tickets against golden files, at 42 and 32 columns.

Each golden is a pair: ``NAME.hex`` (the exact bytes, 32 a line) and ``NAME.txt`` (the same
bytes disassembled by ``escpos_listing``, reviewed by hand when the golden was made). To
regenerate them deliberately after a reviewed change:

    PRINTRELAY_UPDATE_GOLDEN=1 .venv/bin/pytest tests/bridge_agent/test_golden.py

then read the diff of the ``.txt`` files before committing.
"""

from __future__ import annotations

import os
from collections.abc import Callable
from pathlib import Path

import pytest

from bridge_agent.render import DRAWER_PULSE, render_document, render_job
from tests.bridge_agent.escpos_listing import listing
from tests.bridge_agent.tickets import KITCHEN_TICKET, RECEIPT

# The kitchen ticket's "Ramen 拉面" prints as a picture of its line, drawn with Debian's Noto CJK:
# without those fonts these skip locally, unless CI=true (tests/conftest.py).
pytestmark = pytest.mark.usefixtures("script_fonts")

GOLDEN_DIR = Path(__file__).parent / "golden"
UPDATE = os.environ.get("PRINTRELAY_UPDATE_GOLDEN") == "1"

CASES: dict[str, Callable[[], bytes]] = {
    "receipt_80mm": lambda: render_document(RECEIPT, paper_width_mm=80),
    "receipt_58mm": lambda: render_document(RECEIPT, paper_width_mm=58),
    "kitchen_80mm_drawer": lambda: render_job(
        {"document": KITCHEN_TICKET, "raw": None, "copies": 1, "drawer_pulse": True},
        paper_width_mm=80,
    ),
    "kitchen_58mm": lambda: render_document(KITCHEN_TICKET, paper_width_mm=58),
}


def to_hex(data: bytes) -> str:
    return "".join(data[i : i + 32].hex(" ") + "\n" for i in range(0, len(data), 32))


def from_hex(text: str) -> bytes:
    return bytes.fromhex(text.replace("\n", " "))


@pytest.mark.parametrize("name", sorted(CASES))
def test_golden_ticket(name: str) -> None:
    data = CASES[name]()
    hex_path, listing_path = GOLDEN_DIR / f"{name}.hex", GOLDEN_DIR / f"{name}.txt"
    decoded = "\n".join(listing(data)) + "\n"
    if UPDATE:
        hex_path.write_text(to_hex(data))
        listing_path.write_text(decoded)
        pytest.skip(f"regenerated {hex_path.name} and {listing_path.name}: review the diff")
    assert decoded == listing_path.read_text()
    assert data == from_hex(hex_path.read_text())


@pytest.mark.parametrize("name", sorted(CASES))
def test_golden_listing_has_only_known_commands(name: str) -> None:
    lines = (GOLDEN_DIR / f"{name}.txt").read_text().splitlines()
    assert lines[0] == "ESC @ (initialise)"
    assert not [line for line in lines if line.startswith("UNKNOWN")]


def test_only_the_drawer_golden_kicks_the_drawer_and_only_once() -> None:
    for name, render in CASES.items():
        expected = 1 if name.endswith("_drawer") else 0
        data = render()
        assert data.count(DRAWER_PULSE) == expected
        assert data.count(b"\x1bp") == expected
    kitchen = CASES["kitchen_80mm_drawer"]()
    assert kitchen.startswith(b"\x1b@" + DRAWER_PULSE)
