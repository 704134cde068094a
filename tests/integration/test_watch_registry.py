"""The Redis watch registry against the shared Redis, two registries standing for two server
processes. Losing data is simulated by deleting only this test's own keys (the shared Redis is
never flushed); tests/faults/test_redis_restart_watchers.py restarts a real one."""

from __future__ import annotations

import uuid
from collections.abc import AsyncIterator

import pytest

from app.coordination.watchers import PROOF_KEY_PREFIX, RedisWatchRegistry, watchers_key
from tests import databases

pytestmark = pytest.mark.postgres  # the tier with the shared services


@pytest.fixture
async def redis() -> AsyncIterator[object]:
    from redis.asyncio import Redis

    from tests.realtime.conftest import redis_reachable

    databases.require_service("Redis", redis_reachable())
    client = Redis.from_url(databases.REDIS_URL)
    try:
        yield client
    finally:
        await client.aclose()


async def test_a_process_writes_its_watchers_again_when_redis_lost_them(redis: object) -> None:
    watching = RedisWatchRegistry(redis, answer_ttl_s=0.0)
    changing = RedisWatchRegistry(redis, answer_ttl_s=0.0)
    location = uuid.uuid4()
    key = watchers_key(location)
    try:
        assert await watching.check_once() is False  # its first proof: nothing to write
        await watching.add(location)
        assert await changing.watched(location) is True
        assert await watching.check_once() is False  # Redis kept what it wrote

        await redis.delete(key, PROOF_KEY_PREFIX + watching.process_id)  # type: ignore[attr-defined]
        assert await changing.watched(location) is False  # what a restart left the others
        assert await watching.check_once() is True
        assert await changing.watched(location) is True

        # Restored from an old snapshot: the proof is there, but not the value written last.
        await redis.set(PROOF_KEY_PREFIX + watching.process_id, 1)  # type: ignore[attr-defined]
        await redis.delete(key)  # type: ignore[attr-defined]
        assert await watching.check_once() is True
        assert await changing.watched(location) is True

        await watching.remove(location)
        assert await changing.watched(location) is False
    finally:
        await watching.close()
        await changing.close()


async def test_local_watchers_are_known_without_redis_and_removal_counts_sockets(
    redis: object,
) -> None:
    registry = RedisWatchRegistry(redis, answer_ttl_s=0.0)
    other = RedisWatchRegistry(redis, answer_ttl_s=0.0)
    location = uuid.uuid4()
    try:
        await registry.add(location)
        await registry.add(location)  # a second socket of this process
        await registry.remove(location)
        assert await other.watched(location) is True  # one socket is left
        await redis.delete(watchers_key(location))  # type: ignore[attr-defined]
        assert await registry.watched(location) is True  # its own sockets need no Redis
        await registry.remove(location)
        assert await registry.watched(location) is False
    finally:
        await registry.close()
        await other.close()
