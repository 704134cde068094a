"""Line breaking in printer columns: word wrap for text blocks, left/right rows.

Every character counts as one column: the text has already been through ``charset.printable``,
so it holds only single-byte code-page characters.
"""

from __future__ import annotations

import re

_WORD = re.compile(r"( *)([^ ]+)")


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
    if len(paragraph) <= width:
        return [paragraph]
    lines: list[str] = []
    line = ""
    for gap, word in _WORD.findall(paragraph):
        if line and len(line) + len(gap) + len(word) <= width:
            line += gap + word
            continue
        if not line and not lines and len(gap) + len(word) <= width:
            line = gap + word  # the first word keeps the paragraph's indentation
            continue
        if line:
            lines.append(line)
        while len(word) > width:
            lines.append(word[:width])
            word = word[width:]
        line = word
    lines.append(line)
    return lines


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
        return [part.rjust(width) for part in wrap(right, width)]
    lines = wrap(left, width)
    last = lines[-1]
    if len(last) + 1 + len(right) <= width:
        lines[-1] = last + " " * (width - len(last) - len(right)) + right
        return lines
    return lines + [part.rjust(width) for part in wrap(right, width)]
