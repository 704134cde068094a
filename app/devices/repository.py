from __future__ import annotations

import uuid
from collections.abc import Collection, Sequence
from datetime import datetime

from sqlalchemy import case, select, update

from app.db import Tx
from app.models import Device, DeviceKind, PairingCode, PrinterState


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
    tx: Tx, tenant_id: uuid.UUID, location_id: uuid.UUID | None, *, include_revoked: bool = False
) -> Sequence[Device]:
    stmt = select(Device).where(Device.tenant_id == tenant_id)
    if not include_revoked:
        stmt = stmt.where(Device.revoked_at.is_(None))
    if location_id is not None:
        stmt = stmt.where(Device.location_id == location_id)
    stmt = stmt.order_by(Device.paired_at, Device.id)
    return (await tx.session.execute(stmt)).scalars().all()


async def revoke_device(
    tx: Tx, tenant_id: uuid.UUID, device_id: uuid.UUID, now: datetime, by_key_id: uuid.UUID | None
) -> Device | None:
    stmt = (
        update(Device)
        .where(Device.id == device_id, Device.tenant_id == tenant_id, Device.revoked_at.is_(None))
        .values(revoked_at=now, revoked_by_key_id=by_key_id, online=False)
        .returning(Device)
        .execution_options(synchronize_session=False)
    )
    return (await tx.session.execute(stmt)).scalar_one_or_none()


async def take_ownership(
    tx: Tx, tenant_id: uuid.UUID, device_id: uuid.UUID, epoch: int, now: datetime
) -> tuple[Device, bool] | None:
    """Raise the device's epoch to ``epoch`` (never lower it) and mark it online.

    Returns the device and whether it was offline before, or None once it is unpaired.
    """
    was_online = (
        await tx.session.execute(
            select(Device.online).where(
                Device.id == device_id, Device.tenant_id == tenant_id, Device.revoked_at.is_(None)
            )
        )
    ).scalar_one_or_none()
    if was_online is None:
        return None
    stmt = (
        update(Device)
        .where(Device.id == device_id, Device.tenant_id == tenant_id, Device.revoked_at.is_(None))
        .values(
            epoch=case((Device.epoch < epoch, epoch), else_=Device.epoch),
            online=True,
            last_seen_at=now,
        )
        .returning(Device)
        .execution_options(synchronize_session=False, populate_existing=True)
    )
    device = (await tx.session.execute(stmt)).scalar_one_or_none()
    return (device, not was_online) if device is not None else None


async def go_offline(tx: Tx, device_id: uuid.UUID, now: datetime) -> Device | None:
    """Mark an online device offline; None when it already was."""
    stmt = (
        update(Device)
        .where(Device.id == device_id, Device.online.is_(True))
        .values(online=False, last_seen_at=now)
        .returning(Device)
        .execution_options(synchronize_session=False, populate_existing=True)
    )
    return (await tx.session.execute(stmt)).scalar_one_or_none()


async def touch(tx: Tx, device_ids: Collection[uuid.UUID], now: datetime) -> None:
    await tx.session.execute(
        update(Device).where(Device.id.in_(device_ids)).values(last_seen_at=now)
    )


async def offline_if_silent(tx: Tx, cutoff: datetime, now: datetime) -> Sequence[Device]:
    """Devices marked online whose owner socket has not been heard from since ``cutoff``
    (their server died without saying so) become offline. CloudPRNT printers have no socket:
    ``app.cloudprnt.service.offline_if_silent`` counts their missed polls instead."""
    stmt = (
        update(Device)
        .where(
            Device.online.is_(True),
            Device.last_seen_at < cutoff,
            Device.kind != DeviceKind.CLOUDPRNT,
        )
        .values(online=False)
        .returning(Device)
        .execution_options(synchronize_session=False, populate_existing=True)
    )
    return (await tx.session.execute(stmt)).scalars().all()


async def device_by_token_hash_any(tx: Tx, token_hash: bytes) -> Device | None:
    """Revoked devices included: the socket layer tells ``revoked`` from ``unauthorized``."""
    stmt = select(Device).where(Device.token_hash == token_hash)
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


async def set_printer_state(
    tx: Tx, tenant_id: uuid.UUID, device_id: uuid.UUID, state: PrinterState, now: datetime
) -> Device | None:
    """Store the printer state a device reported; None once it is unpaired."""
    stmt = (
        update(Device)
        .where(Device.id == device_id, Device.tenant_id == tenant_id, Device.revoked_at.is_(None))
        .values(printer_state=state, printer_state_at=now)
        .returning(Device)
        .execution_options(synchronize_session=False, populate_existing=True)
    )
    return (await tx.session.execute(stmt)).scalar_one_or_none()
