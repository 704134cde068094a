"""A bridge's connection, one SQL statement per step on PostgreSQL.

Every (re)connection of a bridge looks its token up, reads the device's epoch floor, stores the
new epoch (online) and pages its pending backlog. Through the ORM that was four transactions,
and SQLAlchemy was more than half of the server's CPU while 1,000 bridges came back after a
restart. Here each is one statement over the asyncpg pool of ``app.print_jobs.hot_path``, in
the same SQL terms as ``app.devices.repository`` and ``app.print_jobs.repository``; without
that pool (SQLite, or ``PRINTRELAY_HOT_PATH=false``) the general path runs.
"""

from __future__ import annotations

import uuid
from collections.abc import Sequence
from dataclasses import dataclass
from datetime import datetime
from typing import Any

from app.auth.principals import Principal
from app.db import Database, utcnow
from app.devices import repository
from app.devices import service as devices
from app.events import DeviceStatusChanged
from app.models import Device, JobStatus
from app.print_jobs import hot_path as jobs_hot_path
from app.print_jobs import hot_sql
from app.print_jobs import repository as jobs_repository
from app.print_jobs import service as jobs
from app.print_jobs.records import JobView
from app.print_jobs.repository import JobFilter


@dataclass(frozen=True, slots=True)
class DeviceRow:
    id: uuid.UUID
    tenant_id: uuid.UUID
    location_id: uuid.UUID
    station_id: uuid.UUID | None
    revoked_at: datetime | None

    @classmethod
    def of(cls, device: Device) -> DeviceRow:
        return cls(
            device.id, device.tenant_id, device.location_id, device.station_id, device.revoked_at
        )


BY_HASH_SQL = """
SELECT id, tenant_id, location_id, station_id, revoked_at FROM devices WHERE token_hash = $1
"""

EPOCH_SQL = "SELECT epoch FROM devices WHERE id = $1 AND tenant_id = $2 AND revoked_at IS NULL"

# $1 device, $2 tenant, $3 epoch, $4 now. The CTEs share one snapshot: `before` is the row as
# it was, so was_online says whether this made the device come online.
TAKE_OWNERSHIP_SQL = """
WITH before AS (
    SELECT online FROM devices WHERE id = $1 AND tenant_id = $2 AND revoked_at IS NULL
), taken AS (
    UPDATE devices SET epoch = GREATEST(epoch, $3), online = true, last_seen_at = $4
    WHERE id = $1 AND tenant_id = $2 AND revoked_at IS NULL
    RETURNING id, location_id, station_id
)
SELECT taken.*, before.online AS was_online FROM taken, before
"""

# $1 tenant, $2 location, $3 station (NULL for a location bridge), $4 device, $5/$6 the last
# (created_at, id) of the previous page or NULL, $7 limit. Pending jobs the device may see (in
# scope, or claimed by it), oldest first: ``jobs.list_jobs`` for a device, status pending.
_BACKLOG_SQL = """
SELECT {columns} FROM print_jobs j
WHERE j.tenant_id = $1 AND j.status = 'pending' AND (({scope}) OR j.claimed_by = $4)
  AND ($5::timestamptz IS NULL OR (j.created_at, j.id) > ($5, $6::uuid))
ORDER BY j.created_at, j.id
LIMIT $7
"""
BACKLOG_STATION_SQL = _BACKLOG_SQL.format(
    columns=hot_sql.J_COLUMNS,
    scope=hot_sql.device_scope_sql("$2", "$3", station_bridge=True, now="now()"),
)
BACKLOG_LOCATION_SQL = _BACKLOG_SQL.format(
    columns=hot_sql.J_COLUMNS,
    scope=hot_sql.device_scope_sql("$2", "$3", station_bridge=False, now="now()"),
)


async def device_by_token_hash(db: Database, token_hash: bytes) -> DeviceRow | None:
    """Revoked devices included: the socket layer tells ``revoked`` from ``unauthorized``."""
    if db.hot_pool is None:
        async with db.transaction() as tx:
            device = await repository.device_by_token_hash_any(tx, token_hash)
        return DeviceRow.of(device) if device is not None else None
    row = await db.hot_pool.fetchrow(BY_HASH_SQL, token_hash)
    return DeviceRow(**dict(row)) if row is not None else None


async def device_epoch(db: Database, tenant_id: uuid.UUID, device_id: uuid.UUID) -> int | None:
    """The device's current epoch, or None once it is unpaired."""
    if db.hot_pool is None:
        async with db.transaction() as tx:
            return await jobs_repository.device_epoch(tx, tenant_id, device_id)
    epoch: int | None = await db.hot_pool.fetchval(EPOCH_SQL, device_id, tenant_id)
    return epoch


async def take_ownership(
    db: Database, tenant_id: uuid.UUID, device_id: uuid.UUID, epoch: int
) -> bool:
    """Store the owner's epoch (never lower it) and mark the device online; False once it is
    unpaired. A device that came online is announced (``device.status``)."""
    if db.hot_pool is None:
        async with db.transaction() as tx:
            return await devices.take_ownership(tx, tenant_id, device_id, epoch) is not None
    row = await db.hot_pool.fetchrow(TAKE_OWNERSHIP_SQL, device_id, tenant_id, epoch, utcnow())
    if row is None:
        return False
    if not row["was_online"]:
        await db.publish(
            [DeviceStatusChanged(row["id"], row["location_id"], row["station_id"], True, tenant_id)]
        )
    return True


async def backlog_page(
    db: Database, principal: Principal, cursor: str | None, limit: int
) -> tuple[Sequence[JobView], str | None]:
    """One page of the pending jobs the device may claim, oldest first, and the next cursor."""
    if db.hot_pool is None:
        async with db.transaction() as tx:
            return await jobs.list_jobs(
                tx, principal, JobFilter(status=JobStatus.PENDING), cursor, limit
            )
    device = principal.require_device()
    after: tuple[Any, Any] = jobs.decode_cursor(cursor) if cursor else (None, None)
    sql = BACKLOG_STATION_SQL if device.station_id is not None else BACKLOG_LOCATION_SQL
    rows = await db.hot_pool.fetch(
        sql, principal.tenant, device.location_id, device.station_id, device.id, *after, limit + 1
    )
    page = [jobs_hot_path.job_of(r) for r in rows[:limit]]
    next_cursor = jobs.encode_cursor(page[-1]) if len(rows) > limit else None
    return page, next_cursor
