"""Two server processes on different ports, sharing PostgreSQL and Redis: jobs, supersede and
unpair cross from one process to the other."""

from __future__ import annotations

import asyncio
from collections.abc import Iterator

import httpx
import pytest

from tests import databases
from tests.realtime.clients import bridge
from tests.realtime.conftest import TEST_SERVER_ENV, redis_reachable
from tests.servers import running_server
from tests.world import World

pytestmark = [pytest.mark.postgres, pytest.mark.slow]


@pytest.fixture(scope="module")
def two_servers(
    postgres_url: str, tmp_path_factory: pytest.TempPathFactory
) -> Iterator[tuple[str, str]]:
    databases.require_service("Redis", redis_reachable())
    env = {**TEST_SERVER_ENV, "PRINTRELAY_REDIS_URL": databases.REDIS_URL}
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
