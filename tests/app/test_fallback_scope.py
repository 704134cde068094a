"""The failover's scope (contract: Scope): a location bridge may claim and list a station's
jobs while every online bridge of the station has reported a printer that cannot print for
longer than the station's ``fallback_after_s`` (null: never). The claim and listing SQL on
SQLite, on PostgreSQL's hot path and on its general path. No clock is raced: the delay is
set to an hour (not yet) or to 0 (already past) by PATCH."""

from __future__ import annotations

import uuid
from typing import Any

import pytest

from app.models import PrinterState
from tests.conftest import ALL_PATHS
from tests.world import Device, Tenant, World, assert_error

pytestmark = pytest.mark.parametrize("database_url", ALL_PATHS, indirect=True)


async def _report(world: World, device: Device, state: PrinterState) -> None:
    """What a bridge's ``printer.status`` (or a CloudPRNT poll) stores."""
    from app.devices import service

    async with world.app.state.db.transaction() as tx:
        tenant_id = await world._tenant_of(tx, device)
        stored = await service.report_printer_state(
            tx, tenant_id, uuid.UUID(device.id), "tcp://10.0.0.9:9100", state
        )
        assert stored is not None


async def _listed(world: World, device: Device) -> set[str]:
    r = await world.client.get(
        "/v1/print-jobs", params={"status": "pending"}, headers=device.headers
    )
    assert r.status_code == 200, r.text
    return {j["id"] for j in r.json()["items"]}


async def _setup(
    world: World, fallback_after_s: int | None
) -> tuple[Tenant, str, str, Device, Device]:
    tenant = await world.tenant()
    location = await tenant.location()
    station = await tenant.station(location)
    await tenant.update_station(station, fallback_after_s=fallback_after_s)
    station_bridge = await tenant.device(location, station, online=True)
    location_bridge = await tenant.device(location)
    return tenant, location, station, station_bridge, location_bridge


async def test_not_before_fallback_after_s_then_at_once(world: World) -> None:
    tenant, location, station, sb, lb = await _setup(world, 3600)
    await _report(world, sb, PrinterState.PAPER_OUT)
    waiting = await tenant.job(location, station)
    # Down for less than an hour: still the station's.
    assert_error(await world.claim(lb, waiting["id"]), 404, "not_found")
    assert waiting["id"] not in await _listed(world, lb)

    # The delay is now 0: the printer has been down longer than that since its report.
    await tenant.update_station(station, fallback_after_s=0)
    other = await tenant.job(location, station)
    assert await _listed(world, lb) >= {waiting["id"], other["id"]}
    r = await world.claim(lb, waiting["id"])
    assert r.status_code == 200 and r.json()["claimed_by"] == lb.id
    # The station bridge still sees and claims its station's jobs.
    assert other["id"] in await _listed(world, sb)
    assert (await world.claim(sb, other["id"])).status_code == 200

    # Printing again (paper_low prints): new jobs are the station's only.
    await _report(world, sb, PrinterState.PAPER_LOW)
    back = await tenant.job(location, station)
    assert back["id"] not in await _listed(world, lb)
    assert_error(await world.claim(lb, back["id"]), 404, "not_found")
    # The location bridge still finishes the job it claimed during the failover.
    assert (await world.report(lb, waiting["id"], "printed")).status_code == 200


async def test_every_online_station_bridge_must_be_down(world: World) -> None:
    tenant, location, station, sb, lb = await _setup(world, 0)
    second = await tenant.device(location, station, online=True)  # never reported: printing
    await _report(world, sb, PrinterState.COVER_OPEN)
    job = await tenant.job(location, station)
    assert_error(await world.claim(lb, job["id"]), 404, "not_found")

    await _report(world, second, PrinterState.OFFLINE)
    assert job["id"] in await _listed(world, lb)
    # A later report of another non-printing state keeps the failover.
    await _report(world, sb, PrinterState.ERROR)
    r = await world.claim(lb, job["id"])
    assert r.status_code == 200 and r.json()["claimed_by"] == lb.id

    # A down bridge that goes offline leaves the other one: still failed over.
    await world.set_online(sb, False)
    later = await tenant.job(location, station)
    assert (await world.claim(lb, later["id"])).status_code == 200


@pytest.mark.parametrize("patched", [False, True])
async def test_null_never_fails_over(world: World, patched: bool) -> None:
    tenant, location, station, sb, lb = await _setup(world, 0 if patched else None)
    await _report(world, sb, PrinterState.PAPER_OUT)
    if patched:
        await tenant.update_station(station, fallback_after_s=None)
    job = await tenant.job(location, station)
    assert_error(await world.claim(lb, job["id"]), 404, "not_found")
    assert job["id"] not in await _listed(world, lb)
    # Nor another tenant's location bridge, whatever its scope.
    other = await world.tenant("Other")
    stranger = await other.device(await other.location())
    assert_error(await world.claim(stranger, job["id"]), 404, "not_found")
    # Without an online station bridge the location bridge takes it, as before.
    await world.set_online(sb, False)
    assert (await world.claim(lb, job["id"])).status_code == 200


async def test_the_other_tenant_is_untouched(world: World) -> None:
    """A failover in one tenant changes nothing in another's location."""
    _, _, _, sb, _ = await _setup(world, 0)
    await _report(world, sb, PrinterState.PAPER_OUT)
    tenant, location, station, other_sb, lb = await _setup(world, 0)
    job: dict[str, Any] = await tenant.job(location, station)
    assert_error(await world.claim(lb, job["id"]), 404, "not_found")
    assert (await world.claim(other_sb, job["id"])).status_code == 200


async def _fail_over_due(world: World) -> int:
    from app.db import utcnow
    from app.devices import service

    async with world.app.state.db.transaction() as tx:
        return await service.fail_over_due(tx, utcnow())


async def test_the_sweeper_takes_each_failover_once(world: World) -> None:
    """The sweeper's conditional UPDATE: a failover that is due is taken (and its station's jobs
    offered) by one sweep, not again; a printer that comes back and goes down again is new."""
    tenant, _, station, sb, _ = await _setup(world, 3600)
    await _fail_over_due(world)  # other tests' failovers in a shared database: taken now
    await _report(world, sb, PrinterState.PAPER_OUT)
    assert await _fail_over_due(world) == 0  # not yet: an hour to go
    await tenant.update_station(station, fallback_after_s=0)
    assert await _fail_over_due(world) == 1
    assert await _fail_over_due(world) == 0
    await _report(world, sb, PrinterState.COVER_OPEN)  # still down: nothing new
    assert await _fail_over_due(world) == 0
    await _report(world, sb, PrinterState.ONLINE)
    assert await _fail_over_due(world) == 0
    await _report(world, sb, PrinterState.ERROR)
    assert await _fail_over_due(world) == 1
