"""Raster encoder: a Layout becomes a 1-bit PNG of the paper, at the printer's resolution.

The third reader of the one layout (beside ``escpos`` and ``preview``): 203 dpi, as wide as the
paper's printable dots (576 on 80 mm, 384 on 58 mm), black where the head burns a dot.

Geometry, as the printer lays out what the ESC/POS path sends:
- Text is font A: cells of 12 x 24 dots, 24 wide with double width, 48 tall with double height.
  The layout's text grid (42 columns = 504 dots on 80 mm, 32 = 384 on 58 mm) is centred on the
  printable dots, on the same axis as the images, QR codes and barcodes, which the ESC/POS path
  centres on the whole dot width; ``ESC a`` aligns each line within that grid, in dots.
- A line feed advances the default line spacing (30 dots, 1/6 inch at 180 dpi, as ``ESC @``
  leaves it), or the line's cell height when that is taller.
- Graphics advance by their own height; a barcode's human-readable text is a font A line below.

Placement (``place``) is a pure function of the layout, apart from drawing: the tests hold the
text it places equal, line by line and column by column, to what the ESC/POS bytes print.
Text is drawn one line at a time by ``line_bitmap`` into the line's cells, so a line of another
script can be drawn into the same grid by another line drawer.
"""

from __future__ import annotations

import io
from collections.abc import Mapping
from dataclasses import dataclass, field
from typing import Any

from PIL import Image, ImageChops, ImageDraw

from bridge_agent.render import bitmaps
from bridge_agent.render.bitmaps import INK, PAPER
from bridge_agent.render.escpos import BARCODE_HEIGHT_DOTS
from bridge_agent.render.fonts import (
    CELL_HEIGHT_DOTS,
    CELL_WIDTH_DOTS,
    CellFont,
    cell_font,
    glyph,
)
from bridge_agent.render.layout import (
    PLAIN,
    Align,
    Barcode,
    Cut,
    CutMode,
    Feed,
    Layout,
    Picture,
    QrCode,
    Style,
    TextLine,
    layout_document,
)
from bridge_agent.render.profile import Paper

LINE_SPACING_DOTS = 30  # ESC 2, the default after ESC @: 1/6 inch at 180 dpi
BARCODE_HRI_GAP_DOTS = 4  # between the bars and their human-readable text
# The blank paper between the last line and a cut: python-escpos feeds 6 lines (ESC d 6) to
# bring the last line past the cutter, which sits about 4 lines above the head.
CUT_GAP_DOTS = 2 * LINE_SPACING_DOTS
CUT_DASH_DOTS = 8  # the dashed line that marks a cut: dash and gap lengths
CUT_LINE_DOTS = 2  # its thickness
PARTIAL_CUT_BRIDGE_DOTS = 48  # a partial cut leaves the paper joined in the middle
UNDERLINE_DOTS = 1  # ESC - 1


@dataclass(frozen=True)
class PlacedText:
    """A line of text where the paper shows it: the first cell's top-left corner, in dots."""

    text: str
    style: Style
    top: int
    left: int
    label: bool = False  # a barcode's human-readable text, not a layout line

    @property
    def cell_width(self) -> int:
        return CELL_WIDTH_DOTS * (2 if self.style.size.double_width else 1)

    @property
    def cell_height(self) -> int:
        return CELL_HEIGHT_DOTS * (2 if self.style.size.double_height else 1)

    def cell_lefts(self) -> list[int]:
        """The left edge of each character's cell, in dots from the paper's printable edge."""
        return [self.left + index * self.cell_width for index in range(len(self.text))]


@dataclass(frozen=True)
class PlacedBitmap:
    bitmap: Image.Image = field(compare=False)
    top: int
    left: int


@dataclass(frozen=True)
class PlacedCut:
    mode: CutMode
    top: int


Placed = PlacedText | PlacedBitmap | PlacedCut


@dataclass(frozen=True)
class Placement:
    paper: Paper
    height: int  # dots of paper the layout takes
    items: tuple[Placed, ...]

    def text_lines(self) -> list[PlacedText]:
        """The layout's printed text lines (empty lines only feed), top to bottom."""
        return [item for item in self.items if isinstance(item, PlacedText) and not item.label]


def text_margin(paper: Paper) -> int:
    """Dots from the printable edge to the text grid's first column."""
    return (paper.dots - paper.columns * CELL_WIDTH_DOTS) // 2


def render_png(document: Mapping[str, Any], *, paper_width_mm: int = 80) -> bytes:
    """One copy of the document as a 1-bit PNG (mode "1") of the paper. Raises RenderError."""
    return encode_png(layout_document(document, paper_width_mm=paper_width_mm))


def encode_png(layout: Layout, *, font_path: str | None = None) -> bytes:
    buffer = io.BytesIO()
    encode_raster(layout, font_path=font_path).save(buffer, "PNG")
    return buffer.getvalue()


def encode_raster(layout: Layout, *, font_path: str | None = None) -> Image.Image:
    """The paper as a mode "1" picture, ``layout.paper.dots`` wide."""
    font = cell_font(font_path)  # before any drawing: a missing font fails the whole render
    placement = place(layout)
    paper = Image.new("1", (placement.paper.dots, max(1, placement.height)), PAPER)
    draw = ImageDraw.Draw(paper)
    for item in placement.items:
        match item:
            case PlacedText(text=text, style=style, top=top, left=left):
                paper.paste(line_bitmap(text, style, font), (left, top))
            case PlacedBitmap(bitmap=bitmap, top=top, left=left):
                paper.paste(bitmap, (left, top))
            case PlacedCut(mode=mode, top=top):
                _draw_cut(draw, placement.paper.dots, top, mode)
    return paper


def place(layout: Layout) -> Placement:
    """Where every item of the layout goes on the paper."""
    paper = layout.paper
    margin = text_margin(paper)
    grid = paper.columns * CELL_WIDTH_DOTS
    items: list[Placed] = []
    y = 0
    for item in layout.items:
        match item:
            case TextLine(text=text, style=style):
                if not text:  # the ESC/POS path sends a bare LF: the printer feeds one line
                    y += LINE_SPACING_DOTS
                    continue
                line = PlacedText(text, style, y, 0)
                width = len(text) * line.cell_width
                free = max(0, grid - width)
                offset = {Align.LEFT: 0, Align.CENTER: free // 2, Align.RIGHT: free}[style.align]
                items.append(PlacedText(text, style, y, margin + offset))
                y += max(LINE_SPACING_DOTS, line.cell_height)
            case Feed(lines=lines):
                y += lines * LINE_SPACING_DOTS
            case QrCode(data=data, module_dots=module_dots):
                y = _centred(items, bitmaps.qr_bitmap(data, module_dots), paper, y)
            case Barcode(symbology=symbology, data=data, module_dots=module_dots):
                modules, human = bitmaps.barcode_modules(symbology, data)
                bars = bitmaps.bars_bitmap(modules, module_dots, BARCODE_HEIGHT_DOTS)
                y = _centred(items, bars, paper, y) + BARCODE_HRI_GAP_DOTS
                label_left = (paper.dots - len(human) * CELL_WIDTH_DOTS) // 2
                items.append(PlacedText(human, PLAIN, y, label_left, label=True))
                y += LINE_SPACING_DOTS
            case Picture(canvas=canvas):
                items.append(PlacedBitmap(bitmaps.picture_bitmap(canvas), y, 0))
                y += canvas.height
            case Cut(mode=mode):
                y += CUT_GAP_DOTS
                items.append(PlacedCut(mode, y))
                y += CUT_LINE_DOTS + CUT_GAP_DOTS
    return Placement(paper=paper, height=y, items=tuple(items))


def line_bitmap(text: str, style: Style, font: CellFont) -> Image.Image:
    """One line of text in its cells: each character in its cell at font A size, then the line
    emphasised and scaled.

    Bold is the printer's emphasis (each dot burnt twice, the second one dot to the right);
    double width and height scale the drawn dots, as the printer scales its bitmap font.
    """
    width = len(text) * CELL_WIDTH_DOTS
    line = Image.new("1", (width, CELL_HEIGHT_DOTS), PAPER)
    for index, char in enumerate(text):
        if char != " ":
            line.paste(glyph(font, char), (index * CELL_WIDTH_DOTS, 0))
    if style.bold:
        shifted = Image.new("1", line.size, PAPER)
        shifted.paste(line.crop((0, 0, width - 1, CELL_HEIGHT_DOTS)), (1, 0))
        line = ImageChops.logical_and(line, shifted)  # ink (0) wherever either has ink
    if style.size.double_width or style.size.double_height:
        scale_x = 2 if style.size.double_width else 1
        scale_y = 2 if style.size.double_height else 1
        line = line.resize((width * scale_x, CELL_HEIGHT_DOTS * scale_y), Image.Resampling.NEAREST)
    if style.underline:
        bottom = line.height - UNDERLINE_DOTS
        ImageDraw.Draw(line).rectangle((0, bottom, line.width - 1, line.height - 1), fill=INK)
    return line


def _centred(items: list[Placed], bitmap: Image.Image, paper: Paper, y: int) -> int:
    items.append(PlacedBitmap(bitmap, y, (paper.dots - bitmap.width) // 2))
    return y + bitmap.height


def _draw_cut(draw: ImageDraw.ImageDraw, dots: int, top: int, mode: CutMode) -> None:
    bridge = range(0)
    if mode is CutMode.PARTIAL:
        middle = dots // 2
        bridge = range(middle - PARTIAL_CUT_BRIDGE_DOTS // 2, middle + PARTIAL_CUT_BRIDGE_DOTS // 2)
    for x in range(0, dots, 2 * CUT_DASH_DOTS):
        end = min(dots, x + CUT_DASH_DOTS) - 1
        if x in bridge or end in bridge:
            continue
        draw.rectangle((x, top, end, top + CUT_LINE_DOTS - 1), fill=INK)
