"""The owner lock's two implementations hold the same promises: only the holder renews or
releases, every take hands out a higher epoch, and a lost epoch counter (Redis restarted) never
hands out an epoch the database already saw."""

from __future__ import annotations

import uuid
from collections.abc import AsyncIterator

import pytest

from app.coordination.owner_lock import (
    Holder,
    InMemoryOwnerLocks,
    OwnerLocks,
    RedisOwnerLocks,
    epoch_key,
    owner_key,
)
from tests import databases

now = [0.0]


@pytest.fixture(params=["memory", pytest.param("redis", marks=pytest.mark.postgres)])
async def locks(request: pytest.FixtureRequest) -> AsyncIterator[OwnerLocks]:
    if request.param == "memory":
        now[0] = 0.0
        yield InMemoryOwnerLocks(clock=lambda: now[0])
        return
    from redis.asyncio import Redis

    from tests.realtime.conftest import redis_reachable

    databases.require_service("Redis", redis_reachable())
    redis = Redis.from_url(databases.REDIS_URL)
    try:
        yield RedisOwnerLocks(redis)
    finally:
        await redis.aclose()


async def test_take_supersedes_and_epochs_only_rise(locks: OwnerLocks) -> None:
    device = str(uuid.uuid4())
    first = await locks.take(device, "sid-a", ttl_s=60, floor=0)
    assert first.previous is None and first.holder == Holder(1, "sid-a")
    second = await locks.take(device, "sid-b", ttl_s=60, floor=0)
    assert second.previous == first.holder
    assert second.holder.epoch == 2
    assert await locks.current(device) == second.holder
    # The database already knows epoch 7 (say Redis lost its counter): the next is above it.
    third = await locks.take(device, "sid-c", ttl_s=60, floor=7)
    assert third.holder.epoch == 8


async def test_only_the_holder_renews_or_releases(locks: OwnerLocks) -> None:
    device = str(uuid.uuid4())
    old = (await locks.take(device, "sid-a", ttl_s=60, floor=0)).holder
    new = (await locks.take(device, "sid-b", ttl_s=60, floor=0)).holder
    assert await locks.renew(device, old, ttl_s=60) is False
    assert await locks.release(device, old) is False
    assert await locks.current(device) == new
    assert await locks.renew(device, new, ttl_s=60) is True
    assert await locks.release(device, new) is True
    assert await locks.current(device) is None
    assert await locks.release(device, new) is False


@pytest.mark.postgres
async def test_redis_restart_keeps_epochs_rising() -> None:
    from redis.asyncio import Redis

    from tests.realtime.conftest import redis_reachable

    databases.require_service("Redis", redis_reachable())
    redis = Redis.from_url(databases.REDIS_URL)
    try:
        locks = RedisOwnerLocks(redis)
        device = str(uuid.uuid4())
        before = (await locks.take(device, "sid-a", ttl_s=60, floor=0)).holder
        ttl_ms = await redis.pttl(owner_key(device))
        assert 0 < ttl_ms <= 60_000
        await redis.delete(owner_key(device), epoch_key(device))  # what a restart loses
        after = (await locks.take(device, "sid-b", ttl_s=60, floor=before.epoch)).holder
        assert after.epoch > before.epoch
        assert (await locks.take(device, "sid-c", ttl_s=60, floor=0)).previous == after
    finally:
        await redis.aclose()


async def test_memory_lock_expires_after_its_ttl() -> None:
    locks = InMemoryOwnerLocks(clock=lambda: now[0])
    now[0] = 0.0
    device = str(uuid.uuid4())
    holder = (await locks.take(device, "sid-a", ttl_s=60, floor=0)).holder
    now[0] = 59.9
    assert await locks.renew(device, holder, ttl_s=60) is True  # now valid until 119.9
    now[0] = 120.0
    assert await locks.current(device) is None
    assert await locks.renew(device, holder, ttl_s=60) is False
