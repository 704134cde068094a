"""Two server processes on one PostgreSQL and Redis send one outbox: every event reaches the
receiver, and in the normal case (no process dies mid-send) exactly once."""

from __future__ import annotations

import asyncio
from pathlib import Path

import httpx
import pytest

from tests import databases
from tests.realtime.conftest import TEST_SERVER_ENV, redis_reachable
from tests.servers import running_server
from tests.webhook_receiver import Receiver, running_receiver
from tests.world import World

JOBS = 40
WAIT_S = 120  # a bound on a hung test, not a measured time
WEBHOOK_ENV = {
    "PRINTRELAY_WEBHOOK_ALLOW_PRIVATE": "true",
    "PRINTRELAY_WEBHOOK_BACKOFF_BASE_S": "0.01",
    "PRINTRELAY_WEBHOOK_BACKOFF_CAP_S": "0.05",
    "PRINTRELAY_WEBHOOK_POLL_INTERVAL_S": "0.02",
}


@pytest.mark.postgres
async def test_two_processes_send_each_event_once(own_postgres_url: str, tmp_path: Path) -> None:
    databases.require_service("Redis", redis_reachable())
    env = {**TEST_SERVER_ENV, **WEBHOOK_ENV, "PRINTRELAY_REDIS_URL": databases.REDIS_URL}
    with (
        running_receiver(failures=1) as receiver,
        running_server(own_postgres_url, cwd=tmp_path, extra_env=env) as first,
        running_server(own_postgres_url, cwd=tmp_path, extra_env=env) as second,
    ):
        await _scenario(receiver, first, second)


async def _scenario(receiver: Receiver, first: str, second: str) -> None:
    async with (
        httpx.AsyncClient(base_url=first, timeout=30) as one,
        httpx.AsyncClient(base_url=second, timeout=30) as two,
    ):
        tenant = await World(one, app=None).tenant()
        location = await tenant.location()
        r = await one.post(
            "/v1/webhooks",
            json={"url": receiver.url, "events": ["print_job.updated"]},
            headers=tenant.manager,
        )
        assert r.status_code == 201, r.text
        receiver.secret = r.json()["secret"]
        jobs = []
        for n in range(JOBS):  # submitted through both processes
            client = one if n % 2 else two
            body = {"location_id": location, "raw": {"encoding": "base64", "data": "aGk="}}
            r = await client.post("/v1/print-jobs", json=body, headers=tenant.manager)
            assert r.status_code == 201, r.text
            jobs.append(r.json()["id"])
        async with asyncio.timeout(WAIT_S):
            while len(set(receiver.accepted_ids())) < JOBS:  # noqa: ASYNC110 (receiver thread)
                await asyncio.sleep(0.05)
        await asyncio.sleep(0.5)  # room for a wrong second delivery to show up
    assert receiver.bad_signatures == 0
    assert sorted(e["data"]["job_id"] for e in receiver.accepted) == sorted(jobs)
    assert len(receiver.accepted_ids()) == JOBS  # none accepted twice
    assert all(count == 2 for count in receiver.tries.values())  # one 500, one 200
