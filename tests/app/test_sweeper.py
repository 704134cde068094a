"""Expiry and lease timeouts: pending → expired, silent sent → unconfirmed, never re-sent."""

from __future__ import annotations

import asyncio
from datetime import datetime, timedelta

import httpx

from app.config import Settings
from app.main import create_app
from app.sweeper import Sweeper
from tests.world import World, assert_error


def _sweeper(world: World) -> Sweeper:
    return Sweeper(world.app.state.db, interval_s=1)


async def _status(world: World, job: dict, headers: dict[str, str]) -> str:
    r = await world.client.get(f"/v1/print-jobs/{job['id']}", headers=headers)
    status: str = r.json()["status"]
    return status


async def test_pending_past_expiry_expires_and_cannot_be_claimed(world: World) -> None:
    tenant = await world.tenant()
    location = await tenant.location()
    bridge = await tenant.device(location)
    due = await tenant.job(location, expires_in_s=60)
    fresh = await tenant.job(location, expires_in_s=600)
    later = datetime.fromisoformat(due["expires_at"]) + timedelta(seconds=1)

    # The counts span every tenant in the shared test database; only this tenant's jobs are
    # this test's to judge (other tests' claims may be past their lease by `later`).
    expired, _ = await _sweeper(world).run_once(now=later)

    assert expired >= 1
    assert await _status(world, due, tenant.manager) == "expired"
    assert await _status(world, fresh, tenant.manager) == "pending"
    assert_error(await world.claim(bridge, due["id"]), 409, "invalid_transition")
    events = (
        await world.client.get(f"/v1/print-jobs/{due['id']}/events", headers=tenant.manager)
    ).json()
    assert [(e["from_status"], e["to_status"], e["actor_kind"]) for e in events["items"]] == [
        (None, "pending", "manager"),
        ("pending", "expired", "system"),
    ]


async def test_silent_claim_becomes_unconfirmed_and_is_not_offered_again(world: World) -> None:
    tenant = await world.tenant()
    location = await tenant.location()
    bridge = await tenant.device(location)
    other = await tenant.device(location)
    job = await tenant.job(location)
    reported = await tenant.job(location)
    assert (await world.claim(bridge, job["id"])).status_code == 200
    assert (await world.claim(bridge, reported["id"])).status_code == 200
    assert (await world.report(bridge, reported["id"], "printed")).status_code == 200
    lease_s = world.app.state.settings.job_lease_s

    # Inside the lease nothing moves.
    soon = datetime.now().astimezone() + timedelta(seconds=lease_s - 5)
    await _sweeper(world).run_once(now=soon)  # the sweep is global: other tests' jobs may move
    assert await _status(world, job, tenant.manager) == "sent"

    past = datetime.now().astimezone() + timedelta(seconds=lease_s + 1)
    await _sweeper(world).run_once(now=past)

    assert await _status(world, job, tenant.manager) == "unconfirmed"
    assert await _status(world, reported, tenant.manager) == "printed"
    # Never re-sent by itself: nobody can claim it, the claimer cannot report it any more.
    assert_error(await world.claim(other, job["id"]), 409, "already_claimed")
    assert_error(await world.report(bridge, job["id"], "printed"), 409, "invalid_transition")
    pending = await world.client.get(
        "/v1/print-jobs", params={"status": "pending"}, headers=other.headers
    )
    assert job["id"] not in {j["id"] for j in pending.json()["items"]}
    # A person reprints it: a new pending job.
    r = await world.client.post(f"/v1/print-jobs/{job['id']}/reprint", headers=tenant.pos)
    assert r.status_code == 201 and r.json()["reprint_of"] == job["id"]


async def test_a_second_sweep_changes_nothing(world: World) -> None:
    tenant = await world.tenant()
    location = await tenant.location()
    job = await tenant.job(location, expires_in_s=60)
    later = datetime.fromisoformat(job["expires_at"]) + timedelta(seconds=1)
    await _sweeper(world).run_once(now=later)
    events_before = (
        await world.client.get(f"/v1/print-jobs/{job['id']}/events", headers=tenant.manager)
    ).json()
    await _sweeper(world).run_once(now=later)
    events_after = (
        await world.client.get(f"/v1/print-jobs/{job['id']}/events", headers=tenant.manager)
    ).json()
    assert events_after == events_before
    assert len(events_after["items"]) == 2


async def test_the_server_sweeps_by_itself(settings: Settings) -> None:
    fast = settings.model_copy(update={"sweep_interval_s": 0.05})
    app = create_app(fast, run_sweeper=True)
    async with app.router.lifespan_context(app):
        transport = httpx.ASGITransport(app=app)
        async with httpx.AsyncClient(transport=transport, base_url="http://t") as client:
            world = World(client, app)
            tenant = await world.tenant()
            location = await tenant.location()
            job = await tenant.job(location, expires_in_s=1)
            for _ in range(100):  # poll up to ~5 s; this checks behaviour, not speed
                if await _status(world, job, tenant.manager) == "expired":
                    break
                await asyncio.sleep(0.05)
            assert await _status(world, job, tenant.manager) == "expired"
