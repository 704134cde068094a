"""The render endpoints: a stored job, or a document that is not stored, as the printer's bytes,
as text (and, with the raster renderer, as a picture). Readers only: nothing here changes a
job or touches the delivery path; see ``app.print_jobs.rendering`` for the formats. Each
credential may render ``PRINTRELAY_RENDER_RATE_LIMIT`` times a minute (shared by every process
through Redis when it is configured), so one leaked key cannot keep the render threads busy; a
device fetching the bytes of a job it holds (``sent``, claimed by itself) is printing, not
previewing, and is not counted."""

from __future__ import annotations

import uuid
from typing import Annotated

import anyio
from fastapi import APIRouter, Depends, Query, Request, Response

from app.api_common import Db
from app.auth.dependencies import AuthFirstRoute, JobReader, PosOrManager
from app.auth.principals import Principal
from app.coordination.rate_limit import retry_after_seconds
from app.errors import ERROR_RESPONSES, RateLimited
from app.locations.schemas import PaperWidth
from app.models.enums import JobStatus
from app.models.print_job import PrintJob
from app.print_jobs import rendering, service
from app.print_jobs.document import Document
from app.print_jobs.schemas import job_wire
from app.schemas_common import Input

router = APIRouter(
    prefix="/v1",
    tags=["render"],
    responses=ERROR_RESPONSES,
    route_class=AuthFirstRoute,
)

# A plain string checked against the table in code (``rendering.render_format``), so a new
# format is one entry of ``rendering.FORMATS``; the schema lists the table's names.
FormatQuery = Annotated[
    str,
    Query(
        alias="format",
        max_length=32,
        description="The output: " + ", ".join(rendering.FORMATS) + ".",
        json_schema_extra={"enum": list(rendering.FORMATS)},
    ),
]


async def get_render_limiter(request: Request) -> anyio.CapacityLimiter:
    limiter: anyio.CapacityLimiter = request.app.state.render_limiter
    return limiter


RenderLimiter = Annotated[anyio.CapacityLimiter, Depends(get_render_limiter)]


def _rate_limit_key(principal: Principal) -> str:
    if principal.device is not None:
        return f"device:{principal.device.id}"
    return f"key:{principal.key_id}"


async def spend_render(request: Request, principal: Principal) -> None:
    """Counts one render against the credential's limit; 429 past it. Called once the request
    is understood (a refused format or body costs nothing), before the job is looked up."""
    limiter = request.app.state.limiters["render_principal"]
    wait_s = await limiter.hit(_rate_limit_key(principal))
    if wait_s is not None:
        raise RateLimited(
            retry_after_seconds(wait_s), "Too many renders from this credential; slow down."
        )


class RenderRequest(Input):
    document: Document
    paper_width_mm: PaperWidth = 80


@router.get(
    "/print-jobs/{job_id}/render",
    response_class=Response,
    responses=rendering.openapi_responses(),
)
async def render_print_job(
    job_id: uuid.UUID,
    principal: JobReader,
    db: Db,
    limiter: RenderLimiter,
    format_: FormatQuery,
    request: Request,
) -> Response:
    """One copy of a job as it prints, at its station's paper width (80 mm for a location
    job). Whoever may read the job may render it."""
    fmt = rendering.render_format(format_)
    if principal.device is None:
        await spend_render(request, principal)
    async with db.transaction() as tx:
        job, paper_width_mm = await service.get_to_render(tx, principal, job_id)
    if principal.device is not None and not _printing(job, principal.device.id):
        await spend_render(request, principal)
    return await rendering.render(fmt, job_wire(job), paper_width_mm, limiter)


def _printing(job: PrintJob, device_id: uuid.UUID) -> bool:
    """Whether the device holds the job: it fetches the bytes to print them, not to look."""
    return job.status is JobStatus.SENT and job.claimed_by == device_id


@router.post("/render", response_class=Response, responses=rendering.openapi_responses())
async def render_preview(
    body: RenderRequest,
    principal: PosOrManager,
    limiter: RenderLimiter,
    format_: FormatQuery,
    request: Request,
) -> Response:
    """A document that is not stored, as one copy of it would print (a preview)."""
    fmt = rendering.render_format(format_)
    await spend_render(request, principal)
    document = body.document.model_dump(mode="json")  # as a submitted job stores it
    job = rendering.preview_job(document)
    return await rendering.render(fmt, job, body.paper_width_mm, limiter)
