"""Raster encoder: a Layout becomes a 1-bit PNG of the paper, at the printer's resolution.

The third reader of the one layout (beside ``escpos`` and ``preview``): 203 dpi, as wide as the
paper's printable dots (576 on 80 mm, 384 on 58 mm), black where the head burns a dot.

Geometry, as the printer lays out what the ESC/POS path sends: text lines as ``lines`` says
(font A cells in a grid centred on the printable dots, the line spacing of ``ESC @``); images,
QR codes and barcodes centred on the whole dot width and advancing by their own height; a
barcode's human-readable text a font A line below it.

Placement (``place``) is a pure function of the layout, apart from drawing: the tests hold the
text it places equal, line by line and column by column, to what the ESC/POS bytes print, and
a line of another script equal, dot for dot, to the picture the ESC/POS path sends for it.
"""

from __future__ import annotations

import io
from collections.abc import Mapping
from dataclasses import dataclass, field
from typing import Any

from PIL import Image, ImageDraw

from bridge_agent.render import bitmaps
from bridge_agent.render.bitmaps import INK, PAPER
from bridge_agent.render.escpos import BARCODE_HEIGHT_DOTS
from bridge_agent.render.fonts import CELL_WIDTH_DOTS, cell_font
from bridge_agent.render.layout import (
    PLAIN,
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
from bridge_agent.render.lines import (
    LINE_SPACING_DOTS,
    cell_height,
    cell_width,
    line_advance,
    line_bitmap,
    line_left,
)
from bridge_agent.render.profile import Paper
from bridge_agent.render.wrap import columns

__all__ = ["LINE_SPACING_DOTS", "encode_png", "encode_raster", "place", "render_png"]
BARCODE_HRI_GAP_DOTS = 4  # between the bars and their human-readable text
# The blank paper between the last line and a cut: python-escpos feeds 6 lines (ESC d 6) to
# bring the last line past the cutter, which sits about 4 lines above the head.
CUT_GAP_DOTS = 2 * LINE_SPACING_DOTS
CUT_DASH_DOTS = 8  # the dashed line that marks a cut: dash and gap lengths
CUT_LINE_DOTS = 2  # its thickness
PARTIAL_CUT_BRIDGE_DOTS = 48  # a partial cut leaves the paper joined in the middle


@dataclass(frozen=True)
class PlacedText:
    """A line of text where the paper shows it: the first cell's top-left corner, in dots."""

    text: str
    style: Style
    top: int
    left: int
    label: bool = False  # a barcode's human-readable text, not a layout line
    breaks: tuple[int, ...] = ()  # where the line's fields start (TextLine.breaks)

    @property
    def cell_width(self) -> int:
        return cell_width(self.style)

    @property
    def cell_height(self) -> int:
        return cell_height(self.style)

    def cell_lefts(self) -> list[int]:
        """The left edge of each column's cell, in dots from the paper's printable edge."""
        return [self.left + index * self.cell_width for index in range(columns(self.text))]


@dataclass(frozen=True)
class PlacedBitmap:
    bitmap: Image.Image = field(compare=False)
    top: int
    left: int
    kind: str  # "image", "qr" or "barcode"


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
            case PlacedText(text=text, style=style, top=top, left=left, breaks=breaks):
                paper.paste(line_bitmap(text, style, font, breaks), (left, top))
            case PlacedBitmap(bitmap=bitmap, top=top, left=left):
                paper.paste(bitmap, (left, top))
            case PlacedCut(mode=mode, top=top):
                _draw_cut(draw, placement.paper.dots, top, mode)
    return paper


def place(layout: Layout) -> Placement:
    """Where every item of the layout goes on the paper."""
    paper = layout.paper
    items: list[Placed] = []
    y = 0
    for item in layout.items:
        match item:
            case TextLine(text=text, style=style, breaks=breaks):
                if not text:  # the ESC/POS path sends a bare LF: the printer feeds one line
                    y += LINE_SPACING_DOTS
                    continue
                left = line_left(paper, text, style)
                items.append(PlacedText(text, style, y, left, breaks=breaks))
                y += line_advance(style)
            case Feed(lines=lines):
                y += lines * LINE_SPACING_DOTS
            case QrCode(data=data, module_dots=module_dots):
                y = _centred(items, bitmaps.qr_bitmap(data, module_dots), paper, y, "qr")
            case Barcode(symbology=symbology, data=data, module_dots=module_dots):
                modules, human = bitmaps.barcode_modules(symbology, data)
                bars = bitmaps.bars_bitmap(modules, module_dots, BARCODE_HEIGHT_DOTS)
                y = _centred(items, bars, paper, y, "barcode") + BARCODE_HRI_GAP_DOTS
                label_left = (paper.dots - len(human) * CELL_WIDTH_DOTS) // 2
                items.append(PlacedText(human, PLAIN, y, label_left, label=True))
                y += LINE_SPACING_DOTS
            case Picture(canvas=canvas):
                items.append(PlacedBitmap(bitmaps.picture_bitmap(canvas), y, 0, "image"))
                y += canvas.height
            case Cut(mode=mode):
                y += CUT_GAP_DOTS
                items.append(PlacedCut(mode, y))
                y += CUT_LINE_DOTS + CUT_GAP_DOTS
    return Placement(paper=paper, height=y, items=tuple(items))


def _centred(items: list[Placed], bitmap: Image.Image, paper: Paper, y: int, kind: str) -> int:
    items.append(PlacedBitmap(bitmap, y, (paper.dots - bitmap.width) // 2, kind))
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
