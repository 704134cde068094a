"""A printed line split into what draws it: font A cells and runs of shaped text, left to right.

``resolve_line`` groups a line's grapheme clusters by the font that draws them
(``script_fonts.font_for``: a code page's cell, or a font that has the cluster), keeps a run's
spaces, digits and punctuation inside it, and orders the runs as the paper shows them (the
Unicode bidirectional algorithm's levels, rule L2 over the runs). ``lines`` draws the result.
"""

from __future__ import annotations

from collections.abc import Iterable
from dataclasses import dataclass, replace
from functools import lru_cache

from bidi import algorithm as bidi_algorithm  # type: ignore[import-untyped]
from bidi.mirror import MIRRORED  # type: ignore[import-untyped]

from bridge_agent.render import script_fonts
from bridge_agent.render.charset import REPLACEMENT_CHAR
from bridge_agent.render.script_fonts import CELL, FontFile, covers, font_for
from bridge_agent.render.wrap import grapheme_columns, graphemes


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


@dataclass(frozen=True)
class ResolvedLine:
    segments: tuple[Segment, ...]  # left to right on paper
    fallback_text: str  # the line as text in memory order, "?" a column where a font is needed

    @property
    def is_picture(self) -> bool:
        return any(segment.font is not None for segment in self.segments)


def resolve_line(text: str, breaks: tuple[int, ...] = ()) -> ResolvedLine:
    """Split a printed line into font A cells and runs of shaped text, by the fonts available.

    ``breaks`` are offsets where another field starts; each field is laid out on its own.
    """
    fonts = script_fonts.font_files()  # looked up on the module: tests replace it
    if not breaks:
        return _resolve(text, fonts)
    segments: list[Segment] = []
    fallback = ""
    column = 0
    for start, end in zip((0, *breaks), (*breaks, len(text)), strict=True):
        field = _resolve(text[start:end], fonts)
        for segment in field.segments:
            segments.append(replace(segment, column=column + segment.column))
        column += sum(segment.columns for segment in field.segments)
        fallback += field.fallback_text
    return ResolvedLine(tuple(_merge_cells(segments)), fallback)


@lru_cache(maxsize=2048)
def _resolve(text: str, fonts: tuple[FontFile, ...]) -> ResolvedLine:
    if text.isascii():
        return ResolvedLine((Segment(0, len(text), text),), text)
    clusters = [(cluster, font_for(cluster, fonts)) for cluster in graphemes(text)]
    units: list[tuple[int, int, Segment]] = []  # (offset, length in text, segment), in order
    offset = 0
    index = 0
    while index < len(clusters):
        cluster, font = clusters[index]
        if font is None or font == CELL:
            size = grapheme_columns(cluster)
            shown = cluster if font == CELL else REPLACEMENT_CHAR * size
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
                segment = replace(segment, rtl=True)
            else:
                segment = replace(segment, text=MIRRORED.get(segment.text, segment.text))
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
        placed.append(replace(segment, column=column))
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
        elif owner == CELL and not cluster.isalpha() and covers(font, cluster):
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
