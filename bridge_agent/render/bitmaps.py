"""The graphic items as 1-bit pictures, drawn as the printer draws them from the ESC/POS path.

Every picture here is mode "1" with ink 0 (black) on 255 (white), the paper's colours.

- QR: the symbol the printer builds for ``GS ( k`` (model 2, error correction M, byte mode, the
  smallest version that holds the data), ``module_dots`` per module, no quiet zone (the paper
  around it is the quiet zone, as on the printer). The mask pattern is fixed: the printer picks
  its own, any mask reads the same, and scoring all eight (qrcode's default) costs ~14 ms.
- Barcodes: the bars of the symbology the ESC/POS path asks for (EAN13 with its check digit;
  CODE128 in code set B, the ``{B`` python-escpos sends), modules from python-barcode's tables.
- Images: python-escpos's own ``EscposImage`` conversion (invert, then Floyd-Steinberg to
  1 bit), fragment by fragment as ``Escpos.image()`` sends them, so the dots are the same.
"""

from __future__ import annotations

import barcode  # type: ignore[import-untyped]  # python-escpos's barcode dependency
import qrcode  # type: ignore[import-untyped]
import qrcode.util  # type: ignore[import-untyped]
from barcode.charsets import code128  # type: ignore[import-untyped]
from escpos.image import EscposImage
from PIL import Image, ImageChops

from bridge_agent.render.layout import Symbology

INK, PAPER = 0, 255  # mode "1" pixel values: black, white
QR_MASK_PATTERN = 0
IMAGE_FRAGMENT_DOTS = 960  # python-escpos's Escpos.image() default fragment_height
_CODE128_STOP = code128.STOP + "11"  # the stop symbol's final bar: 13 modules in all


def qr_bitmap(data: str, module_dots: int) -> Image.Image:
    symbol = qrcode.QRCode(
        error_correction=qrcode.constants.ERROR_CORRECT_M, border=0, mask_pattern=QR_MASK_PATTERN
    )
    symbol.add_data(qrcode.util.QRData(data.encode("utf-8"), mode=qrcode.util.MODE_8BIT_BYTE))
    symbol.make(fit=True)
    matrix: list[list[bool]] = symbol.get_matrix()
    size = len(matrix)
    small = Image.new("1", (size, size), PAPER)
    small.putdata([INK if dark else PAPER for row in matrix for dark in row])
    return small.resize((size * module_dots, size * module_dots), Image.Resampling.NEAREST)


def barcode_modules(symbology: Symbology, data: str) -> tuple[str, str]:
    """The symbol's modules as "1" (bar) and "0" (space), and its human-readable text."""
    if symbology is Symbology.EAN13:
        ean = barcode.get("ean13", data[:12])
        modules: str = ean.build()[0]
        return modules, str(ean.get_fullcode())
    values = [code128.START_CODES["B"]] + [code128.B[char] for char in data]
    checksum = (values[0] + sum(i * value for i, value in enumerate(values[1:], 1))) % 103
    patterns = [code128.CODES[value] for value in [*values, checksum]]
    return "".join(patterns) + _CODE128_STOP, data


def bars_bitmap(modules: str, module_dots: int, height_dots: int) -> Image.Image:
    row = Image.new("1", (len(modules), 1), PAPER)
    row.putdata([INK if module == "1" else PAPER for module in modules])
    return row.resize((len(modules) * module_dots, height_dots), Image.Resampling.NEAREST)


def picture_bitmap(canvas: Image.Image) -> Image.Image:
    """The dots ``Escpos.image(canvas)`` prints, as a paper-coloured picture."""
    out = Image.new("1", canvas.size, PAPER)
    for top in range(0, canvas.height, IMAGE_FRAGMENT_DOTS):
        fragment = canvas.crop(
            (0, top, canvas.width, min(canvas.height, top + IMAGE_FRAGMENT_DOTS))
        )
        dots = EscposImage(fragment)._im  # 1 = a dot to burn
        out.paste(ImageChops.invert(dots), (0, top))
    return out
