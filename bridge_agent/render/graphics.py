"""Sizing of the graphic blocks for the paper: images, QR codes and barcodes.

Pure functions of their input; nothing here talks to a printer.
"""

from __future__ import annotations

import base64
import binascii
import io
import struct
from collections.abc import Iterable

import qrcode  # type: ignore[import-untyped]  # python-escpos's own QR dependency
import qrcode.exceptions  # type: ignore[import-untyped]
import qrcode.util  # type: ignore[import-untyped]
from PIL import Image

from bridge_agent.render.errors import RenderError

PNG_SIGNATURE = b"\x89PNG\r\n\x1a\n"
MAX_IMAGE_SOURCE_PIXELS = 8_000_000  # bounds decoding memory (~32 MB as RGBA)
MAX_IMAGE_HEIGHT_DOTS = 2_400  # about 30 cm of paper at 203 dpi
# Per document, all images together: what one ticket may cost the bridge to decode (two images
# of the largest size) and to print (about 1.2 m of raster at 203 dpi, ~0.7 MB a copy at 80 mm).
# A ticket of 500 images of 8 Mpx each took ~100 s and ~2.5 GB before these bounds.
MAX_DOCUMENT_SOURCE_PIXELS = 2 * MAX_IMAGE_SOURCE_PIXELS
MAX_DOCUMENT_IMAGE_HEIGHT_DOTS = 4 * MAX_IMAGE_HEIGHT_DOTS
_PNG_HEADER_BASE64_CHARS = 32  # base64 of the signature and the IHDR chunk's size: 24 bytes

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


def check_image_budget(encoded_images: Iterable[str], dots: int) -> None:
    """Refuse a document whose images together are too big, before any of them is decoded.

    Reads only each PNG's header (its first 24 bytes). Images whose header cannot be read are
    skipped here: laying them out reports them with their block number.
    """
    source_pixels = printed_height = 0
    for encoded in encoded_images:
        try:
            width, height = _png_size(base64.b64decode(encoded[:_PNG_HEADER_BASE64_CHARS]))
        except (RenderError, binascii.Error, ValueError):
            continue
        source_pixels += width * height
        scale = min(1.0, dots / width, MAX_IMAGE_HEIGHT_DOTS / height)
        printed_height += max(1, round(height * scale))
    if source_pixels > MAX_DOCUMENT_SOURCE_PIXELS:
        raise RenderError(
            f"the images total {source_pixels} pixels, more than the "
            f"{MAX_DOCUMENT_SOURCE_PIXELS} a ticket may hold"
        )
    if printed_height > MAX_DOCUMENT_IMAGE_HEIGHT_DOTS:
        raise RenderError(
            f"the images would print {printed_height} dots tall, more than the "
            f"{MAX_DOCUMENT_IMAGE_HEIGHT_DOTS} a ticket may hold"
        )


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
