"""All SQL about CloudPRNT printers: their device rows and the job a printer is offered.

A printer's claim and report are the general ones (``app.print_jobs``): this module only
reads which job to offer, and keeps the printer's own columns."""

from __future__ import annotations

import uuid
from collections.abc import Sequence
from dataclasses import dataclass
from datetime import datetime, timedelta

from sqlalchemy import and_, select, update

from app.auth.principals import DeviceScope
from app.cloudprnt.protocol import DEFAULT_POLL_INTERVAL_S
from app.db import Tx
from app.models import Device, DeviceKind, JobStatus, PrintJob
from app.print_jobs.repository import in_device_scope, visible_to_device


async def printer_by_secret_hash(tx: Tx, secret_hash: bytes) -> Device | None:
    """The paired CloudPRNT printer whose URL secret hashes to this; None for anything else
    (another kind of device's token included)."""
    stmt = select(Device).where(
        Device.token_hash == secret_hash,
        Device.kind == DeviceKind.CLOUDPRNT,
        Device.revoked_at.is_(None),
    )
    return (await tx.session.execute(stmt)).scalar_one_or_none()


async def record_mac(tx: Tx, tenant_id: uuid.UUID, device_id: uuid.UUID, mac: str) -> str | None:
    """Record ``mac`` as the printer's if it has none yet (one conditional UPDATE: two first
    polls from two MACs get one winner); the printer's MAC as it stands after."""
    stmt = (
        update(Device)
        .where(
            Device.id == device_id, Device.tenant_id == tenant_id, Device.cloudprnt_mac.is_(None)
        )
        .values(cloudprnt_mac=mac)
        .returning(Device.cloudprnt_mac)
    )
    won = (await tx.session.execute(stmt)).scalar_one_or_none()
    if won is not None:
        return won
    current = select(Device.cloudprnt_mac).where(
        Device.id == device_id, Device.tenant_id == tenant_id
    )
    return (await tx.session.execute(current)).scalar_one_or_none()


async def set_client_answers(
    tx: Tx,
    tenant_id: uuid.UUID,
    device_id: uuid.UUID,
    poll_interval_s: int | None,
    media_types: str | None,
) -> None:
    values: dict[str, object] = {}
    if poll_interval_s is not None:
        values["cloudprnt_poll_interval_s"] = poll_interval_s
    if media_types is not None:
        values["cloudprnt_media_types"] = media_types
    if values:
        await tx.session.execute(
            update(Device)
            .where(Device.id == device_id, Device.tenant_id == tenant_id)
            .values(**values)
        )


_OFFER_COLUMNS = (PrintJob.id, PrintJob.raw_data.is_not(None))  # raw_data: never JSON null


@dataclass(frozen=True, slots=True)
class Offer:
    """A job a printer's poll is offered: its id and whether it is raw bytes (no document)."""

    job_id: uuid.UUID
    raw: bool


async def job_to_offer(
    tx: Tx, tenant_id: uuid.UUID, device: DeviceScope, now: datetime
) -> Offer | None:
    """The job a printer's poll is offered: the one it fetched and has not confirmed (it may
    fetch it again: guide, "Print failure or error"), else the oldest pending job in its
    scope that has not expired. Two columns, no ORM object: every poll runs this."""
    held = await held_job(tx, tenant_id, device.id)
    if held is not None:
        return held
    pending = (
        select(*_OFFER_COLUMNS)
        .where(
            PrintJob.tenant_id == tenant_id,
            PrintJob.status == JobStatus.PENDING,
            PrintJob.expires_at > now,
            in_device_scope(device, now),
        )
        .order_by(PrintJob.created_at, PrintJob.id)
        .limit(1)
    )
    row = (await tx.session.execute(pending)).first()
    return None if row is None else Offer(row[0], bool(row[1]))


async def visible_job(
    tx: Tx, tenant_id: uuid.UUID, device: DeviceScope, job_id: uuid.UUID
) -> Offer | None:
    """A job the printer may see (in its scope, or claimed by it), as a poll offers it."""
    stmt = select(*_OFFER_COLUMNS).where(
        PrintJob.id == job_id, PrintJob.tenant_id == tenant_id, visible_to_device(device)
    )
    row = (await tx.session.execute(stmt)).first()
    return None if row is None else Offer(row[0], bool(row[1]))


async def held_job(tx: Tx, tenant_id: uuid.UUID, device_id: uuid.UUID) -> Offer | None:
    """The oldest job the printer fetched (claimed) and has not confirmed."""
    held = (
        select(*_OFFER_COLUMNS)
        .where(
            PrintJob.tenant_id == tenant_id,
            PrintJob.claimed_by == device_id,
            PrintJob.status == JobStatus.SENT,
        )
        .order_by(PrintJob.created_at, PrintJob.id)
        .limit(1)
    )
    row = (await tx.session.execute(held)).first()
    return None if row is None else Offer(row[0], bool(row[1]))


async def online_printers_silent_since(tx: Tx, cutoff: datetime) -> Sequence[Device]:
    """Online CloudPRNT printers not heard from since ``cutoff``."""
    stmt = select(Device).where(
        Device.kind == DeviceKind.CLOUDPRNT,
        Device.online.is_(True),
        Device.revoked_at.is_(None),
        Device.last_seen_at < cutoff,
    )
    return (await tx.session.execute(stmt)).scalars().all()


async def offline_if_still_silent(tx: Tx, device_id: uuid.UUID, cutoff: datetime) -> Device | None:
    """Mark the printer offline unless it polled since ``cutoff`` (compare and set)."""
    stmt = (
        update(Device)
        .where(and_(Device.id == device_id, Device.online.is_(True), Device.last_seen_at < cutoff))
        .values(online=False)
        .returning(Device)
        .execution_options(synchronize_session=False, populate_existing=True)
    )
    return (await tx.session.execute(stmt)).scalar_one_or_none()


def silence_cutoff(now: datetime, poll_interval_s: int | None, missed_polls: int) -> datetime:
    return now - timedelta(seconds=missed_polls * (poll_interval_s or DEFAULT_POLL_INTERVAL_S))
