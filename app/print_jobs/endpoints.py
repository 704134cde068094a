from __future__ import annotations

import uuid
from datetime import datetime
from typing import Annotated, Any

from fastapi import APIRouter, Header, Query, Request, Response, status
from fastapi.responses import JSONResponse

from app.api_common import AppSettings, Db
from app.auth.dependencies import AuthFirstRoute, DeviceOnly, JobReader, PosOrManager
from app.coordination.rate_limit import retry_after_seconds
from app.errors import ERROR_RESPONSES, ErrorBody, RateLimited, ValidationFailed
from app.models import ActorKind, JobStatus
from app.print_jobs import hot_path, service
from app.print_jobs.repository import JobFilter
from app.print_jobs.schemas import JobCreate, JobOut, JobPage, JobUpdate, job_wire
from app.schemas_common import ItemList, Output

router = APIRouter(
    prefix="/v1/print-jobs",
    tags=["print-jobs"],
    responses=ERROR_RESPONSES,
    route_class=AuthFirstRoute,
)

CONFLICT: dict[int | str, dict[str, Any]] = {
    409: {"model": ErrorBody, "description": "already_claimed | stale_epoch | invalid_transition"}
}
MAX_IDEMPOTENCY_KEY_CHARS = 255


def _check_idempotency_key(key: str | None) -> str | None:
    if key is None:
        return None
    if not 1 <= len(key) <= MAX_IDEMPOTENCY_KEY_CHARS or not all(32 < ord(c) < 127 for c in key):
        raise ValidationFailed(
            f"Idempotency-Key: 1 to {MAX_IDEMPOTENCY_KEY_CHARS} printable ASCII characters"
        )
    return key


@router.post(
    "",
    status_code=status.HTTP_201_CREATED,
    response_model=JobOut,
    responses={200: {"model": JobOut, "description": "a retry with the same Idempotency-Key"}},
)
async def submit_job(
    body: JobCreate,
    principal: PosOrManager,
    db: Db,
    request: Request,
    idempotency_key: Annotated[
        str | None,
        Header(
            alias="Idempotency-Key",
            json_schema_extra={"pattern": f"^[!-~]{{1,{MAX_IDEMPOTENCY_KEY_CHARS}}}$"},
        ),
    ] = None,
) -> Response:
    key = _check_idempotency_key(idempotency_key)
    wait_s = await request.app.state.limiters["submit_key"].hit(str(principal.key_id))
    if wait_s is not None:
        raise RateLimited(
            retry_after_seconds(wait_s), "Too many jobs from this API key; slow down."
        )
    job, created = await hot_path.submit(db, principal, body, key)
    # The job's JSON was made once for its socket events (job_wire); answering with it skips
    # validating and serialising a JobOut again on the busiest route.
    return JSONResponse(
        job_wire(job), status_code=status.HTTP_201_CREATED if created else status.HTTP_200_OK
    )


@router.get("", response_model=JobPage)
async def list_jobs(
    principal: JobReader,
    db: Db,
    location_id: uuid.UUID | None = None,
    station_id: uuid.UUID | None = None,
    status_: Annotated[JobStatus | None, Query(alias="status")] = None,
    limit: Annotated[int, Query(ge=1, le=200)] = 50,
    cursor: Annotated[str | None, Query(max_length=512)] = None,
) -> JobPage:
    filters = JobFilter(location_id=location_id, station_id=station_id, status=status_)
    async with db.transaction() as tx:
        jobs, next_cursor = await service.list_jobs(tx, principal, filters, cursor, limit)
    return JobPage(items=[JobOut.of(j) for j in jobs], next_cursor=next_cursor)


@router.get("/{job_id}", response_model=JobOut)
async def get_job(job_id: uuid.UUID, principal: JobReader, db: Db) -> JobOut:
    async with db.transaction() as tx:
        job = await service.get(tx, principal, job_id)
    return JobOut.of(job)


class JobEventOut(Output):
    from_status: JobStatus | None
    to_status: JobStatus
    actor_kind: ActorKind
    actor_id: uuid.UUID | None
    error: str | None
    at: datetime


@router.get("/{job_id}/events", response_model=ItemList[JobEventOut])
async def job_history(job_id: uuid.UUID, principal: PosOrManager, db: Db) -> ItemList[JobEventOut]:
    async with db.transaction() as tx:
        events = await service.history(tx, principal, job_id)
    return ItemList[JobEventOut](items=[JobEventOut.model_validate(e) for e in events])


@router.post("/{job_id}/cancel", response_model=JobOut, responses=CONFLICT)
async def cancel_job(job_id: uuid.UUID, principal: PosOrManager, db: Db) -> JobOut:
    async with db.transaction() as tx:
        job = await service.cancel(tx, principal, job_id)
    return JobOut.of(job)


@router.post("/{job_id}/reprint", status_code=status.HTTP_201_CREATED, response_model=JobOut)
async def reprint_job(job_id: uuid.UUID, principal: PosOrManager, db: Db) -> JobOut:
    async with db.transaction() as tx:
        job = await service.reprint(tx, principal, job_id)
    return JobOut.of(job)


@router.patch("/{job_id}", response_model=JobOut, responses=CONFLICT)
async def claim_or_report(
    job_id: uuid.UUID, body: JobUpdate, principal: DeviceOnly, db: Db, settings: AppSettings
) -> JobOut:
    job = await hot_path.update_from_device(db, principal, job_id, body, settings.job_lease_s)
    return JobOut.of(job)
