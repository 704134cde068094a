"""Print-job use cases, shared by REST and (later) the socket handlers. Never commits."""

from __future__ import annotations

import base64
import binascii
import hashlib
import json
import uuid
from collections.abc import Sequence
from datetime import datetime, timedelta
from typing import Any

from sqlalchemy.exc import IntegrityError

from app.auth.principals import DeviceScope, Principal, PrincipalKind
from app.db import Tx, utcnow
from app.errors import (
    AlreadyClaimed,
    IdempotencyConflict,
    InvalidTransition,
    NotFound,
    StaleEpoch,
    Unauthorized,
    ValidationFailed,
)
from app.events import JobChanged
from app.locations.service import require_location
from app.models import ActorKind, JobEvent, JobStatus, PrintJob
from app.print_jobs import repository
from app.print_jobs.records import JobView
from app.print_jobs.repository import JobFilter, StatusChange
from app.print_jobs.schemas import JobCreate, JobUpdate

REPRINT_EXPIRES_IN_S = 900


def _change(
    principal: Principal,
    job: PrintJob,
    from_status: JobStatus | None,
    at: datetime,
    error: str | None = None,
) -> StatusChange:
    actor_kind, actor_id = principal.actor
    return StatusChange(
        job.id, job.tenant_id, from_status, job.status, actor_kind, actor_id, at, error
    )


def request_fingerprint(body: JobCreate) -> bytes:
    """Canonical hash of a submission, defaults included, to match Idempotency-Key retries."""
    canonical = json.dumps(body.model_dump(mode="json"), sort_keys=True, separators=(",", ":"))
    return hashlib.sha256(canonical.encode()).digest()


async def submit(
    tx: Tx, principal: Principal, body: JobCreate, idempotency_key: str | None
) -> tuple[PrintJob, bool]:
    """Create a job; with a known Idempotency-Key return the first job instead (created=False)."""
    # Only a keyed submission can be replayed, so only it needs its body hashed.
    fingerprint = request_fingerprint(body) if idempotency_key is not None else b""
    if idempotency_key is not None:
        existing = await repository.get_by_idempotency_key(tx, principal.tenant, idempotency_key)
        if existing is not None:
            return _replay(existing, fingerprint), False
    target = await repository.submit_target(
        tx, principal.tenant, principal.key_id, body.location_id, body.station_id
    )
    if not target.key_active:
        raise Unauthorized("Unknown or revoked API key.")
    if not target.location_found:
        raise NotFound("Location not found.")
    if not target.station_found:
        raise NotFound("Station not found in this location.")
    job = new_job(principal, body, idempotency_key, fingerprint)
    job.paper_width_mm = target.paper_width_mm
    now = job.created_at
    if idempotency_key is None:
        await repository.insert_job(tx, job)
    else:
        try:  # a savepoint only where a concurrent retry can collide
            async with tx.session.begin_nested():
                await repository.insert_job(tx, job)
        except IntegrityError:
            # A concurrent retry with the same key won the insert; answer with its job.
            existing = await repository.get_by_idempotency_key(
                tx, principal.tenant, idempotency_key
            )
            if existing is None:
                raise
            return _replay(existing, fingerprint), False
    await repository.record_changes(tx, [_change(principal, job, None, now)])
    # Routed now, in the same round trip as the checks: no query after the commit.
    tx.publish(JobChanged(job, created=True, to_station=target.station_bridge_online))
    return job, True


def new_job_columns(
    principal: Principal, body: JobCreate, idempotency_key: str | None, fingerprint: bytes
) -> dict[str, Any]:
    """The columns of the pending job a submission creates (for a ``PrintJob`` to store
    through the ORM, or a ``JobRecord`` the hot path stores itself)."""
    now = utcnow()
    return dict(
        id=uuid.uuid4(),
        tenant_id=principal.tenant,
        location_id=body.location_id,
        station_id=body.station_id,
        status=JobStatus.PENDING,
        document=body.document.model_dump(mode="json") if body.document else None,
        raw_data=body.raw.data if body.raw else None,
        copies=body.copies,
        drawer_pulse=body.drawer_pulse,
        idempotency_key=idempotency_key,
        request_hash=fingerprint or None,
        created_at=now,
        updated_at=now,
        expires_at=now + timedelta(seconds=body.expires_in_s),
    )


def new_job(
    principal: Principal, body: JobCreate, idempotency_key: str | None, fingerprint: bytes
) -> PrintJob:
    """The pending job a submission creates (not yet stored)."""
    return PrintJob(**new_job_columns(principal, body, idempotency_key, fingerprint))


def _replay(existing: PrintJob, fingerprint: bytes) -> PrintJob:
    if existing.request_hash != fingerprint:
        raise IdempotencyConflict()
    return existing


async def get(tx: Tx, principal: Principal, job_id: uuid.UUID) -> PrintJob:
    if principal.device is not None:
        job = await repository.get_job_for_device(tx, principal.tenant, principal.device, job_id)
    else:
        job = await repository.get_job(tx, principal.tenant, job_id)
    if job is None:
        raise NotFound("Print job not found.")
    return job


async def get_to_render(tx: Tx, principal: Principal, job_id: uuid.UUID) -> tuple[PrintJob, int]:
    """A job exactly as ``get`` finds it (same scope, same 404), with its paper width in mm."""
    found = await repository.get_job_to_render(tx, principal.tenant, principal.device, job_id)
    if found is None:
        raise NotFound("Print job not found.")
    return found


def encode_cursor(job: JobView) -> str:
    return cursor_at(job.created_at, job.id)


def cursor_at(created_at: datetime, job_id: uuid.UUID) -> str:
    raw = json.dumps([created_at.isoformat(), str(job_id)]).encode()
    return base64.urlsafe_b64encode(raw).decode().rstrip("=")


def decode_cursor(cursor: str) -> tuple[datetime, uuid.UUID]:
    """The position a cursor from ``encode_cursor`` holds. Anything else, however it was made
    (another JSON shape, a number where a string goes, a timestamp with an offset that takes
    it outside the datetime range, a spelling the API never writes), is a 422: the cursor must
    read back as exactly what ``encode_cursor`` writes for the position it holds."""
    try:
        padded = cursor + "=" * (-len(cursor) % 4)
        position = json.loads(base64.urlsafe_b64decode(padded))
        if not (
            isinstance(position, list)
            and len(position) == 2
            and all(isinstance(part, str) for part in position)
        ):
            raise ValueError("not [timestamp, job id]")
        created_at = datetime.fromisoformat(position[0])
        job_id = uuid.UUID(position[1])
        # The API writes UTC times only; with the round trip below this also rules out naive
        # times and offsets whose UTC value falls outside the datetime range.
        if created_at.utcoffset() != timedelta(0) or cursor_at(created_at, job_id) != cursor:
            raise ValueError("not a cursor's spelling")
    except (ValueError, TypeError, OverflowError, RecursionError, binascii.Error) as exc:
        raise ValidationFailed("cursor: not a cursor this API returned") from exc
    return created_at, job_id


async def list_jobs(
    tx: Tx,
    principal: Principal,
    filters: JobFilter,
    cursor: str | None,
    limit: int,
    *,
    newest_first: bool = False,
) -> tuple[Sequence[PrintJob], str | None]:
    """A page of jobs and the cursor of the next one (None on the last). A cursor is a
    position: it continues in the order it is used with."""
    if filters.location_id is not None and principal.kind is not PrincipalKind.DEVICE:
        await require_location(tx, principal.tenant, filters.location_id)
    after = decode_cursor(cursor) if cursor else None
    rows = await repository.list_jobs(
        tx, principal.tenant, filters, principal.device, after, limit + 1, newest_first
    )
    page = rows[:limit]
    next_cursor = encode_cursor(page[-1]) if len(rows) > limit else None
    return page, next_cursor


async def cancel(tx: Tx, principal: Principal, job_id: uuid.UUID) -> PrintJob:
    now = utcnow()
    job = await repository.cancel(tx, principal.tenant, job_id, now)
    if job is None:
        current = await get(tx, principal, job_id)
        raise InvalidTransition(
            f"Only a pending job can be canceled; this one is {current.status}."
        )
    await repository.record_changes(tx, [_change(principal, job, JobStatus.PENDING, now)])
    tx.publish(JobChanged(job))
    return job


async def reprint(tx: Tx, principal: Principal, job_id: uuid.UUID) -> PrintJob:
    """A new pending job with the same ticket. The drawer is not opened again."""
    original = await get(tx, principal, job_id)
    now = utcnow()
    job = PrintJob(
        id=uuid.uuid4(),
        tenant_id=original.tenant_id,
        location_id=original.location_id,
        station_id=original.station_id,
        status=JobStatus.PENDING,
        document=original.document,
        raw_data=original.raw_data,
        copies=original.copies,
        drawer_pulse=False,
        reprint_of=original.id,
        paper_width_mm=original.paper_width_mm,  # the paper it was laid out for
        created_at=now,
        updated_at=now,
        expires_at=now + timedelta(seconds=REPRINT_EXPIRES_IN_S),
    )
    await repository.insert_job(tx, job)
    await repository.record_changes(tx, [_change(principal, job, None, now)])
    tx.publish(JobChanged(job, created=True))
    return job


async def update_from_device(
    tx: Tx, principal: Principal, job_id: uuid.UUID, body: JobUpdate, lease_s: float
) -> PrintJob:
    """A claim (``sent``) or a report (``printed``/``failed``), fenced by the device's epoch."""
    device = principal.require_device()
    now = utcnow()
    if body.status is JobStatus.SENT:
        lease_until = now + timedelta(seconds=lease_s)
        job = await repository.claim(
            tx, principal.tenant, device, job_id, body.epoch, now, lease_until
        )
        from_status = JobStatus.PENDING
    else:
        job = await repository.report(
            tx, principal.tenant, device, job_id, body.epoch, body.status, body.error, now
        )
        from_status = JobStatus.SENT
    if job is not None:
        change = _change(principal, job, from_status, now, body.error)
        await repository.record_changes(tx, [change])
        tx.publish(JobChanged(job))
        return job
    return await _explain_refusal(tx, principal, device, job_id, body, now)


async def _explain_refusal(
    tx: Tx,
    principal: Principal,
    device: DeviceScope,
    job_id: uuid.UUID,
    body: JobUpdate,
    now: datetime,
) -> PrintJob:
    """The conditional UPDATE matched nothing: say why, or accept an idempotent repeat."""
    job = await repository.get_job_for_device(tx, principal.tenant, device, job_id)
    if job is None:
        raise NotFound("Print job not found.")
    current_epoch = await repository.device_epoch(tx, principal.tenant, device.id)
    if current_epoch is None:
        raise Unauthorized("This device was unpaired.")
    if body.epoch != current_epoch:
        raise StaleEpoch(f"Epoch {body.epoch} is not this device's current epoch.")
    if job.claimed_by == device.id:
        if body.status is job.status:
            return job  # a repeated claim of a job still held, or a repeated report: no-op
        raise InvalidTransition(f"This job is {job.status}; it cannot become {body.status}.")
    if job.claimed_by is not None:
        raise AlreadyClaimed()
    if job.status is JobStatus.PENDING and job.expires_at <= now:
        raise InvalidTransition("This job has expired.")
    raise InvalidTransition(f"This job is {job.status}; it cannot become {body.status}.")


async def release_jobs_of_unpaired_device(
    tx: Tx, principal: Principal, device_id: uuid.UUID
) -> Sequence[PrintJob]:
    """Jobs an unpaired device held as ``sent`` may or may not have printed: unconfirmed."""
    now = utcnow()
    jobs = await repository.unconfirm_claimed_by(tx, principal.tenant, device_id, now)
    await repository.record_changes(tx, [_change(principal, j, JobStatus.SENT, now) for j in jobs])
    for job in jobs:
        tx.publish(JobChanged(job))
    return jobs


async def sweep(tx: Tx, now: datetime) -> tuple[Sequence[PrintJob], Sequence[PrintJob]]:
    """Expire overdue pending jobs and turn silent claims into ``unconfirmed``."""
    expired = await repository.expire_due(tx, now)
    unconfirmed = await repository.unconfirm_overdue(tx, now)
    changes = [
        StatusChange(j.id, j.tenant_id, JobStatus.PENDING, j.status, ActorKind.SYSTEM, None, now)
        for j in expired
    ] + [
        StatusChange(j.id, j.tenant_id, JobStatus.SENT, j.status, ActorKind.SYSTEM, None, now)
        for j in unconfirmed
    ]
    await repository.record_changes(tx, changes)
    for job in (*expired, *unconfirmed):
        tx.publish(JobChanged(job))
    return expired, unconfirmed


async def history(tx: Tx, principal: Principal, job_id: uuid.UUID) -> Sequence[JobEvent]:
    job = await get(tx, principal, job_id)
    return await repository.list_events(tx, principal.tenant, job.id)
