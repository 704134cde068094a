"""What a bridge's connection reads and writes (app.devices.hot_path): token lookup, epoch,
ownership and the backlog, the same on the hot path (PostgreSQL) and the general one."""

from __future__ import annotations

import uuid
from typing import Any

import pytest

from app.auth.principals import DeviceScope, Principal, PrincipalKind
from app.auth.secrets import hash_secret
from app.devices import hot_path
from tests.conftest import ALL_PATHS
from tests.world import Device, Tenant, World

pytestmark = pytest.mark.parametrize("database_url", ALL_PATHS, indirect=True)


def _scope(device: Device) -> DeviceScope:
    station = uuid.UUID(device.station_id) if device.station_id else None
    return DeviceScope(uuid.UUID(device.id), uuid.UUID(device.location_id), station)


async def _backlog(world: World, tenant_id: uuid.UUID, device: Device, page: int) -> list[str]:
    """Every page of the device's backlog, in order."""
    ids: list[str] = []
    cursor = None
    while True:
        principal = Principal(PrincipalKind.DEVICE, tenant_id=tenant_id, device=_scope(device))
        jobs, cursor = await hot_path.backlog_page(world.app.state.db, principal, cursor, page)
        assert len(jobs) <= page
        ids += [str(j.id) for j in jobs]
        if cursor is None:
            return ids


async def _pending_listed(world: World, device: Device) -> list[str]:
    """The same, as REST lists it to the device (the general listing)."""
    r = await world.client.get(
        "/v1/print-jobs", params={"status": "pending", "limit": 200}, headers=device.headers
    )
    assert r.status_code == 200, r.text
    return [j["id"] for j in r.json()["items"]]


async def _tenant_id(world: World, device: Device) -> uuid.UUID:
    row = await hot_path.device_by_token_hash(world.app.state.db, hash_secret(device.token))
    assert row is not None and str(row.id) == device.id
    return row.tenant_id


async def _jobs(tenant: Tenant, location: str, station: str | None, n: int) -> list[str]:
    out: list[dict[str, Any]] = [await tenant.job(location, station) for _ in range(n)]
    return [j["id"] for j in out]


async def test_backlog_pages_hold_the_device_scope_oldest_first(world: World) -> None:
    tenant = await world.tenant()
    location = await tenant.location()
    station = await tenant.station(location)
    other_station = await tenant.station(location, "BARRA")
    station_bridge = await tenant.device(location, station)
    location_bridge = await tenant.device(location)
    tenant_id = await _tenant_id(world, station_bridge)

    station_jobs = await _jobs(tenant, location, station, 5)
    location_jobs = await _jobs(tenant, location, None, 3)
    other_jobs = await _jobs(tenant, location, other_station, 2)
    foreign = await world.tenant("Other")
    foreign_location = await foreign.location()
    await _jobs(foreign, foreign_location, None, 2)  # another tenant's: never seen
    claimed = station_jobs.pop(0)
    assert (await world.claim(station_bridge, claimed)).status_code == 200  # not pending

    # A station bridge: its station's pending jobs, in pages of 2.
    assert await _backlog(world, tenant_id, station_bridge, 2) == station_jobs
    assert await _pending_listed(world, station_bridge) == station_jobs
    # A location bridge while no station bridge is online: the location's and both stations'.
    everything = sorted(
        station_jobs + location_jobs + other_jobs,
        key=(await _pending_listed(world, location_bridge)).index,
    )
    assert await _backlog(world, tenant_id, location_bridge, 3) == everything
    assert len(everything) == 9
    # The station bridge online: its station's jobs are no longer the location bridge's.
    await world.set_online(station_bridge, True)
    expected = [j for j in everything if j not in station_jobs]
    assert await _backlog(world, tenant_id, location_bridge, 3) == expected
    assert await _pending_listed(world, location_bridge) == expected


async def test_ownership_raises_the_epoch_and_stops_at_unpairing(world: World) -> None:
    tenant = await world.tenant()
    location = await tenant.location()
    device = await tenant.device(location)
    db = world.app.state.db
    tenant_id = await _tenant_id(world, device)
    device_id = uuid.UUID(device.id)

    assert await hot_path.device_epoch(db, tenant_id, device_id) == 0
    assert await hot_path.take_ownership(db, tenant_id, device_id, 7) is True
    assert await hot_path.device_epoch(db, tenant_id, device_id) == 7
    assert await hot_path.take_ownership(db, tenant_id, device_id, 3) is True  # never lowered
    assert await hot_path.device_epoch(db, tenant_id, device_id) == 7
    me = await world.client.get("/v1/devices/me", headers=device.headers)
    assert me.json()["online"] is True
    # Another tenant's ID never matches.
    assert await hot_path.device_epoch(db, uuid.uuid4(), device_id) is None
    assert await hot_path.take_ownership(db, uuid.uuid4(), device_id, 9) is False

    r = await world.client.delete(f"/v1/devices/{device.id}", headers=tenant.manager)
    assert r.status_code in (200, 204), r.text
    assert await hot_path.device_epoch(db, tenant_id, device_id) is None
    assert await hot_path.take_ownership(db, tenant_id, device_id, 8) is False
    # The token still resolves, revoked, so the socket can say `revoked`, not `unauthorized`.
    row = await hot_path.device_by_token_hash(db, hash_secret(device.token))
    assert row is not None and row.revoked_at is not None
    assert await hot_path.device_by_token_hash(db, hash_secret("prd_unknown")) is None
