"""The one layout step: a contract Document becomes the items the paper will show.

Both encoders read this: ``escpos`` turns it into printer bytes, ``preview`` into plain text.
Text is cleaned here (``charset.printable``), so every item already holds exactly what prints.
"""

from __future__ import annotations

import base64
import binascii
from collections.abc import Callable, Mapping, Sequence
from dataclasses import dataclass, field
from enum import StrEnum
from typing import Any, TypeVar

from PIL import Image

from bridge_agent.render import graphics
from bridge_agent.render.charset import (
    REPLACEMENT_CHAR,
    needs_picture,
    printable,
    strip_controls,
)
from bridge_agent.render.errors import RenderError
from bridge_agent.render.profile import Paper, paper_for
from bridge_agent.render.wrap import row, wrap

MAX_FEED_LINES = 20
MAX_IMAGE_BYTES = 512 * 1024


class Align(StrEnum):
    LEFT = "left"
    CENTER = "center"
    RIGHT = "right"


class Size(StrEnum):
    NORMAL = "normal"
    TALL = "tall"
    WIDE = "wide"
    DOUBLE = "double"

    @property
    def double_width(self) -> bool:
        return self in (Size.WIDE, Size.DOUBLE)

    @property
    def double_height(self) -> bool:
        return self in (Size.TALL, Size.DOUBLE)

    @property
    def columns_per_char(self) -> int:
        return 2 if self.double_width else 1


class Symbology(StrEnum):
    EAN13 = "EAN13"
    CODE128 = "CODE128"


class CutMode(StrEnum):
    FULL = "full"
    PARTIAL = "partial"


@dataclass(frozen=True)
class Style:
    align: Align = Align.LEFT
    bold: bool = False
    underline: bool = False
    size: Size = Size.NORMAL


PLAIN = Style()  # what ESC @ leaves the printer in


@dataclass(frozen=True)
class TextLine:
    """One printed line. The printer aligns it (ESC a); ``text`` carries no alignment padding."""

    text: str
    style: Style = PLAIN
    # Offsets in ``text`` where another field starts (a row's padding, its right part): each
    # field is its own bidi paragraph, so an Arabic dish never carries its price along.
    breaks: tuple[int, ...] = ()


@dataclass(frozen=True)
class Feed:
    lines: int


@dataclass(frozen=True)
class QrCode:
    data: str
    module_dots: int


@dataclass(frozen=True)
class Barcode:
    symbology: Symbology
    data: str
    module_dots: int


@dataclass(frozen=True)
class Picture:
    """A raster image already centred on a canvas as wide as the paper."""

    canvas: Image.Image = field(compare=False)
    width: int  # of the picture itself, in dots
    height: int


@dataclass(frozen=True)
class Cut:
    mode: CutMode


Item = TextLine | Feed | QrCode | Barcode | Picture | Cut


@dataclass(frozen=True)
class Layout:
    paper: Paper
    items: tuple[Item, ...]


def layout_document(document: Mapping[str, Any], *, paper_width_mm: int = 80) -> Layout:
    """Lay a contract Document out for the paper. Raises RenderError on a malformed document."""
    paper = paper_for(paper_width_mm)
    if not isinstance(document, Mapping):
        raise RenderError("document must be an object")
    blocks = document.get("blocks")
    if not isinstance(blocks, Sequence) or isinstance(blocks, str):
        raise RenderError("document.blocks must be a list")
    graphics.check_image_budget(
        (
            block["png_base64"]
            for block in blocks
            if isinstance(block, Mapping)
            and block.get("type") == "image"
            and isinstance(block.get("png_base64"), str)
        ),
        paper.dots,
    )
    items: list[Item] = []
    for index, block in enumerate(blocks):
        if not isinstance(block, Mapping):
            raise RenderError(f"blocks[{index}] must be an object")
        kind = block.get("type")
        lay_out = _BLOCKS.get(kind) if isinstance(kind, str) else None
        if lay_out is None:
            raise RenderError(f"blocks[{index}] has an unknown type: {kind!r}")
        try:
            items.extend(lay_out(block, paper))
        except RenderError as exc:
            raise RenderError(f"blocks[{index}] ({kind}): {exc}") from exc
    return Layout(paper=paper, items=tuple(items))


def _text(block: Mapping[str, Any], paper: Paper) -> list[Item]:
    style = Style(
        align=_choice(block, "align", Align, Align.LEFT),
        bold=_flag(block, "bold"),
        underline=_flag(block, "underline"),
        size=_choice(block, "size", Size, Size.NORMAL),
    )
    text = printable(_string(block, "text"), keep_newlines=True)
    width = paper.columns // style.size.columns_per_char
    return [TextLine(line, style) for line in wrap(text, width)]


def _row(block: Mapping[str, Any], paper: Paper) -> list[Item]:
    left = printable(_string(block, "left"))
    right = printable(_string(block, "right")).strip(" ")
    lines = row(left, right, paper.columns)
    return [TextLine(line, PLAIN, _row_breaks(line, right) if right else ()) for line in lines]


def _row_breaks(line: str, right: str) -> tuple[int, ...]:
    """Where a row line's padding and right part start, when the line ends with the right part."""
    if not line.endswith(right):
        return ()
    head = line[: len(line) - len(right)]
    left = head.rstrip(" ")
    return tuple(offset for offset in (len(left), len(head)) if 0 < offset < len(line))


def _rule(block: Mapping[str, Any], paper: Paper) -> list[Item]:
    given = strip_controls(_string(block, "char", "-"))
    char = printable(given)
    if (
        len(char) != 1
        or needs_picture(char)
        or (char == REPLACEMENT_CHAR and given != REPLACEMENT_CHAR)
    ):
        char = "-"  # a control, invisible or non-code-page character draws the default rule
    return [TextLine(char * paper.columns)]


def _feed(block: Mapping[str, Any], paper: Paper) -> list[Item]:
    return [Feed(_count(block, "lines", default=1, low=1, high=MAX_FEED_LINES))]


def _qr(block: Mapping[str, Any], paper: Paper) -> list[Item]:
    data = strip_controls(_string(block, "data"))
    if not data:
        raise RenderError("data is empty")
    return [QrCode(data, graphics.qr_module_dots(data, paper.dots))]


def _barcode(block: Mapping[str, Any], paper: Paper) -> list[Item]:
    symbology = _choice(block, "symbology", Symbology, None)
    data = strip_controls(_string(block, "data"))
    if symbology is Symbology.EAN13:
        if not (data.isascii() and data.isdigit() and len(data) in (12, 13)):
            raise RenderError("EAN13 data must be 12 or 13 digits")
    elif not data or not all(" " <= char <= "~" for char in data):
        raise RenderError("CODE128 data must be printable ASCII")
    module_dots = graphics.barcode_module_dots(symbology, data, paper.dots)
    if module_dots is None:  # too long for this paper: print what a person can type in instead
        return [TextLine(line, Style(align=Align.CENTER)) for line in wrap(data, paper.columns)]
    return [Barcode(symbology, data, module_dots)]


def _image(block: Mapping[str, Any], paper: Paper) -> list[Item]:
    encoded = _string(block, "png_base64")
    try:
        png = base64.b64decode(encoded, validate=True)
    except (binascii.Error, ValueError) as exc:
        raise RenderError("png_base64 is not valid base64") from exc
    if len(png) > MAX_IMAGE_BYTES:
        raise RenderError(f"image is larger than {MAX_IMAGE_BYTES} bytes")
    canvas, width, height = graphics.prepare_image(png, paper.dots)
    return [Picture(canvas, width, height)]


def _cut(block: Mapping[str, Any], paper: Paper) -> list[Item]:
    return [Cut(_choice(block, "mode", CutMode, CutMode.FULL))]


_BLOCKS: dict[str, Callable[[Mapping[str, Any], Paper], list[Item]]] = {
    "text": _text,
    "row": _row,
    "rule": _rule,
    "feed": _feed,
    "qr": _qr,
    "barcode": _barcode,
    "image": _image,
    "cut": _cut,
}

_E = TypeVar("_E", bound=StrEnum)


def _string(block: Mapping[str, Any], key: str, default: str = "") -> str:
    value = block.get(key, default)
    if value is None:
        return default
    if not isinstance(value, str):
        raise RenderError(f"{key} must be a string")
    return value


def _flag(block: Mapping[str, Any], key: str) -> bool:
    value = block.get(key, False)
    if value is None:
        return False
    if not isinstance(value, bool):
        raise RenderError(f"{key} must be true or false")
    return value


def _count(block: Mapping[str, Any], key: str, *, default: int, low: int, high: int) -> int:
    value = block.get(key, default)
    if isinstance(value, bool) or not isinstance(value, int) or not low <= value <= high:
        raise RenderError(f"{key} must be an integer from {low} to {high}")
    return value


def _choice(block: Mapping[str, Any], key: str, kind: type[_E], default: _E | None) -> _E:
    value = block.get(key)
    if value is None and default is not None:
        return default
    try:
        if isinstance(value, str):
            return kind(value)
    except ValueError:
        pass
    allowed = ", ".join(member.value for member in kind)
    raise RenderError(f"{key} must be one of {allowed}, not {value!r}")
