"""A whole Job: raw pass-through or a rendered document, copies and the drawer pulse."""

from __future__ import annotations

import base64
import binascii
from collections.abc import Mapping
from typing import Any

from bridge_agent.render.errors import RenderError
from bridge_agent.render.escpos import DRAWER_PULSE, encode_escpos
from bridge_agent.render.layout import layout_document
from bridge_agent.render.profile import PAPERS

MAX_COPIES = 10  # the server's limit


def render_job(job: Mapping[str, Any], *, paper_width_mm: int = 80) -> bytes:
    """The bytes to send to the printer for ``job`` (the contract's Job object).

    A document is laid out for the job's own ``paper_width_mm`` (its station's width);
    ``paper_width_mm`` here is the fallback for a job that does not say (an older server).

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
    layout = layout_document(document, paper_width_mm=job_paper_width(job, paper_width_mm))
    first = encode_escpos(layout, drawer_pulse=drawer_pulse)
    if copies == 1:
        return first
    return first + encode_escpos(layout) * (copies - 1)


def job_paper_width(job: Mapping[str, Any], fallback: int) -> int:
    """The paper ``job`` is laid out for: its ``paper_width_mm``, or ``fallback`` (the agent's
    ``--paper-width``) when the server did not send one. A width this agent has no paper for
    fails the job with a clear error rather than printing at a width nobody asked for."""
    width = job.get("paper_width_mm")
    if width is None:
        return fallback
    if isinstance(width, bool) or not isinstance(width, int) or width not in PAPERS:
        allowed = " or ".join(str(w) for w in PAPERS)
        raise RenderError(f"paper_width_mm must be {allowed}, not {width!r}")
    return width


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
