from __future__ import annotations

import uuid
from collections.abc import Collection, Sequence
from datetime import datetime, timedelta

from app.auth.principals import Principal
from app.auth.secrets import hash_secret, new_device_token, new_pairing_code, normalize_pairing_code
from app.db import Tx, utcnow
from app.devices import repository
from app.errors import InvalidPairingCode, NotFound
from app.events import (
    DeviceStatusChanged,
    DeviceUnpaired,
    PrinterStatusChanged,
    StationFailedOver,
)
from app.locations.service import require_location, require_station
from app.models import Device, DeviceKind, PairingCode, PrinterState
from app.print_jobs.service import release_jobs_of_unpaired_device


async def create_pairing_code(
    tx: Tx,
    principal: Principal,
    location_id: uuid.UUID,
    station_id: uuid.UUID | None,
    kind: DeviceKind,
    ttl_s: int,
) -> tuple[str, PairingCode]:
    await require_location(tx, principal.tenant, location_id)
    if station_id is not None:
        await require_station(tx, principal.tenant, location_id, station_id)
    code = new_pairing_code()
    now = utcnow()
    row = PairingCode(
        id=uuid.uuid4(),
        tenant_id=principal.tenant,
        location_id=location_id,
        station_id=station_id,
        kind=kind,
        code_hash=hash_secret(code),
        created_at=now,
        expires_at=now + timedelta(seconds=ttl_s),
    )
    return code, await repository.add_pairing_code(tx, row)


async def pair(tx: Tx, code: str, name: str) -> tuple[Device, str]:
    now = utcnow()
    pairing = await repository.consume_pairing_code(
        tx, hash_secret(normalize_pairing_code(code)), now
    )
    if pairing is None:
        raise InvalidPairingCode()
    token = new_device_token()
    device = await repository.add_device(
        tx,
        tenant_id=pairing.tenant_id,
        location_id=pairing.location_id,
        station_id=pairing.station_id,
        name=name,
        kind=pairing.kind,
        token_hash=hash_secret(token),
        now=now,
    )
    await repository.link_pairing_code(tx, pairing.id, device.id)
    return device, token


async def list_devices(
    tx: Tx, principal: Principal, location_id: uuid.UUID | None, *, include_revoked: bool = False
) -> Sequence[Device]:
    if location_id is not None:
        await require_location(tx, principal.tenant, location_id)
    return await repository.list_devices(
        tx, principal.tenant, location_id, include_revoked=include_revoked
    )


async def get_own_device(tx: Tx, principal: Principal) -> Device:
    scope = principal.require_device()
    device = await repository.get_device(tx, principal.tenant, scope.id)
    if device is None:  # unpaired between authentication and this read
        raise NotFound("Device not found.")
    return device


async def unpair(tx: Tx, principal: Principal, device_id: uuid.UUID) -> Device:
    """Revoke the token and turn every job the device holds as ``sent`` into ``unconfirmed``."""
    device = await repository.revoke_device(
        tx, principal.tenant, device_id, utcnow(), principal.key_id
    )
    if device is None:
        raise NotFound("Device not found.")
    await release_jobs_of_unpaired_device(tx, principal, device.id)
    tx.publish(DeviceUnpaired(device.id, device.location_id, device.station_id, device.tenant_id))
    return device


async def set_epoch(tx: Tx, tenant_id: uuid.UUID, device_id: uuid.UUID, epoch: int) -> None:
    """Record the device's current fencing epoch (the realtime layer's owner lock sets it)."""
    await repository.set_epoch(tx, tenant_id, device_id, epoch)


async def set_online(tx: Tx, tenant_id: uuid.UUID, device_id: uuid.UUID, online: bool) -> None:
    await repository.set_online(tx, tenant_id, device_id, online, utcnow())


async def take_ownership(
    tx: Tx, tenant_id: uuid.UUID, device_id: uuid.UUID, epoch: int
) -> Device | None:
    """A socket became the device's owner at ``epoch``: store the epoch, mark it online."""
    taken = await repository.take_ownership(tx, tenant_id, device_id, epoch, utcnow())
    if taken is None:
        return None
    device, came_online = taken
    if came_online:
        tx.publish(_status(device))
    return device


async def lose_ownership(tx: Tx, device_id: uuid.UUID) -> None:
    """The owner socket went away (its lock released): the device is offline."""
    device = await repository.go_offline(tx, device_id, utcnow())
    if device is not None:
        tx.publish(_status(device))


async def heard_from(tx: Tx, device_ids: Collection[uuid.UUID]) -> None:
    """The owners of these devices were heard from (heartbeats): the sweeper keeps them online."""
    await repository.touch(tx, device_ids, utcnow())


async def offline_if_silent(tx: Tx, silent_for_s: float) -> int:
    now = utcnow()
    devices = await repository.offline_if_silent(tx, now - timedelta(seconds=silent_for_s), now)
    for device in devices:
        tx.publish(_status(device))
    return len(devices)


def _status(device: Device) -> DeviceStatusChanged:
    return DeviceStatusChanged(
        device.id, device.location_id, device.station_id, device.online, device.tenant_id
    )


async def report_printer_state(
    tx: Tx, tenant_id: uuid.UUID, device_id: uuid.UUID, printer: str, state: PrinterState
) -> Device | None:
    """A device's printer changed state: store it (one UPDATE; reports are rare, never per
    job) and relay ``printer.status`` to the location's watchers after the commit."""
    device = await repository.set_printer_state(tx, tenant_id, device_id, state, utcnow())
    if device is not None:
        tx.publish(PrinterStatusChanged(device.id, device.location_id, printer, state.value))
    return device


async def fail_over_due(tx: Tx, now: datetime) -> int:
    """Stations whose failover moment passed since the last sweep: their jobs are offered to
    the location bridges after the commit (``StationFailedOver``). Returns how many."""
    due = await repository.take_due_fallbacks(tx, now)
    for station in due:
        tx.publish(StationFailedOver(station.tenant_id, station.location_id, station.station_id))
    return len(due)
