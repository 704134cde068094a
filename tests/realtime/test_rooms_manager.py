"""app/realtime/rooms_manager.py: a server process alone on Redis stops publishing its emits;
as soon as another process subscribes to the control channel, it publishes them again."""

from __future__ import annotations

import asyncio
import json
import time
from collections.abc import AsyncIterator, Iterator
from pathlib import Path
from typing import Any

import httpx
import pytest
from redis.asyncio import Redis

from app.coordination.bus import CONTROL_CHANNEL
from app.main import SOCKETIO_CHANNEL
from app.realtime.rooms_manager import JOIN_WAIT_S
from tests import databases
from tests.realtime.clients import bridge
from tests.realtime.conftest import TEST_SERVER_ENV, redis_reachable
from tests.servers import running_server
from tests.world import World

pytestmark = [pytest.mark.postgres, pytest.mark.slow]


@pytest.fixture
def server(postgres_url: str, tmp_path: Path) -> Iterator[str]:
    databases.require_service("Redis", redis_reachable())
    env = {**TEST_SERVER_ENV, "PRINTRELAY_REDIS_URL": databases.REDIS_URL}
    with running_server(postgres_url, cwd=tmp_path, extra_env=env) as url:
        yield url


@pytest.fixture
async def redis() -> AsyncIterator[Redis]:
    client = Redis.from_url(databases.REDIS_URL)
    yield client
    await client.aclose()


async def _emitted_job_ids(pubsub: Any, settle_s: float = 0.5) -> set[str]:
    """Job ids in the Socket.IO channel's emits until it is quiet for ``settle_s``. The channel
    is the shared Redis's: other test runs' servers may publish other events on it."""
    ids: set[str] = set()
    quiet_until = time.monotonic() + settle_s
    while time.monotonic() < quiet_until:
        # None also stands for a (skipped) subscribe confirmation: keep reading.
        message = await pubsub.get_message(ignore_subscribe_messages=True, timeout=settle_s)
        if message is None:
            continue
        data = json.loads(message["data"])
        payload = data.get("data") if data.get("method") == "emit" else None
        if data.get("event") == "print_job.new" and isinstance(payload, list) and payload:
            ids.add(str(payload[0].get("id")))
            quiet_until = time.monotonic() + settle_s
    return ids


async def test_a_lone_process_skips_the_publish_until_another_process_appears(
    server: str, redis: Redis
) -> None:
    async with httpx.AsyncClient(base_url=server, timeout=30) as client:
        rest = World(client, app=None)
        tenant = await rest.tenant()
        location = await tenant.location()
        device = await tenant.device(location)
        on_server = await bridge(server, device.token).connect()
        channel = redis.pubsub()
        await channel.subscribe(SOCKETIO_CHANNEL)  # an observer, not a server process
        await asyncio.sleep(JOIN_WAIT_S)  # the server has counted itself alone by now
        try:
            await on_server.wait_for("bridge.owner")
            alone = await tenant.job(location)  # emits print_job.new to the location's bridges
            (offered,) = await on_server.wait_for("print_job.new")  # delivered here, alone
            assert offered["id"] == alone["id"]
        finally:
            await on_server.close()
        assert alone["id"] not in await _emitted_job_ids(channel)

        peer = redis.pubsub()
        await peer.subscribe(CONTROL_CHANNEL)  # as a second server process does first
        try:
            await asyncio.sleep(JOIN_WAIT_S)  # as that process waits before it serves
            shared = await tenant.job(location)
            assert shared["id"] in await _emitted_job_ids(channel)
            assert alone["id"] != shared["id"]
        finally:
            await peer.aclose()
        await channel.aclose()


async def test_a_process_started_beside_a_lone_one_gets_its_emits(
    server: str, postgres_url: str, tmp_path: Path
) -> None:
    """The first process has been alone (skipping publishes) when the second starts; a bridge
    on the second, connected as soon as it answers, is offered a job submitted through the
    first."""
    await asyncio.sleep(JOIN_WAIT_S)
    env = {**TEST_SERVER_ENV, "PRINTRELAY_REDIS_URL": databases.REDIS_URL}
    (tmp_path / "two").mkdir()
    async with httpx.AsyncClient(base_url=server, timeout=30) as client:
        rest = World(client, app=None)
        tenant = await rest.tenant()
        location = await tenant.location()
        device = await tenant.device(location)
        with running_server(postgres_url, cwd=tmp_path / "two", extra_env=env) as two:
            on_two = await bridge(two, device.token).connect()
            try:
                await on_two.wait_for("bridge.owner")
                job = await tenant.job(location)  # through the first process
                (offered,) = await on_two.wait_for("print_job.new")
                assert offered["id"] == job["id"]
            finally:
                await on_two.close()
