"""The contract's Document: validated on submit, rendered by the bridge.

Limits keep a ticket a ticket: a job must fit in the 1 MiB request cap and render in bounded time.
"""

from __future__ import annotations

import base64
import binascii
from typing import Annotated, Literal

from pydantic import AfterValidator, ConfigDict, Field, model_validator

from app.schemas_common import Input

MAX_BLOCKS = 500
MAX_TEXT_CHARS = 4_000
MAX_QR_CHARS = 2_000
MAX_IMAGE_BYTES = 512 * 1024
PNG_SIGNATURE = b"\x89PNG\r\n\x1a\n"

# What ``decode_base64`` accepts, for the schema (validation itself stays in code).
BASE64_PATTERN = r"^(?:[A-Za-z0-9+/]{4})*(?:[A-Za-z0-9+/]{2}==|[A-Za-z0-9+/]{3}=)?$"
# Base64 of a PNG starts with the signature: "iVBORw0KGgo" and one more symbol.
PNG_BASE64_PATTERN = "^iVBORw0KGgo[A-Za-z0-9+/]" + BASE64_PATTERN[1:]


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
    if not decode_base64(value, max_bytes=MAX_IMAGE_BYTES).startswith(PNG_SIGNATURE):
        raise ValueError("must be a PNG image")
    return value


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
    data: str = Field(min_length=1, max_length=80)
    symbology: Literal["EAN13", "CODE128"]

    @model_validator(mode="after")
    def _data_fits_symbology(self) -> BarcodeBlock:
        if self.symbology == "EAN13":
            if not (self.data.isascii() and self.data.isdigit() and len(self.data) in (12, 13)):
                raise ValueError("EAN13 data must be 12 or 13 digits")
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
        ),
    ]


class CutBlock(Input):
    type: Literal["cut"]
    mode: Literal["full", "partial"] = "full"


Block = Annotated[
    TextBlock | RowBlock | RuleBlock | FeedBlock | QrBlock | BarcodeBlock | ImageBlock | CutBlock,
    Field(discriminator="type"),
]


class Document(Input):
    blocks: list[Block] = Field(min_length=1, max_length=MAX_BLOCKS)
