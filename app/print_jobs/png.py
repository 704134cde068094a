"""What a PNG's header says, read at submission without decoding the picture.

The bridge decodes every image it prints; the decoded size is ``width x height`` as the IHDR
chunk declares it (the decoder allocates for those dimensions, whatever the compressed data
holds), so bounding the declared pixels bounds the bridge's work and memory. The header is
the fixed first 33 bytes (PNG spec, section 11.2.2): signature, then the IHDR chunk's length
(13), type, data and CRC. Reading those few bytes directly keeps the check to microseconds on
the submission path; a decoder's ``open`` would also parse every ancillary chunk.
"""

from __future__ import annotations

import struct
import zlib

PNG_SIGNATURE = b"\x89PNG\r\n\x1a\n"
HEADER_BYTES = 33  # signature (8) + length (4) + "IHDR" (4) + data (13) + CRC (4)
MAX_DIMENSION = 2**31 - 1  # the spec's limit for width and height
# Colour type → the bit depths the spec allows for it.
BIT_DEPTHS = {0: (1, 2, 4, 8, 16), 2: (8, 16), 3: (1, 2, 4, 8), 4: (8, 16), 6: (8, 16)}


def png_size(data: bytes) -> tuple[int, int]:
    """(width, height) from a PNG's IHDR. ValueError if the header is missing, truncated,
    fails its CRC or declares what no PNG can be (a zero size, an unknown colour type)."""
    if not data.startswith(PNG_SIGNATURE):
        raise ValueError("must be a PNG image")
    if len(data) < HEADER_BYTES:
        raise ValueError("PNG header is truncated")
    length, chunk_type = struct.unpack(">I4s", data[8:16])
    if length != 13 or chunk_type != b"IHDR":
        raise ValueError("PNG must start with its IHDR chunk")
    (crc,) = struct.unpack(">I", data[29:33])
    if zlib.crc32(data[12:29]) != crc:
        raise ValueError("PNG header fails its CRC")
    width, height, depth, colour, compression, filtering, interlace = struct.unpack(
        ">IIBBBBB", data[16:29]
    )
    if not (1 <= width <= MAX_DIMENSION and 1 <= height <= MAX_DIMENSION):
        raise ValueError("PNG header declares an impossible size")
    if depth not in BIT_DEPTHS.get(colour, ()) or compression or filtering or interlace > 1:
        raise ValueError("PNG header declares an impossible format")
    return width, height
