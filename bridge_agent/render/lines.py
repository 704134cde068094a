"""A printed line as dots: the one place text becomes a picture, for the PNG and the printer.

Geometry, as the printer lays out what the ESC/POS path sends:
- Font A cells are 12 x 24 dots, 24 wide with double width, 48 tall with double height.
- The text grid (42 columns = 504 dots on 80 mm, 32 = 384 on 58 mm) is centred on the paper's
  printable dots; ``ESC a`` aligns each line within the grid, in dots.
- A line feed advances the default line spacing (30 dots, 1/6 inch at 180 dpi, as ``ESC @``
  leaves it), or the line's cell height when that is taller.

``line_bitmap`` draws code-page characters in their cells with the cell font (``fonts``) and
the runs of other scripts shaped in a font that has them (``script_fonts``), then applies bold,
double size and underline as the printer applies them to its own font. The PNG pastes it where
the line goes; the ESC/POS path sends a line that no code page holds as that same picture
(``line_picture``, ``GS v 0``), so the paper and the PNG carry the same dots.
"""

from __future__ import annotations

import logging
from functools import lru_cache

from PIL import Image, ImageChops, ImageDraw

from bridge_agent.render.bitmaps import INK, PAPER
from bridge_agent.render.charset import needs_picture
from bridge_agent.render.errors import RenderError
from bridge_agent.render.fonts import CELL_HEIGHT_DOTS, CELL_WIDTH_DOTS, CellFont, cell_font, glyph
from bridge_agent.render.layout import Align, Style
from bridge_agent.render.line_layout import ResolvedLine, resolve_line
from bridge_agent.render.profile import Paper
from bridge_agent.render.script_fonts import FREETYPE_LOCK, FontFile, direction, shaped_font
from bridge_agent.render.wrap import columns

log = logging.getLogger(__name__)

LINE_SPACING_DOTS = 30  # ESC 2, the default after ESC @: 1/6 inch at 180 dpi
UNDERLINE_DOTS = 1  # ESC - 1
_RUN_CACHE_SIZE = 1024  # shaped runs kept drawn, per process


def text_margin(paper: Paper) -> int:
    """Dots from the printable edge to the text grid's first column."""
    return (paper.dots - paper.columns * CELL_WIDTH_DOTS) // 2


def cell_width(style: Style) -> int:
    return CELL_WIDTH_DOTS * (2 if style.size.double_width else 1)


def cell_height(style: Style) -> int:
    return CELL_HEIGHT_DOTS * (2 if style.size.double_height else 1)


def line_advance(style: Style) -> int:
    """Dots of paper a printed line takes."""
    return max(LINE_SPACING_DOTS, cell_height(style))


def line_left(paper: Paper, text: str, style: Style) -> int:
    """Where ``ESC a`` puts the line's first cell, in dots from the printable edge."""
    free = max(0, paper.columns * CELL_WIDTH_DOTS - columns(text) * cell_width(style))
    offset = {Align.LEFT: 0, Align.CENTER: free // 2, Align.RIGHT: free}[style.align]
    return text_margin(paper) + offset


def line_bitmap(
    text: str, style: Style, font: CellFont, breaks: tuple[int, ...] = ()
) -> Image.Image:
    """One line of text in its cells, emphasised and scaled as the printer does it.

    Bold is the printer's emphasis (each dot burnt twice, the second one dot to the right);
    double width and height scale the drawn dots, as the printer scales its bitmap font.
    """
    width = columns(text) * CELL_WIDTH_DOTS
    line = Image.new("1", (width, CELL_HEIGHT_DOTS), PAPER)
    if text.isascii():
        _paste_cells(line, text, 0, font)
    else:
        for segment in resolve_line(text, breaks).segments:
            left = segment.column * CELL_WIDTH_DOTS
            if segment.font is None:
                _paste_cells(line, segment.text, left, font)
            else:
                width_dots = segment.columns * CELL_WIDTH_DOTS
                run = _run_bitmap(segment.font, segment.text, width_dots, segment.rtl)
                line.paste(run, (left, 0))
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


def printed_line(text: str, breaks: tuple[int, ...] = ()) -> tuple[ResolvedLine | None, str]:
    """How the ESC/POS path prints ``text``: as a picture (the resolved line) or as text.

    A line that no code page holds is a picture when some font has its other characters and the
    cell font can be loaded; otherwise it is text with ``?`` for what cannot be drawn.
    """
    if not needs_picture(text):
        return None, text
    resolved = resolve_line(text, breaks)
    if resolved.is_picture and _cell_font_or_none() is not None:
        return resolved, text
    return None, resolved.fallback_text


def line_picture(
    text: str, style: Style, paper: Paper, breaks: tuple[int, ...] = ()
) -> Image.Image:
    """The paper a picture line takes: as wide as the printable dots, one line advance tall."""
    picture = Image.new("1", (paper.dots, line_advance(style)), PAPER)
    font = _cell_font_or_none()
    if font is None:  # printed_line() said it can be drawn; the font went missing since
        raise RenderError("the cell font is not available")
    left = line_left(paper, text, style)
    picture.paste(line_bitmap(text, style, font, breaks), (left, 0))
    return picture


def _cell_font_or_none() -> CellFont | None:
    try:
        return cell_font()
    except RenderError as exc:
        _warn_no_cell_font(str(exc))
        return None


@lru_cache(maxsize=4)
def _warn_no_cell_font(reason: str) -> None:
    log.warning("lines of other scripts print as '?': %s", reason)


def _paste_cells(line: Image.Image, text: str, left: int, font: CellFont) -> None:
    for index, char in enumerate(text):
        if char != " ":
            line.paste(glyph(font, char), (left + index * CELL_WIDTH_DOTS, 0))


@lru_cache(maxsize=_RUN_CACHE_SIZE)
def _run_bitmap(font: FontFile, text: str, width_dots: int, rtl: bool) -> Image.Image:
    """A run of shaped text, ``width_dots`` wide and one cell tall, from its left edge."""
    shaped = shaped_font(font, text, width_dots, rtl=rtl)
    run = Image.new("1", (width_dots, CELL_HEIGHT_DOTS), PAPER)
    with FREETYPE_LOCK:
        ImageDraw.Draw(run).text(
            (shaped.left, shaped.baseline),
            text,
            font=shaped.font,
            fill=INK,
            anchor="ls",
            direction=direction(rtl),
        )
    return run
