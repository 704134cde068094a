"""Issue 19 item 6: Redis restarts empty while watcher sockets stay connected. Status changes
are only fanned out to locations the watch registry in Redis knows of; the watchers must not go
deaf: every change after Redis is back reaches a watcher that subscribed before the crash, on
another server process than the one making the change."""

from __future__ import annotations

import asyncio
import time
from pathlib import Path

import httpx
import pytest

from tests.faults.services import private_redis, require_private_services
from tests.realtime.clients import SocketClient, watcher
from tests.realtime.conftest import TEST_SERVER_ENV
from tests.servers import ServerProcess
from tests.world import World

pytestmark = [pytest.mark.postgres, pytest.mark.slow, pytest.mark.faults]

BACK_WITHIN_S = 30.0


async def _subscribed(sock: SocketClient, location: str) -> None:
    """Subscribe, retrying while the server says coordination is unavailable."""
    deadline = time.monotonic() + BACK_WITHIN_S
    while True:
        ack = await sock.call("subscribe", {"location_id": location})
        if ack == {"ok": True}:
            return
        assert ack["error"]["code"] == "service_unavailable", ack
        assert time.monotonic() < deadline, ack
        await asyncio.sleep(0.2)


async def test_watchers_keep_getting_every_update_after_redis_restarts_empty(
    postgres_url: str, tmp_path: Path
) -> None:
    require_private_services()
    with private_redis() as redis_server:
        env = {**TEST_SERVER_ENV, "PRINTRELAY_REDIS_URL": redis_server.url}
        (tmp_path / "one").mkdir()
        (tmp_path / "two").mkdir()
        one = ServerProcess(postgres_url, cwd=tmp_path / "one", extra_env=env)
        two = ServerProcess(postgres_url, cwd=tmp_path / "two", extra_env=env)
        url_one, url_two = one.start(), two.start()
        sockets: list[SocketClient] = []
        try:
            async with httpx.AsyncClient(base_url=url_one, timeout=10) as client:
                world = World(client, app=None)
                tenant = await world.tenant()
                location, canary_location = await tenant.location(), await tenant.location("2")
                w = await watcher(url_two, tenant.pos_secret).connect()
                sockets.append(w)
                await _subscribed(w, location)
                before = await tenant.job(location)  # changed through process one
                assert [u["id"] for u in await w.wait_for("print_job.updated")] == [before["id"]]

                redis_server.kill()
                redis_server.start()  # empty: no watch registry, no subscriptions

                # Wait until Redis carries updates from process one to process two again, seen
                # by a watcher that subscribed after the restart.
                canary = await watcher(url_two, tenant.manager_secret).connect()
                sockets.append(canary)
                await _subscribed(canary, canary_location)
                deadline = time.monotonic() + BACK_WITHIN_S
                while not canary.of("print_job.updated"):
                    assert time.monotonic() < deadline, "updates never crossed processes again"
                    await tenant.job(canary_location)
                    await asyncio.sleep(0.5)

                after = await tenant.job(location)
                r = await client.post(f"/v1/print-jobs/{after['id']}/cancel", headers=tenant.pos)
                assert r.status_code == 200, r.text
                updates = await w.wait_for("print_job.updated", 3)
                assert [(u["id"], u["status"]) for u in updates] == [
                    (before["id"], "pending"),
                    (after["id"], "pending"),
                    (after["id"], "canceled"),
                ]
                assert w.sio.connected
        finally:
            for sock in sockets:
                await sock.close()
            one.stop()
            two.stop()
