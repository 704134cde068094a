"""A whole Job: raw pass-through or a rendered document, copies and the drawer pulse."""

from __future__ import annotations

import base64
import binascii
from collections.abc import Mapping
from typing import Any

from bridge_agent.render.errors import RenderError
from bridge_agent.render.escpos import DRAWER_PULSE, encode_escpos
from bridge_agent.render.layout import layout_document

MAX_COPIES = 10  # the server's limit


def render_job(job: Mapping[str, Any], *, paper_width_mm: int = 80) -> bytes:
    """The bytes to send to the printer for ``job`` (the contract's Job object).

    ``raw`` bytes go out untouched, ``copies`` times. A document is rendered once per copy, each
    copy starting with ESC @ and ending with its own cut if the document has one.
    ``drawer_pulse`` adds the drawer kick once per job, first thing (after ESC @ for a
    document), so the drawer opens even if the paper runs out. Raises RenderError.
    """
    copies = job.get("copies", 1)
    if isinstance(copies, bool) or not isinstance(copies, int) or not 1 <= copies <= MAX_COPIES:
        raise RenderError(f"copies must be an integer from 1 to {MAX_COPIES}")
    drawer_pulse = job.get("drawer_pulse", False)
    if not isinstance(drawer_pulse, bool):
        raise RenderError("drawer_pulse must be true or false")
    raw, document = job.get("raw"), job.get("document")
    if (raw is None) == (document is None):
        raise RenderError("a job has exactly one of 'raw' and 'document'")
    if document is None:
        pulse = DRAWER_PULSE if drawer_pulse else b""
        return pulse + _decode_raw(raw) * copies
    layout = layout_document(document, paper_width_mm=paper_width_mm)
    first = encode_escpos(layout, drawer_pulse=drawer_pulse)
    if copies == 1:
        return first
    return first + encode_escpos(layout) * (copies - 1)


def _decode_raw(raw: Any) -> bytes:
    if not isinstance(raw, Mapping) or raw.get("encoding") != "base64":
        raise RenderError("raw must be {'encoding': 'base64', 'data': ...}")
    data = raw.get("data")
    if not isinstance(data, str):
        raise RenderError("raw.data must be a base64 string")
    try:
        return base64.b64decode(data, validate=True)
    except (binascii.Error, ValueError) as exc:
        raise RenderError("raw.data is not valid base64") from exc
