"""Abuse limits: pairing per address and globally, job submission per API key, and exactly one
token per pairing code however many exchange it at once."""

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
from tests.world import World, assert_error


@pytest.fixture
async def strict_world(settings: Settings) -> AsyncIterator[World]:
    strict = settings.model_copy(
        update={"pairing_global_rate_limit": 5, "job_submit_rate_limit": 4}
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
