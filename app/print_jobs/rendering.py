"""What the render endpoints answer, made by the agent's own renderer (``bridge_agent.render``),
so a preview is what the printer gets: ``escpos`` is ``render_job`` for one copy, the very
function the agent calls before it writes to the printer; ``escpos_job`` is all of it, every
copy, which a web bridge (``/bridge/``) writes as the agent would.

``FORMATS`` is the one table of formats: its media type and its renderer. A renderer gets the
job as the agent receives it (``job_wire``, or the same shape for a preview) and the paper width
in mm, and runs in a worker thread (a document may hold images worth a few megapixels), at most
``RENDER_THREADS`` at once per process, so a burst of previews waits its turn instead of taking
the event loop's or every worker thread from the delivery path.
"""

from __future__ import annotations

from collections.abc import Callable, Mapping
from dataclasses import dataclass
from typing import Any

import anyio
from fastapi import Response

from app.errors import ErrorBody, NotRenderable, ValidationFailed
from bridge_agent.render import RenderError, preview_text, render_job, render_png

JobMapping = Mapping[str, Any]

# Renders running at once per server process (threads; the GIL lets one run at a time anyway).
RENDER_THREADS = 2


def render_limiter() -> anyio.CapacityLimiter:
    """The bound on renders at once, one per app (``app.state.render_limiter``)."""
    return anyio.CapacityLimiter(RENDER_THREADS)


@dataclass(frozen=True, slots=True)
class RenderFormat:
    media_type: str  # as the response's Content-Type says it
    render: Callable[[JobMapping, int], bytes]  # (job, paper width in mm) -> body
    description: str

    @property
    def schema_media_type(self) -> str:
        """The media type without its parameters, as OpenAPI names a response's content."""
        return self.media_type.split(";", 1)[0]


def _escpos(job: JobMapping, paper_width_mm: int) -> bytes:
    # One copy however many the job asks for; the drawer pulse is in the first copy.
    return render_job({**job, "copies": 1}, paper_width_mm=paper_width_mm)


def _escpos_job(job: JobMapping, paper_width_mm: int) -> bytes:
    # Every copy, the drawer pulse once: what a web bridge writes to its printer for the job.
    return render_job(job, paper_width_mm=paper_width_mm)


def _document(job: JobMapping) -> Any:
    document = job.get("document")
    if document is None:
        raise NotRenderable("A raw job is printed as it was sent: only format=escpos shows it.")
    return document


def _text(job: JobMapping, paper_width_mm: int) -> bytes:
    return preview_text(_document(job), paper_width_mm=paper_width_mm).encode("utf-8")


def _png(job: JobMapping, paper_width_mm: int) -> bytes:
    return render_png(_document(job), paper_width_mm=paper_width_mm)


FORMATS: dict[str, RenderFormat] = {
    "escpos": RenderFormat(
        "application/octet-stream",
        _escpos,
        "escpos: the bytes the agent sends to the printer for one copy (drawer pulse included).",
    ),
    "escpos_job": RenderFormat(
        "application/octet-stream",
        _escpos_job,
        "escpos_job: the bytes the agent sends for the whole job (every copy, the pulse once).",
    ),
    "text": RenderFormat(
        "text/plain; charset=utf-8",
        _text,
        "text: the paper as text, one line per printed line, no line wider than the paper.",
    ),
    "png": RenderFormat(
        "image/png",
        _png,
        "png: a 1-bit picture of the paper at 203 dpi (576 dots wide on 80 mm, 384 on 58 mm).",
    ),
}


def render_format(name: str) -> RenderFormat:
    """The format called ``name``; 422 for any other."""
    found = FORMATS.get(name)
    if found is None:
        raise ValidationFailed(f"query.format: must be one of {', '.join(FORMATS)}, not {name!r}")
    return found


def preview_job(document: JobMapping) -> dict[str, Any]:
    """A document that is not stored, as the agent would receive it in a job of one copy."""
    return {"document": document, "raw": None, "copies": 1, "drawer_pulse": False}


async def render(
    fmt: RenderFormat, job: JobMapping, paper_width_mm: int, limiter: anyio.CapacityLimiter
) -> Response:
    try:
        body = await anyio.to_thread.run_sync(fmt.render, job, paper_width_mm, limiter=limiter)
    except RenderError as exc:
        # What the agent would report as the job's render_error, answered before any paper.
        raise NotRenderable(f"The renderer refuses this document: {exc}") from exc
    return Response(body, media_type=fmt.media_type)


def openapi_responses() -> dict[int | str, dict[str, Any]]:
    """The 200 answer in each format, and the 422s, for the routes' OpenAPI schema."""
    content = {fmt.schema_media_type: {"schema": _body_schema(fmt)} for fmt in FORMATS.values()}
    return {
        200: {
            "description": " ".join(fmt.description for fmt in FORMATS.values()),
            "content": content,
        },
        422: {
            "model": ErrorBody,
            "description": "validation_error | not_renderable (a raw job as text or "
            "picture, or a document the renderer refuses)",
        },
    }


def _body_schema(fmt: RenderFormat) -> dict[str, str]:
    if fmt.schema_media_type.startswith("text/"):
        return {"type": "string"}
    return {"type": "string", "format": "binary"}
