"""ESC/POS encoder: a Layout becomes printer bytes through python-escpos's ``Dummy`` printer.

Every command comes from python-escpos (``hw``, ``cashdraw``, ``set``, ``text``, ``qr``,
``image``, ``cut``); its ``MagicEncode`` picks and switches code pages (``ESC t n``) for the text.
Styles are sent only when they change, starting from what ``ESC @`` leaves: left, normal size,
no bold, no underline. A line holding text that no code page holds (CJK, Arabic, Thai, emoji...)
is sent as a picture of the line (``GS v 0``), drawn by ``lines.line_picture`` exactly as the PNG
draws it; the other lines of the ticket stay text.
"""

from __future__ import annotations

from collections.abc import Mapping
from dataclasses import replace
from typing import Any

from escpos.constants import QR_ECLEVEL_M
from escpos.printer import Dummy

from bridge_agent.render.layout import (
    PLAIN,
    Align,
    Barcode,
    Cut,
    CutMode,
    Feed,
    Item,
    Layout,
    Picture,
    QrCode,
    Size,
    Style,
    Symbology,
    TextLine,
    layout_document,
)
from bridge_agent.render.lines import line_picture, printed_line
from bridge_agent.render.profile import PROFILE_NAME, Paper

DRAWER_PULSE = b"\x1b\x70\x00\x19\xfa"  # ESC p: pin 2, 25 x 2 ms on, 250 x 2 ms off
# python-escpos's CD_KICK_2 pulses 100 ms on / 100 ms off; the contract's pulse is this one.
_DRAWER_PULSE_SEQUENCE = list(DRAWER_PULSE)
BARCODE_HEIGHT_DOTS = 64  # python-escpos's default: about 8 mm at 203 dpi


def render_document(document: Mapping[str, Any], *, paper_width_mm: int = 80) -> bytes:
    """One copy of the document as ESC/POS bytes, starting with ESC @ (initialise)."""
    return encode_escpos(layout_document(document, paper_width_mm=paper_width_mm))


def encode_escpos(layout: Layout, *, drawer_pulse: bool = False) -> bytes:
    """The bytes of one copy; with ``drawer_pulse`` the drawer kick follows ESC @ at once."""
    printer = _printer(layout.paper)
    printer.hw("INIT")
    if drawer_pulse:
        printer.cashdraw(_DRAWER_PULSE_SEQUENCE)
    style = PLAIN
    for item in layout.items:
        style = _emit(printer, item, style, layout.paper)
    output: bytes = printer.output
    return output


def _printer(paper: Paper) -> Any:
    """A Dummy printer whose profile knows the station's paper width in dots.

    python-escpos checks images against the profile's media width (512 dots on a TM-T88V);
    the profile here is a per-render copy, so the shared profile class stays untouched.
    """
    printer = Dummy(profile=PROFILE_NAME)
    profile_data = dict(printer.profile.profile_data)
    profile_data["media"] = {
        **profile_data["media"],
        "width": {"mm": paper.width_mm, "pixels": paper.dots},
    }
    printer.profile.profile_data = profile_data
    return printer


def _emit(printer: Any, item: Item, style: Style, paper: Paper) -> Style:
    """Send one item; returns the style the printer is left in."""
    match item:
        case TextLine(text=text, style=line_style, breaks=breaks):
            picture, text = printed_line(text, breaks)
            if picture is not None:  # a raster line: the printer's text style does not apply
                printer.image(line_picture(text, line_style, paper, breaks), center=False)
                return style
            if text:  # an empty line only feeds: its style would change nothing on paper
                _restyle(printer, style, line_style)
                style = line_style
            printer.text(text + "\n")
        case Feed(lines=lines):
            printer.ln(lines)
        case QrCode(data=data, module_dots=module_dots):
            style = _centre(printer, style)
            printer.qr(data, ec=QR_ECLEVEL_M, size=module_dots, native=True)
        case Barcode(symbology=symbology, data=data, module_dots=module_dots):
            style = _centre(printer, style)
            _barcode(printer, symbology, data, module_dots)
        case Picture(canvas=canvas):
            printer.image(canvas, center=False)  # the canvas is already paper-wide and centred
        case Cut(mode=mode):
            printer.cut(mode="PART" if mode is CutMode.PARTIAL else "FULL")
    return style


def _barcode(printer: Any, symbology: Symbology, data: str, module_dots: int) -> None:
    """Hardware barcode, human-readable text below.

    ``Escpos.barcode()`` prints "Using hardware barcode renderer" to stdout before it calls
    ``_hw_barcode``; rendering does no I/O, so the hardware path is called directly. CODE128
    needs python-escpos's code-set prefix, and a literal "{" is written "{{" in code set B.
    """
    code = data if symbology is Symbology.EAN13 else "{B" + data.replace("{", "{{")
    printer._hw_barcode(
        code,
        symbology.value,
        height=BARCODE_HEIGHT_DOTS,
        width=module_dots,
        pos="BELOW",
        font="A",
        align_ct=False,  # already centred, and the style tracking must know it
        check=True,
    )


def _centre(printer: Any, style: Style) -> Style:
    if style.align is Align.CENTER:
        return style
    printer.set(align=Align.CENTER.value)
    return replace(style, align=Align.CENTER)


def _restyle(printer: Any, current: Style, wanted: Style) -> None:
    """Send only what differs. The size command (ESC !) also clears bold and underline."""
    changes: dict[str, Any] = {}
    if wanted.size is not current.size:
        changes["normal_textsize"] = wanted.size is Size.NORMAL
        changes["double_width"] = wanted.size.double_width
        changes["double_height"] = wanted.size.double_height
        if wanted.bold:
            changes["bold"] = True
        if wanted.underline:
            changes["underline"] = 1
    else:
        if wanted.bold != current.bold:
            changes["bold"] = wanted.bold
        if wanted.underline != current.underline:
            changes["underline"] = int(wanted.underline)
    if wanted.align is not current.align:
        changes["align"] = wanted.align.value
    if changes:
        printer.set(**changes)
