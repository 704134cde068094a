"""Document -> ESC/POS bytes, plain text or a PNG of the paper. Pure: no clock, and no I/O
but loading the PNG's font once.

One layout step (``layout``) turns a contract Document into printed lines with styles and
graphic items; three encoders read it: ``escpos`` (printer bytes, through python-escpos),
``preview`` (plain text) and ``raster`` (a 1-bit PNG at printer resolution). ``job`` adds raw
pass-through, copies and the drawer pulse.
"""

from __future__ import annotations

from bridge_agent.render.errors import RenderError
from bridge_agent.render.escpos import DRAWER_PULSE, render_document
from bridge_agent.render.job import job_paper_width, render_job
from bridge_agent.render.preview import preview_text
from bridge_agent.render.profile import PROFILE_NAME, columns_for
from bridge_agent.render.raster import render_png

__all__ = [
    "DRAWER_PULSE",
    "PROFILE_NAME",
    "RenderError",
    "columns_for",
    "job_paper_width",
    "preview_text",
    "render_document",
    "render_job",
    "render_png",
]
