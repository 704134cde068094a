"""A job's ``paper_width_mm``: its station's width at submission, 80 for a location job, kept
when the station changes later (``PATCH /v1/stations/{id}``) and by a reprint; on SQLite, and
on PostgreSQL with the hot path (app/print_jobs/hot_sql.py) and without it."""

from __future__ import annotations

import asyncio
from typing import Any

import pytest

from tests.conftest import ALL_PATHS
from tests.world import DOCUMENT, Tenant, World, assert_error

pytestmark = pytest.mark.parametrize("database_url", ALL_PATHS, indirect=True)


async def _default_station(world: World, tenant: Tenant, location: str) -> str:
    """A station created without a width (the contract's default, 80)."""
    r = await world.client.post(
        f"/v1/locations/{location}/stations", json={"name": "BARRA"}, headers=tenant.manager
    )
    assert r.status_code == 201, r.text
    station_id: str = r.json()["id"]
    return station_id


async def _get(world: World, headers: dict[str, str], job_id: str) -> dict[str, Any]:
    r = await world.client.get(f"/v1/print-jobs/{job_id}", headers=headers)
    assert r.status_code == 200, r.text
    job: dict[str, Any] = r.json()
    return job


async def _widths_listed(world: World, headers: dict[str, str], location: str) -> dict[str, int]:
    r = await world.client.get(
        "/v1/print-jobs", params={"location_id": location, "limit": 200}, headers=headers
    )
    assert r.status_code == 200, r.text
    return {j["id"]: j["paper_width_mm"] for j in r.json()["items"]}


async def test_a_job_carries_its_stations_width_and_a_location_job_80(world: World) -> None:
    tenant, other = await world.tenant("A"), await world.tenant("B")
    location = await tenant.location()
    narrow = await tenant.station(location, "BAR", 58)
    wide = await tenant.station(location, "COCINA", 80)
    default = await _default_station(world, tenant, location)
    bridge = await tenant.device(location)  # a location bridge: sees all four jobs
    expected: dict[str, int] = {}
    for station, width in ((narrow, 58), (wide, 80), (default, 80), (None, 80)):
        job = await tenant.job(location, station, headers=tenant.pos)
        assert job["paper_width_mm"] == width, (station, job)
        expected[job["id"]] = width
        assert await _get(world, tenant.manager, job["id"]) == job
        assert (await _get(world, bridge.headers, job["id"]))["paper_width_mm"] == width
        r = await world.client.get(f"/v1/print-jobs/{job['id']}", headers=other.manager)
        assert_error(r, 404, "not_found")
    assert await _widths_listed(world, tenant.manager, location) == expected
    assert await _widths_listed(world, bridge.headers, location) == expected

    # Another tenant cannot submit to these stations, nor learn their widths.
    other_location = await other.location()
    for station in (narrow, wide):
        body = {"location_id": other_location, "station_id": station, "document": DOCUMENT}
        r = await world.client.post("/v1/print-jobs", json=body, headers=other.pos)
        assert_error(r, 404, "not_found")


async def test_concurrent_submissions_each_take_their_own_stations_width(world: World) -> None:
    """Submissions in flight together (on the hot path they share one statement, each row
    probing its own station) still each get their own station's width."""
    tenant = await world.tenant()
    location = await tenant.location()
    narrow = await tenant.station(location, "BAR", 58)
    wide = await tenant.station(location, "COCINA", 80)
    targets = [narrow, wide, None] * 8
    jobs = await asyncio.gather(*(tenant.job(location, s, headers=tenant.pos) for s in targets))
    want = {narrow: 58, wide: 80, None: 80}
    assert [j["paper_width_mm"] for j in jobs] == [want[s] for s in targets]
    listed = await _widths_listed(world, tenant.manager, location)
    assert listed == {j["id"]: want[s] for j, s in zip(jobs, targets, strict=True)}


async def test_a_later_change_of_the_station_leaves_earlier_jobs_and_their_reprints(
    world: World,
) -> None:
    tenant, other = await world.tenant("A"), await world.tenant("B")
    location = await tenant.location()
    station = await tenant.station(location, "BAR", 58)
    before = await tenant.job(location, station)
    assert before["paper_width_mm"] == 58

    changed = await tenant.update_station(station, paper_width_mm=80)
    assert (changed["id"], changed["name"], changed["paper_width_mm"]) == (station, "BAR", 80)
    after = await tenant.job(location, station)
    assert after["paper_width_mm"] == 80
    assert (await _get(world, tenant.manager, before["id"]))["paper_width_mm"] == 58
    assert await _widths_listed(world, tenant.manager, location) == {
        before["id"]: 58,
        after["id"]: 80,
    }

    # A reprint is the same ticket on the same paper as the original, whatever the station
    # says now.
    for original, width in ((before, 58), (after, 80)):
        url = f"/v1/print-jobs/{original['id']}/reprint"
        assert_error(await world.client.post(url, headers=other.pos), 404, "not_found")
        r = await world.client.post(url, headers=tenant.pos)
        assert r.status_code == 201, r.text
        copy = r.json()
        assert copy["reprint_of"] == original["id"] and copy["paper_width_mm"] == width
        assert (await _get(world, tenant.manager, copy["id"]))["paper_width_mm"] == width
