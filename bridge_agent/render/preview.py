"""Plain-text encoder: a Layout becomes what the paper shows, one string line per printed line.

Alignment is applied here by padding (the printer does it with ESC a). Wide and double-size
characters take two columns each, so they are shown spaced out: "C O C I N A". Text of other
scripts is shown as it is (an ideograph takes two columns, as on paper); the PNG shows how the
fonts draw it. Bold, underline
and height cannot be shown in plain text. QR codes, barcodes and images become centred
placeholders; a cut is a line of scissors. The blank lines python-escpos feeds before a cut, to
bring the last line past the cutter, are left out.
"""

from __future__ import annotations

from collections.abc import Mapping
from typing import Any

from bridge_agent.render.charset import printable
from bridge_agent.render.layout import (
    Align,
    Barcode,
    Cut,
    CutMode,
    Feed,
    Item,
    Layout,
    Picture,
    QrCode,
    TextLine,
    layout_document,
)
from bridge_agent.render.wrap import columns as text_columns
from bridge_agent.render.wrap import grapheme_columns, graphemes

ELLIPSIS = "…"


def preview_text(document: Mapping[str, Any], *, paper_width_mm: int = 80) -> str:
    """What one copy of the document prints, as text; no line is wider than the paper."""
    return encode_text(layout_document(document, paper_width_mm=paper_width_mm))


def encode_text(layout: Layout) -> str:
    columns = layout.paper.columns
    lines: list[str] = []
    for item in layout.items:
        lines.extend(_lines(item, columns))
    return "".join(line + "\n" for line in lines)


def _lines(item: Item, columns: int) -> list[str]:
    match item:
        case TextLine(text=text, style=style):
            width = text_columns(text)
            if style.size.double_width:
                text = "".join(g + " " * grapheme_columns(g) for g in graphemes(text)).rstrip(" ")
                width *= 2
            return [_aligned(text, width, style.align, columns)]
        case Feed(lines=lines):
            return [""] * lines
        case QrCode(data=data):
            return [_placeholder(f"QR: {data}", columns)]
        case Barcode(symbology=symbology, data=data):
            return [_placeholder(f"{symbology.value}: {data}", columns)]
        case Picture(width=width, height=height):
            return [_placeholder(f"IMAGE {width}x{height}", columns)]
        case Cut(mode=mode):
            mark = " -" if mode is CutMode.FULL else " ·"
            return ["✂" + mark * ((columns - 1) // len(mark))]
    raise AssertionError(f"unknown layout item {item!r}")


def _aligned(text: str, width: int, align: Align, columns: int) -> str:
    """``text`` occupying ``width`` printed columns, placed as the printer's ESC a places it."""
    free = max(0, columns - width)
    if align is Align.CENTER:
        return " " * (free // 2) + text
    if align is Align.RIGHT:
        return " " * free + text
    return text


def _placeholder(label: str, columns: int) -> str:
    text = f"[{printable(label)}]"
    if text_columns(text) > columns:
        kept = ""
        for cluster in graphemes(text):
            if text_columns(kept + cluster) > columns - 2:
                break
            kept += cluster
        text = kept + ELLIPSIS + "]"
    return _aligned(text, text_columns(text), Align.CENTER, columns)
