"""Two server processes on different ports, sharing PostgreSQL and Redis: jobs, supersede,
unpair, station changes and the render rate limit cross from one process to the other."""

from __future__ import annotations

import asyncio
import dataclasses
import time
import uuid
from collections.abc import Iterator

import httpx
import pytest
from redis.asyncio import Redis

from app.coordination.watchers import watchers_key
from tests import databases
from tests.realtime.clients import bridge, watcher
from tests.realtime.conftest import TEST_SERVER_ENV, redis_reachable
from tests.servers import running_server
from tests.world import World, assert_error

pytestmark = [pytest.mark.postgres, pytest.mark.slow]

RENDER_LIMIT = 4  # renders per credential per minute, for both processes together


@pytest.fixture(scope="module")
def two_servers(
    postgres_url: str, tmp_path_factory: pytest.TempPathFactory
) -> Iterator[tuple[str, str]]:
    databases.require_service("Redis", redis_reachable())
    env = {
        **TEST_SERVER_ENV,
        "PRINTRELAY_REDIS_URL": databases.REDIS_URL,
        "PRINTRELAY_RENDER_RATE_LIMIT": str(RENDER_LIMIT),
    }
    with (
        running_server(postgres_url, cwd=tmp_path_factory.mktemp("p1"), extra_env=env) as one,
        running_server(postgres_url, cwd=tmp_path_factory.mktemp("p2"), extra_env=env) as two,
    ):
        yield one, two


async def test_jobs_supersede_and_unpair_cross_processes(two_servers: tuple[str, str]) -> None:
    one, two = two_servers
    async with httpx.AsyncClient(base_url=one, timeout=30) as client:
        rest = World(client, app=None)
        tenant = await rest.tenant()
        location = await tenant.location()
        device = await tenant.device(location)

        on_two = await bridge(two, device.token).connect()
        on_one = None
        try:
            e_two = (await on_two.wait_for("bridge.owner"))[0]["epoch"]
            job = await tenant.job(location)  # submitted through process one
            (offered,) = await on_two.wait_for("print_job.new")
            assert offered["id"] == job["id"]

            on_one = await bridge(one, device.token).connect()  # supersedes across processes
            e_one = (await on_one.wait_for("bridge.owner"))[0]["epoch"]
            assert e_one > e_two
            assert (await on_two.wait_for("superseded"))[0] == {"device_id": device.id}
            later = await tenant.job(location)
            new_on_one = await on_one.wait_for("print_job.new", 2)  # backlog + the later job
            assert later["id"] in {j["id"] for j in new_on_one}
            assert [j["id"] for j in await on_two.quiet("print_job.new")] == [job["id"]]
            stale = await on_two.call("print_job.claim", {"id": later["id"], "epoch": e_two})
            assert stale["error"]["code"] == "stale_epoch"

            # Unpaired through process one: the sockets on both processes are told and dropped.
            r = await client.delete(f"/v1/devices/{device.id}", headers=tenant.manager)
            assert r.status_code == 204
            for sock in (on_one, on_two):
                assert (await sock.wait_for("device.unpaired"))[0] == {"device_id": device.id}
                await asyncio.wait_for(sock.disconnected.wait(), 10)
        finally:
            await on_two.close()
            if on_one is not None:
                await on_one.close()


async def test_revocation_reaches_the_other_process_at_once(two_servers: tuple[str, str]) -> None:
    """Each process caches who a secret belongs to (app/auth/cache.py). A key revoked, or a
    device unpaired, through one process must stop working on the other with its next request,
    while that process still holds it in its cache."""
    one, two = two_servers
    async with (
        httpx.AsyncClient(base_url=one, timeout=30) as via_one,
        httpx.AsyncClient(base_url=two, timeout=30) as via_two,
    ):
        rest = World(via_one, app=None)
        tenant = await rest.tenant()
        location = await tenant.location()
        device = await tenant.device(location)
        keys = (await via_one.get("/v1/api-keys", headers=tenant.manager)).json()["items"]
        pos_key = next(k for k in keys if k["role"] == "pos")
        # Process two learns (and caches) both secrets.
        assert (await via_two.get("/v1/locations", headers=tenant.pos)).status_code == 200
        assert (await via_two.get("/v1/devices/me", headers=device.headers)).status_code == 200

        r = await via_one.delete(f"/v1/api-keys/{pos_key['id']}", headers=tenant.manager)
        assert r.status_code == 204
        r = await via_one.delete(f"/v1/devices/{device.id}", headers=tenant.manager)
        assert r.status_code == 204
        # The bus message travels asynchronously; "at once" allows it a moment, far below the
        # cache's 10 s lifetime that a missed message would leave.
        for path, headers in (("/v1/locations", tenant.pos), ("/v1/devices/me", device.headers)):
            for _ in range(50):
                r = await via_two.get(path, headers=headers)
                if r.status_code == 401:
                    break
                await asyncio.sleep(0.02)
            assert r.status_code == 401, (path, r.text)


async def test_a_watcher_on_one_process_sees_changes_made_through_the_other(
    two_servers: tuple[str, str],
) -> None:
    """Status changes are fanned out only to watched locations (app/coordination/watchers.py);
    the count lives in Redis, so a watcher on process two is known to process one the moment
    its subscribe is acknowledged (even though process one had just read "not watched" and
    remembers its answers for a moment), and process two's entry goes when the watcher does."""
    one, two = two_servers
    redis = Redis.from_url(databases.REDIS_URL)
    async with httpx.AsyncClient(base_url=one, timeout=30) as client:
        rest = World(client, app=None)
        tenant = await rest.tenant()
        location = await tenant.location()
        device = await tenant.device(location)
        w = await watcher(two, tenant.pos_secret).connect()
        try:
            key = watchers_key(uuid.UUID(location))
            assert await redis.scard(key) == 0
            await tenant.job(location)  # process one reads "not watched" and remembers it
            assert await w.call("subscribe", {"location_id": location}) == {"ok": True}
            assert await w.call("subscribe", {"location_id": location}) == {"ok": True}
            assert await redis.scard(key) == 1  # once per process
            job = await tenant.job(location)  # through process one
            assert (await rest.claim(device, job["id"])).status_code == 200
            updates = await w.wait_for("print_job.updated", 2)
            assert [(u["id"], u["status"]) for u in updates] == [
                (job["id"], "pending"),
                (job["id"], "sent"),
            ]
        finally:
            await w.close()
        for _ in range(100):
            if await redis.scard(key) == 0:
                break
            await asyncio.sleep(0.05)
        assert await redis.scard(key) == 0
        await redis.aclose()


async def test_revoking_a_key_drops_its_watchers_on_every_process(
    two_servers: tuple[str, str],
) -> None:
    """Issue 19 item 1, across processes: the key is revoked through process one; its watcher
    socket on process two is told and dropped, and no later update reaches it."""
    one, two = two_servers
    async with httpx.AsyncClient(base_url=one, timeout=30) as client:
        rest = World(client, app=None)
        tenant = await rest.tenant()
        location = await tenant.location()
        keys = (await client.get("/v1/api-keys", headers=tenant.manager)).json()["items"]
        pos_key = next(k for k in keys if k["role"] == "pos")
        w = await watcher(two, tenant.pos_secret).connect()
        kept = await watcher(two, tenant.manager_secret).connect()
        try:
            for sock in (w, kept):
                assert await sock.call("subscribe", {"location_id": location}) == {"ok": True}
            r = await client.delete(f"/v1/api-keys/{pos_key['id']}", headers=tenant.manager)
            assert r.status_code == 204
            assert await w.wait_for("api_key.revoked") == [{"key_id": pos_key["id"]}]
            await asyncio.wait_for(w.disconnected.wait(), 10)
            job = await tenant.job(location)  # through process one
            assert [u["id"] for u in await kept.wait_for("print_job.updated")] == [job["id"]]
            assert w.of("print_job.updated") == []
        finally:
            await w.close()
            await kept.close()


async def test_a_station_changed_through_one_process_sets_the_next_job_of_the_other(
    two_servers: tuple[str, str],
) -> None:
    """No process keeps station rows: a submission reads its station's width in its own
    statement (the hot path's, on this PostgreSQL), so the first job submitted through process
    two after process one answered the PATCH carries the new width, and back the other way."""
    one, two = two_servers
    async with (
        httpx.AsyncClient(base_url=one, timeout=30) as via_one,
        httpx.AsyncClient(base_url=two, timeout=30) as via_two,
    ):
        tenant = await World(via_one, app=None).tenant()
        on_two = dataclasses.replace(tenant, world=World(via_two, app=None))
        location = await tenant.location()
        station = await tenant.station(location, "BAR", 58)
        first = await on_two.job(location, station)  # process two has submitted to it already

        changed = await tenant.update_station(station, paper_width_mm=80)  # through one
        assert changed["paper_width_mm"] == 80
        second = await on_two.job(location, station)
        await on_two.update_station(station, paper_width_mm=58)  # through two
        third = await tenant.job(location, station)

        assert [j["paper_width_mm"] for j in (first, second, third)] == [58, 80, 58]
        for via in (via_one, via_two):
            r = await via.get(
                "/v1/print-jobs", params={"location_id": location}, headers=tenant.pos
            )
            assert [(j["id"], j["paper_width_mm"]) for j in r.json()["items"]] == [
                (first["id"], 58),
                (second["id"], 80),
                (third["id"], 58),
            ]
            r = await via.get(f"/v1/locations/{location}/stations", headers=tenant.pos)
            assert [(s["id"], s["paper_width_mm"]) for s in r.json()["items"]] == [(station, 58)]


async def test_the_render_limit_is_one_count_across_processes(
    two_servers: tuple[str, str],
) -> None:
    """With Redis, a credential's renders are counted once for all processes (fixed windows of
    a minute, app/coordination/rate_limit.py): half through each process, and the next one is
    refused by either; another tenant's key renders on."""
    one, two = two_servers
    if time.time() % 60 > 50:  # not across a window's end, which would reset the count
        await asyncio.sleep(60 - time.time() % 60)
    async with (
        httpx.AsyncClient(base_url=one, timeout=30) as via_one,
        httpx.AsyncClient(base_url=two, timeout=30) as via_two,
    ):
        world = World(via_one, app=None)
        tenant, other = await world.tenant("A"), await world.tenant("B")
        job = await tenant.job(await tenant.location())
        theirs = await other.job(await other.location())
        path = f"/v1/print-jobs/{job['id']}/render"
        text = {"format": "text"}
        answers = []
        for via in (via_one, via_two) * (RENDER_LIMIT // 2):
            answers.append(await via.get(path, params=text, headers=tenant.pos))
        assert [a.status_code for a in answers] == [200] * RENDER_LIMIT, answers[-1].text
        for via in (via_one, via_two):
            r = await via.get(path, params=text, headers=tenant.pos)
            assert_error(r, 429, "rate_limited")
            assert 1 <= int(r.headers["Retry-After"]) <= 60
        r = await via_two.get(
            f"/v1/print-jobs/{theirs['id']}/render", params=text, headers=other.pos
        )
        assert r.status_code == 200 and r.text == answers[0].text
