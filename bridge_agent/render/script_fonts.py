"""Fonts for the scripts that no code page holds: which font draws a character, and at what size.

A line that holds CJK, Arabic, Hebrew, Thai, emoji or any other text beyond the printer's code
pages is printed as a picture (``line_layout`` splits it into cells and runs). Each run of other
text is shaped by FreeType + HarfBuzz + FriBidi (Pillow's raqm layout: Arabic joining,
right-to-left order, Thai marks, emoji sequences) in a font that covers it, inside the columns
that ``wrap`` gave it.

Fonts are looked up in this order: ``PRINTRELAY_BRIDGE_SCRIPT_FONTS`` (files separated by the
OS's path separator, ``file.ttc#2`` for a face of a collection), then Debian's Noto fonts
(fonts-noto-cjk, fonts-noto-core) and Symbola (fonts-symbola, monochrome emoji), then the fonts
Windows and macOS ship. A font's character map is read once (fontTools) when a character is first
looked for in it. A character no font covers prints as ``?`` and is logged once per script with
the packages to install: the rest of the ticket still prints.
"""

from __future__ import annotations

import glob
import logging
import os
import threading
import unicodedata
from dataclasses import dataclass
from functools import lru_cache
from pathlib import Path

from fontTools.ttLib import TTCollection, TTFont  # type: ignore[import-untyped]
from PIL import ImageFont, features

from bridge_agent.render.charset import in_code_page
from bridge_agent.render.wrap import graphemes

log = logging.getLogger(__name__)

SCRIPT_FONTS_ENV = "PRINTRELAY_BRIDGE_SCRIPT_FONTS"
SCRIPT_FONT_PACKAGES = "fonts-noto-cjk fonts-noto-core fonts-symbola"
_NOTO = "/usr/share/fonts/truetype/noto"
_CJK_SC_FACE = 2  # NotoSansCJK-Regular.ttc: JP, KR, SC, TC, HK; SC holds the mainland forms
# Tried first, in this order: the usual menu scripts, then the rest of Noto, emoji, symbols.
_PREFERRED = (
    f"/usr/share/fonts/opentype/noto/NotoSansCJK-Regular.ttc#{_CJK_SC_FACE}",
    f"{_NOTO}/NotoSansArabic-Regular.ttf",
    f"{_NOTO}/NotoSansHebrew-Regular.ttf",
    f"{_NOTO}/NotoSansThai-Regular.ttf",
    f"{_NOTO}/NotoSansDevanagari-Regular.ttf",
    f"{_NOTO}/NotoSans-Regular.ttf",
)
_AFTER_NOTO = (
    "/usr/share/fonts/truetype/ancient-scripts/Symbola_hint.ttf",
    "/usr/share/fonts/truetype/dejavu/DejaVuSans.ttf",
    # Windows
    "C:/Windows/Fonts/msyh.ttc#0",
    "C:/Windows/Fonts/arial.ttf",
    "C:/Windows/Fonts/tahoma.ttf",
    "C:/Windows/Fonts/malgun.ttf",
    "C:/Windows/Fonts/seguisym.ttf",
    # macOS
    "/System/Library/Fonts/PingFang.ttc#0",
    "/System/Library/Fonts/Supplemental/Arial Unicode.ttf",
    "/System/Library/Fonts/Supplemental/Tahoma.ttf",
    "/System/Library/Fonts/Apple Symbols.ttf",
)
# Characters a font need not have for a cluster to be drawn: joiners and variation selectors.
_IGNORABLE = frozenset({"\u200c", "\u200d", "\ufe0e", "\ufe0f"})
_CELL_HEIGHT_DOTS = 24
_BASELINE_DOTS = 19  # where DejaVu Sans Mono's baseline sits in the font A cell
_LARGEST_SIZE_PX = 24
_SMALLEST_SIZE_PX = 8

# FreeType faces are not thread-safe, and the server renders in several threads.
FREETYPE_LOCK = threading.RLock()


@dataclass(frozen=True)
class FontFile:
    path: str
    index: int = 0

    @property
    def name(self) -> str:
        return Path(self.path).name + (f"#{self.index}" if self.index else "")


def font_files() -> tuple[FontFile, ...]:
    """The fonts to look in, in order; only files that exist."""
    return _font_files(os.environ.get(SCRIPT_FONTS_ENV, ""))


@lru_cache(maxsize=4)
def _font_files(setting: str) -> tuple[FontFile, ...]:
    named = [entry for entry in setting.split(os.pathsep) if entry.strip()]
    rest_of_noto = sorted(glob.glob(f"{_NOTO}/NotoSans*-Regular.ttf"))
    found: list[FontFile] = []
    for entry in [*named, *_PREFERRED, *rest_of_noto, *_AFTER_NOTO]:
        path, _, index = entry.strip().partition("#")
        font = FontFile(path, int(index) if index.isdigit() else 0)
        if font not in found and Path(path).is_file():
            found.append(font)
    return tuple(found)


CELL = FontFile("<font A>")  # what font_for answers for a code-page character: its font A cell


def font_for(cluster: str, fonts: tuple[FontFile, ...], *, warn: bool = True) -> FontFile | None:
    """``CELL`` for a code-page character, else the first font that has the whole cluster, else
    None (said once per script when ``warn``)."""
    if len(cluster) == 1 and in_code_page(cluster):
        return CELL
    needed = {ord(char) for char in cluster if char not in _IGNORABLE}
    for font in fonts:
        if needed <= _coverage(font):
            return font
    if warn:
        _warn_missing(cluster)
    return None


def covers(font: FontFile, char: str) -> bool:
    """Whether ``font`` has a glyph for ``char``."""
    return ord(char) in _coverage(font)


@lru_cache(maxsize=256)
def _coverage(font: FontFile) -> frozenset[int]:
    """The code points ``font`` has glyphs for (its best Unicode cmap)."""
    try:
        if font.path.lower().endswith((".ttc", ".otc")):
            face = TTCollection(font.path, lazy=True).fonts[font.index]
        else:
            face = TTFont(font.path, lazy=True, fontNumber=font.index)
        return frozenset(face.getBestCmap() or {})
    except Exception as exc:  # any unreadable font is skipped, and said so
        log.warning("script font %s cannot be read (%s): skipped", font.name, exc)
        return frozenset()


@lru_cache(maxsize=64)
def _warn_missing_script(script: str, example: str) -> None:
    log.warning(
        "no font has %s text (%r, U+%04X): it prints as '?'; install %s or name a font file in %s",
        script,
        example,
        ord(example[0]),
        SCRIPT_FONT_PACKAGES,
        SCRIPT_FONTS_ENV,
    )


def _warn_missing(cluster: str) -> None:
    name = unicodedata.name(cluster[0], "")
    _warn_missing_script(name.split(" ")[0] or "this", cluster)


# One sample a script, for ``missing_scripts`` (the agent's and the tests' check).
SCRIPT_SAMPLES = {
    "Chinese": "宫保鸡丁",
    "Japanese": "ラーメン",
    "Korean": "비빔밥",
    "Arabic": "شاورما",
    "Hebrew": "שלום",
    "Thai": "ต้มยำกุ้ง",
    "emoji": "🍜🔥",
}


def missing_scripts() -> list[str]:
    """The scripts of ``SCRIPT_SAMPLES`` that no installed font draws."""
    fonts = font_files()
    return [
        script
        for script, sample in SCRIPT_SAMPLES.items()
        if any(font_for(cluster, fonts, warn=False) is None for cluster in graphemes(sample))
    ]


def shaping_problem() -> str | None:
    """Why Arabic and Hebrew would not be shaped and ordered right, or None when they will.

    Pillow's wheels carry raqm and HarfBuzz but load FriBidi from the system (libfribidi0 on
    Debian); without it, right-to-left text would print in memory order.
    """
    if not features.check("raqm"):
        return "Pillow was built without raqm: text of other scripts is not shaped"
    if not features.check("fribidi"):
        return "FriBidi is not installed (Debian: libfribidi0): right-to-left text is not reordered"
    return None


@lru_cache(maxsize=1)
def _warn_shaping_once() -> None:
    problem = shaping_problem()
    if problem is not None:
        log.warning("%s", problem)


@dataclass(frozen=True)
class ShapedFont:
    font: ImageFont.FreeTypeFont
    baseline: int  # dots from the top of the cell
    left: int  # where the text starts, so that its leftmost ink is inside the run


def direction(rtl: bool) -> str | None:
    """Pillow's ``direction`` for a run: only raqm knows it (without raqm: None, as it comes)."""
    if not features.check("raqm"):
        return None
    return "rtl" if rtl else "ltr"


def shaped_font(font: FontFile, text: str, width_dots: int, *, rtl: bool = False) -> ShapedFont:
    """``font`` at the largest size (at most 24 px) at which ``text`` fits ``width_dots`` and
    the cell's 24 dots of height, with the baseline where it keeps the ink inside the cell."""
    _warn_shaping_once()
    with FREETYPE_LOCK:
        for size in range(_LARGEST_SIZE_PX, _SMALLEST_SIZE_PX - 1, -1):
            face = _face(font, size)
            left, top, right, bottom = face.getbbox(
                text, mode="1", anchor="ls", direction=direction(rtl)
            )
            fits_width = right - min(0, left) <= width_dots  # drawn from its leftmost ink
            if (bottom - top <= _CELL_HEIGHT_DOTS and fits_width) or (size == _SMALLEST_SIZE_PX):
                break
    baseline = int(min(max(_BASELINE_DOTS, -top), _CELL_HEIGHT_DOTS - bottom))
    return ShapedFont(face, baseline, int(max(0, -left)))


@lru_cache(maxsize=128)
def _face(font: FontFile, size: int) -> ImageFont.FreeTypeFont:
    return ImageFont.truetype(
        font.path, size, index=font.index, layout_engine=ImageFont.Layout.RAQM
    )
