"""CloudPRNT over HTTP: a manager adds a printer (``POST /v1/cloudprnt-printers``); the
printer speaks Star's protocol to its own URL, ``/cloudprnt/{secret}``: POST polls, GET
fetches (the claim), DELETE confirms (the report); GET with ``delete`` confirms too, as the
guide allows. The secret is in the path because the printer appends its own query string
(``uid``, ``type``, ``mac``, ``token``, ``code``); the access log masks it (app/serving.py).
"""

from __future__ import annotations

import base64
import logging
import uuid

import anyio
from fastapi import APIRouter, Request, Response, status
from fastapi.responses import JSONResponse
from pydantic import ValidationError

from app.api_common import AppSettings, Db
from app.auth.dependencies import AuthFirstRoute, Manager
from app.auth.secrets import CLOUDPRNT_SECRET_PREFIX, hash_secret
from app.cloudprnt import protocol, repository, service
from app.cloudprnt.protocol import Poll
from app.cloudprnt.schemas import CloudPrntPrinterCreate, CloudPrntPrinterCreated
from app.cloudprnt.service import Printer
from app.config import Settings
from app.coordination.rate_limit import retry_after_seconds
from app.db import Database, utcnow
from app.devices.schemas import DeviceOut
from app.errors import (
    ERROR_RESPONSES,
    AlreadyClaimed,
    AppError,
    InvalidTransition,
    NotFound,
    RateLimited,
    StaleEpoch,
    Unauthorized,
    UnsupportedMedia,
    ValidationFailed,
)
from app.models import JobStatus
from app.print_jobs import hot_path
from app.print_jobs.records import JobView
from app.print_jobs.schemas import JobUpdate
from app.schemas_common import error_message
from bridge_agent.render import RenderError, render_png

log = logging.getLogger(__name__)

router = APIRouter(
    prefix="/v1", tags=["cloudprnt"], responses=ERROR_RESPONSES, route_class=AuthFirstRoute
)
# The printer's side: Star's protocol, not this API's (docs/cloudprnt.md), so not in /docs.
printer_router = APIRouter(prefix="/cloudprnt", include_in_schema=False)

# Jobs a poll may find unprintable (and fail) before it answers "nothing ready".
MAX_UNPRINTABLE_PER_POLL = 5


@router.post(
    "/cloudprnt-printers",
    status_code=status.HTTP_201_CREATED,
    response_model=CloudPrntPrinterCreated,
)
async def create_cloudprnt_printer(
    body: CloudPrntPrinterCreate,
    principal: Manager,
    db: Db,
    settings: AppSettings,
    request: Request,
) -> CloudPrntPrinterCreated:
    async with db.transaction() as tx:
        device, secret = await service.create_printer(
            tx, principal, body.location_id, body.station_id, body.name
        )
    base = (settings.public_url or str(request.base_url)).rstrip("/")
    return CloudPrntPrinterCreated(
        device=DeviceOut.model_validate(device), server_url=f"{base}/cloudprnt/{secret}"
    )


async def _admit(request: Request, secret: str) -> None:
    """Every printer request: the URL's shape, then its rate (before any query)."""
    if not secret.startswith(CLOUDPRNT_SECRET_PREFIX) or len(secret) > 100:
        raise Unauthorized("Unknown or unpaired CloudPRNT printer.")
    limiter = request.app.state.limiters["cloudprnt_printer"]
    wait_s = await limiter.hit(hash_secret(secret).hex())
    if wait_s is not None:
        raise RateLimited(retry_after_seconds(wait_s), "Polling too often; slow down.")


def _mac_param(request: Request) -> str | None:
    raw = request.query_params.get("mac")
    return protocol.normalize_mac(raw) if raw else None


def _asked(request: Request) -> set[uuid.UUID]:
    """Printers this process asked for their interval and media types: asked once, so a
    printer that never answers client actions still gets its jobs."""
    asked: set[uuid.UUID] | None = getattr(request.app.state, "cloudprnt_asked", None)
    if asked is None:
        asked = request.app.state.cloudprnt_asked = set()
    return asked


@printer_router.post("/{secret}")
async def poll(secret: str, request: Request, db: Db, settings: AppSettings) -> JSONResponse:
    await _admit(request, secret)
    raw = await request.body()
    body: Poll | None = None
    asked = _asked(request)
    for _ in range(MAX_UNPRINTABLE_PER_POLL):
        async with db.transaction() as tx:
            printer = await service.find_printer(tx, secret)  # 401 before the body's 422
            body = body or _poll_body(raw)
            printer = await service.pin_mac(tx, printer, body.printer_mac)
            result = await service.poll(tx, printer, body, ask_allowed=printer.id not in asked)
        if result.printer.online and printer.online:
            request.app.state.realtime.heard_from.add(printer.id)  # batched last_seen_at
        if result.ask:
            asked.add(printer.id)
        job = result.job
        if job is None or result.media_types:
            token = str(job.job_id) if job is not None else None
            return JSONResponse(protocol.poll_answer(token, result.media_types, result.ask))
        await _fail(
            db, result.printer, job.job_id, protocol.UNSUPPORTED_MEDIA, settings.job_lease_s
        )
    return JSONResponse(protocol.poll_answer(None, []))


def _poll_body(raw: bytes) -> Poll:
    try:
        return Poll.model_validate_json(raw)
    except ValidationError as exc:
        first = exc.errors()[0] if exc.errors() else None
        where = ".".join(str(p) for p in first["loc"]) if first else "body"
        raise ValidationFailed(f"{where}: {error_message(first) if first else 'invalid'}") from exc


async def _fail(
    db: Database, printer: Printer, job_id: uuid.UUID, error: str, lease_s: float
) -> None:
    """Claim and fail a job this printer cannot print (another bridge may have taken it
    meanwhile: then it is not this printer's to fail)."""
    principal = printer.principal
    try:
        claim = JobUpdate.model_construct(status=JobStatus.SENT, epoch=printer.epoch)
        await hot_path.update_from_device(db, principal, job_id, claim, lease_s)
        failed = JobUpdate.model_construct(
            status=JobStatus.FAILED, epoch=printer.epoch, error=error
        )
        await hot_path.update_from_device(db, principal, job_id, failed, lease_s)
        log.info("cloudprnt printer %s: job %s failed (%s)", printer.id, job_id, error)
    except (AlreadyClaimed, InvalidTransition, StaleEpoch, NotFound):
        return


@printer_router.get("/{secret}")
async def fetch(secret: str, request: Request, db: Db, settings: AppSettings) -> Response:
    """The job, in the media type asked for (``type=``): the claim. The same printer asking
    again gets the same job, rendered the same; a job claimed by another gets 404."""
    await _admit(request, secret)
    if "delete" in request.query_params:  # deleteMethod GET: a confirmation
        return await _confirm(secret, request, db, settings)
    job_id = _job_id(request)
    async with db.transaction() as tx:
        printer = await service.authenticate(tx, secret, _mac_param(request))
        if job_id is None:  # a printer without job tokens: the job its poll was offered
            offer = await repository.job_to_offer(tx, printer.tenant_id, printer.scope, utcnow())
        else:
            offer = await repository.visible_job(tx, printer.tenant_id, printer.scope, job_id)
    if offer is None:
        raise NotFound("No job is ready for this printer.")
    # The type first: a request for a type the job is not served in changes nothing.
    media_type = _requested_type(request)
    offered_types = service.media_types_for(offer.raw, printer.media_types)
    if media_type is None and offered_types:
        media_type = offered_types[0]
    if media_type is None or media_type not in offered_types:
        raise UnsupportedMedia(
            f"This job is served as {', '.join(offered_types) or 'nothing this printer prints'}."
        )
    claim = JobUpdate.model_construct(status=JobStatus.SENT, epoch=printer.epoch)
    try:
        job = await hot_path.update_from_device(
            db, printer.principal, offer.job_id, claim, settings.job_lease_s
        )
    except (AlreadyClaimed, InvalidTransition, StaleEpoch, NotFound) as exc:
        raise NotFound("No job is ready for this printer.") from exc
    return await _job_response(request, printer, job, media_type, settings.job_lease_s, db)


def _requested_type(request: Request) -> str | None:
    raw = request.query_params.get("type")
    return raw.split(";", 1)[0].strip().lower() if raw else None


def _job_id(request: Request) -> uuid.UUID | None:
    token = request.query_params.get("token")
    if not token:
        return None
    try:
        return uuid.UUID(token)
    except ValueError as exc:
        raise NotFound("No such job.") from exc


async def _job_response(
    request: Request,
    printer: Printer,
    job: JobView,
    media_type: str,
    lease_s: float,
    db: Database,
) -> Response:
    if media_type != protocol.PNG:  # a raw job, in the printer's command language
        return Response(base64.b64decode(job.raw_data or ""), media_type=media_type)
    assert job.document is not None
    document, cut = protocol.png_document(job.document, job.copies)
    try:
        body = await anyio.to_thread.run_sync(
            lambda: render_png(document, paper_width_mm=job.paper_width_mm),
            limiter=request.app.state.render_limiter,
        )
    except RenderError as exc:
        await _fail(db, printer, job.id, "render_error", lease_s)
        raise NotFound("This job cannot be rendered; it failed.") from exc
    headers = {
        "X-Star-Cut": cut,
        # The picture is one bit per dot already: dithering it again would only blur it.
        "X-Star-ImageDitherPattern": "none",
        # The guide's own way to open a drawer with a picture job: before printing.
        "X-Star-CashDrawer": "start" if job.drawer_pulse else "none",
    }
    return Response(body, media_type=protocol.PNG, headers=headers)


@printer_router.delete("/{secret}")
async def confirm(secret: str, request: Request, db: Db, settings: AppSettings) -> Response:
    await _admit(request, secret)
    return await _confirm(secret, request, db, settings)


async def _confirm(secret: str, request: Request, db: Database, settings: Settings) -> Response:
    """``code=200 OK`` (or ``OK``): printed; any other code: failed with that code."""
    code = request.query_params.get("code")
    async with db.transaction() as tx:
        printer = await service.authenticate(tx, secret, _mac_param(request))
        if not code:
            raise ValidationFailed("query.code: the printer's status code is required")
        job_id = _job_id(request)
        if job_id is None:  # a printer without job tokens: the job it holds
            held = await repository.held_job(tx, printer.tenant_id, printer.id)
            if held is None:
                raise NotFound("This printer holds no job.")
            job_id = held.job_id
    if protocol.printed(code):
        report = JobUpdate.model_construct(
            status=JobStatus.PRINTED, epoch=printer.epoch, error=None
        )
    else:
        error = protocol.status_code_of(code)[: protocol.MAX_ERROR_CHARS]
        report = JobUpdate.model_construct(
            status=JobStatus.FAILED, epoch=printer.epoch, error=error
        )
    try:
        await hot_path.update_from_device(
            db, printer.principal, job_id, report, settings.job_lease_s
        )
    except AppError as exc:
        if isinstance(exc, (AlreadyClaimed, InvalidTransition, StaleEpoch, NotFound)):
            raise NotFound("This printer holds no such job.") from exc
        raise
    return Response(status_code=status.HTTP_200_OK)
