"""The contract's Document: validated on submit, rendered by the bridge.

Limits keep a ticket a ticket: a job must fit in the 1 MiB request cap and render in bounded time.
Images are bounded by the pixels their PNG headers declare, one by one and in all: an 80 mm
printer is 576 dots wide and the bridge prints at most 2,400 dots of height per image
(1.4 Mpx), so a logo never needs more than ``MAX_IMAGE_PIXELS``; the document's bound keeps
500 such blocks from costing the bridge minutes of decoding.
"""

from __future__ import annotations

import base64
import binascii
from typing import Annotated, Literal

from pydantic import AfterValidator, ConfigDict, Field, model_validator

from app.print_jobs.png import HEADER_BYTES, png_size
from app.schemas_common import Input

MAX_BLOCKS = 500
MAX_TEXT_CHARS = 4_000
MAX_QR_CHARS = 2_000
MAX_IMAGE_BYTES = 512 * 1024
# Decoded pixels (width x height from IHDR). 4 Mpx is a 2000 x 2000 logo, or a 576-dot-wide
# picture 6,900 dots (87 cm) long, about three times what the bridge prints of one image;
# decoded as RGBA it is 16 MB. A document's images together get twice that.
MAX_IMAGE_PIXELS = 4_000_000
MAX_DOCUMENT_IMAGE_PIXELS = 8_000_000

# What ``decode_base64`` accepts, for the schema (validation itself stays in code).
BASE64_PATTERN = r"^(?:[A-Za-z0-9+/]{4})*(?:[A-Za-z0-9+/]{2}==|[A-Za-z0-9+/]{3}=)?$"
# Base64 of a PNG starts with the signature and the IHDR chunk's length (13) and type:
# "iVBORw0KGgoAAAANSUhEU" and three more symbols. The rest of the header (its CRC, a possible
# size) and the pixel limits are checked in code: a pattern cannot state them.
PNG_BASE64_PATTERN = "^iVBORw0KGgoAAAANSUhEU[A-Za-z0-9+/]{3}" + BASE64_PATTERN[1:]


def base64_length(max_bytes: int) -> int:
    return 4 * -(-max_bytes // 3)


def decode_base64(value: str, *, max_bytes: int) -> bytes:
    try:
        data = base64.b64decode(value, validate=True)
    except (binascii.Error, ValueError) as exc:
        raise ValueError("must be valid base64") from exc
    if len(data) > max_bytes:
        raise ValueError(f"decodes to more than {max_bytes} bytes")
    return data


def _png(value: str) -> str:
    width, height = png_size(decode_base64(value, max_bytes=MAX_IMAGE_BYTES))
    if width * height > MAX_IMAGE_PIXELS:
        raise ValueError(f"image is {width}x{height} pixels, more than {MAX_IMAGE_PIXELS} in all")
    return value


# The base64 symbols that hold the PNG header (3 bytes per 4 symbols).
_HEADER_SYMBOLS = base64_length(HEADER_BYTES)


def ean13_check_digit(first_12: str) -> int:
    """GS1's check digit: weights 1 and 3 alternating from the left, to a multiple of 10."""
    total = sum(int(d) * (3 if i % 2 else 1) for i, d in enumerate(first_12))
    return -total % 10


Text = Annotated[str, Field(max_length=MAX_TEXT_CHARS)]


class TextBlock(Input):
    type: Literal["text"]
    text: Text
    align: Literal["left", "center", "right"] = "left"
    bold: bool = False
    underline: bool = False
    size: Literal["normal", "tall", "wide", "double"] = "normal"


class RowBlock(Input):
    type: Literal["row"]
    left: Text = ""
    right: Text = ""


class RuleBlock(Input):
    type: Literal["rule"]
    char: str = Field(default="-", min_length=1, max_length=1)


class FeedBlock(Input):
    type: Literal["feed"]
    lines: int = Field(default=1, ge=1, le=20)


class QrBlock(Input):
    type: Literal["qr"]
    data: str = Field(min_length=1, max_length=MAX_QR_CHARS)


class BarcodeBlock(Input):
    model_config = ConfigDict(
        extra="forbid",
        json_schema_extra={
            "oneOf": [
                {
                    "properties": {
                        "symbology": {"const": "EAN13"},
                        "data": {"pattern": "^[0-9]{12,13}$"},
                    }
                },
                {
                    "properties": {
                        "symbology": {"const": "CODE128"},
                        "data": {"pattern": "^[ -~]+$"},
                    }
                },
            ]
        },
    )

    type: Literal["barcode"]
    data: str = Field(
        min_length=1,
        max_length=80,
        description="EAN13: 12 digits, or 13 whose last is the GS1 check digit. "
        "CODE128: printable ASCII.",
    )
    symbology: Literal["EAN13", "CODE128"]

    @model_validator(mode="after")
    def _data_fits_symbology(self) -> BarcodeBlock:
        if self.symbology == "EAN13":
            if not (self.data.isascii() and self.data.isdigit() and len(self.data) in (12, 13)):
                raise ValueError("EAN13 data must be 12 or 13 digits")
            # 12 digits: the printer adds the check digit. 13: the last one must be it, or the
            # printer prints a code no scanner reads (or prints nothing).
            expected = ean13_check_digit(self.data[:12])
            if len(self.data) == 13 and int(self.data[12]) != expected:
                raise ValueError(f"EAN13 check digit must be {expected}, not {self.data[12]}")
        elif not all(32 <= ord(c) < 127 for c in self.data):
            raise ValueError("CODE128 data must be printable ASCII")
        return self


class ImageBlock(Input):
    type: Literal["image"]
    png_base64: Annotated[
        str,
        AfterValidator(_png),
        Field(
            max_length=base64_length(MAX_IMAGE_BYTES),
            json_schema_extra={"pattern": PNG_BASE64_PATTERN},
            description=f"A PNG with a valid IHDR header declaring at most {MAX_IMAGE_PIXELS} "
            f"pixels (width x height); a document's images at most "
            f"{MAX_DOCUMENT_IMAGE_PIXELS} in all.",
        ),
    ]

    @property
    def pixels(self) -> int:
        """Width x height as the header declares it (already validated)."""
        width, height = png_size(base64.b64decode(self.png_base64[:_HEADER_SYMBOLS]))
        return width * height


class CutBlock(Input):
    type: Literal["cut"]
    mode: Literal["full", "partial"] = "full"


Block = Annotated[
    TextBlock | RowBlock | RuleBlock | FeedBlock | QrBlock | BarcodeBlock | ImageBlock | CutBlock,
    Field(discriminator="type"),
]


class Document(Input):
    blocks: list[Block] = Field(min_length=1, max_length=MAX_BLOCKS)

    @model_validator(mode="after")
    def _image_pixels_in_all(self) -> Document:
        total = 0
        for index, block in enumerate(self.blocks):
            if isinstance(block, ImageBlock):
                total += block.pixels
                if total > MAX_DOCUMENT_IMAGE_PIXELS:
                    raise ValueError(
                        f"blocks.{index}: the document's images come to more than "
                        f"{MAX_DOCUMENT_IMAGE_PIXELS} pixels in all"
                    )
        return self
