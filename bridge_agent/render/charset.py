"""Text cleaning: what may reach the printer, and which characters its code pages hold.

Every string from a document passes through here before layout, so the layout (and the preview
built from it) already holds exactly the characters that will be printed:

1. Control characters are stripped: C0 (0x00-0x1F, except ``\\n`` in text blocks), DEL and C1
   (0x80-0x9F). Text can therefore never smuggle a printer command such as ``ESC p`` (drawer)
   or ``GS V`` (cut): the only control bytes in the output are the renderer's own.
2. NFC normalisation, so a decomposed ``e`` + combining acute becomes the one character ``é``.
   Format characters (zero-width spaces, bidi overrides and isolates) are dropped, except the
   zero-width joiner and non-joiner, which emoji sequences and Persian need. A character may
   carry at most ``MAX_MARKS`` combining marks (Thai stacks two; more is "Zalgo" text).
3. A character that one of the profile's code pages can encode, and that is not written right to
   left (Hebrew and Arabic letters, Arabic digits), is printed as text (python-escpos's
   own ``Encoder`` decides, the same one its ``MagicEncode`` uses to switch code pages). Any other
   space becomes a plain space; other letters, marks, digits, punctuation and symbols (CJK, Arabic,
   Hebrew, Thai, emoji...) are kept: the encoders draw the lines holding them as pictures
   (``script_fonts``). Private-use, unassigned and surrogate code points become ``?``.

CJK and python-escpos: no profile in its capability database declares a double-byte code page,
and ``MagicEncode.write`` sends any string holding an ideograph whole as GB18030 bytes, which
only Chinese-firmware printers print (an Epson TM-T88V prints garbage). Lines holding text that
no code page holds therefore never reach ``text()``: they are sent as raster images.
"""

from __future__ import annotations

import re
import unicodedata
from functools import lru_cache
from typing import Any

from escpos.capabilities import get_profile
from escpos.magicencode import Encoder

from bridge_agent.render.profile import PROFILE_NAME

REPLACEMENT_CHAR = "?"
MAX_MARKS = 4  # combining marks kept on one character
_CONTROLS = re.compile("[\x00-\x1f\x7f-\x9f]")
_CONTROLS_BUT_NEWLINE = re.compile("[\x00-\x09\x0b-\x1f\x7f-\x9f]")
_JOINERS = frozenset({"\u200c", "\u200d"})  # zero-width non-joiner and joiner
# Bidi classes of right-to-left letters and Arabic digits. Code pages 862 (Hebrew) and 864
# (Arabic) hold them, but the printer would print them in memory order, unjoined.
_RIGHT_TO_LEFT = frozenset({"R", "AL", "AN"})
_MARK_CATEGORIES = frozenset({"Mn", "Me", "Mc"})
_REPLACED_CATEGORIES = frozenset({"Co", "Cn", "Cs"})  # private use, unassigned, surrogates


def strip_controls(text: str, *, keep_newlines: bool = False) -> str:
    """Remove C0, DEL and C1 control characters (keeping ``\\n`` when asked)."""
    pattern = _CONTROLS_BUT_NEWLINE if keep_newlines else _CONTROLS
    return pattern.sub("", text)


def printable(text: str, *, keep_newlines: bool = False) -> str:
    """The characters the paper will show for ``text``."""
    text = unicodedata.normalize("NFC", strip_controls(text, keep_newlines=keep_newlines))
    if text.isascii():
        return text
    out: list[str] = []
    marks = 0
    for char in text:
        kept = _printable_char(char)
        if kept and unicodedata.category(kept) in _MARK_CATEGORIES:
            marks += 1
            if marks > MAX_MARKS:
                continue
        else:
            marks = 0
        out.append(kept)
    return "".join(out)


def in_code_page(char: str) -> bool:
    """Whether the printer prints ``char`` as text: ASCII or in one of the profile's code pages."""
    return " " <= char <= "~" or _in_code_page(char)


def needs_picture(text: str) -> bool:
    """Whether a printed line holds characters that no code page holds (drawn as a picture)."""
    return not text.isascii() and not all(in_code_page(char) for char in text)


@lru_cache(maxsize=4096)
def _printable_char(char: str) -> str:
    if " " <= char <= "~" or char == "\n":
        return char
    category = unicodedata.category(char)
    if category == "Cf":
        return char if char in _JOINERS else ""
    if _in_code_page(char):
        return char
    if category == "Zs":
        return " "
    if category in _REPLACED_CATEGORIES or category.startswith("Z"):
        return REPLACEMENT_CHAR
    return char


@lru_cache(maxsize=4096)
def _in_code_page(char: str) -> bool:
    if unicodedata.bidirectional(char) in _RIGHT_TO_LEFT:
        return False  # a code page prints left to right and unjoined: drawn as a picture
    encoder = _profile_encoder()
    return any(encoder.can_encode(encoding, char) for encoding in encoder.codepages)


@lru_cache(maxsize=1)
def _profile_encoder() -> Any:
    """python-escpos's encoder over the profile's code pages; it memoises each page's map."""
    return Encoder(get_profile(PROFILE_NAME).get_code_pages())
