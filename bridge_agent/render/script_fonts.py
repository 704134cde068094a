"""Fonts for the scripts that no code page holds, and a printed line split into what draws it.

A line that holds CJK, Arabic, Hebrew, Thai, emoji or any other text beyond the printer's code
pages is printed as a picture. Its code-page characters keep their font A cells (``fonts``); each
run of other text is shaped by FreeType + HarfBuzz + FriBidi (Pillow's raqm layout: Arabic
joining, right-to-left order, Thai marks, emoji sequences) in a font that covers it, inside the
columns that ``wrap`` gave it.

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
from collections.abc import Iterable
from dataclasses import dataclass
from functools import lru_cache
from pathlib import Path

from bidi import algorithm as bidi_algorithm  # type: ignore[import-untyped]
from bidi.mirror import MIRRORED  # type: ignore[import-untyped]
from fontTools.ttLib import TTCollection, TTFont  # type: ignore[import-untyped]
from PIL import ImageFont, features

from bridge_agent.render.charset import REPLACEMENT_CHAR, in_code_page
from bridge_agent.render.wrap import grapheme_columns, graphemes

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


@dataclass(frozen=True)
class Segment:
    """Part of a printed line, ``columns`` wide from column ``column``.

    ``font`` None: code-page text drawn in font A cells; else text shaped in that font.
    """

    column: int
    columns: int
    text: str
    font: FontFile | None = None
    rtl: bool = False  # a shaped run laid out right to left
    flush_right: bool = False  # in a right-to-left paragraph: drawn against its right edge


@dataclass(frozen=True)
class ResolvedLine:
    segments: tuple[Segment, ...]  # left to right on paper
    fallback_text: str  # the line as text in memory order, "?" a column where a font is needed

    @property
    def is_picture(self) -> bool:
        return any(segment.font is not None for segment in self.segments)


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


def resolve_line(text: str, breaks: tuple[int, ...] = ()) -> ResolvedLine:
    """Split a printed line into font A cells and runs of shaped text, by the fonts available.

    ``breaks`` are offsets where another field starts; each field is laid out on its own.
    """
    fonts = font_files()
    if not breaks:
        return _resolve(text, fonts)
    segments: list[Segment] = []
    fallback = ""
    column = 0
    for start, end in zip((0, *breaks), (*breaks, len(text)), strict=True):
        field = _resolve(text[start:end], fonts)
        for segment in field.segments:
            segments.append(
                Segment(
                    column + segment.column,
                    segment.columns,
                    segment.text,
                    segment.font,
                    rtl=segment.rtl,
                    flush_right=segment.flush_right,
                )
            )
        column += sum(segment.columns for segment in field.segments)
        fallback += field.fallback_text
    return ResolvedLine(tuple(_merge_cells(segments)), fallback)


@lru_cache(maxsize=2048)
def _resolve(text: str, fonts: tuple[FontFile, ...]) -> ResolvedLine:
    if text.isascii():
        return ResolvedLine((Segment(0, len(text), text),), text)
    clusters = [(cluster, _font_for(cluster, fonts)) for cluster in graphemes(text)]
    units: list[tuple[int, int, Segment]] = []  # (offset, length in text, segment), in order
    offset = 0
    index = 0
    while index < len(clusters):
        cluster, font = clusters[index]
        if font is None or font == _CELL:
            size = grapheme_columns(cluster)
            shown = cluster if font == _CELL else REPLACEMENT_CHAR * size
            units.append((offset, len(cluster), Segment(0, size, shown)))
            offset += len(cluster)
            index += 1
            continue
        end = _run_end(clusters, index, font)
        run = "".join(cluster for cluster, _ in clusters[index:end])
        size = sum(grapheme_columns(cluster) for cluster, _ in clusters[index:end])
        units.append((offset, len(run), Segment(0, size, run, font)))
        offset += len(run)
        index = end
    fallback = "".join(
        segment.text if segment.font is None else REPLACEMENT_CHAR * segment.columns
        for _, _, segment in units
    )
    return ResolvedLine(tuple(_merge_cells(_visual_order(text, units))), fallback)


def _visual_order(text: str, units: list[tuple[int, int, Segment]]) -> list[Segment]:
    """The units of a line left to right on paper, each placed at its columns.

    The Unicode bidirectional algorithm (python-bidi's implementation) resolves each character's
    embedding level, the paragraph's direction being that of its first strong character (so a
    Hebrew line reads from the right, a Latin line with an Arabic dish from the left). Units are
    then reordered by rule L2 over those levels, a shaped run at the lowest level of its
    characters (HarfBuzz orders the inside of the run, told its direction), and a bracket in a
    right-to-left cell is mirrored (L4).
    """
    levels = _bidi_levels(text)
    leveled: list[tuple[int, Segment]] = []
    for offset, length, segment in units:
        level = min(levels[offset : offset + length])
        if level % 2:
            if segment.font is not None:
                segment = Segment(0, segment.columns, segment.text, segment.font, rtl=True)
            else:
                segment = Segment(0, segment.columns, MIRRORED.get(segment.text, segment.text))
        leveled.append((level, segment))
    highest = max(level for level, _ in leveled)
    lowest_odd = min((level for level, _ in leveled if level % 2), default=highest + 1)
    for level in range(highest, lowest_odd - 1, -1):  # L2: reverse every run at >= level
        start = 0
        while start < len(leveled):
            if leveled[start][0] < level:
                start += 1
                continue
            end = start
            while end < len(leveled) and leveled[end][0] >= level:
                end += 1
            leveled[start:end] = leveled[start:end][::-1]
            start = end
    placed: list[Segment] = []
    column = 0
    for _, segment in leveled:
        placed.append(Segment(column, segment.columns, segment.text, segment.font, rtl=segment.rtl))
        column += segment.columns
    return placed


def _bidi_levels(text: str) -> list[int]:
    """Each code point's resolved embedding level (rules P2-P3, W1-W7, N1-N2, I1-I2).

    python-bidi's pure-Python implementation, stopped before it reorders the characters: the
    renderer reorders its own units (cells and shaped runs), not single characters.
    """
    storage = bidi_algorithm.get_empty_storage()
    base_level = bidi_algorithm.get_base_level(text)
    storage["base_level"] = base_level
    storage["base_dir"] = ("L", "R")[base_level]
    bidi_algorithm.get_embedding_levels(text, storage, False, False)
    bidi_algorithm.explicit_embed_and_overrides(storage, False)
    bidi_algorithm.resolve_weak_types(storage, False)
    bidi_algorithm.resolve_neutral_types(storage, False)
    bidi_algorithm.resolve_implicit_levels(storage, False)
    return [char["level"] for char in storage["chars"]]


_CELL = FontFile("<font A>")


def _font_for(cluster: str, fonts: tuple[FontFile, ...], *, warn: bool = True) -> FontFile | None:
    if len(cluster) == 1 and in_code_page(cluster):
        return _CELL
    needed = {ord(char) for char in cluster if char not in _IGNORABLE}
    for font in fonts:
        if needed <= _coverage(font):
            return font
    if warn:
        _warn_missing(cluster)
    return None


def _run_end(clusters: list[tuple[str, FontFile | None]], start: int, font: FontFile) -> int:
    """End of the run of ``font`` from ``start``: its own clusters, and the spaces, digits and
    punctuation between two of them when ``font`` has those too (so bidi sees "شاورما 2 دجاج"
    whole, and the spaces of a phrase stay inside it)."""
    end = start + 1
    probe = end
    while probe < len(clusters):
        cluster, owner = clusters[probe]
        if owner == font:
            probe += 1
            end = probe
        elif owner == _CELL and not cluster.isalpha() and ord(cluster) in _coverage(font):
            probe += 1
        else:
            break
    return end


def _merge_cells(segments: Iterable[Segment]) -> list[Segment]:
    merged: list[Segment] = []
    for segment in segments:
        previous = merged[-1] if merged else None
        if previous and previous.font is None and segment.font is None:  # columns adjoin
            merged[-1] = Segment(
                previous.column, previous.columns + segment.columns, previous.text + segment.text
            )
        else:
            merged.append(segment)
    return merged


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
        if any(_font_for(cluster, fonts, warn=False) is None for cluster in graphemes(sample))
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
    return ShapedFont(face, baseline)


@lru_cache(maxsize=128)
def _face(font: FontFile, size: int) -> ImageFont.FreeTypeFont:
    return ImageFont.truetype(
        font.path, size, index=font.index, layout_engine=ImageFont.Layout.RAQM
    )
