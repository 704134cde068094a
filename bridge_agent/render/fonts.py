"""The TrueType font the raster encoder draws text with, fitted to the printer's font A cell.

A thermal printer's font A is a bitmap font of 12 x 24 dot cells. The PNG draws the same cells
with a monospace TrueType font at the largest pixel size whose advance and height fit the cell
(DejaVu Sans Mono: 20 px, advance 12, ascent 19 + descent 5). Lookup order: an explicit path
(``PRINTRELAY_BRIDGE_FONT`` or the caller's), the usual DejaVu paths, fontconfig's ``fc-match``,
then the monospace fonts that Windows and macOS ship. Loading reads a file (and may run
``fc-match`` once): the only I/O of rendering, done once per process and font.
"""

from __future__ import annotations

import os
import shutil
import subprocess
import threading
from dataclasses import dataclass
from functools import lru_cache
from pathlib import Path

from PIL import Image, ImageDraw, ImageFont

from bridge_agent.render.errors import RenderError

FONT_ENV = "PRINTRELAY_BRIDGE_FONT"
FONT_PACKAGE = "fonts-dejavu-core"
CELL_WIDTH_DOTS = 12  # font A, as the printer's firmware draws it
CELL_HEIGHT_DOTS = 24
_LARGEST_SIZE_PX = 40
_FC_MATCH_TIMEOUT_S = 5
_GLYPH_CACHE_SIZE = 4096  # distinct characters kept drawn, per process (~100 bytes each)
# One FreeType face is shared by every render; the server may render in several threads.
_FREETYPE_LOCK = threading.Lock()

DEJAVU_PATHS = (
    "/usr/share/fonts/truetype/dejavu/DejaVuSansMono.ttf",  # Debian, Ubuntu
    "/usr/share/fonts/dejavu-sans-mono-fonts/DejaVuSansMono.ttf",  # Fedora
    "/usr/share/fonts/dejavu/DejaVuSansMono.ttf",
    "/usr/share/fonts/TTF/DejaVuSansMono.ttf",  # Arch
    "/usr/local/share/fonts/DejaVuSansMono.ttf",
)
OTHER_MONOSPACE_PATHS = (
    "C:/Windows/Fonts/consola.ttf",  # Consolas
    "C:/Windows/Fonts/cour.ttf",
    "/System/Library/Fonts/Menlo.ttc",
    "/Library/Fonts/Courier New.ttf",
)


@dataclass(frozen=True)
class CellFont:
    """A font drawn in the cell grid: glyph ``advance`` and the baseline's offset in the cell."""

    font: ImageFont.FreeTypeFont
    path: str
    size_px: int
    advance: int
    baseline: int  # dots from the top of the cell


def cell_font(path: str | None = None) -> CellFont:
    """The fitted font: ``path``, else ``PRINTRELAY_BRIDGE_FONT``, else the first one found.

    Raises RenderError naming the package to install when no font is found.
    """
    return _load(path or os.environ.get(FONT_ENV) or _find_font())


def glyph(font: CellFont, char: str) -> Image.Image:
    """One character drawn in a 12 x 24 cell (mode "1", ink 0), centred on its advance.

    Lines are assembled from these cells: a printer draws every character in its own cell, and
    pasting a cached cell costs microseconds where FreeType costs ~0.5 ms a line.
    """
    return _glyph(font.path, char)


@lru_cache(maxsize=_GLYPH_CACHE_SIZE)
def _glyph(path: str, char: str) -> Image.Image:
    font = _load(path)
    cell = Image.new("1", (CELL_WIDTH_DOTS, CELL_HEIGHT_DOTS), 255)
    with _FREETYPE_LOCK:
        x = (CELL_WIDTH_DOTS - font.font.getlength(char)) / 2
        ImageDraw.Draw(cell).text((x, font.baseline), char, font=font.font, fill=0, anchor="ls")
    return cell


@lru_cache(maxsize=8)
def _load(path: str) -> CellFont:
    try:
        for size in range(_LARGEST_SIZE_PX, 5, -1):
            # BASIC layout: one glyph per character, no ligatures or kerning, as a printer does
            font = ImageFont.truetype(path, size, layout_engine=ImageFont.Layout.BASIC)
            ascent, descent = font.getmetrics()
            advance = int(font.getlength("M"))
            if advance <= CELL_WIDTH_DOTS and ascent + descent <= CELL_HEIGHT_DOTS:
                return CellFont(
                    font=font,
                    path=path,
                    size_px=size,
                    advance=advance,
                    baseline=(CELL_HEIGHT_DOTS - ascent - descent) // 2 + ascent,
                )
    except OSError as exc:
        raise RenderError(f"cannot load the font {path}: {exc}") from exc
    raise RenderError(f"the font {path} does not fit a {CELL_WIDTH_DOTS}x{CELL_HEIGHT_DOTS} cell")


@lru_cache(maxsize=1)
def _find_font() -> str:
    for candidate in DEJAVU_PATHS:
        if Path(candidate).is_file():
            return candidate
    matched = _fc_match("DejaVu Sans Mono")
    if matched and Path(matched).name.startswith("DejaVuSansMono"):
        return matched
    for candidate in OTHER_MONOSPACE_PATHS:
        if Path(candidate).is_file():
            return candidate
    raise RenderError(
        "no monospace font to draw the ticket with: install the "
        f"{FONT_PACKAGE} package (apt-get install {FONT_PACKAGE}) "
        f"or set {FONT_ENV} to a monospace .ttf file"
    )


def _fc_match(pattern: str) -> str | None:
    """fontconfig's file for ``pattern``; fc-match always answers, so the caller checks it."""
    fc_match = shutil.which("fc-match")
    if fc_match is None:
        return None
    try:
        result = subprocess.run(  # noqa: S603  # fc-match from PATH, a fixed pattern
            [fc_match, "--format=%{file}", pattern],
            capture_output=True,
            text=True,
            timeout=_FC_MATCH_TIMEOUT_S,
            check=False,
        )
    except (OSError, subprocess.SubprocessError):
        return None
    return result.stdout.strip() or None
