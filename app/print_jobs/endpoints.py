from __future__ import annotations

import uuid
from datetime import datetime
from typing import Annotated, Any

from fastapi import APIRouter, Header, Query, Request, Response, status

from app.api_common import AppSettings, Db
from app.auth.dependencies import AuthFirstRoute, DeviceOnly, JobReader, PosOrManager
from app.errors import ERROR_RESPONSES, ErrorBody
from app.models import ActorKind, JobStatus
from app.print_jobs import hot_path, service
from app.print_jobs.repository import JobFilter
from app.print_jobs.schemas import JobCreate, JobOrder, JobOut, JobPage, JobUpdate
from app.print_jobs.submission import (
    MAX_IDEMPOTENCY_KEY_CHARS,
    accept_submission,
    check_idempotency_key,
)
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


@router.post(
    "",
    status_code=status.HTTP_201_CREATED,
    response_model=JobOut,
    responses={
        200: {"model": JobOut, "description": "a retry with the same Idempotency-Key"},
        503: {
            "model": ErrorBody,
            "description": "service_unavailable: busy (retry after Retry-After) or database down",
        },
    },
)
async def submit_job(
    body: JobCreate,
    principal: PosOrManager,
    request: Request,
    idempotency_key: Annotated[
        str | None,
        Header(
            alias="Idempotency-Key",
            json_schema_extra={"pattern": f"^[!-~]{{1,{MAX_IDEMPOTENCY_KEY_CHARS}}}$"},
        ),
    ] = None,
) -> Response:
    # Valid submissions are usually served by app.print_jobs.fast_submit before they get
    # here; this route defines the endpoint (its schema, its errors) and serves the rest.
    key = check_idempotency_key(idempotency_key)
    return await accept_submission(request.app.state, principal, body, key)


@router.get("", response_model=JobPage)
async def list_jobs(
    principal: JobReader,
    db: Db,
    location_id: uuid.UUID | None = None,
    station_id: uuid.UUID | None = None,
    status_: Annotated[JobStatus | None, Query(alias="status")] = None,
    limit: Annotated[int, Query(ge=1, le=200)] = 50,
    cursor: Annotated[str | None, Query(max_length=512)] = None,
    order: Annotated[
        JobOrder,
        Query(description="`asc`: oldest first (a bridge's backlog); `desc`: newest first"),
    ] = JobOrder.ASC,
) -> JobPage:
    filters = JobFilter(location_id=location_id, station_id=station_id, status=status_)
    newest_first = order is JobOrder.DESC
    async with db.transaction() as tx:
        jobs, next_cursor = await service.list_jobs(
            tx, principal, filters, cursor, limit, newest_first=newest_first
        )
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
