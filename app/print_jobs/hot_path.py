"""The delivery path's three writes, one SQL statement each on PostgreSQL (the statements are
in ``app.print_jobs.hot_sql``).

A submission, a claim and a report are what every printed ticket costs. On PostgreSQL each
runs here as a single statement over plain asyncpg: a data-modifying CTE writes the job and
its history event together (atomic, as one statement is), and the submission's checks (key
still active, location and station of the tenant, is the station's bridge online) ride in the
same statement. That is one round trip and one commit where the general path needs BEGIN,
two or three statements and COMMIT, each through the ORM.

Under load, writes that arrive while a statement of their batcher is out share the next one
(``app.db.statement_batcher``): submissions have one batcher, claims and reports (both from
bridges) another, so a claim and another job's report go in the same statement. The
``*_BATCH_SQL`` statements state the same conditions row by row, so a busy server pays
one round trip and one commit for several jobs.

The guarantees are the general path's, stated in the same SQL terms as
``app.print_jobs.repository``: the claim is one conditional UPDATE on status, expiry, tenant,
the device's scope and its current epoch; a report is fenced by the claimer and its epoch.
Anything the statement does not settle goes to the general path in ``service``: a refused
claim or report (to say why, or to accept an idempotent repeat), and a submission whose
Idempotency-Key was seen before (to answer with the first job). On SQLite, or with
``PRINTRELAY_HOT_PATH=false``, everything takes the general path.
"""

from __future__ import annotations

import uuid
from dataclasses import dataclass
from datetime import timedelta
from typing import Any

from app import json_codec
from app.auth.principals import DeviceScope, Principal
from app.db import Database, utcnow
from app.db.hot_pool import HotPool
from app.db.statement_batcher import Args, StatementBatcher
from app.errors import AlreadyClaimed, AppError, NotFound, StaleEpoch, Unauthorized
from app.events import JobChanged
from app.models import JobStatus
from app.observability import metrics
from app.print_jobs import service
from app.print_jobs.hot_sql import (
    CLAIM_BATCH_SQL,
    CLAIM_LOCATION_SQL,
    CLAIM_STATION_SQL,
    DEVICE_BATCH_SQL,
    REFUSAL_LOCATION_SQL,
    REFUSAL_STATION_SQL,
    REPORT_BATCH_SQL,
    REPORT_SQL,
    SUBMIT_BATCH_SQL,
    SUBMIT_SQL,
)
from app.print_jobs.records import JobRecord, JobView
from app.print_jobs.schemas import JobCreate, JobUpdate


def job_of(row: Any) -> JobRecord:
    # A batched answer is a dict of its own already (``StatementBatcher``); a record is copied.
    values = row if type(row) is dict else dict(row)
    values["status"] = JobStatus(values["status"])
    return JobRecord(**values)


async def submit(
    db: Database, principal: Principal, body: JobCreate, idempotency_key: str | None
) -> tuple[JobView, bool]:
    """Create a job (True), or with a known Idempotency-Key return the first one (False)."""
    pool = db.hot_pool
    if pool is None:
        async with db.transaction() as tx:
            return await service.submit(tx, principal, body, idempotency_key)
    fingerprint = service.request_fingerprint(body) if idempotency_key is not None else b""
    job = JobRecord(**service.new_job_columns(principal, body, idempotency_key, fingerprint))
    actor_kind, _ = principal.actor
    document = None if job.document is None else json_codec.dumps(job.document)
    row = await _batchers(db, pool).submissions.submit(
        (
            principal.key_id,
            job.tenant_id,
            job.location_id,
            job.station_id,
            job.id,
            document,
            job.raw_data,
            job.copies,
            job.drawer_pulse,
            job.idempotency_key,
            job.request_hash,
            job.created_at,
            job.expires_at,
            uuid.uuid4(),
            actor_kind.value,
        )
    )
    assert row is not None
    if not row["key_active"]:
        raise Unauthorized("Unknown or revoked API key.")
    if not row["location_found"]:
        raise NotFound("Location not found.")
    if not row["station_found"]:
        raise NotFound("Station not found in this location.")
    if not row["inserted"]:  # this Idempotency-Key was used before: answer with its job
        async with db.transaction() as tx:
            return await service.submit(tx, principal, body, idempotency_key)
    job.paper_width_mm = row["paper_width_mm"]  # the station's, read by the statement's probe
    event = JobChanged(job, created=True, to_station=row["station_bridge_online"])
    await db.publish([event])
    return job, True


async def _refuse_at_once(
    pool: HotPool,
    principal: Principal,
    device: DeviceScope,
    job_id: uuid.UUID,
    body: JobUpdate,
) -> None:
    """The two refusals a race produces, answered in one plain query: ``stale_epoch`` and
    ``already_claimed`` (seven of eight bridges racing for a job get it). Their conditions and
    order are ``service._explain_refusal``'s; anything else (not found, unpaired, a repeat by
    the claimer) returns, and the general path says it."""
    sql = REFUSAL_STATION_SQL if device.station_id is not None else REFUSAL_LOCATION_SQL
    row = await pool.fetchrow(
        sql, job_id, principal.tenant, device.id, device.location_id, device.station_id
    )
    if row is None or row["device_epoch"] is None:
        return
    if body.epoch != row["device_epoch"]:
        raise StaleEpoch(f"Epoch {body.epoch} is not this device's current epoch.")
    if row["claimed_by"] is not None and row["claimed_by"] != device.id:
        raise AlreadyClaimed()


async def _claim_one(pool: HotPool, args: Args) -> Any:
    station_bridge = args[5] is not None
    return await pool.fetchrow(CLAIM_STATION_SQL if station_bridge else CLAIM_LOCATION_SQL, *args)


async def _report_one(pool: HotPool, args: Args) -> Any:
    return await pool.fetchrow(REPORT_SQL, *args)


async def _submit_one(pool: HotPool, args: Args) -> Any:
    return await pool.fetchrow(SUBMIT_SQL, *args)


# The device batcher's two kinds, in DEVICE_BATCH_SQL's order.
CLAIM, REPORT = 0, 1


def submit_batcher(pool: HotPool) -> StatementBatcher:
    return StatementBatcher(pool, [_submit_one], {(_submit_one,): SUBMIT_BATCH_SQL})


def device_batcher(pool: HotPool) -> StatementBatcher:
    """Claims and reports: both come from bridges, and they share statements."""
    return StatementBatcher(
        pool,
        [_claim_one, _report_one],
        {
            (_claim_one,): CLAIM_BATCH_SQL,
            (_report_one,): REPORT_BATCH_SQL,
            (_claim_one, _report_one): DEVICE_BATCH_SQL,
        },
    )


@dataclass(frozen=True)
class _Batchers:
    """The batchers of one pool (kept on the ``Database``)."""

    pool: HotPool
    submissions: StatementBatcher
    device_updates: StatementBatcher


def _batchers(db: Database, pool: HotPool) -> _Batchers:
    batchers = db.hot_helpers.get("batchers")
    if not isinstance(batchers, _Batchers) or batchers.pool is not pool:
        batchers = db.hot_helpers["batchers"] = _Batchers(
            pool, submit_batcher(pool), device_batcher(pool)
        )
    return batchers


async def update_from_device(
    db: Database, principal: Principal, job_id: uuid.UUID, body: JobUpdate, lease_s: float
) -> JobView:
    """A claim (``sent``) or a report (``printed``/``failed``), fenced by the device's epoch;
    a refused claim is counted by its error code (REST and socket claims both come here)."""
    try:
        return await _update_from_device(db, principal, job_id, body, lease_s)
    except AppError as exc:
        if body.status is JobStatus.SENT:
            metrics.claim_refused(exc.code)
        raise


async def _update_from_device(
    db: Database, principal: Principal, job_id: uuid.UUID, body: JobUpdate, lease_s: float
) -> JobView:
    pool = db.hot_pool
    if pool is not None:
        device = principal.require_device()
        now = utcnow()
        if body.status is JobStatus.SENT:
            row = await _batchers(db, pool).device_updates.submit(
                (
                    job_id,
                    principal.tenant,
                    device.id,
                    body.epoch,
                    device.location_id,
                    device.station_id,
                    now,
                    now + timedelta(seconds=lease_s),
                    uuid.uuid4(),
                ),
                CLAIM,
            )
        else:
            row = await _batchers(db, pool).device_updates.submit(
                (
                    job_id,
                    principal.tenant,
                    device.id,
                    body.epoch,
                    body.status.value,
                    body.error,
                    now,
                    uuid.uuid4(),
                ),
                REPORT,
            )
        if row is not None:
            job = job_of(row)
            await db.publish([JobChanged(job)])
            return job
        await _refuse_at_once(pool, principal, device, job_id, body)
    # Refused (or no hot path): the general path tries again and says why.
    async with db.transaction() as tx:
        return await service.update_from_device(tx, principal, job_id, body, lease_s)
