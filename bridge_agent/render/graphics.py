"""Sizing of the graphic blocks for the paper: images, QR codes and barcodes.

Pure functions of their input; nothing here talks to a printer.
"""

from __future__ import annotations

import io
import struct

import qrcode  # type: ignore[import-untyped]  # python-escpos's own QR dependency
import qrcode.exceptions  # type: ignore[import-untyped]
import qrcode.util  # type: ignore[import-untyped]
from PIL import Image

from bridge_agent.render.errors import RenderError

PNG_SIGNATURE = b"\x89PNG\r\n\x1a\n"
MAX_IMAGE_SOURCE_PIXELS = 8_000_000  # bounds decoding memory (~32 MB as RGBA)
MAX_IMAGE_HEIGHT_DOTS = 2_400  # about 30 cm of paper at 203 dpi

QR_MAX_MODULE_DOTS = 6  # about 0.75 mm per module at 203 dpi: easy for phone cameras
QR_QUIET_ZONE_MODULES = 4  # each side, as ISO/IEC 18004 asks

# Module counts of the symbols alone: the paper's margins beyond the printable dots are the
# quiet zones.
EAN13_MODULES = 95
BARCODE_MODULE_DOTS = (3, 2)  # widest first; python-escpos accepts 2-6 dots per module


def prepare_image(png: bytes, dots: int) -> tuple[Image.Image, int, int]:
    """The PNG flattened on white, scaled down to fit, centred on a canvas ``dots`` wide.

    Returns the canvas and the size of the picture on it. Images are printed one pixel per dot
    and never scaled up. The canvas does the centring because python-escpos 3.1 drops its own
    ``center`` flag for images taller than its 960-dot fragments.
    """
    source_width, source_height = _png_size(png)
    if source_width * source_height > MAX_IMAGE_SOURCE_PIXELS:
        raise RenderError(
            f"image is {source_width}x{source_height} pixels, "
            f"more than {MAX_IMAGE_SOURCE_PIXELS} pixels in all"
        )
    try:
        with Image.open(io.BytesIO(png), formats=["PNG"]) as source:
            rgba = source.convert("RGBA")
    except Exception as exc:  # a corrupt PNG raises OSError, SyntaxError, zlib.error, ...
        raise RenderError(f"image is not a readable PNG: {exc}") from exc
    flat = Image.new("RGB", rgba.size, "white")
    flat.paste(rgba, mask=rgba.getchannel("A"))
    picture = flat.convert("L")
    scale = min(1.0, dots / picture.width, MAX_IMAGE_HEIGHT_DOTS / picture.height)
    if scale < 1.0:
        size = (max(1, round(picture.width * scale)), max(1, round(picture.height * scale)))
        picture = picture.resize(size, Image.Resampling.LANCZOS)
    canvas = Image.new("L", (dots, picture.height), 255)
    canvas.paste(picture, ((dots - picture.width) // 2, 0))
    return canvas, picture.width, picture.height


def _png_size(png: bytes) -> tuple[int, int]:
    """Width and height from the IHDR chunk, read before Pillow decodes anything."""
    if len(png) < 24 or not png.startswith(PNG_SIGNATURE) or png[12:16] != b"IHDR":
        raise RenderError("image is not a PNG")
    width, height = struct.unpack(">II", png[16:24])
    if width == 0 or height == 0:
        raise RenderError("image is empty")
    return int(width), int(height)


def qr_module_dots(data: str, dots: int) -> int:
    """Dots per QR module so that the symbol and its quiet zone fit across the paper.

    The QR version is estimated for byte mode at error correction M (what the printer is asked
    for), the least compact encoding the printer could choose, so the estimate is an upper bound.
    """
    symbol = qrcode.QRCode(error_correction=qrcode.constants.ERROR_CORRECT_M)
    symbol.add_data(qrcode.util.QRData(data.encode("utf-8"), mode=qrcode.util.MODE_8BIT_BYTE))
    try:
        symbol.best_fit()
    except qrcode.exceptions.DataOverflowError as exc:
        raise RenderError("QR data does not fit in a QR code") from exc
    modules = 17 + 4 * int(symbol.version) + 2 * QR_QUIET_ZONE_MODULES
    return max(1, min(QR_MAX_MODULE_DOTS, dots // modules))


def barcode_module_dots(symbology: str, data: str, dots: int) -> int | None:
    """The widest module (in dots) at which the barcode fits the paper, or None if none does."""
    # CODE128 in code set B: start, one symbol a character, check (11 modules each), stop (13)
    modules = EAN13_MODULES if symbology == "EAN13" else 11 * (len(data) + 2) + 13
    for module_dots in BARCODE_MODULE_DOTS:
        if module_dots * modules <= dots:
            return module_dots
    return None
