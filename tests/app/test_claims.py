"""PATCH /v1/print-jobs/{id}: a device's atomic claim and its reports, fenced by epoch."""

from __future__ import annotations

import asyncio
import random
from collections import Counter
from typing import Any

import pytest

from tests.conftest import ALL_PATHS
from tests.world import Device, Tenant, World, assert_error, bearer

# Also on PostgreSQL without the hot path (app.print_jobs.hot_path): both paths hold the same.
pytestmark = pytest.mark.parametrize("database_url", ALL_PATHS, indirect=True)


async def _get(world: World, tenant: Tenant, job_id: str) -> dict[str, Any]:
    r = await world.client.get(f"/v1/print-jobs/{job_id}", headers=tenant.manager)
    assert r.status_code == 200, r.text
    job: dict[str, Any] = r.json()
    return job


async def _events(world: World, tenant: Tenant, job_id: str) -> list[str]:
    r = await world.client.get(f"/v1/print-jobs/{job_id}/events", headers=tenant.manager)
    assert r.status_code == 200, r.text
    return [e["to_status"] for e in r.json()["items"]]


async def _setup(world: World, bridges: int = 2) -> tuple[Tenant, str, list[Device]]:
    """A tenant, a location and location bridges (they all share one scope)."""
    tenant = await world.tenant()
    location = await tenant.location()
    devices = [await tenant.device(location) for _ in range(bridges)]
    return tenant, location, devices


async def test_claim_marks_the_job_sent_by_this_device(world: World) -> None:
    tenant, location, (device, _) = await _setup(world)
    await world.set_epoch(device, 5)
    job = await tenant.job(location)
    r = await world.claim(device, job["id"])
    assert r.status_code == 200, r.text
    claimed = r.json()
    assert claimed["id"] == job["id"] and claimed["status"] == "sent"
    assert claimed["claimed_by"] == device.id and claimed["epoch"] == 5
    assert claimed["error"] is None
    assert await _get(world, tenant, job["id"]) == claimed


async def test_one_winner_and_the_winner_may_repeat(world: World) -> None:
    tenant, location, (first, second) = await _setup(world)
    job = await tenant.job(location)
    assert (await world.claim(first, job["id"])).status_code == 200
    before = await _get(world, tenant, job["id"])
    assert_error(await world.claim(second, job["id"]), 409, "already_claimed")
    again = await world.claim(first, job["id"])
    assert again.status_code == 200, again.text
    assert again.json() == before
    assert await _get(world, tenant, job["id"]) == before
    assert await _events(world, tenant, job["id"]) == ["pending", "sent"]


@pytest.mark.parametrize("wrong", [2, 4, 0])
async def test_wrong_epoch_is_stale_and_changes_nothing(world: World, wrong: int) -> None:
    tenant, location, (device,) = await _setup(world, 1)
    await world.set_epoch(device, 3)
    job = await tenant.job(location)
    assert_error(await world.claim(device, job["id"], epoch=wrong), 409, "stale_epoch")
    after = await _get(world, tenant, job["id"])
    assert after == job
    assert (await world.claim(device, job["id"], epoch=3)).status_code == 200
    # A report under a wrong epoch is refused just the same.
    r = await world.client.patch(
        f"/v1/print-jobs/{job['id']}",
        json={"status": "printed", "epoch": wrong},
        headers=device.headers,
    )
    assert_error(r, 409, "stale_epoch")
    assert (await _get(world, tenant, job["id"]))["status"] == "sent"


async def test_a_device_finishes_its_own_job_after_an_epoch_bump(world: World) -> None:
    tenant, location, (device, _) = await _setup(world)
    await world.set_epoch(device, 1)
    job = await tenant.job(location)
    assert (await world.claim(device, job["id"])).status_code == 200
    await world.set_epoch(device, 2)  # the bridge reconnected and became owner again
    assert_error(await world.claim(device, job["id"], epoch=1), 409, "stale_epoch")
    repeat = await world.claim(device, job["id"])
    assert repeat.status_code == 200 and repeat.json()["status"] == "sent"
    r = await world.report(device, job["id"], "printed")
    assert r.status_code == 200, r.text
    assert r.json()["status"] == "printed" and r.json()["claimed_by"] == device.id


@pytest.mark.parametrize("status,error", [("printed", None), ("failed", "paper_out")])
async def test_claimer_reports(world: World, status: str, error: str | None) -> None:
    tenant, location, (claimer, other) = await _setup(world)
    job = await tenant.job(location)
    assert (await world.claim(claimer, job["id"])).status_code == 200
    held = await _get(world, tenant, job["id"])
    assert_error(await world.report(other, job["id"], status, error), 409, "already_claimed")
    assert await _get(world, tenant, job["id"]) == held

    r = await world.report(claimer, job["id"], status, error)
    assert r.status_code == 200, r.text
    done = r.json()
    assert done["status"] == status and done["error"] == error
    assert done["claimed_by"] == claimer.id
    assert await _get(world, tenant, job["id"]) == done

    repeat = await world.report(claimer, job["id"], status, error)  # a lost ack, retried
    assert repeat.status_code == 200, repeat.text
    assert repeat.json() == done
    assert await _events(world, tenant, job["id"]) == ["pending", "sent", status]

    flip = "failed" if status == "printed" else "printed"
    r = await world.report(claimer, job["id"], flip, "paper_out" if flip == "failed" else None)
    assert_error(r, 409, "invalid_transition")
    assert_error(await world.claim(claimer, job["id"]), 409, "invalid_transition")
    assert await _get(world, tenant, job["id"]) == done


async def test_report_on_an_unclaimed_job_is_invalid(world: World) -> None:
    tenant, location, (device,) = await _setup(world, 1)
    job = await tenant.job(location)
    for status, error in [("printed", None), ("failed", "paper_out")]:
        r = await world.report(device, job["id"], status, error)
        assert_error(r, 409, "invalid_transition")
    assert await _get(world, tenant, job["id"]) == job


async def test_canceled_job_cannot_be_claimed(world: World) -> None:
    tenant, location, (device,) = await _setup(world, 1)
    job = await tenant.job(location)
    r = await world.client.post(f"/v1/print-jobs/{job['id']}/cancel", headers=tenant.pos)
    assert r.status_code == 200
    assert_error(await world.claim(device, job["id"]), 409, "invalid_transition")
    after = await _get(world, tenant, job["id"])
    assert after["status"] == "canceled" and after["claimed_by"] is None


async def test_expired_job_cannot_be_claimed(world: World) -> None:
    tenant, location, (device,) = await _setup(world, 1)
    job = await tenant.job(location, expires_in_s=1)
    await asyncio.sleep(1.2)
    assert_error(await world.claim(device, job["id"]), 409, "invalid_transition")
    after = await _get(world, tenant, job["id"])
    assert after["status"] in ("pending", "expired")
    assert after["claimed_by"] is None and after["epoch"] is None


async def test_station_bridge_claims_only_its_station(world: World) -> None:
    tenant = await world.tenant()
    location = await tenant.location()
    s1, s2 = await tenant.station(location, "S1"), await tenant.station(location, "S2")
    bridge = await tenant.device(location, s1, online=True)
    for job in (await tenant.job(location, s2), await tenant.job(location)):
        assert_error(await world.claim(bridge, job["id"]), 404, "not_found")
        assert await _get(world, tenant, job["id"]) == job
    own = await tenant.job(location, s1)
    assert (await world.claim(bridge, own["id"])).status_code == 200


async def test_location_bridge_covers_stations_without_an_online_bridge(world: World) -> None:
    tenant = await world.tenant()
    location = await tenant.location()
    station = await tenant.station(location)
    station_bridge = await tenant.device(location, station, online=False)
    loc_bridge = await tenant.device(location)

    offline_job = await tenant.job(location, station)
    r = await world.claim(loc_bridge, offline_job["id"])
    assert r.status_code == 200 and r.json()["claimed_by"] == loc_bridge.id

    await world.set_online(station_bridge, True)
    covered = await tenant.job(location, station)
    assert_error(await world.claim(loc_bridge, covered["id"]), 404, "not_found")
    assert await _get(world, tenant, covered["id"]) == covered
    # The job claimed before the station bridge came back can still be finished.
    assert (await world.report(loc_bridge, offline_job["id"], "printed")).status_code == 200

    await world.set_online(station_bridge, False)
    assert (await world.claim(loc_bridge, covered["id"])).status_code == 200


async def test_another_tenants_device_gets_404(world: World) -> None:
    tenant, location, _ = await _setup(world, 0)
    other = await world.tenant("Other")
    intruder = await other.device(await other.location())
    job = await tenant.job(location)
    assert_error(await world.claim(intruder, job["id"]), 404, "not_found")
    assert await _get(world, tenant, job["id"]) == job


async def test_only_paired_devices_may_patch(world: World) -> None:
    tenant, location, (device,) = await _setup(world, 1)
    job = await tenant.job(location)
    url, body = f"/v1/print-jobs/{job['id']}", {"status": "sent", "epoch": 0}
    for headers in (tenant.manager, tenant.pos):
        assert_error(await world.client.patch(url, json=body, headers=headers), 403, "forbidden")
    assert_error(await world.client.patch(url, json=body), 401, "unauthorized")
    r = await world.client.patch(url, json=body, headers=bearer("prd_" + "x" * 43))
    assert_error(r, 401, "unauthorized")
    r = await world.client.delete(f"/v1/devices/{device.id}", headers=tenant.manager)
    assert r.status_code == 204, r.text
    assert_error(await world.claim(device, job["id"]), 401, "unauthorized")
    assert await _get(world, tenant, job["id"]) == job


@pytest.mark.parametrize(
    "body",
    [
        {"status": "printed", "epoch": 0, "error": "paper_out"},
        {"status": "sent", "epoch": 0, "error": "paper_out"},
        {"status": "pending", "epoch": 0},
        {"status": "canceled", "epoch": 0},
        {"status": "sent"},
        {"status": "sent", "epoch": -1},
        {"status": "sent", "epoch": 0, "printer": "kitchen"},
    ],
)
async def test_malformed_update_is_422(world: World, body: dict[str, Any]) -> None:
    tenant, location, (device,) = await _setup(world, 1)
    job = await tenant.job(location)
    assert (await world.claim(device, job["id"])).status_code == 200
    held = await _get(world, tenant, job["id"])
    r = await world.client.patch(f"/v1/print-jobs/{job['id']}", json=body, headers=device.headers)
    assert_error(r, 422, "validation_error")
    assert await _get(world, tenant, job["id"]) == held


async def test_racing_bridges_get_exactly_one_winner_per_job(world: World) -> None:
    tenant, location, bridges = await _setup(world, 8)
    jobs = [(await tenant.job(location))["id"] for _ in range(30)]
    attempts = [(job_id, bridge) for job_id in jobs for bridge in bridges]
    random.Random(7).shuffle(attempts)
    responses = await asyncio.gather(*(world.claim(b, job_id) for job_id, b in attempts))

    winners: dict[str, list[str]] = {job_id: [] for job_id in jobs}
    won: dict[str, list[dict[str, Any]]] = {job_id: [] for job_id in jobs}
    losses: Counter[str] = Counter()
    for (job_id, bridge), r in zip(attempts, responses, strict=True):
        if r.status_code == 200:
            winners[job_id].append(bridge.id)
            won[job_id].append(r.json())
        else:
            assert_error(r, 409, "already_claimed")
            losses[job_id] += 1
    for job_id in jobs:
        assert len(winners[job_id]) == 1, (winners[job_id], won[job_id])
        assert losses[job_id] == 7
        final = await _get(world, tenant, job_id)
        assert final["status"] == "sent" and final["claimed_by"] == winners[job_id][0]
        assert await _events(world, tenant, job_id) == ["pending", "sent"]
