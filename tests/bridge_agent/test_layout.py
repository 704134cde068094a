"""Wrapping, rows, sizes and paper widths, seen through preview_text (the same layout as bytes)."""

from __future__ import annotations

from typing import Any

import pytest
from hypothesis import given
from hypothesis import strategies as st

from bridge_agent.render import columns_for, preview_text, render_document
from bridge_agent.render.wrap import columns, row, wrap
from tests.bridge_agent.tickets import KITCHEN_TICKET, RECEIPT


def doc(*blocks: dict[str, Any]) -> dict[str, Any]:
    return {"blocks": list(blocks)}


def lines(document: dict[str, Any], paper_width_mm: int = 80) -> list[str]:
    return preview_text(document, paper_width_mm=paper_width_mm).split("\n")[:-1]


def test_wrap_breaks_at_word_boundaries() -> None:
    text = "The quick brown fox jumps over the lazy dog"
    assert wrap(text, 32) == ["The quick brown fox jumps over", "the lazy dog"]
    assert wrap(text, 42) == ["The quick brown fox jumps over the lazy", "dog"]


def test_wrap_hard_breaks_a_word_longer_than_the_line() -> None:
    assert wrap("A " + "x" * 50, 42) == ["A", "x" * 42, "x" * 8]
    assert wrap("y" * 84, 42) == ["y" * 42, "y" * 42]


def test_wrap_newlines_blank_lines_and_indentation() -> None:
    assert wrap("one\n\n  two  \nthree", 42) == ["one", "", "  two", "three"]
    assert wrap("", 42) == [""]
    assert wrap("    indented words that wrap", 16) == ["    indented", "words that wrap"]


def test_wrap_keeps_spaces_inside_a_line() -> None:
    assert wrap("Qty   Item", 42) == ["Qty   Item"]


def test_row_fits_on_one_line_with_at_least_one_space() -> None:
    assert row("a" * 36, "19.00", 42) == ["a" * 36 + " 19.00"]
    assert row("a" * 37, "19.00", 42) == ["a" * 37, " " * 37 + "19.00"]


def test_row_right_on_its_own_line_when_the_last_left_line_is_full() -> None:
    left = "Tostada de jamon iberico con tomate y aceite de oliva virgen"
    assert row(left, "129.00", 32) == [
        "Tostada de jamon iberico con",
        "tomate y aceite de oliva virgen",
        "                          129.00",
    ]


def test_row_with_only_one_side() -> None:
    assert row("", "9.00", 10) == ["      9.00"]
    assert row("Subtotal", "", 10) == ["Subtotal"]
    assert row("", "", 10) == [""]


def test_text_alignment_in_preview() -> None:
    assert lines(
        doc(
            {"type": "text", "text": "left"},
            {"type": "text", "text": "centre", "align": "center"},
            {"type": "text", "text": "right", "align": "right"},
        ),
        paper_width_mm=58,
    ) == ["left", " " * 13 + "centre", " " * 27 + "right"]


@pytest.mark.parametrize(("paper", "half"), [(80, 21), (58, 16)])
@pytest.mark.parametrize("size", ["wide", "double"])
def test_wide_and_double_halve_the_columns(paper: int, half: int, size: str) -> None:
    text = "MESA 12 PARA LLEVAR AHORA MISMO"  # 31 characters
    shown = lines(doc({"type": "text", "text": text, "size": size}), paper)
    chars = [line.replace(" ", "") for line in shown]
    if half == 21:
        assert chars == ["MESA12PARALLEVAR", "AHORAMISMO"]
    else:
        assert chars == ["MESA12PARA", "LLEVARAHORA", "MISMO"]
    for line in shown:
        assert len(line) <= columns_for(paper)
    assert shown[0] == " ".join("MESA 12 PARA LLEVAR" if half == 21 else "MESA 12 PARA")


@pytest.mark.parametrize("size", ["normal", "tall"])
def test_normal_and_tall_use_all_columns(size: str) -> None:
    text = "MESA 12 PARA LLEVAR AHORA MISMO"
    assert lines(doc({"type": "text", "text": text, "size": size})) == [text]


def test_wide_text_is_shown_spaced_and_centred() -> None:
    shown = lines(doc({"type": "text", "text": "COCINA", "align": "center", "size": "double"}))
    assert shown == [" " * 15 + "C O C I N A"]  # 12 printed columns, (42 - 12) / 2 = 15


def test_paper_widths_change_the_wrap_and_the_bytes() -> None:
    text = "Tostada de jamón ibérico con tomate"  # 35 columns
    assert lines(doc({"type": "text", "text": text})) == [text]
    assert lines(doc({"type": "text", "text": text}), 58) == [
        "Tostada de jamón ibérico con",
        "tomate",
    ]
    assert b"con\ntomate\n" in render_document(
        doc({"type": "text", "text": text}), paper_width_mm=58
    )


def test_preview_placeholders_and_cut_lines() -> None:
    shown = lines(
        doc(
            {"type": "qr", "data": "https://example.com/" + "x" * 40},
            {"type": "barcode", "data": "400638133393", "symbology": "EAN13"},
            {"type": "feed", "lines": 2},
            {"type": "cut", "mode": "full"},
            {"type": "cut", "mode": "partial"},
        ),
        paper_width_mm=58,
    )
    assert shown == [
        "[QR: https://example.com/xxxxx…]",
        "     [EAN13: 400638133393]",
        "",
        "",
        "✂" + " -" * 15,
        "✂" + " ·" * 15,
    ]


def test_preview_of_the_kitchen_ticket() -> None:
    expected = """\
               C O C I N A
          Mesa 12 · Pedido #1042
          P A R A   L L E V A R
==========================================
2x Hamburguesa completa              19.00
   + sin cebolla, extra de queso
1x Ramen 拉面                        12.50
1x Tostada de jamón ibérico con tomate y
aceite de oliva                       9.00
1x Crème brûlée                       6.50
------------------------------------------
TOTAL                              47.00 €
¡Alergia a los frutos secos!

     [QR: https://example.com/o/1042]
✂ · · · · · · · · · · · · · · · · · · · ·
"""
    assert preview_text(KITCHEN_TICKET) == expected


def test_preview_of_the_receipt_on_58mm() -> None:
    expected = """\
          [IMAGE 16x6]
    C A F É   D E L   M A R
       Passeig Marítim 12
           Barcelona
Factura simplificada
================================
2x Café con leche           5.00
1x Ensaïmada                2.80
1x Bocadillo de tortilla
española con pimientos      7.20
--------------------------------
TOTAL                    15.00 €
          Danke für Ihren Besuch


     [EAN13: 400638133393]
       [CODE128: T-1042]
[QR: https://example.com/r/1042]
✂ - - - - - - - - - - - - - - -
"""
    assert preview_text(RECEIPT, paper_width_mm=58) == expected


def test_preview_lines_of_the_sample_tickets_fit_the_paper() -> None:
    for paper in (80, 58):
        for ticket in (KITCHEN_TICKET, RECEIPT):
            for line in lines(ticket, paper):
                assert len(line) <= columns_for(paper)


_BLOCK = st.one_of(
    st.fixed_dictionaries(
        {
            "type": st.just("text"),
            "text": st.text(max_size=200),
            "align": st.sampled_from(["left", "center", "right"]),
            "size": st.sampled_from(["normal", "tall", "wide", "double"]),
        }
    ),
    st.fixed_dictionaries(
        {"type": st.just("row"), "left": st.text(max_size=120), "right": st.text(max_size=60)}
    ),
    st.fixed_dictionaries({"type": st.just("rule"), "char": st.characters()}),
    st.fixed_dictionaries({"type": st.just("qr"), "data": st.text(max_size=200).map("x".__add__)}),
)


@given(blocks=st.lists(_BLOCK, min_size=1, max_size=6), paper=st.sampled_from([80, 58]))
def test_preview_lines_never_exceed_the_columns(blocks: list[dict[str, Any]], paper: int) -> None:
    text = preview_text({"blocks": blocks}, paper_width_mm=paper)
    assert text.endswith("\n")
    for line in text.split("\n")[:-1]:
        assert columns(line) <= columns_for(paper)
