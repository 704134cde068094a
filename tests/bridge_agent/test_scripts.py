"""Scripts that no code page holds: CJK, Arabic, Hebrew, Thai and emoji print as pictures of
their lines, never as "?", and the Latin lines of the same ticket stay text.

These draw with Debian's Noto and Symbola fonts through Pillow's raqm (HarfBuzz + FriBidi):
without them they skip locally, unless CI=true (tests/conftest.py, ``script_fonts``).
"""

from __future__ import annotations

import ast
import logging

import pytest
from PIL import ImageChops

from bridge_agent.render import render_document, render_png, script_fonts
from bridge_agent.render.charset import in_code_page, needs_picture, printable
from bridge_agent.render.layout import layout_document
from bridge_agent.render.line_layout import resolve_line
from bridge_agent.render.raster import encode_raster, place
from bridge_agent.render.wrap import columns, row, wrap
from tests.bridge_agent.escpos_listing import listing
from tests.bridge_agent.test_raster import is_picture_line, printed, raster_lines
from tests.bridge_agent.tickets import SCRIPT_SAMPLES, SCRIPTS_TICKET

pytestmark = pytest.mark.usefixtures("script_fonts")

TICKETS = {"issue": SCRIPTS_TICKET, **SCRIPT_SAMPLES}


def _texts(data: bytes) -> str:
    """Every TEXT run of the ESC/POS bytes, decoded as the bytes themselves (latin-1)."""
    return "".join(
        ast.literal_eval(entry[5:]).decode("latin-1")
        for entry in listing(data)
        if entry.startswith("TEXT ")
    )


@pytest.mark.parametrize("width", [80, 58])
def test_the_issue_ticket_prints_no_question_mark_and_keeps_latin_as_text(width: int) -> None:
    data = render_document(SCRIPTS_TICKET, paper_width_mm=width)
    entries = listing(data)
    assert "?" not in _texts(data)
    assert [entry for entry in entries if entry.startswith("GS v 0")] == [
        f"GS v 0 (raster) mode=0 {576 if width == 80 else 384}x30 dots"
    ] * 3  # the three dishes, one picture line each
    assert "MESA 4" in _texts(data) and "Sin cacahuetes" in _texts(data)
    assert "宫保鸡丁".encode("gb18030") not in data  # python-escpos's GB18030 shortcut


@pytest.mark.parametrize("width", [80, 58])
@pytest.mark.parametrize("name", sorted(TICKETS))
def test_picture_lines_carry_the_png_dots_at_the_same_height(name: str, width: int) -> None:
    document = TICKETS[name]
    layout = layout_document(document, paper_width_mm=width)
    png = encode_raster(layout)
    pictures = [line for line in place(layout).text_lines() if is_picture_line(line.text)]
    text_lines, rasters = printed(render_document(document, paper_width_mm=width), width)
    assert pictures and len(rasters) == len(pictures)
    for line, raster in zip(pictures, rasters, strict=True):
        assert raster.top == line.top, line.text
        band = png.crop((0, line.top, png.width, line.top + raster.image.height))
        assert ImageChops.logical_xor(band, raster.image).getbbox() is None, line.text
        assert band.getbbox() is not None  # and the picture has ink
    assert raster_lines(document, width) == text_lines  # the text lines, as before


def test_every_script_finds_a_font_and_shaping_is_available() -> None:
    assert script_fonts.missing_scripts() == []
    assert script_fonts.shaping_problem() is None


@pytest.mark.parametrize(
    ("text", "expected"),
    [
        ("宫保鸡丁", 8),  # an ideograph takes two columns
        ("ต้มยำกุ้ง", 6),  # Thai marks take none
        ("شاورما دجاج", 11),
        ("🍜 ok", 5),
        ("👨\u200d👩\u200d👧", 2),  # one emoji sequence
        ("Crème", 5),
    ],
)
def test_columns(text: str, expected: int) -> None:
    assert columns(printable(text)) == expected


def test_wrap_cuts_between_clusters_and_counts_columns() -> None:
    assert wrap("宫保鸡丁宫保鸡丁", 5) == ["宫保", "鸡丁", "宫保", "鸡丁"]
    thai = wrap("ต้มยำกุ้งต้มยำกุ้ง", 5)
    assert "".join(thai) == "ต้มยำกุ้งต้มยำกุ้ง"
    assert all(columns(line) <= 5 for line in thai)
    assert not any(line[0] in "\u0e34\u0e35\u0e36\u0e37\u0e38\u0e39\u0e48\u0e49" for line in thai)
    assert row("2x 宫保鸡丁", "12.00", 32) == ["2x 宫保鸡丁" + " " * 16 + "12.00"]
    assert columns(row("2x 宫保鸡丁", "12.00", 32)[0]) == 32


def test_hebrew_and_arabic_never_go_to_a_code_page() -> None:
    """Code pages 862 and 864 hold them, but the printer would print them unjoined, reversed."""
    assert not in_code_page("ש") and not in_code_page("ش") and not in_code_page("\u0661")
    assert needs_picture("שלום") and needs_picture("سلام")
    assert not needs_picture("Crème brûlée ½ €")


def test_cleaning_keeps_scripts_and_drops_what_could_hide_or_reorder_text() -> None:
    assert printable("ต้มยำ 宫 🍜") == "ต้มยำ 宫 🍜"
    assert printable("a\u202eb\u2066c\u200bd") == "abcd"  # bidi overrides, isolates, ZWSP
    assert printable("\ue000") == "?"  # private use
    assert printable("e" + "\u0301" * 1 + "x" + "\u0300" * 20) == "éx" + "\u0300" * 4


def test_a_right_to_left_paragraph_reads_from_the_right() -> None:
    segments = resolve_line("שולחן 7, בלי בצל").segments
    assert [(s.text, s.rtl) for s in segments] == [
        ("בלי בצל", True),
        (" ,7 ", False),  # the number between the words, its comma mirrored to the right side
        ("שולחן", True),
    ]
    assert [s.column for s in segments] == [0, 7, 11]


def test_a_latin_line_keeps_its_arabic_dish_and_price_in_order() -> None:
    lines = layout_document({"blocks": [{"type": "row", "left": "1x شاورما", "right": "8.50"}]})
    line = lines.items[0]
    segments = resolve_line(line.text, line.breaks).segments
    assert segments[0].text == "1x " and segments[1].text == "شاورما" and segments[1].rtl
    assert segments[-1].text.endswith("8.50") and segments[-1].column + 4 <= 42


def test_an_rtl_run_is_drawn_right_to_left() -> None:
    """The final nun of "שולחן" (the only letter reaching below the baseline) is drawn leftmost."""
    png = encode_raster(layout_document({"blocks": [{"type": "text", "text": "שולחן"}]}))
    ink = png.point(lambda value: 255 - value)
    word = ink.getbbox()
    below = ink.crop((0, 20, png.width, 24)).getbbox()  # under the baseline (19)
    assert word is not None and below is not None
    assert below[0] - word[0] < (word[2] - word[0]) // 4


def test_arabic_letters_are_joined() -> None:
    """The same letters with zero-width non-joiners between them (same columns, same font) draw
    other glyphs: HarfBuzz joined them."""
    joined = render_png({"blocks": [{"type": "text", "text": "شاورما"}]})
    apart = render_png({"blocks": [{"type": "text", "text": "\u200c".join("شاورما")}]})
    assert columns(printable("\u200c".join("شاورما"))) == columns("شاورما")
    assert joined != apart


def test_a_script_without_a_font_prints_question_marks_and_says_what_to_install(
    monkeypatch: pytest.MonkeyPatch, caplog: pytest.LogCaptureFixture
) -> None:
    only_cjk = tuple(f for f in script_fonts.font_files() if "CJK" in f.path)
    monkeypatch.setattr(script_fonts, "font_files", lambda: only_cjk)
    with caplog.at_level(logging.WARNING, logger="bridge_agent.render.script_fonts"):
        data = render_document({"blocks": [{"type": "text", "text": "1x ต้มยำกุ้ง"}]})
        cjk = render_document({"blocks": [{"type": "text", "text": "2x 宫保鸡丁"}]})
    assert "1x ??????" in _texts(data) and b"\x1dv0" not in data
    assert b"\x1dv0" in cjk  # the scripts it has fonts for still print
    assert "THAI" in caplog.text and "fonts-noto-core" in caplog.text


def test_the_bidi_library_keeps_the_steps_the_renderer_calls() -> None:
    """script_fonts runs python-bidi's bidi.algorithm steps up to the levels (pinned 0.6.x)."""
    from importlib.metadata import version

    from bidi import algorithm  # type: ignore[import-untyped]

    assert version("python-bidi").startswith("0.6.")
    for step in (
        "get_empty_storage",
        "get_base_level",
        "get_embedding_levels",
        "explicit_embed_and_overrides",
        "resolve_weak_types",
        "resolve_neutral_types",
        "resolve_implicit_levels",
    ):
        assert callable(getattr(algorithm, step))


def test_the_agent_says_at_start_which_scripts_it_cannot_draw(
    monkeypatch: pytest.MonkeyPatch, caplog: pytest.LogCaptureFixture
) -> None:
    from bridge_agent import cli

    monkeypatch.setattr(script_fonts, "font_files", lambda: ())
    with caplog.at_level(logging.WARNING, logger="printrelay-bridge"):
        cli._check_fonts()
    assert "no font for Chinese, Japanese, Korean, Arabic, Hebrew, Thai, emoji" in caplog.text
    assert "fonts-noto-cjk" in caplog.text
