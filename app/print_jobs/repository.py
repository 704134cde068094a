"""All SQL about print jobs. Status changes are conditional UPDATEs (compare and set)."""

from __future__ import annotations

import uuid
from collections.abc import Iterable, Sequence
from dataclasses import dataclass
from datetime import datetime
from typing import Any

from sqlalchemy import (
    ColumnElement,
    SQLColumnExpression,
    and_,
    exists,
    insert,
    literal_column,
    or_,
    select,
    tuple_,
    update,
)
from sqlalchemy.orm import aliased

from app.auth.principals import DeviceScope
from app.db import Tx, utcnow
from app.models import (
    LOCATION_JOB_PAPER_WIDTH_MM,
    ActorKind,
    ApiKey,
    Device,
    JobEvent,
    JobStatus,
    Location,
    PrintJob,
    Station,
)
from app.print_jobs.states import sources_of


@dataclass(frozen=True, slots=True)
class StatusChange:
    job_id: uuid.UUID
    tenant_id: uuid.UUID
    from_status: JobStatus | None
    to_status: JobStatus
    actor_kind: ActorKind
    actor_id: uuid.UUID | None
    at: datetime
    error: str | None = None


@dataclass(frozen=True, slots=True)
class JobFilter:
    location_id: uuid.UUID | None = None
    station_id: uuid.UUID | None = None
    status: JobStatus | None = None


def printing_station_bridge(
    station_id: SQLColumnExpression[uuid.UUID | None] | uuid.UUID, now: datetime
) -> ColumnElement[bool]:
    """The station has an online station bridge whose printer prints, as far as failover is
    concerned: it has not reported a state other than online/paper_low for longer than the
    station's ``fallback_after_s`` (its ``fallback_at``, set when it reports, is unset or not
    yet reached). While none has, the location bridges take the station's jobs."""
    station_bridge = aliased(Device)
    return exists().where(
        station_bridge.station_id == station_id,
        station_bridge.online.is_(True),
        station_bridge.revoked_at.is_(None),
        or_(station_bridge.fallback_at.is_(None), station_bridge.fallback_at > now),
    )


def in_device_scope(device: DeviceScope, now: datetime | None = None) -> ColumnElement[bool]:
    """Jobs a device may see and claim (contract: Scope) at ``now`` (default: the clock).

    A station bridge: its station's jobs. A location bridge: the location's jobs without a
    station, and a station's jobs while that station has no printing station bridge
    (``printing_station_bridge``: none online, or every online one's printer down for longer
    than the station's ``fallback_after_s``).
    """
    same_location = PrintJob.location_id == device.location_id
    if device.station_id is not None:
        return and_(same_location, PrintJob.station_id == device.station_id)
    printing = printing_station_bridge(PrintJob.station_id, now or utcnow())
    return and_(same_location, or_(PrintJob.station_id.is_(None), ~printing))


def visible_to_device(device: DeviceScope, now: datetime | None = None) -> ColumnElement[bool]:
    """In scope now, or claimed by this device earlier (so it can always finish its own)."""
    return or_(in_device_scope(device, now), PrintJob.claimed_by == device.id)


def readable_by(tenant_id: uuid.UUID, device: DeviceScope | None) -> ColumnElement[bool]:
    """The jobs a principal may read: its tenant's, and for a device only those visible to it."""
    own_tenant = PrintJob.tenant_id == tenant_id
    return own_tenant if device is None else and_(own_tenant, visible_to_device(device))


# The width of a job without a station (a location job), in mm: the contract's default.
DEFAULT_PAPER_WIDTH_MM = 80


def job_paper_width_mm() -> SQLColumnExpression[int]:
    """The paper a job is rendered on (mm), as a column of a query on ``PrintJob``: the width
    its station had when the job was submitted (80 without a station), as the agent prints it."""
    return PrintJob.paper_width_mm


def _device_at_epoch(device_id: uuid.UUID, epoch: int) -> ColumnElement[bool]:
    return exists().where(
        Device.id == device_id, Device.epoch == epoch, Device.revoked_at.is_(None)
    )


@dataclass(frozen=True, slots=True)
class SubmitTarget:
    key_active: bool  # the submitting key is not revoked (a cached principal may be stale)
    location_found: bool
    station_found: bool  # True when no station was named
    station_bridge_online: bool  # the station has a printing station bridge right now
    paper_width_mm: int  # the station's width now; 80 without a station (the job keeps it)


async def submit_target(
    tx: Tx,
    tenant_id: uuid.UUID,
    key_id: uuid.UUID | None,
    location_id: uuid.UUID,
    station_id: uuid.UUID | None,
) -> SubmitTarget:
    """One round trip for all a submission needs to know: the key still stands, the location
    and station exist in the tenant, the station's paper width, and where the new job goes
    (the station's bridge, if one is online)."""
    key = exists().where(ApiKey.id == key_id, ApiKey.revoked_at.is_(None))
    location = exists().where(Location.id == location_id, Location.tenant_id == tenant_id)
    if station_id is None:
        active, loc = (await tx.session.execute(select(key, location))).one()
        return SubmitTarget(bool(active), bool(loc), True, False, LOCATION_JOB_PAPER_WIDTH_MM)
    # The station's width, NULL when the station is not the tenant's in that location.
    station_width = (
        select(Station.paper_width_mm)
        .where(
            Station.id == station_id,
            Station.tenant_id == tenant_id,
            Station.location_id == location_id,
        )
        .scalar_subquery()
    )
    stmt = select(key, location, station_width, printing_station_bridge(station_id, utcnow()))
    active, loc, width, online = (await tx.session.execute(stmt)).one()
    found = width is not None
    return SubmitTarget(
        bool(active),
        bool(loc),
        found,
        bool(online),
        int(width) if found else LOCATION_JOB_PAPER_WIDTH_MM,
    )


async def insert_job(tx: Tx, job: PrintJob) -> PrintJob:
    tx.session.add(job)
    await tx.session.flush()
    return job


async def get_job(tx: Tx, tenant_id: uuid.UUID, job_id: uuid.UUID) -> PrintJob | None:
    stmt = select(PrintJob).where(PrintJob.id == job_id, PrintJob.tenant_id == tenant_id)
    return (await tx.session.execute(stmt)).scalar_one_or_none()


async def get_job_for_device(
    tx: Tx, tenant_id: uuid.UUID, device: DeviceScope, job_id: uuid.UUID
) -> PrintJob | None:
    stmt = select(PrintJob).where(PrintJob.id == job_id, readable_by(tenant_id, device))
    return (await tx.session.execute(stmt)).scalar_one_or_none()


async def get_job_to_render(
    tx: Tx, tenant_id: uuid.UUID, device: DeviceScope | None, job_id: uuid.UUID
) -> tuple[PrintJob, int] | None:
    """A job the principal may read, with the paper width (mm) it is rendered at: one query."""
    stmt = select(PrintJob, job_paper_width_mm()).where(
        PrintJob.id == job_id, readable_by(tenant_id, device)
    )
    row = (await tx.session.execute(stmt)).one_or_none()
    return None if row is None else (row[0], int(row[1]))


async def get_by_idempotency_key(tx: Tx, tenant_id: uuid.UUID, key: str) -> PrintJob | None:
    stmt = select(PrintJob).where(PrintJob.tenant_id == tenant_id, PrintJob.idempotency_key == key)
    return (await tx.session.execute(stmt)).scalar_one_or_none()


async def list_jobs(
    tx: Tx,
    tenant_id: uuid.UUID,
    filters: JobFilter,
    device: DeviceScope | None,
    after: tuple[datetime, uuid.UUID] | None,
    limit: int,
    newest_first: bool = False,
) -> Sequence[PrintJob]:
    """Oldest first (the order a bridge works a backlog in), or newest first (a console's
    list), keyset-paginated: ``after`` is the last position of the previous page."""
    stmt = select(PrintJob).where(PrintJob.tenant_id == tenant_id)
    if device is not None:
        stmt = stmt.where(visible_to_device(device))
    if filters.location_id is not None:
        stmt = stmt.where(PrintJob.location_id == filters.location_id)
    if filters.station_id is not None:
        stmt = stmt.where(PrintJob.station_id == filters.station_id)
    if filters.status is not None:
        stmt = stmt.where(PrintJob.status == filters.status)
    position = tuple_(PrintJob.created_at, PrintJob.id)
    if newest_first:
        if after is not None:
            stmt = stmt.where(position < tuple_(*after))
        stmt = stmt.order_by(PrintJob.created_at.desc(), PrintJob.id.desc())
    else:
        if after is not None:
            stmt = stmt.where(position > tuple_(*after))
        stmt = stmt.order_by(PrintJob.created_at, PrintJob.id)
    stmt = stmt.limit(limit)
    return (await tx.session.execute(stmt)).scalars().all()


async def device_epoch(tx: Tx, tenant_id: uuid.UUID, device_id: uuid.UUID) -> int | None:
    """The device's current epoch, or None once it is unpaired."""
    stmt = select(Device.epoch).where(
        Device.id == device_id, Device.tenant_id == tenant_id, Device.revoked_at.is_(None)
    )
    return (await tx.session.execute(stmt)).scalar_one_or_none()


async def _update_returning(
    tx: Tx, where: Iterable[ColumnElement[bool]], values: dict[str, Any]
) -> Sequence[PrintJob]:
    stmt = (
        update(PrintJob)
        .where(*where)
        .values(**values)
        .returning(PrintJob)
        .execution_options(synchronize_session=False, populate_existing=True)
    )
    return (await tx.session.execute(stmt)).scalars().all()


async def claim(
    tx: Tx,
    tenant_id: uuid.UUID,
    device: DeviceScope,
    job_id: uuid.UUID,
    epoch: int,
    now: datetime,
    lease_until: datetime,
) -> PrintJob | None:
    """The atomic claim: one UPDATE that checks status, expiry, tenant, scope and epoch."""
    rows = await _update_returning(
        tx,
        [
            PrintJob.id == job_id,
            PrintJob.tenant_id == tenant_id,
            PrintJob.status.in_(sources_of(JobStatus.SENT)),
            PrintJob.expires_at > now,
            in_device_scope(device, now),
            _device_at_epoch(device.id, epoch),
        ],
        {
            "status": JobStatus.SENT,
            "claimed_by": device.id,
            "epoch": epoch,
            "updated_at": now,
            "lease_expires_at": lease_until,
        },
    )
    return rows[0] if rows else None


async def report(
    tx: Tx,
    tenant_id: uuid.UUID,
    device: DeviceScope,
    job_id: uuid.UUID,
    epoch: int,
    status: JobStatus,
    error: str | None,
    now: datetime,
) -> PrintJob | None:
    """The claimer's report, fenced by the device's current epoch."""
    rows = await _update_returning(
        tx,
        [
            PrintJob.id == job_id,
            PrintJob.tenant_id == tenant_id,
            PrintJob.status.in_(sources_of(status)),
            PrintJob.claimed_by == device.id,
            _device_at_epoch(device.id, epoch),
        ],
        {"status": status, "error": error, "updated_at": now, "lease_expires_at": None},
    )
    return rows[0] if rows else None


async def cancel(tx: Tx, tenant_id: uuid.UUID, job_id: uuid.UUID, now: datetime) -> PrintJob | None:
    rows = await _update_returning(
        tx,
        [
            PrintJob.id == job_id,
            PrintJob.tenant_id == tenant_id,
            PrintJob.status.in_(sources_of(JobStatus.CANCELED)),
        ],
        {"status": JobStatus.CANCELED, "updated_at": now},
    )
    return rows[0] if rows else None


def _status_is_constant(status: JobStatus) -> ColumnElement[bool]:
    """``status = '<status>'`` with the value in the SQL text, not bound: the sweeper's partial
    indexes (``WHERE status = 'pending'``, ``'sent'``) serve a statement only when its plan
    can see the value, and a prepared statement's generic plan cannot see a bound one."""
    return PrintJob.status == literal_column(f"'{status.value}'")


async def expire_due(tx: Tx, now: datetime) -> Sequence[PrintJob]:
    """Pending jobs past ``expires_at`` become ``expired`` (every tenant: the sweeper's job)."""
    (source,) = sources_of(JobStatus.EXPIRED)
    return await _update_returning(
        tx,
        [_status_is_constant(source), PrintJob.expires_at <= now],
        {"status": JobStatus.EXPIRED, "updated_at": now},
    )


async def unconfirm_overdue(tx: Tx, now: datetime) -> Sequence[PrintJob]:
    """Claimed jobs whose lease passed without a report become ``unconfirmed``."""
    return await _update_returning(
        tx,
        [_status_is_constant(JobStatus.SENT), PrintJob.lease_expires_at <= now],
        {"status": JobStatus.UNCONFIRMED, "updated_at": now, "lease_expires_at": None},
    )


async def unconfirm_claimed_by(
    tx: Tx, tenant_id: uuid.UUID, device_id: uuid.UUID, now: datetime
) -> Sequence[PrintJob]:
    return await _update_returning(
        tx,
        [
            PrintJob.tenant_id == tenant_id,
            PrintJob.claimed_by == device_id,
            PrintJob.status == JobStatus.SENT,
        ],
        {"status": JobStatus.UNCONFIRMED, "updated_at": now, "lease_expires_at": None},
    )


async def record_changes(tx: Tx, changes: Sequence[StatusChange]) -> None:
    if not changes:
        return
    await tx.session.execute(
        insert(JobEvent),
        [
            {
                "id": uuid.uuid4(),
                "tenant_id": c.tenant_id,
                "job_id": c.job_id,
                "from_status": c.from_status,
                "to_status": c.to_status,
                "actor_kind": c.actor_kind,
                "actor_id": c.actor_id,
                "error": c.error,
                "at": c.at,
            }
            for c in changes
        ],
    )


async def list_events(tx: Tx, tenant_id: uuid.UUID, job_id: uuid.UUID) -> Sequence[JobEvent]:
    stmt = (
        select(JobEvent)
        .where(JobEvent.tenant_id == tenant_id, JobEvent.job_id == job_id)
        .order_by(JobEvent.at, JobEvent.id)
    )
    return (await tx.session.execute(stmt)).scalars().all()
