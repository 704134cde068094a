from __future__ import annotations

import uuid
from collections.abc import Collection, Sequence
from dataclasses import dataclass
from datetime import datetime, timedelta

from sqlalchemy import case, select, update

from app.db import Tx
from app.models import Device, DeviceKind, PairingCode, PrinterState, Station


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
    device = (await tx.session.execute(stmt)).scalar_one_or_none()
    if device is None or device.station_id is None:
        return device
    if state.can_print:
        if device.fallback_at is not None:  # printing again: no failover
            await _set_fallback(tx, device, None)
    elif device.fallback_at is None:
        # Down now: fail over after the station's delay, counted from this first report
        # (a later report of another non-printing state keeps the moment).
        after_s = await _station_fallback_after_s(tx, tenant_id, device.station_id)
        if after_s is not None:
            await _set_fallback(tx, device, now + timedelta(seconds=after_s))
    return device


async def _station_fallback_after_s(
    tx: Tx, tenant_id: uuid.UUID, station_id: uuid.UUID
) -> int | None:
    stmt = select(Station.fallback_after_s).where(
        Station.id == station_id, Station.tenant_id == tenant_id
    )
    return (await tx.session.execute(stmt)).scalar_one_or_none()


async def _set_fallback(tx: Tx, device: Device, fallback_at: datetime | None) -> None:
    stmt = (
        update(Device)
        .where(Device.id == device.id, Device.tenant_id == device.tenant_id)
        .values(fallback_at=fallback_at, fallback_offered=False)
        .execution_options(synchronize_session=False)
    )
    await tx.session.execute(stmt)
    device.fallback_at = fallback_at
    device.fallback_offered = False


async def reschedule_fallback(
    tx: Tx, tenant_id: uuid.UUID, station_id: uuid.UUID, after_s: int | None
) -> None:
    """The station's ``fallback_after_s`` changed: its bridges whose printer cannot print now
    fail over ``after_s`` after their last report (never when None). A station has a few
    devices: they are read and written one by one."""
    stmt = select(Device).where(
        Device.station_id == station_id,
        Device.tenant_id == tenant_id,
        Device.revoked_at.is_(None),
        Device.printer_state_at.is_not(None),
        Device.printer_state.not_in([s for s in PrinterState if s.can_print]),
    )
    for device in (await tx.session.execute(stmt)).scalars().all():
        assert device.printer_state_at is not None
        at = None if after_s is None else device.printer_state_at + timedelta(seconds=after_s)
        await _set_fallback(tx, device, at)


@dataclass(frozen=True, slots=True)
class FailedOver:
    tenant_id: uuid.UUID
    location_id: uuid.UUID
    station_id: uuid.UUID


async def take_due_fallbacks(tx: Tx, now: datetime) -> list[FailedOver]:
    """Station bridges whose failover moment has passed and whose station's jobs have not been
    offered to the location bridges since: marked offered in one conditional UPDATE (several
    sweeping processes: each device is taken by one), their stations returned once each."""
    stmt = (
        update(Device)
        .where(
            Device.fallback_at.is_not(None),
            Device.fallback_at <= now,
            ~Device.fallback_offered,  # as ix_devices_fallback_due's predicate
            Device.revoked_at.is_(None),
        )
        .values(fallback_offered=True)
        .returning(Device.tenant_id, Device.location_id, Device.station_id)
        .execution_options(synchronize_session=False)
    )
    rows = (await tx.session.execute(stmt)).all()
    return list(dict.fromkeys(FailedOver(t, loc, st) for t, loc, st in rows if st is not None))
