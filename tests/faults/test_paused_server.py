"""Scenario 4: two server processes. One is frozen with SIGSTOP past the owner lock's TTL while
its bridge's device is taken over through the other. After SIGCONT, nothing the old owner says
through the thawed process is accepted."""

from __future__ import annotations

import asyncio
import signal
from pathlib import Path

import httpx
import pytest

from tests import databases
from tests.realtime.clients import bridge
from tests.realtime.conftest import TEST_SERVER_ENV, redis_reachable
from tests.servers import ServerProcess
from tests.world import World

pytestmark = [pytest.mark.postgres, pytest.mark.slow, pytest.mark.faults]

LOCK_TTL_S = 2.0


async def test_a_thawed_process_cannot_act_for_a_device_taken_over_elsewhere(
    postgres_url: str, tmp_path: Path
) -> None:
    databases.require_service("Redis", redis_reachable())
    env = {
        **TEST_SERVER_ENV,
        "PRINTRELAY_REDIS_URL": databases.REDIS_URL,
        "PRINTRELAY_OWNER_LOCK_TTL_S": str(LOCK_TTL_S),
    }
    (tmp_path / "one").mkdir()
    (tmp_path / "two").mkdir()
    one = ServerProcess(postgres_url, cwd=tmp_path / "one", extra_env=env)
    two = ServerProcess(postgres_url, cwd=tmp_path / "two", extra_env=env)
    url_one, url_two = one.start(), two.start()
    old = new = None
    try:
        async with httpx.AsyncClient(base_url=url_two, timeout=10) as client:
            world = World(client, app=None)
            tenant = await world.tenant()
            location = await tenant.location()
            device = await tenant.device(location)
            held = await tenant.job(location)

            old = await bridge(url_one, device.token).connect()
            e_old = (await old.wait_for("bridge.owner"))[0]["epoch"]
            assert (await old.call("print_job.claim", {"id": held["id"], "epoch": e_old}))["ok"]

            assert one.proc is not None
            one.proc.send_signal(signal.SIGSTOP)
            await asyncio.sleep(LOCK_TTL_S * 1.5)  # its lock lapses while it is frozen
            new = await bridge(url_two, device.token).connect()
            e_new = (await new.wait_for("bridge.owner"))[0]["epoch"]
            assert e_new > e_old
            fresh = await tenant.job(location)
            assert fresh["id"] in {j["id"] for j in await new.wait_for("print_job.new", 1)}
            one.proc.send_signal(signal.SIGCONT)

            # The old owner speaks through the thawed process: every word is refused.
            claim = await old.call("print_job.claim", {"id": fresh["id"], "epoch": e_old})
            report = await old.call(
                "print_job.report", {"id": held["id"], "epoch": e_old, "status": "printed"}
            )
            beat = await old.call("heartbeat")
            assert claim["error"]["code"] == "stale_epoch"
            assert report["error"]["code"] == "stale_epoch"
            assert beat["owner"] is False
            state = (
                await client.get(f"/v1/print-jobs/{held['id']}", headers=tenant.manager)
            ).json()
            assert state["status"] == "sent"  # the refused report changed nothing
            assert (
                await client.get(f"/v1/print-jobs/{fresh['id']}", headers=tenant.manager)
            ).json()["status"] == "pending"
            # The new owner does the work, including the job claimed under the old epoch.
            assert (await new.call("print_job.claim", {"id": fresh["id"], "epoch": e_new}))["ok"]
            done = await new.call(
                "print_job.report", {"id": held["id"], "epoch": e_new, "status": "printed"}
            )
            assert done["ok"] and done["job"]["status"] == "printed"
    finally:
        for sock in (old, new):
            if sock is not None:
                await sock.close()
        if one.proc is not None and one.proc.poll() is None:
            one.proc.send_signal(signal.SIGCONT)
        one.stop()
        two.stop()
