"""The agent's own image budget (issue 19 item 9), read from PNG headers before any decoding.

The server bounds a document's pixels at submission; the agent keeps a bound of its own for
servers older than that check, so one ticket can never stall or swell a bridge.
"""

from __future__ import annotations

import base64
import struct
import zlib

import pytest

from bridge_agent.render.errors import RenderError
from bridge_agent.render.graphics import (
    MAX_DOCUMENT_IMAGE_HEIGHT_DOTS,
    MAX_DOCUMENT_SOURCE_PIXELS,
    PNG_SIGNATURE,
    check_image_budget,
)


def _header_only_png(width: int, height: int) -> str:
    """A PNG's signature and IHDR chunk with no picture data: decoding it would fail, so a
    budget decided from it shows that nothing was decoded."""
    ihdr = struct.pack(">IIBBBBB", width, height, 8, 0, 0, 0, 0)
    chunk = struct.pack(">I", len(ihdr)) + b"IHDR" + ihdr
    chunk += struct.pack(">I", zlib.crc32(b"IHDR" + ihdr))
    return base64.b64encode(PNG_SIGNATURE + chunk).decode()


def test_images_over_the_pixel_budget_are_refused_from_their_headers() -> None:
    side = 2449  # 6 Mpx each: three are 18 Mpx, over the 16 Mpx a ticket may hold
    assert 3 * side * side > MAX_DOCUMENT_SOURCE_PIXELS
    with pytest.raises(RenderError, match=f"the images total {3 * side * side} pixels"):
        check_image_budget([_header_only_png(side, side)] * 3, dots=576)


def test_images_over_the_printed_height_budget_are_refused() -> None:
    tall = _header_only_png(100, 16_000)  # scaled to 2,400 dots each
    count = MAX_DOCUMENT_IMAGE_HEIGHT_DOTS // 2_400 + 1
    with pytest.raises(RenderError, match=f"would print {count * 2_400} dots tall"):
        check_image_budget([tall] * count, dots=576)


def test_images_within_the_budget_pass() -> None:
    check_image_budget([_header_only_png(576, 200)] * 4, dots=576)
    check_image_budget([_header_only_png(2000, 2000)] * 4, dots=384)  # 16 Mpx: at the bound
