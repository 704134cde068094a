"""Abuse limits: pairing per address and globally, job submission per API key, renders per
credential, and exactly one token per pairing code however many exchange it at once."""

from __future__ import annotations

import asyncio
import uuid
from collections import Counter
from collections.abc import AsyncIterator

import httpx
import pytest

from app.config import Settings
from app.coordination.rate_limit import RedisRateLimiter
from app.main import create_app
from tests import databases
from tests.realtime.conftest import redis_reachable
from tests.world import DOCUMENT, World, assert_error

RENDER_LIMIT = 3


@pytest.fixture
async def strict_world(settings: Settings) -> AsyncIterator[World]:
    strict = settings.model_copy(
        update={
            "pairing_global_rate_limit": 5,
            "job_submit_rate_limit": 4,
            "render_rate_limit": RENDER_LIMIT,
        }
    )
    app = create_app(strict, run_sweeper=False)
    async with app.router.lifespan_context(app):
        transport = httpx.ASGITransport(app=app)
        async with httpx.AsyncClient(transport=transport, base_url="http://t") as client:
            yield World(client, app)


def from_address(world: World, address: str) -> httpx.AsyncClient:
    transport = httpx.ASGITransport(app=world.app, client=(address, 40000))
    return httpx.AsyncClient(transport=transport, base_url="http://t")


async def test_pairing_guesses_are_capped_globally_across_addresses(strict_world: World) -> None:
    answers = Counter()
    for i in range(8):  # eight different addresses, each well under its own limit
        async with from_address(strict_world, f"198.51.100.{i}") as c:
            r = await c.post("/v1/devices/pair", json={"code": "WRONGCODE2", "name": "x"})
            answers[r.status_code] += 1
            if r.status_code == 429:
                assert_error(r, 429, "rate_limited")
                assert int(r.headers["Retry-After"]) >= 1
    assert answers == {400: 5, 429: 3}


async def test_job_submission_is_limited_per_api_key(strict_world: World) -> None:
    tenant = await strict_world.tenant()
    location = await tenant.location()
    for _ in range(4):
        await tenant.job(location, headers=tenant.pos)
    r = await strict_world.client.post(
        "/v1/print-jobs",
        json={"location_id": location, "raw": {"encoding": "base64", "data": "AA=="}},
        headers=tenant.pos,
    )
    assert_error(r, 429, "rate_limited")
    assert int(r.headers["Retry-After"]) >= 1
    listed = await strict_world.client.get(
        "/v1/print-jobs", params={"location_id": location}, headers=tenant.pos
    )
    assert len(listed.json()["items"]) == 4  # the refused submit created nothing
    # Another key, and another tenant, are not starved by this one.
    await tenant.job(location, headers=tenant.manager)
    other = await strict_world.tenant("Other")
    await other.job(await other.location(), headers=other.pos)


async def test_fifty_concurrent_exchanges_of_one_code_make_one_token(world: World) -> None:
    tenant = await world.tenant()
    location = await tenant.location()
    code = await tenant.pairing_code(location)

    async def exchange(i: int) -> int:
        async with from_address(world, f"203.0.113.{i}") as c:
            r = await c.post("/v1/devices/pair", json={"code": code, "name": f"b{i}"})
            return r.status_code

    answers = Counter(await asyncio.gather(*(exchange(i) for i in range(50))))
    assert answers == {201: 1, 400: 49}
    devices = await world.client.get(
        "/v1/devices", params={"location_id": location}, headers=tenant.manager
    )
    assert len(devices.json()["items"]) == 1


async def test_renders_are_limited_per_credential(strict_world: World) -> None:
    """Both render endpoints draw on one count per credential; past it 429 with Retry-After,
    and other credentials (the same tenant's other key, a device, another tenant) render on."""
    world = strict_world
    tenant, other = await world.tenant("A"), await world.tenant("B")
    location = await tenant.location()
    job = await tenant.job(location)
    render = f"/v1/print-jobs/{job['id']}/render"
    preview = {"document": DOCUMENT}
    answers = [
        await world.client.get(render, params={"format": "text"}, headers=tenant.pos),
        await world.client.post("/v1/render?format=text", json=preview, headers=tenant.pos),
        await world.client.get(render, params={"format": "escpos"}, headers=tenant.pos),
    ]
    assert [a.status_code for a in answers] == [200] * RENDER_LIMIT, answers[-1].text
    for r in (
        await world.client.get(render, params={"format": "text"}, headers=tenant.pos),
        await world.client.post("/v1/render?format=escpos", json=preview, headers=tenant.pos),
    ):
        assert_error(r, 429, "rate_limited")
        assert 1 <= int(r.headers["Retry-After"]) <= 60
    # Not starved by that key: its tenant's manager key, a device, another tenant's key.
    device = await tenant.device(location)
    r = await world.client.get(render, params={"format": "text"}, headers=tenant.manager)
    assert r.status_code == 200 and r.text == answers[0].text
    r = await world.client.get(render, params={"format": "text"}, headers=device.headers)
    assert r.status_code == 200 and r.text == answers[0].text
    theirs = await other.job(await other.location())
    r = await world.client.get(
        f"/v1/print-jobs/{theirs['id']}/render", params={"format": "text"}, headers=other.pos
    )
    assert r.status_code == 200 and r.text == answers[0].text  # the same document
    r = await world.client.post("/v1/render?format=text", json=preview, headers=other.pos)
    assert r.status_code == 200, r.text


async def test_a_refused_render_request_costs_nothing_and_a_device_has_its_own_count(
    strict_world: World,
) -> None:
    """A format or body the endpoint refuses (422) is not counted; a device is limited by its
    own count like a key."""
    world = strict_world
    tenant = await world.tenant()
    location = await tenant.location()
    job = await tenant.job(location)
    device = await tenant.device(location)
    render = f"/v1/print-jobs/{job['id']}/render"
    for _ in range(RENDER_LIMIT + 1):
        r = await world.client.get(render, params={"format": "pdf"}, headers=device.headers)
        assert_error(r, 422, "validation_error")
        r = await world.client.post("/v1/render?format=text", json={}, headers=tenant.pos)
        assert_error(r, 422, "validation_error")
    for headers in (device.headers, tenant.pos):
        for _ in range(RENDER_LIMIT):
            r = await world.client.get(render, params={"format": "escpos"}, headers=headers)
            assert r.status_code == 200, r.text
        r = await world.client.get(render, params={"format": "escpos"}, headers=headers)
        assert_error(r, 429, "rate_limited")
        assert 1 <= int(r.headers["Retry-After"]) <= 60


async def test_a_device_printing_the_job_it_holds_is_not_counted(strict_world: World) -> None:
    """The web bridge fetches every ticket's bytes from the server: a device rendering a job it
    has claimed (sent, claimed by itself) is printing, not previewing. Anything else it renders
    (a job it does not hold, or once the job is printed) is counted as before."""
    world = strict_world
    tenant = await world.tenant()
    location = await tenant.location()
    device = await tenant.device(location)
    held, other = await tenant.job(location), await tenant.job(location)
    assert (await world.claim(device, held["id"])).status_code == 200
    for _ in range(RENDER_LIMIT * 3):
        r = await world.client.get(
            f"/v1/print-jobs/{held['id']}/render",
            params={"format": "escpos"},
            headers=device.headers,
        )
        assert r.status_code == 200, r.text
    for _ in range(RENDER_LIMIT):
        r = await world.client.get(
            f"/v1/print-jobs/{other['id']}/render",
            params={"format": "escpos"},
            headers=device.headers,
        )
        assert r.status_code == 200, r.text
    r = await world.client.get(
        f"/v1/print-jobs/{other['id']}/render", params={"format": "escpos"}, headers=device.headers
    )
    assert_error(r, 429, "rate_limited")


@pytest.mark.postgres
async def test_redis_limiter_is_shared_and_windowed() -> None:
    databases.require_service("Redis", redis_reachable())
    from redis.asyncio import Redis

    redis = Redis.from_url(databases.REDIS_URL)
    try:
        prefix = f"test:{uuid.uuid4()}"
        one = RedisRateLimiter(redis, limit=3, window_s=60, prefix=prefix)
        two = RedisRateLimiter(redis, limit=3, window_s=60, prefix=prefix)  # another process
        assert [await one.hit("k"), await two.hit("k"), await one.hit("k")] == [None, None, None]
        wait = await two.hit("k")
        assert wait is not None and 0 < wait <= 60
        assert await one.hit("other") is None
        # each window's counter expires after the window (set on its first hit only)
        keys = await redis.keys(f"{prefix}:*")
        assert len(keys) == 2
        assert all(0 < ttl <= 61 for ttl in [await redis.ttl(k) for k in keys])
    finally:
        await redis.aclose()


@pytest.mark.postgres
async def test_redis_limiter_falls_back_to_per_process_limits_when_redis_is_down() -> None:
    from redis.asyncio import Redis

    from tests.servers import free_port

    dead = Redis.from_url(f"redis://127.0.0.1:{free_port()}/0", socket_connect_timeout=0.5)
    try:
        limiter = RedisRateLimiter(dead, limit=2, window_s=60, prefix="test:dead")
        assert [await limiter.hit("k"), await limiter.hit("k")] == [None, None]  # not refused
        assert await limiter.hit("k") is not None  # but still limited, in this process
    finally:
        await dead.aclose()


@pytest.mark.postgres
async def test_redis_limiter_reserves_in_batches_and_never_admits_past_the_limit() -> None:
    """A limit of 1,000: each process reserves 10 hits per round trip; together two processes
    admit at most the limit, and lose at most a batch each to reservations left unspent."""
    databases.require_service("Redis", redis_reachable())
    from redis.asyncio import Redis

    redis = Redis.from_url(databases.REDIS_URL)
    try:
        prefix = f"test:{uuid.uuid4()}"
        # An hour-long window, so the run does not straddle two of them.
        one = RedisRateLimiter(redis, limit=1000, window_s=3600, prefix=prefix)
        two = RedisRateLimiter(redis, limit=1000, window_s=3600, prefix=prefix)
        assert one.batch == two.batch == 10
        calls = 0
        reserve = one._reserve

        async def counting(**kwargs: object) -> object:
            nonlocal calls
            calls += 1
            return await reserve(**kwargs)

        one._reserve = counting  # type: ignore[method-assign]
        admitted = [0, 0]
        for i in range(1100):
            side = 0 if i % 3 else 1  # uneven: one takes two hits in three
            if await (one, two)[side].hit("k") is None:
                admitted[side] += 1
        assert 1000 - 2 * 9 <= sum(admitted) <= 1000, admitted
        assert calls <= admitted[0] // 10 + 2  # about one round trip per ten hits
        wait = await one.hit("k")
        assert wait is not None and 0 < wait <= 3600
        (key,) = await redis.keys(f"{prefix}:*")
        assert int(await redis.get(key)) >= 1000
    finally:
        await redis.aclose()
