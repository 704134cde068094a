from __future__ import annotations

import uuid
from collections.abc import Sequence
from datetime import datetime

from sqlalchemy import select, update

from app.db import Tx
from app.models import Device, DeviceKind, PairingCode


async def add_pairing_code(tx: Tx, code: PairingCode) -> PairingCode:
    tx.session.add(code)
    await tx.session.flush()
    return code


async def consume_pairing_code(tx: Tx, code_hash: bytes, now: datetime) -> PairingCode | None:
    """Mark a live code used in one conditional UPDATE: concurrent exchanges get one winner."""
    stmt = (
        update(PairingCode)
        .where(
            PairingCode.code_hash == code_hash,
            PairingCode.used_at.is_(None),
            PairingCode.expires_at > now,
        )
        .values(used_at=now)
        .returning(PairingCode)
        .execution_options(synchronize_session=False)
    )
    return (await tx.session.execute(stmt)).scalar_one_or_none()


async def link_pairing_code(tx: Tx, code_id: uuid.UUID, device_id: uuid.UUID) -> None:
    await tx.session.execute(
        update(PairingCode).where(PairingCode.id == code_id).values(device_id=device_id)
    )


async def add_device(
    tx: Tx,
    *,
    tenant_id: uuid.UUID,
    location_id: uuid.UUID,
    station_id: uuid.UUID | None,
    name: str,
    kind: DeviceKind,
    token_hash: bytes,
    now: datetime,
) -> Device:
    device = Device(
        id=uuid.uuid4(),
        tenant_id=tenant_id,
        location_id=location_id,
        station_id=station_id,
        name=name,
        kind=kind,
        token_hash=token_hash,
        epoch=0,
        online=False,
        paired_at=now,
    )
    tx.session.add(device)
    await tx.session.flush()
    return device


async def get_device(tx: Tx, tenant_id: uuid.UUID, device_id: uuid.UUID) -> Device | None:
    stmt = select(Device).where(
        Device.id == device_id, Device.tenant_id == tenant_id, Device.revoked_at.is_(None)
    )
    return (await tx.session.execute(stmt)).scalar_one_or_none()


async def list_devices(
    tx: Tx, tenant_id: uuid.UUID, location_id: uuid.UUID | None
) -> Sequence[Device]:
    stmt = select(Device).where(Device.tenant_id == tenant_id, Device.revoked_at.is_(None))
    if location_id is not None:
        stmt = stmt.where(Device.location_id == location_id)
    stmt = stmt.order_by(Device.paired_at, Device.id)
    return (await tx.session.execute(stmt)).scalars().all()


async def revoke_device(
    tx: Tx, tenant_id: uuid.UUID, device_id: uuid.UUID, now: datetime
) -> Device | None:
    stmt = (
        update(Device)
        .where(Device.id == device_id, Device.tenant_id == tenant_id, Device.revoked_at.is_(None))
        .values(revoked_at=now, online=False)
        .returning(Device)
        .execution_options(synchronize_session=False)
    )
    return (await tx.session.execute(stmt)).scalar_one_or_none()


async def set_epoch(tx: Tx, tenant_id: uuid.UUID, device_id: uuid.UUID, epoch: int) -> None:
    await tx.session.execute(
        update(Device)
        .where(Device.id == device_id, Device.tenant_id == tenant_id)
        .values(epoch=epoch)
    )


async def set_online(
    tx: Tx, tenant_id: uuid.UUID, device_id: uuid.UUID, online: bool, now: datetime
) -> None:
    await tx.session.execute(
        update(Device)
        .where(Device.id == device_id, Device.tenant_id == tenant_id)
        .values(online=online, last_seen_at=now)
    )
