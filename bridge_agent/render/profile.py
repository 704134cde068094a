"""The printer we render for: one python-escpos capability profile and the two paper widths.

Profile ``TM-T88V``: Epson's TM-T88 family is the reference that other ESC/POS printers emulate.
Its profile declares every feature the renderer uses (``barcodeB`` for CODE128, native ``qrCode``,
``bitImageRaster``, ``paperFullCut`` and ``paperPartCut``), its font A is exactly the contract's
42 columns on 80 mm paper, and its code-page table names only pages python-escpos can encode.
The ``default`` profile lists many ``Unknown`` slots and an unknown media width, which makes
python-escpos's ``image()`` print a warning to stdout: rendering must not do I/O.

The dot widths (576 at 80 mm, 384 at 58 mm) are those of the common 203 dpi heads; the renderer
sizes images, QR codes and barcodes to them rather than to the profile's own media width.
"""

from __future__ import annotations

from dataclasses import dataclass

PROFILE_NAME = "TM-T88V"


@dataclass(frozen=True)
class Paper:
    width_mm: int
    columns: int  # font A characters per line at normal width
    dots: int  # printable dots per line (raster images, barcodes, QR codes)


PAPERS = {
    80: Paper(width_mm=80, columns=42, dots=576),
    58: Paper(width_mm=58, columns=32, dots=384),
}


def paper_for(paper_width_mm: int) -> Paper:
    """The paper of a station: 80 or 58 mm, as the contract allows."""
    try:
        return PAPERS[paper_width_mm]
    except (KeyError, TypeError):
        allowed = " or ".join(str(width) for width in PAPERS)
        raise ValueError(f"paper width must be {allowed} mm, not {paper_width_mm!r}") from None


def columns_for(paper_width_mm: int) -> int:
    """Characters per line at normal width: 42 on 80 mm paper, 32 on 58 mm."""
    return paper_for(paper_width_mm).columns
