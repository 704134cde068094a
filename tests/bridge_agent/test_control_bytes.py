"""Text can never smuggle a printer command: every control byte in the output is the renderer's."""

from __future__ import annotations

import re
import unicodedata
from typing import Any

from hypothesis import given, settings
from hypothesis import strategies as st

from bridge_agent.render import DRAWER_PULSE, render_document
from bridge_agent.render.charset import printable, strip_controls
from tests.bridge_agent.escpos_listing import listing

INIT, CP437, LF = b"\x1b@", b"\x1bt\x00", b"\n"
DRAWER_IN_TEXT = "\x1b\x70\x00\x19\xfa"
CUT_IN_TEXT = "\x1dV\x00"
C0_C1_DEL = re.compile("[\x00-\x1f\x7f-\x9f]")


def doc(*blocks: dict[str, Any]) -> dict[str, Any]:
    return {"blocks": list(blocks)}


def test_strip_controls_removes_c0_del_and_c1() -> None:
    assert strip_controls("a\x00b\x1bc\x7fd\x85e\x9bf\ng\th\r") == "abcdefgh"
    assert strip_controls("a\r\nb\x1dV\x00", keep_newlines=True) == "a\nbV"


def test_escape_sequences_in_text_are_printed_as_plain_characters() -> None:
    text = f"Hi{DRAWER_IN_TEXT} there{CUT_IN_TEXT}!"
    out = render_document(doc({"type": "text", "text": text}))
    # ESC, NUL, 0x19 and GS go; "p", "V" and U+00FA (ú, CP437 0xA3) are ordinary characters
    assert out == INIT + CP437 + b"Hip\xa3 thereV!" + LF
    assert DRAWER_PULSE not in out
    assert b"\x1dV" not in out


def test_every_text_field_is_cleaned() -> None:
    dirty = doc(
        {"type": "text", "text": f"A{DRAWER_IN_TEXT}\r\nB\x9b1m"},
        {"type": "row", "left": f"2x\x1b@ Burger{CUT_IN_TEXT}", "right": "1\x0c9.00\x85"},
        {"type": "rule", "char": "\x1b"},
        {"type": "qr", "data": f"https://e.com/{DRAWER_IN_TEXT}"},
        {"type": "barcode", "data": f"AB{CUT_IN_TEXT}C", "symbology": "CODE128"},
        {"type": "barcode", "data": "4006381\x1b33393", "symbology": "EAN13"},
    )
    clean = doc(
        {"type": "text", "text": "Ap\u00fa\nB1m"},
        {"type": "row", "left": "2x@ BurgerV", "right": "19.00"},
        {"type": "rule", "char": "-"},
        {"type": "qr", "data": "https://e.com/p\u00fa"},
        {"type": "barcode", "data": "ABVC", "symbology": "CODE128"},
        {"type": "barcode", "data": "400638133393", "symbology": "EAN13"},
    )
    for paper in (80, 58):
        out = render_document(dirty, paper_width_mm=paper)
        assert out == render_document(clean, paper_width_mm=paper)
        assert DRAWER_PULSE not in out
        assert b"\x1b@" not in out[2:]
        assert b"\x1dV" not in out


def _only_style_and_text(data: bytes) -> list[str]:
    """Commands other than style, text and pictures of lines (GS v 0 and its rows)."""
    allowed = ("ESC @", "ESC t", "ESC !", "ESC E", "ESC -", "ESC a", "TEXT", "LF", "GS v 0", "  ")
    return [line for line in listing(data) if not line.startswith(allowed)]


# No deadline: the first line of a script reads its font's character map (up to ~0.1 s a font), and
# timing is not what this checks.
@settings(max_examples=300, deadline=None)
@given(
    text=st.text(),
    left=st.text(max_size=80),
    right=st.text(max_size=40),
    size=st.sampled_from(["normal", "tall", "wide", "double"]),
)
def test_any_text_yields_only_the_renderers_commands(
    text: str, left: str, right: str, size: str
) -> None:
    document = doc(
        {"type": "text", "text": text, "size": size, "bold": True, "align": "center"},
        {"type": "row", "left": left, "right": right},
    )
    out = render_document(document)
    assert _only_style_and_text(out) == []
    assert out == render_document(
        doc(
            {"type": "text", "text": strip_controls(text, keep_newlines=True), "size": size,
             "bold": True, "align": "center"},
            {"type": "row", "left": strip_controls(left), "right": strip_controls(right)},
        )
    )  # fmt: skip


@given(st.text())
def test_printable_never_returns_control_characters(text: str) -> None:
    cleaned = printable(text, keep_newlines=True)
    assert C0_C1_DEL.sub("", cleaned.replace("\n", "")) == cleaned.replace("\n", "")
    # no format character (bidi overrides, zero-width spaces) but the joiners emoji need
    assert all(unicodedata.category(c) != "Cf" or c in "\u200c\u200d" for c in cleaned)
