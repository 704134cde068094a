"""Golden bytes for every block type, code pages, the drawer pulse, copies and raw jobs.

The expected bytes are written out by hand from the Epson ESC/POS reference, not produced by
the code under test: ESC @ = 1B 40, ESC t n = 1B 74 n, ESC ! n = 1B 21 n, ESC E n = 1B 45 n,
ESC - n = 1B 2D n, ESC a n = 1B 61 n, ESC d n = 1B 64 n, GS V m = 1D 56 m, GS k = 1D 6B,
GS ( k = 1D 28 6B, GS v 0 = 1D 76 30. python-escpos sends ESC ! three times for a size change.
"""

from __future__ import annotations

import base64
import contextlib
import io
import random
from typing import Any

import pytest
from PIL import Image

from bridge_agent.render import (
    DRAWER_PULSE,
    RenderError,
    columns_for,
    render_document,
    render_job,
    script_fonts,
)
from tests.bridge_agent.tickets import KITCHEN_TICKET, RECEIPT, png_base64

INIT = b"\x1b@"
CP437 = b"\x1bt\x00"  # python-escpos names the code page before the first text
LF = b"\n"
NORMAL = b"\x1b!\x00" * 3
DOUBLE = b"\x1b!\x00\x1b!\x00\x1b!\x30"
TALL = b"\x1b!\x00\x1b!\x00\x1b!\x10"
WIDE = b"\x1b!\x00\x1b!\x00\x1b!\x20"
BOLD_ON = b"\x1bE\x01"
BOLD_OFF = b"\x1bE\x00"
UNDERLINE_ON = b"\x1b-\x01"
LEFT, CENTER, RIGHT = b"\x1ba\x00", b"\x1ba\x01", b"\x1ba\x02"


def doc(*blocks: dict[str, Any]) -> dict[str, Any]:
    return {"blocks": list(blocks)}


def test_columns_for_the_two_paper_widths() -> None:
    assert columns_for(80) == 42
    assert columns_for(58) == 32
    with pytest.raises(ValueError):
        columns_for(76)


def test_row_at_42_columns() -> None:
    out = render_document(doc({"type": "row", "left": "2x Burger", "right": "19.00"}))
    assert out == INIT + CP437 + b"2x Burger" + b" " * 28 + b"19.00" + LF


def test_row_at_32_columns() -> None:
    out = render_document(
        doc({"type": "row", "left": "2x Burger", "right": "19.00"}), paper_width_mm=58
    )
    assert out == INIT + CP437 + b"2x Burger" + b" " * 18 + b"19.00" + LF


def test_row_wraps_left_and_keeps_right_on_the_last_line() -> None:
    left = "1x Tostada de jamon iberico con tomate y aceite"  # 47 columns
    out = render_document(doc({"type": "row", "left": left, "right": "9.00"}))
    first = b"1x Tostada de jamon iberico con tomate y"  # 40: "aceite" would make 47
    assert out == INIT + CP437 + first + LF + b"aceite" + b" " * 32 + b"9.00" + LF


def test_text_styles_are_sent_then_reset_only_when_they_change() -> None:
    out = render_document(
        doc(
            {"type": "text", "text": "COCINA", "align": "center", "bold": True, "size": "double"},
            {"type": "text", "text": "Mesa 7", "align": "center", "bold": True, "size": "double"},
            {"type": "text", "text": "Tall", "size": "tall", "underline": True},
            {"type": "text", "text": "Wide", "size": "wide", "align": "right"},
            {"type": "text", "text": "Bold", "bold": True},
            {"type": "text", "text": "Plain"},
        )
    )
    assert out == (
        INIT
        + DOUBLE + BOLD_ON + CENTER + CP437 + b"COCINA" + LF
        + b"Mesa 7" + LF
        + TALL + UNDERLINE_ON + LEFT + b"Tall" + LF
        + WIDE + RIGHT + b"Wide" + LF
        + NORMAL + BOLD_ON + LEFT + b"Bold" + LF
        + BOLD_OFF + b"Plain" + LF
    )  # fmt: skip


def test_rule_fills_the_width() -> None:
    assert render_document(doc({"type": "rule", "char": "="})) == INIT + CP437 + b"=" * 42 + LF
    out = render_document(doc({"type": "rule"}), paper_width_mm=58)
    assert out == INIT + CP437 + b"-" * 32 + LF


def test_rule_with_a_box_drawing_char_uses_its_code_page_byte() -> None:
    out = render_document(doc({"type": "rule", "char": "═"}), paper_width_mm=58)
    assert out == INIT + CP437 + b"\xcd" * 32 + LF  # CP437 0xCD is U+2550


@pytest.mark.parametrize("char", ["\x1b", "拉", "\u200b"])
def test_rule_with_an_unprintable_char_draws_dashes(char: str) -> None:
    assert render_document(doc({"type": "rule", "char": char})) == INIT + CP437 + b"-" * 42 + LF


def test_feed_sends_line_feeds() -> None:
    assert render_document(doc({"type": "feed", "lines": 3})) == INIT + CP437 + LF * 3


def test_qr_is_native_and_centred() -> None:
    data = b"https://example.com"  # 19 bytes: version 2 at level M, 33 modules with quiet zone
    out = render_document(doc({"type": "qr", "data": data.decode()}))
    assert out == (
        INIT
        + CENTER
        + b"\x1d(k\x04\x00\x31\x41\x32\x00"  # model 2
        + b"\x1d(k\x03\x00\x31\x43\x06"  # 6 dots per module
        + b"\x1d(k\x03\x00\x31\x45\x31"  # error correction M
        + b"\x1d(k\x16\x00\x31\x50\x30" + data  # store: 19 + 3 = 0x16 bytes
        + b"\x1d(k\x03\x00\x31\x51\x30"  # print
    )  # fmt: skip


def test_qr_modules_shrink_so_a_big_code_fits_58mm() -> None:
    data = "x" * 1000  # byte mode at level M: version 29, 133 modules + 8 quiet = 141
    out = render_document(doc({"type": "qr", "data": data}), paper_width_mm=58)
    assert b"\x1d(k\x03\x00\x31\x43\x02" in out  # 384 // 141 = 2 dots per module


def test_ean13_barcode_centred_with_text_below() -> None:
    out = render_document(doc({"type": "barcode", "data": "400638133393", "symbology": "EAN13"}))
    assert out == (
        INIT
        + CENTER
        + b"\x1dh\x40"  # height 64 dots
        + b"\x1dw\x03"  # 3 dots per module
        + b"\x1df\x00"  # HRI font A
        + b"\x1dH\x02"  # HRI below
        + b"\x1dk\x02400638133393\x00"  # EAN13, function A, NUL-terminated
    )


def test_code128_gets_code_set_b_and_escapes_braces() -> None:
    out = render_document(
        doc({"type": "barcode", "data": "AB{1", "symbology": "CODE128"}), paper_width_mm=58
    )
    assert out == (
        INIT
        + CENTER
        + b"\x1dh\x40\x1dw\x03\x1df\x00\x1dH\x02"
        + b"\x1dk\x49\x07{BAB{{1"  # CODE128, function B, 7 bytes
    )


def test_code128_narrows_its_modules_then_falls_back_to_text() -> None:
    # 11 * (n + 2) + 13 modules: 14 chars = 189 modules, x2 = 378 dots fit 384 (x3 do not)
    fits = render_document(
        doc({"type": "barcode", "data": "A" * 14, "symbology": "CODE128"}), paper_width_mm=58
    )
    assert b"\x1dw\x02" in fits
    too_long = render_document(
        doc({"type": "barcode", "data": "A" * 15, "symbology": "CODE128"}), paper_width_mm=58
    )
    assert too_long == INIT + CENTER + CP437 + b"A" * 15 + LF


def test_image_is_centred_on_a_paper_wide_raster() -> None:
    png = png_base64(["########", "########"])  # 8 x 2 black
    out = render_document(doc({"type": "image", "png_base64": png}), paper_width_mm=58)
    # 384 dots = 48 bytes a row; the picture starts at dot (384 - 8) // 2 = 188 = byte 23, bit 4
    row = bytes(23) + b"\x0f\xf0" + bytes(23)
    assert out == INIT + b"\x1dv0\x00\x30\x00\x02\x00" + row + row


def test_wide_image_is_scaled_down_to_the_paper() -> None:
    png = png_base64(["#" * 1152] * 4)  # twice as wide as 80 mm paper
    out = render_document(doc({"type": "image", "png_base64": png}))
    header = b"\x1dv0\x00\x48\x00\x02\x00"  # 72 bytes (576 dots) x 2 rows
    assert out == INIT + header + b"\xff" * 144


@pytest.mark.parametrize(("mode", "byte"), [("full", b"\x00"), ("partial", b"\x01")])
def test_cut_feeds_past_the_cutter_then_cuts(mode: str, byte: bytes) -> None:
    out = render_document(doc({"type": "cut", "mode": mode}))
    assert out == INIT + b"\x1bd\x06" + b"\x1dV" + byte


def test_accents_use_cp437() -> None:
    out = render_document(doc({"type": "text", "text": "Crème brûlée, ñandú, über"}))
    text = b"Cr\x8ame br\x96l\x82e, \xa4and\xa3, \x81ber"
    assert out == INIT + CP437 + text + LF


def test_decomposed_accents_are_composed_first() -> None:
    out = render_document(doc({"type": "text", "text": "Cafe\u0301"}))
    assert out == INIT + CP437 + b"Caf\x82" + LF


def test_euro_switches_to_a_code_page_that_has_it_and_back() -> None:
    out = render_document(doc({"type": "text", "text": "Total 5 € é"}))
    # TM-T88V page 15 is ISO 8859-7 (euro at 0xA4); é is not in it, so back to page 0
    assert out == INIT + CP437 + b"Total 5 " + b"\x1bt\x0f\xa4 " + CP437 + b"\x82" + LF


@pytest.fixture
def no_script_fonts(monkeypatch: pytest.MonkeyPatch) -> None:
    """A machine with no font for other scripts (the cell font may still be there)."""
    monkeypatch.setattr(script_fonts, "font_files", lambda: ())


@pytest.mark.usefixtures("no_script_fonts")
def test_without_a_font_ideographs_print_as_a_question_mark_a_column(
    caplog: pytest.LogCaptureFixture,
) -> None:
    with caplog.at_level("WARNING", logger="bridge_agent.render.script_fonts"):
        out = render_document(doc({"type": "text", "text": "Ramen 拉面 é"}))
    assert out == INIT + CP437 + b"Ramen ???? \x82" + LF  # an ideograph takes two columns
    assert "拉面".encode("gb18030") not in out
    assert "fonts-noto-cjk" in caplog.text and "PRINTRELAY_BRIDGE_SCRIPT_FONTS" in caplog.text


@pytest.mark.usefixtures("no_script_fonts")
def test_half_width_katakana_print_in_code_page_1() -> None:
    out = render_document(doc({"type": "text", "text": "ﾗｰﾒﾝ ラーメン"}))
    assert out == INIT + b"\x1bt\x01\xd7\xb0\xd2\xdd " + b"?" * 8 + LF


def test_python_escpos_alone_would_send_gb18030() -> None:
    """Why charset replaces ideographs: python-escpos's shortcut ignores the profile."""
    from escpos.printer import Dummy

    printer = Dummy(profile="TM-T88V")
    printer.text("拉面 é")
    assert printer.output == "拉面 é".encode("gb18030")


def test_drawer_pulse_comes_first_and_once() -> None:
    job = {"document": doc({"type": "text", "text": "Hi"}), "drawer_pulse": True, "copies": 3}
    out = render_job(job)
    assert bytes.fromhex("1B 70 00 19 FA") == DRAWER_PULSE
    assert out.startswith(INIT + DRAWER_PULSE + CP437 + b"Hi\n")
    assert out.count(DRAWER_PULSE) == 1
    assert out == INIT + DRAWER_PULSE + CP437 + b"Hi\n" + (INIT + CP437 + b"Hi\n") * 2


def test_no_drawer_pulse_unless_asked() -> None:
    out = render_job({"document": KITCHEN_TICKET, "copies": 1})
    assert b"\x1bp" not in out
    assert out == render_document(KITCHEN_TICKET)


def test_copies_repeat_the_ticket_each_with_its_own_cut() -> None:
    one = render_document(RECEIPT, paper_width_mm=58)
    out = render_job({"document": RECEIPT, "copies": 3}, paper_width_mm=58)
    assert out == one * 3
    assert out.count(b"\x1dV\x00") == 3


def test_raw_bytes_pass_through_untouched() -> None:
    raw = bytes(range(256)) + b"\x1b@\x1dV\x00^XA^FDhello^FS^XZ"
    job = {"raw": {"encoding": "base64", "data": base64.b64encode(raw).decode()}, "copies": 2}
    assert render_job(job) == raw + raw


def test_raw_with_drawer_pulse_prepends_it() -> None:
    raw = b"\x00\x1b\x40SIZE 50 mm\r\n"
    job = {
        "raw": {"encoding": "base64", "data": base64.b64encode(raw).decode()},
        "drawer_pulse": True,
        "copies": 2,
        "document": None,
    }
    assert render_job(job) == DRAWER_PULSE + raw + raw


@pytest.mark.parametrize(
    "job",
    [
        {"document": None, "raw": None},
        {"document": doc({"type": "feed"}), "raw": {"encoding": "base64", "data": "AA=="}},
        {"raw": {"encoding": "hex", "data": "00"}},
        {"raw": {"encoding": "base64", "data": "not base64!"}},
        {"document": doc({"type": "feed"}), "copies": 0},
        {"document": doc({"type": "feed"}), "copies": True},
        {"document": doc({"type": "feed"}), "drawer_pulse": "yes"},
        {"document": doc({"type": "marquee", "text": "hi"})},
        {"document": doc({"type": "text", "text": 42})},
        {"document": doc({"type": "text", "text": "hi", "size": "huge"})},
        {"document": doc({"type": "feed", "lines": 0})},
        {"document": doc({"type": "barcode", "data": "12345", "symbology": "EAN13"})},
        {"document": doc({"type": "barcode", "data": "café", "symbology": "CODE128"})},
        {"document": doc({"type": "barcode", "data": "123", "symbology": "QR"})},
        {"document": doc({"type": "qr", "data": "\x1b\x00"})},
        {"document": doc({"type": "image", "png_base64": "%%%"})},
        {"document": doc({"type": "image", "png_base64": base64.b64encode(b"GIF89a").decode()})},
        {"document": {"blocks": "text"}},
    ],
)
def test_malformed_jobs_raise_render_error(job: dict[str, Any]) -> None:
    with pytest.raises(RenderError):
        render_job(job)


def test_oversized_image_is_refused_before_decoding() -> None:
    png = base64.b64decode(png_base64(["#"]))
    huge = png[:16] + (10_000).to_bytes(4, "big") * 2 + png[24:]  # claims 10000 x 10000
    job = {"document": doc({"type": "image", "png_base64": base64.b64encode(huge).decode()})}
    with pytest.raises(RenderError, match="pixels"):
        render_job(job)


def test_corrupt_pngs_raise_render_error_only() -> None:
    png = base64.b64decode(png_base64(["#.#.#.#."] * 40))
    rng = random.Random(7)  # fixed seed: the same 300 corruptions every run
    for _ in range(300):
        corrupt = bytearray(png)
        for _ in range(rng.randint(1, 4)):
            corrupt[rng.randrange(8, len(corrupt))] = rng.randrange(256)
        if rng.random() < 0.3:
            corrupt = corrupt[: rng.randrange(len(corrupt))]
        image = {"type": "image", "png_base64": base64.b64encode(bytes(corrupt)).decode()}
        with contextlib.suppress(RenderError):  # anything else fails the test
            render_document(doc(image))


def test_transparent_pixels_print_as_paper() -> None:
    image = Image.new("RGBA", (8, 1), (0, 0, 0, 0))
    for x in range(4, 8):
        image.putpixel((x, 0), (0, 0, 0, 255))
    buffer = io.BytesIO()
    image.save(buffer, "PNG")
    png = base64.b64encode(buffer.getvalue()).decode()
    out = render_document(doc({"type": "image", "png_base64": png}), paper_width_mm=58)
    row = bytes(24) + b"\xf0" + bytes(23)  # dots 188-191 transparent, 192-195 black
    assert out == INIT + b"\x1dv0\x00\x30\x00\x01\x00" + row


def test_rendering_is_deterministic_and_silent(capsys: pytest.CaptureFixture[str]) -> None:
    first = render_job({"document": RECEIPT, "copies": 2, "drawer_pulse": True})
    second = render_job({"document": RECEIPT, "copies": 2, "drawer_pulse": True})
    assert first == second
    assert capsys.readouterr() == ("", "")
