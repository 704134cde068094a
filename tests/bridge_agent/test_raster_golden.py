"""Whole tickets as PNGs against golden pictures, pixel for pixel, at 80 and 58 mm.

The goldens are the pictures the README shows. They depend on the fonts (DejaVu Sans Mono from
Debian's fonts-dejavu-core; Noto CJK, Noto Sans Arabic/Hebrew/Thai and Symbola for the other
scripts, which ``.ci/run`` installs) and on the FreeType, HarfBuzz and FriBidi that Pillow uses.
To regenerate them deliberately after a reviewed change:

    PRINTRELAY_UPDATE_GOLDEN=1 .venv/bin/pytest tests/bridge_agent/test_raster_golden.py

then look at every changed PNG before committing it.
"""

from __future__ import annotations

import io
import os
from pathlib import Path

import pytest
from PIL import Image, ImageChops

from bridge_agent.render import render_png
from tests.bridge_agent.tickets import (
    KITCHEN_TICKET,
    RECEIPT,
    SCRIPT_SAMPLES,
    SCRIPTS_TICKET,
)

# These draw text: without the font they skip locally, unless CI=true (tests/conftest.py).
pytestmark = pytest.mark.usefixtures("script_fonts")

GOLDEN_DIR = Path(__file__).parent / "golden"
UPDATE = os.environ.get("PRINTRELAY_UPDATE_GOLDEN") == "1"
CASES = {
    "receipt_80mm": (RECEIPT, 80),
    "receipt_58mm": (RECEIPT, 58),
    "kitchen_80mm": (KITCHEN_TICKET, 80),
    "kitchen_58mm": (KITCHEN_TICKET, 58),
    # Issue 20's ticket, and one a script: drawn with Debian's fonts-noto-cjk, fonts-noto-core
    # and fonts-symbola through Pillow's raqm.
    "scripts_80mm": (SCRIPTS_TICKET, 80),
    "scripts_58mm": (SCRIPTS_TICKET, 58),
    **{f"script_{name}_80mm": (document, 80) for name, document in SCRIPT_SAMPLES.items()},
}


@pytest.mark.parametrize("name", sorted(CASES))
def test_golden_png(name: str, tmp_path: Path) -> None:
    document, width = CASES[name]
    png = render_png(document, paper_width_mm=width)
    golden_path = GOLDEN_DIR / f"{name}.png"
    if UPDATE:
        golden_path.write_bytes(png)
        pytest.skip(f"regenerated {golden_path.name}: look at it before committing")
    with Image.open(io.BytesIO(png)) as actual, Image.open(golden_path) as golden:
        assert (actual.mode, actual.size) == (golden.mode, golden.size)
        differing = ImageChops.logical_xor(actual, golden).histogram()[255]
        if differing:
            (tmp_path / golden_path.name).write_bytes(png)
        assert differing == 0, (
            f"{differing} dots differ; this render: {tmp_path / golden_path.name}"
        )
