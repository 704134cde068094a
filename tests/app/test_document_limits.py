"""What a document's images and barcodes must be at submission: a PNG whose IHDR header is
whole and true, within the pixel limits one by one and in all, and an EAN13 whose check digit
is right. A refusal is a 422 ``validation_error`` naming the block that creates nothing, on
SQLite and PostgreSQL, with the hot submission path on and off."""

from __future__ import annotations

import base64
import struct
import zlib
from typing import Any

import pytest

from app.print_jobs.document import MAX_DOCUMENT_IMAGE_PIXELS, MAX_IMAGE_PIXELS
from tests.conftest import ALL_PATHS
from tests.world import Tenant, World, assert_error

pytestmark = pytest.mark.parametrize("database_url", ALL_PATHS, indirect=True)

SIGNATURE = b"\x89PNG\r\n\x1a\n"


def _chunk(kind: bytes, data: bytes) -> bytes:
    return struct.pack(">I", len(data)) + kind + data + struct.pack(">I", zlib.crc32(kind + data))


def ihdr(width: int, height: int, depth: int = 1, colour: int = 0) -> bytes:
    return _chunk(b"IHDR", struct.pack(">IIBBBBB", width, height, depth, colour, 0, 0, 0))


def png(width: int, height: int) -> bytes:
    """A real, blank 1-bit greyscale PNG (any decoder reads it), compressed as far as zlib
    goes: an 8 Mpx one is about a kilobyte."""
    rows = (b"\x00" + bytes(-(-width // 8))) * height
    idat = _chunk(b"IDAT", zlib.compress(rows, 9))
    return SIGNATURE + ihdr(width, height) + idat + _chunk(b"IEND", b"")


def image(data: bytes) -> dict[str, Any]:
    return {"type": "image", "png_base64": base64.b64encode(data).decode()}


def ean13(data: str) -> dict[str, Any]:
    return {"type": "barcode", "data": data, "symbology": "EAN13"}


TEXT = {"type": "text", "text": "Mesa 4"}
LOGO = png(576, 120)  # an 80 mm receipt's logo


async def _job_ids(world: World, tenant: Tenant, location: str) -> list[str]:
    r = await world.client.get(
        "/v1/print-jobs", params={"location_id": location, "limit": 200}, headers=tenant.manager
    )
    assert r.status_code == 200, r.text
    return [j["id"] for j in r.json()["items"]]


def _bad_ihdr_crc() -> bytes:
    good = bytearray(png(8, 8))
    good[29] ^= 0xFF
    return bytes(good)


@pytest.mark.parametrize(
    "blocks,where,why",
    [
        # Issue 19, item 25: the signature alone was taken as a PNG.
        pytest.param([image(SIGNATURE + bytes(64))], "blocks.0", "IHDR", id="signature-zeros"),
        pytest.param([TEXT, image(png(8, 8)[:30])], "blocks.1", "truncated", id="truncated"),
        pytest.param([image(_bad_ihdr_crc())], "blocks.0", "CRC", id="lying-crc"),
        pytest.param(
            [image(SIGNATURE + _chunk(b"IDAT", b"") + ihdr(8, 8))],
            "blocks.0",
            "IHDR",
            id="ihdr-not-first",
        ),
        pytest.param([image(SIGNATURE + ihdr(0, 8))], "blocks.0", "size", id="zero-width"),
        pytest.param(
            [image(SIGNATURE + ihdr(8, 8, depth=3, colour=2))],
            "blocks.0",
            "format",
            id="impossible-depth",
        ),
        # Issue 19, item 9: one image over the limit, and too many pixels in all.
        pytest.param([TEXT, TEXT, image(png(2001, 2000))], "blocks.2", "pixels", id="one-too-big"),
        pytest.param(
            [image(png(2000, 1500)), TEXT, image(png(2000, 1500)), image(png(2000, 1500))],
            "blocks.3",
            "in all",
            id="too-many-in-all",
        ),
        # Issue 19, item 21: the check digit of 4006381333931 is 1.
        pytest.param([TEXT, ean13("4006381333932")], "blocks.1", "check digit", id="ean13-digit"),
    ],
)
async def test_a_false_image_or_barcode_is_422_naming_the_block(
    world: World, blocks: list[dict[str, Any]], where: str, why: str
) -> None:
    tenant = await world.tenant()
    location = await tenant.location()
    r = await world.client.post(
        "/v1/print-jobs",
        json={"location_id": location, "document": {"blocks": blocks}},
        headers=tenant.pos,
    )
    message = assert_error(r, 422, "validation_error")["error"]["message"]
    assert f"{where}." in message or f"{where}:" in message, message
    assert why in message, message
    assert await _job_ids(world, tenant, location) == []


async def test_the_reported_submission_of_500_huge_images_is_refused(world: World) -> None:
    """730 KB: 500 image blocks of 8 Mpx each, 10 copies; accepted before, then the bridge
    spent ~100 s rendering it."""
    tenant = await world.tenant()
    location = await tenant.location()
    blocks = [image(png(4000, 2000))] * 500
    body = {"location_id": location, "document": {"blocks": blocks}, "copies": 10}
    r = await world.client.post("/v1/print-jobs", json=body, headers=tenant.pos)
    assert 700_000 < len(r.request.content) < 1024 * 1024  # under the body cap
    message = assert_error(r, 422, "validation_error")["error"]["message"]
    assert "blocks.0." in message and str(MAX_IMAGE_PIXELS) in message, message
    assert await _job_ids(world, tenant, location) == []


async def test_real_images_and_barcodes_up_to_the_limits_are_accepted(world: World) -> None:
    tenant = await world.tenant()
    location = await tenant.location()
    side = 2000  # 2000 x 2000 is exactly the limit of one image
    assert side * side == MAX_IMAGE_PIXELS == MAX_DOCUMENT_IMAGE_PIXELS // 2
    blocks = [
        image(LOGO),
        TEXT,
        image(png(side, side)),
        image(png(side, side - 576 * 120 // side - 1)),
        ean13("4006381333931"),  # the check digit is right
        ean13("400638133393"),  # 12 digits: the printer adds it
        ean13("0000000000000"),
    ]
    job = await tenant.job(location, document={"blocks": blocks})
    assert job["document"]["blocks"][0]["png_base64"] == base64.b64encode(LOGO).decode()
    assert len(job["document"]["blocks"]) == len(blocks)
