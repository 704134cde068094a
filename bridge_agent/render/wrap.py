"""Line breaking in printer columns: word wrap for text blocks, left/right rows.

A code-page character takes one column, as the printer's font A draws it. Text drawn as a picture
(``charset.needs_picture``) is measured as a terminal measures it (wcwidth, Unicode's East Asian
Width): an ideograph, a kana or an emoji takes two columns, an Arabic, Hebrew or Thai letter one,
and a combining mark none; it is cut only between grapheme clusters (a Thai consonant keeps its
vowel and tone marks, an emoji sequence stays whole). Lines break at spaces; a word longer than
a line (Chinese and Thai do not put spaces between words) is cut where the line is full.
"""

from __future__ import annotations

import re
from collections.abc import Iterator

import wcwidth

from bridge_agent.render.charset import in_code_page

_WORD = re.compile(r"( *)([^ ]+)")


def graphemes(text: str) -> Iterator[str]:
    """The user-perceived characters of ``text``: a base with its marks, an emoji sequence."""
    if text.isascii():
        yield from text
    else:
        yield from wcwidth.iter_graphemes(text)


def grapheme_columns(cluster: str) -> int:
    """Printer columns of one grapheme cluster: at least one, at most two."""
    if len(cluster) == 1 and in_code_page(cluster):
        return 1
    return 2 if wcwidth.wcswidth(cluster) >= 2 else 1


def columns(text: str) -> int:
    """Printer columns that ``text`` takes at normal width."""
    if text.isascii():
        return len(text)
    return sum(grapheme_columns(cluster) for cluster in graphemes(text))


def wrap(text: str, width: int) -> list[str]:
    """Lines of at most ``width`` columns.

    ``\\n`` starts a new line; lines break at spaces, a word longer than a line is hard-broken,
    and a line keeps its leading spaces (indentation) but not its trailing ones.
    """
    lines: list[str] = []
    for paragraph in text.split("\n"):
        lines.extend(_wrap_paragraph(paragraph.rstrip(" "), width))
    return lines


def _wrap_paragraph(paragraph: str, width: int) -> list[str]:
    if columns(paragraph) <= width:
        return [paragraph]
    lines: list[str] = []
    line = ""
    used = 0
    for gap, word in _WORD.findall(paragraph):
        size = columns(word)
        if line and used + len(gap) + size <= width:
            line += gap + word
            used += len(gap) + size
            continue
        if not line and not lines and len(gap) + size <= width:
            line, used = gap + word, len(gap) + size  # the first word keeps its indentation
            continue
        if line:
            lines.append(line)
        pieces = _cut(word, width)
        lines.extend(pieces[:-1])
        line = pieces[-1]
        used = columns(line)
    lines.append(line)
    return lines


def _cut(word: str, width: int) -> list[str]:
    """``word`` in pieces of at most ``width`` columns, cut between grapheme clusters."""
    pieces: list[str] = []
    piece = ""
    used = 0
    for cluster in graphemes(word):
        size = grapheme_columns(cluster)
        if piece and used + size > width:
            pieces.append(piece)
            piece, used = "", 0
        piece += cluster
        used += size
    pieces.append(piece)
    return pieces


def row(left: str, right: str, width: int) -> list[str]:
    """``left`` and ``right`` on one line, ``right`` flush right, at least one space between.

    When they do not fit, ``left`` wraps over as many lines as it needs and ``right`` goes flush
    right on the last of them if it fits there, else on a line of its own.
    """
    left = left.rstrip(" ")
    right = right.strip(" ")
    if not right:
        return wrap(left, width)
    if not left:
        return [_flush_right(part, width) for part in wrap(right, width)]
    lines = wrap(left, width)
    last = columns(lines[-1])
    right_size = columns(right)
    if last + 1 + right_size <= width:
        lines[-1] = lines[-1] + " " * (width - last - right_size) + right
        return lines
    return lines + [_flush_right(part, width) for part in wrap(right, width)]


def _flush_right(text: str, width: int) -> str:
    return " " * max(0, width - columns(text)) + text
