"""A small ESC/POS disassembler for the commands the renderer sends, for reading golden files.

Written from the Epson ESC/POS command reference, independently of python-escpos, so a listing
checks the renderer's bytes rather than repeating its code. An unknown control byte is listed as
``UNKNOWN``: tests assert it never appears.
"""

from __future__ import annotations

ESC, GS = 0x1B, 0x1D
TEXT_BYTES = frozenset(range(0x20, 0x100)) - {0x7F}

# ESC x n: one parameter byte
_ESC_ONE = {
    ord("!"): "ESC ! (print mode)",
    ord("E"): "ESC E (bold)",
    ord("-"): "ESC - (underline)",
    ord("a"): "ESC a (align)",
    ord("d"): "ESC d (feed lines)",
    ord("t"): "ESC t (code page)",
}
# GS x n: one parameter byte
_GS_ONE = {
    ord("h"): "GS h (barcode height)",
    ord("w"): "GS w (barcode module)",
    ord("f"): "GS f (HRI font)",
    ord("H"): "GS H (HRI position)",
    ord("V"): "GS V (cut)",
}


def listing(data: bytes) -> list[str]:
    """One line per command or text run."""
    out: list[str] = []
    i = 0
    while i < len(data):
        byte = data[i]
        if byte in TEXT_BYTES:
            end = i
            while end < len(data) and data[end] in TEXT_BYTES:
                end += 1
            out.append(f"TEXT {data[i:end]!r}")
            i = end
        elif byte == 0x0A:
            out.append("LF")
            i += 1
        elif byte == ESC:
            i = _esc(data, i, out)
        elif byte == GS:
            i = _gs(data, i, out)
        else:
            out.append(f"UNKNOWN 0x{byte:02X}")
            i += 1
    return out


def _esc(data: bytes, i: int, out: list[str]) -> int:
    command = data[i + 1]
    if command == ord("@"):
        out.append("ESC @ (initialise)")
        return i + 2
    if command == ord("p"):
        pin = {0: 2, 1: 5, 48: 2, 49: 5}.get(data[i + 2], "?")
        on, off = data[i + 3] * 2, data[i + 4] * 2
        out.append(f"ESC p (drawer) m={data[i + 2]} (pin {pin}) on={on}ms off={off}ms")
        return i + 5
    if command in _ESC_ONE:
        out.append(f"{_ESC_ONE[command]} {data[i + 2]}")
        return i + 3
    out.append(f"UNKNOWN ESC 0x{command:02X}")
    return i + 2


def _gs(data: bytes, i: int, out: list[str]) -> int:
    command = data[i + 1]
    if command in _GS_ONE:
        out.append(f"{_GS_ONE[command]} {data[i + 2]}")
        return i + 3
    if data[i + 1 : i + 3] == b"(k":
        size = data[i + 3] | data[i + 4] << 8
        body = data[i + 5 : i + 5 + size]
        out.append("GS ( k QR " + _qr_function(body))
        return i + 5 + size
    if command == ord("k"):
        kind = data[i + 2]
        if kind < 0x41:  # function A: NUL-terminated
            end = data.index(0, i + 3)
            out.append(f"GS k barcode type={kind} {data[i + 3 : end]!r} NUL")
            return end + 1
        length = data[i + 3]
        out.append(f"GS k barcode type={kind} {data[i + 4 : i + 4 + length]!r}")
        return i + 4 + length
    if data[i + 1 : i + 3] == b"v0":
        mode = data[i + 3]
        width_bytes = data[i + 4] | data[i + 5] << 8
        height = data[i + 6] | data[i + 7] << 8
        out.append(f"GS v 0 (raster) mode={mode} {width_bytes * 8}x{height} dots")
        start = i + 8
        for row in range(height):
            out.append(
                "  "
                + _raster_row(data[start + row * width_bytes : start + (row + 1) * width_bytes])
            )
        return start + width_bytes * height
    out.append(f"UNKNOWN GS 0x{command:02X}")
    return i + 2


def _qr_function(body: bytes) -> str:
    """``body`` is cn fn [m] data: cn is 0x31 (QR code), fn the function."""
    function = body[1]
    if function == 0x41:
        return f"model {body[2] - 0x30}"
    if function == 0x43:
        return f"module size {body[2]} dots"
    if function == 0x45:
        return "error correction " + "LMQH"[body[2] - 0x30]
    if function == 0x50:
        return f"store {body[3:]!r}"
    if function == 0x51:
        return "print"
    return f"UNKNOWN function 0x{function:02X}"


def _raster_row(row: bytes) -> str:
    """The inked span of a raster row: its first dot and its bits as # and ."""
    bits = "".join(f"{byte:08b}" for byte in row)
    first, last = bits.find("1"), bits.rfind("1")
    if first < 0:
        return "(blank)"
    return f"dot {first}: " + bits[first : last + 1].replace("1", "#").replace("0", ".")
