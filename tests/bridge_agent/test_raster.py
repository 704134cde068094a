"""The PNG of the paper against the ESC/POS bytes of the same document.

The text the raster encoder places is held equal, line by line and column by column (in dots),
to the printed lines decoded from the ESC/POS bytes (``escpos_listing``), read as the printer
reads them: ``ESC a`` aligns a line in the 42/32-column grid (centred on the printable dots),
``ESC !`` bit 5 doubles the width and bit 4 the height. Pixels are checked where they matter:
glyphs inside their cells, emphasis, underline, QR modules, barcode modules, image dots.
A line that the ESC/POS path sends as a picture (text that no code page holds) is held equal to
the PNG dot for dot, at the same height on the paper (``test_scripts``).
"""

from __future__ import annotations

import ast
import base64
import io
from collections.abc import Mapping
from concurrent.futures import ThreadPoolExecutor
from dataclasses import dataclass, field
from typing import Any

import pytest
from escpos.capabilities import get_profile
from escpos.codepages import CodePages
from PIL import Image

from bridge_agent.render import RenderError, fonts, render_document, render_png
from bridge_agent.render.layout import layout_document
from bridge_agent.render.lines import printed_line
from bridge_agent.render.profile import PROFILE_NAME, paper_for
from bridge_agent.render.raster import (
    LINE_SPACING_DOTS,
    PlacedBitmap,
    PlacedText,
    encode_raster,
    place,
)
from tests.bridge_agent.escpos_listing import listing
from tests.bridge_agent.tickets import KITCHEN_TICKET, LOGO_ROWS, RECEIPT, png_base64

# These draw text: without the font they skip locally, unless CI=true (tests/conftest.py).
pytestmark = pytest.mark.usefixtures("cell_font")

CELL_W, CELL_H = 12, 24  # font A, from the Epson reference

ALIGNMENTS: dict[str, Any] = {
    "blocks": [
        {"type": "text", "text": f"{align} {size}", "align": align, "size": size, "bold": bold}
        for align in ("left", "center", "right")
        for size, bold in (("normal", False), ("wide", True), ("tall", False), ("double", True))
    ]
    + [
        {"type": "text", "text": "odd", "align": "center"},  # centres on a half column
        {
            "type": "text",
            "text": "A long double width line that has to wrap over lines",
            "size": "double",
            "align": "center",
        },
        {"type": "text", "text": "under", "underline": True, "align": "right"},
        {"type": "text", "text": ""},
        {"type": "feed", "lines": 3},
        {"type": "row", "left": "2x Hamburguesa completa con patatas", "right": "19.00"},
        {"type": "rule", "char": "="},
    ]
}
TICKETS = {"alignments": ALIGNMENTS, "kitchen": KITCHEN_TICKET, "receipt": RECEIPT}


@dataclass(frozen=True)
class Printed:
    """A line as the printer prints it from the bytes: its text and where its cells go."""

    text: str
    bold: bool
    underline: bool
    double_width: bool
    double_height: bool
    cell_lefts: tuple[int, ...]
    top: int | None  # dots; None after a QR code or barcode (their height is not modelled)


@dataclass(frozen=True)
class Raster:
    """A ``GS v 0`` picture as the printer prints it: where it starts and its dots."""

    top: int | None
    image: Image.Image = field(compare=False)


def _codecs() -> dict[int, str]:
    pages = get_profile(PROFILE_NAME).get_code_pages()
    return {int(number): CodePages.get_encoding_name(name) for name, number in pages.items()}


def printed_lines(data: bytes, paper_width_mm: int) -> list[Printed]:
    """The text lines the ESC/POS bytes print, placed in dots as the printer places them."""
    return printed(data, paper_width_mm)[0]


def printed(data: bytes, paper_width_mm: int) -> tuple[list[Printed], list[Raster]]:
    """The text lines and the raster pictures the ESC/POS bytes print, placed in dots."""
    paper = paper_for(paper_width_mm)
    grid = paper.columns * CELL_W
    margin = (paper.dots - grid) // 2
    codecs = _codecs()
    lines: list[Printed] = []
    rasters: list[Raster] = []
    raster_rows: list[str] = []
    mode = align = page = 0
    bold = underline = False
    text = ""
    top: int | None = 0
    for entry in listing(data):
        command, _, argument = entry.rpartition(" ")
        if entry == "ESC @ (initialise)":
            mode = align = page = 0
            bold = underline = False
        elif command == "ESC ! (print mode)":
            mode = int(argument)
            bold, underline = bool(mode & 0x08), bool(mode & 0x80)
        elif command == "ESC E (bold)":
            bold = bool(int(argument) & 1)
        elif command == "ESC - (underline)":
            underline = int(argument) in (1, 2)
        elif command == "ESC a (align)":
            align = int(argument)
        elif command == "ESC t (code page)":
            page = int(argument)
        elif entry.startswith("TEXT "):
            text += ast.literal_eval(entry[5:]).decode(codecs[page])
        elif entry == "LF":
            double_width, double_height = bool(mode & 0x20), bool(mode & 0x10)
            if text:
                cell = CELL_W * (2 if double_width else 1)
                free = grid - len(text) * cell
                left = margin + (0, free // 2, free)[align]
                lefts = tuple(left + i * cell for i in range(len(text)))
                lines.append(
                    Printed(text, bold, underline, double_width, double_height, lefts, top)
                )
            height = CELL_H * 2 if text and double_height else 0
            top = None if top is None else top + max(LINE_SPACING_DOTS, height)
            text = ""
        elif command == "ESC d (feed lines)":
            top = None if top is None else top + int(argument) * LINE_SPACING_DOTS
        elif entry.startswith("GS v 0"):
            width, height = (int(n) for n in entry.split()[-2].split("x"))
            raster_rows = []
            rasters.append(Raster(top, Image.new("1", (width, height), 255)))
            top = None if top is None else top + height
        elif entry.startswith("  "):  # a row of the last raster: "dot N: ##.#" or "(blank)"
            first, _, pattern = entry.strip().partition(": ")
            if pattern:
                start = int(first.removeprefix("dot "))
                for x, dot in enumerate(pattern, start):
                    if dot == "#":
                        rasters[-1].image.putpixel((x, len(raster_rows)), 0)
            raster_rows.append(entry)
        elif entry.startswith(("GS k", "GS ( k QR print")):
            top = None
    return lines, rasters


def raster_lines(document: Mapping[str, Any], paper_width_mm: int) -> list[Printed]:
    placement = place(layout_document(document, paper_width_mm=paper_width_mm))
    lines: list[Printed] = []
    graphics_before = False
    for item in placement.items:
        if (isinstance(item, PlacedBitmap) and item.kind != "image") or (
            isinstance(item, PlacedText) and item.label
        ):
            graphics_before = True
        if isinstance(item, PlacedText) and not item.label and not is_picture_line(item.text):
            size = item.style.size
            lines.append(
                Printed(
                    item.text,
                    item.style.bold,
                    item.style.underline,
                    size.double_width,
                    size.double_height,
                    tuple(item.cell_lefts()),
                    None if graphics_before else item.top,
                )
            )
    return lines


def is_picture_line(text: str) -> bool:
    """Whether the ESC/POS path sends this line as a picture (as ``lines.printed_line`` does)."""
    return printed_line(text)[0] is not None


@pytest.mark.parametrize("width", [80, 58])
@pytest.mark.parametrize("name", sorted(TICKETS))
def test_png_text_is_placed_where_the_escpos_bytes_print_it(name: str, width: int) -> None:
    document = TICKETS[name]
    expected = printed_lines(render_document(document, paper_width_mm=width), width)
    assert len(expected) > 5
    assert raster_lines(document, width) == expected


def test_the_alignment_ticket_exercises_every_placement() -> None:
    lines = printed_lines(render_document(ALIGNMENTS, paper_width_mm=80), 80)
    lefts = {line.cell_lefts[0] for line in lines}
    assert 36 in lefts and any((left - 36) % CELL_W == 6 for left in lefts)  # half a column
    assert any(line.cell_lefts[-1] == 36 + 41 * CELL_W for line in lines)  # ends in column 41
    assert any(line.cell_lefts[-1] == 36 + 40 * CELL_W and line.double_width for line in lines)
    wrapped = [line for line in lines if line.double_width and not line.text.startswith("center")]
    assert len(wrapped) >= 3 and all(len(line.text) <= 21 for line in wrapped)
    assert len([line for line in lines if line.double_width and line.double_height]) >= 5


# -- pixels ------------------------------------------------------------------------------------


def _paper(blocks: list[dict[str, Any]], width: int = 80) -> Image.Image:
    image = encode_raster(layout_document({"blocks": blocks}, paper_width_mm=width))
    assert image.mode == "1" and image.width == paper_for(width).dots
    return image


def _ink_box(image: Image.Image) -> tuple[int, int, int, int]:
    box = image.point(lambda value: 255 - value).getbbox()  # getbbox finds non-zero: the ink
    assert box is not None
    return box


@pytest.mark.parametrize(("width", "last_cell_left"), [(80, 36 + 41 * 12), (58, 31 * 12)])
def test_a_right_aligned_character_is_inked_in_the_last_cell(
    width: int, last_cell_left: int
) -> None:
    left, top, right, bottom = _ink_box(
        _paper([{"type": "text", "text": "M", "align": "right"}], width)
    )
    assert last_cell_left <= left and right <= last_cell_left + CELL_W
    assert top >= 0 and bottom <= CELL_H


def test_a_left_aligned_character_is_inked_in_the_first_cell() -> None:
    left, _, right, _ = _ink_box(_paper([{"type": "text", "text": "M"}]))
    assert left >= 36 and right <= 36 + CELL_W


def test_double_size_fills_a_cell_twice_as_wide_and_tall() -> None:
    block = {"type": "text", "text": "M", "align": "right", "size": "double"}
    left, top, right, bottom = _ink_box(_paper([block]))
    assert left >= 36 + 40 * CELL_W and right <= 36 + 42 * CELL_W
    assert right - left > CELL_W and bottom - top > CELL_H


def test_bold_adds_ink_inside_the_same_cells() -> None:
    plain = _paper([{"type": "text", "text": "Hello"}])
    bold = _paper([{"type": "text", "text": "Hello", "bold": True}])
    assert bold.histogram()[0] > plain.histogram()[0]
    assert _ink_box(bold)[2] <= 36 + 5 * CELL_W


def test_underline_runs_under_exactly_the_text_cells() -> None:
    image = _paper([{"type": "text", "text": "abc de", "underline": True, "align": "right"}])
    row = [image.getpixel((x, CELL_H - 1)) for x in range(image.width)]
    inked = [x for x, value in enumerate(row) if value == 0]
    assert inked == list(range(36 + 36 * CELL_W, 36 + 42 * CELL_W))


def test_lines_advance_the_line_spacing_and_feeds_leave_blank_paper() -> None:
    image = _paper(
        [
            {"type": "text", "text": "one"},
            {"type": "feed", "lines": 2},
            {"type": "text", "text": "two"},
        ]
    )
    assert image.height == 4 * LINE_SPACING_DOTS
    blank = image.crop((0, LINE_SPACING_DOTS, image.width, 3 * LINE_SPACING_DOTS))
    assert blank.point(lambda value: 255 - value).getbbox() is None


def test_qr_modules_are_the_dots_the_escpos_path_asks_for() -> None:
    data = "https://example.com/r/1042"
    image = _paper([{"type": "qr", "data": data}])
    commands = listing(render_document({"blocks": [{"type": "qr", "data": data}]}))
    module = int(next(c for c in commands if "module size" in c).split()[-2])
    left, top, right, bottom = _ink_box(image)
    assert (left + right) // 2 == 576 // 2 and right - left == bottom - top
    assert (right - left) % module == 0 and (right - left) // module in (21, 25, 29, 33)
    finder = [image.getpixel((x, top)) for x in range(left, left + 8 * module)]
    assert finder == [0] * (7 * module) + [255] * module  # the finder's top edge: 7 modules


def _runs(row: list[int]) -> list[tuple[int, int]]:
    """(value, length) runs of a pixel row, ink and paper alternating."""
    runs: list[tuple[int, int]] = []
    for value in row:
        if runs and runs[-1][0] == value:
            runs[-1] = (value, runs[-1][1] + 1)
        else:
            runs.append((value, 1))
    return runs


@pytest.mark.parametrize(
    ("data", "symbology", "modules", "start", "end", "label"),
    [
        ("400638133393", "EAN13", 95, "101", "101", "4006381333931"),
        ("T-1042", "CODE128", 11 * 8 + 13, "11010010000", "1100011101011", "T-1042"),
    ],
)
def test_barcode_bars_are_whole_modules_with_the_text_below(
    data: str, symbology: str, modules: int, start: str, end: str, label: str
) -> None:
    block = {"type": "barcode", "data": data, "symbology": symbology}
    image = _paper([block])
    commands = listing(render_document({"blocks": [block]}))
    module = int(next(c for c in commands if c.startswith("GS w")).split()[-1])
    row = [image.getpixel((x, 10)) for x in range(image.width)]
    runs = _runs(row)[1:-1]  # without the paper on either side
    assert all(length % module == 0 for _, length in runs)
    bits = "".join(("1" if value == 0 else "0") * (length // module) for value, length in runs)
    assert len(bits) == modules and bits.startswith(start) and bits.endswith(end)
    placed = place(layout_document({"blocks": [block]}))
    labels = [item for item in placed.items if isinstance(item, PlacedText) and item.label]
    assert [item.text for item in labels] == [label]
    assert labels[0].top >= 64


def test_image_dots_are_the_raster_rows_the_escpos_path_sends() -> None:
    image = _paper([{"type": "image", "png_base64": png_base64(LOGO_ROWS)}])
    commands = listing(
        render_document({"blocks": [{"type": "image", "png_base64": png_base64(LOGO_ROWS)}]})
    )
    rows = [c.strip() for c in commands if c.startswith("  ")]
    assert image.height == len(rows) == len(LOGO_ROWS)
    for y, expected in enumerate(rows):
        first, _, pattern = expected.partition(": ")
        dots = "".join("#" if image.getpixel((x, y)) == 0 else "." for x in range(image.width))
        start = int(first.removeprefix("dot "))
        assert dots.find("#") == start and dots.rstrip(".")[start:] == pattern


def test_big_images_are_dithered_as_the_escpos_path_dithers_them() -> None:
    grey = Image.linear_gradient("L").resize((300, 1000))  # taller than one 960-dot fragment
    buffer = io.BytesIO()
    grey.save(buffer, "PNG")
    block = {"type": "image", "png_base64": base64.b64encode(buffer.getvalue()).decode()}
    image = _paper([block])
    rows = [c.strip() for c in listing(render_document({"blocks": [block]})) if c.startswith("  ")]
    assert len(rows) == image.height == 1000
    for y in (0, 500, 959, 960, 999):
        dots = "".join("#" if image.getpixel((x, y)) == 0 else "." for x in range(image.width))
        ink = dots.strip(".")
        assert (rows[y] == "(blank)") == (not ink)
        if ink:
            assert rows[y] == f"dot {dots.find('#')}: {ink}"


@pytest.mark.parametrize(("mode", "gap_in_middle"), [("full", False), ("partial", True)])
def test_a_cut_is_a_dashed_line_across_the_paper(mode: str, gap_in_middle: bool) -> None:
    image = _paper([{"type": "cut", "mode": mode}])
    rows = [y for y in range(image.height) if image.getpixel((0, y)) == 0]
    assert rows, "no dashed line"
    line = [image.getpixel((x, rows[0])) for x in range(image.width)]
    assert 0 < line.count(0) < image.width
    assert all(value == 255 for value in line[288 - 16 : 288 + 16]) == gap_in_middle


def test_render_png_gives_a_one_bit_png_at_printer_resolution() -> None:
    for width, dots in ((80, 576), (58, 384)):
        with Image.open(io.BytesIO(render_png(RECEIPT, paper_width_mm=width))) as png:
            assert png.format == "PNG" and png.mode == "1" and png.width == dots
            assert png.height > 20 * LINE_SPACING_DOTS


def test_a_malformed_document_raises_render_error() -> None:
    with pytest.raises(RenderError, match="unknown type"):
        render_png({"blocks": [{"type": "poster"}]}, paper_width_mm=80)


def test_a_font_setting_that_is_no_font_fails_clearly(monkeypatch: pytest.MonkeyPatch) -> None:
    monkeypatch.setenv(fonts.FONT_ENV, "/nonexistent/font.ttf")
    with pytest.raises(RenderError, match=r"cannot load the font /nonexistent/font\.ttf"):
        render_png(RECEIPT, paper_width_mm=80)


def test_no_font_found_names_the_package_to_install(monkeypatch: pytest.MonkeyPatch) -> None:
    monkeypatch.delenv(fonts.FONT_ENV, raising=False)
    monkeypatch.setattr(fonts, "DEJAVU_PATHS", ())
    monkeypatch.setattr(fonts, "OTHER_MONOSPACE_PATHS", ())
    monkeypatch.setattr(fonts, "_fc_match", lambda pattern: None)
    fonts._find_font.cache_clear()
    try:
        with pytest.raises(RenderError, match="install the fonts-dejavu-core package"):
            render_png(RECEIPT, paper_width_mm=80)
    finally:
        fonts._find_font.cache_clear()


def test_the_font_is_found_and_fits_the_cell() -> None:
    font = fonts.cell_font()
    assert font.advance == CELL_W and font.baseline < CELL_H
    assert "DejaVuSansMono" in font.path


def test_threads_rendering_at_once_draw_the_same_picture() -> None:
    """The server renders in a thread pool: the shared font and glyph cache must hold up."""
    expected = render_png(KITCHEN_TICKET, paper_width_mm=80)
    fonts._glyph.cache_clear()  # every thread starts by drawing glyphs, all at once
    with ThreadPoolExecutor(max_workers=8) as pool:
        pictures = list(
            pool.map(lambda width: render_png(KITCHEN_TICKET, paper_width_mm=width), [80] * 32)
        )
    assert all(picture == expected for picture in pictures)
