"""Text cleaning: what may reach the printer, and which characters the printer can show.

Every string from a document passes through here before layout, so the layout (and the preview
built from it) already holds exactly the characters that will be printed:

1. Control characters are stripped: C0 (0x00-0x1F, except ``\\n`` in text blocks), DEL and C1
   (0x80-0x9F). Text can therefore never smuggle a printer command such as ``ESC p`` (drawer)
   or ``GS V`` (cut): the only control bytes in the output are the renderer's own.
2. NFC normalisation, so a decomposed ``e`` + combining acute becomes the one character ``é``.
   Invisible characters (format characters such as zero-width spaces or bidi overrides, and
   combining marks left over after NFC) are dropped.
3. Each remaining non-ASCII character is kept when one of the profile's code pages can encode it
   (python-escpos's own ``Encoder`` decides, the same one its ``MagicEncode`` uses to switch code
   pages while printing); any other space becomes a plain space and anything else becomes ``?``.

CJK: no profile in python-escpos's capability database declares a double-byte (GB18030, Big5,
Shift-JIS) code page. python-escpos instead has a hard-wired shortcut in ``MagicEncode.write``:
a string containing any ideograph in U+4E00-U+9FA5 is sent whole as GB18030 bytes, including its
Latin accents, without selecting Chinese mode. Only Chinese-firmware printers that boot in
Chinese mode print that; an Epson TM-T88V prints two code-page glyphs per ideograph, garbage.
Step 3 keeps ideographs away from that shortcut: on this profile "拉面" prints as "??".
Half-width katakana do print (code page 1); full-width kana, Hangul and emoji become ``?``.
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
_CONTROLS = re.compile("[\x00-\x1f\x7f-\x9f]")
_CONTROLS_BUT_NEWLINE = re.compile("[\x00-\x09\x0b-\x1f\x7f-\x9f]")
_INVISIBLE_CATEGORIES = frozenset({"Cf", "Mn", "Me"})


def strip_controls(text: str, *, keep_newlines: bool = False) -> str:
    """Remove C0, DEL and C1 control characters (keeping ``\\n`` when asked)."""
    pattern = _CONTROLS_BUT_NEWLINE if keep_newlines else _CONTROLS
    return pattern.sub("", text)


def printable(text: str, *, keep_newlines: bool = False) -> str:
    """The characters the printer will show for ``text``, one per printed column."""
    text = unicodedata.normalize("NFC", strip_controls(text, keep_newlines=keep_newlines))
    return "".join(_printable_char(char) for char in text)


@lru_cache(maxsize=4096)
def _printable_char(char: str) -> str:
    if " " <= char <= "~" or char == "\n":
        return char
    category = unicodedata.category(char)
    if category in _INVISIBLE_CATEGORIES:
        return ""
    if _encodable(char):
        return char
    if category == "Zs":
        return " "
    return REPLACEMENT_CHAR


def _encodable(char: str) -> bool:
    encoder = _profile_encoder()
    return any(encoder.can_encode(encoding, char) for encoding in encoder.codepages)


@lru_cache(maxsize=1)
def _profile_encoder() -> Any:
    """python-escpos's encoder over the profile's code pages; it memoises each page's map."""
    return Encoder(get_profile(PROFILE_NAME).get_code_pages())
