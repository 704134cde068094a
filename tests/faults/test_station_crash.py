"""Issue 19 item 7: a station bridge dies together with the server process that held its
socket (SIGKILL of one process of two). Nobody releases its owner lock or marks it offline;
the sweeper does, a lock lifetime later, and that must offer the station's pending jobs to the
location bridge (online all along on the other process), as a clean disconnect does. Every job
prints once, on the location bridge's printer, long before it would expire."""

from __future__ import annotations

import asyncio
import subprocess
import time
from collections import Counter
from pathlib import Path
from typing import Any

import httpx
import pytest

from tests.agents import pair_with_cli, start_agent, stop_agent
from tests.bridge_agent.printer_sim import PrinterSimulator
from tests.faults.services import private_redis, require_private_services
from tests.realtime.conftest import TEST_SERVER_ENV
from tests.servers import ServerProcess
from tests.world import Tenant, World

pytestmark = [pytest.mark.postgres, pytest.mark.slow, pytest.mark.faults]

JOBS = 10
LOCK_TTL_S = 3  # also the sweeper's silence limit
HEARTBEAT_S = 1.0
SWEEP_S = 0.5
JOB_EXPIRES_IN_S = 300  # far beyond the wait: a job that is not offered stays pending
WAIT_S = 60.0


async def _online(client: httpx.AsyncClient, tenant: Tenant, want: int) -> list[dict[str, Any]]:
    """Wait until ``want`` devices are online; returns the devices."""
    deadline = time.monotonic() + WAIT_S
    while True:
        devices: list[dict[str, Any]] = (
            await client.get("/v1/devices", headers=tenant.manager)
        ).json()["items"]
        if sum(d["online"] for d in devices) == want or time.monotonic() > deadline:
            return devices
        await asyncio.sleep(0.2)


async def test_station_jobs_reach_the_location_bridge_after_the_station_dies_with_its_server(
    postgres_url: str, tmp_path: Path
) -> None:
    require_private_services()
    with private_redis() as redis_server:
        env = {
            **TEST_SERVER_ENV,
            "PRINTRELAY_REDIS_URL": redis_server.url,
            "PRINTRELAY_OWNER_LOCK_TTL_S": str(LOCK_TTL_S),
            "PRINTRELAY_SWEEP_INTERVAL_S": str(SWEEP_S),
        }
        (tmp_path / "a").mkdir()
        (tmp_path / "b").mkdir()
        doomed = ServerProcess(postgres_url, cwd=tmp_path / "a", extra_env=env)
        survivor = ServerProcess(postgres_url, cwd=tmp_path / "b", extra_env=env)
        url_a, url_b = doomed.start(), survivor.start()
        agents: dict[str, subprocess.Popen[bytes]] = {}
        async with (
            PrinterSimulator(host="127.0.0.1", port=0) as station_printer,
            PrinterSimulator(host="127.0.0.1", port=0) as location_printer,
            httpx.AsyncClient(base_url=url_b, timeout=10) as client,
        ):
            try:
                world = World(client, app=None)
                tenant = await world.tenant()
                location = await tenant.location()
                station = await tenant.station(location, "GRILL")
                for name, server, printer, station_id in (
                    ("station", url_a, station_printer, station),
                    ("location", url_b, location_printer, None),
                ):
                    state_dir = tmp_path / name
                    code = await tenant.pairing_code(location, station_id)
                    pair_with_cli(server, code, state_dir)
                    agents[name] = start_agent(
                        state_dir, printer.url, heartbeat_interval_s=HEARTBEAT_S
                    )
                assert all(d["online"] for d in await _online(client, tenant, 2))

                # A power cut during a redeploy: the process holding the station's socket and
                # the station's PC go down at once; nothing says goodbye.
                doomed.kill()
                agents["station"].kill()
                killed_at = time.monotonic()
                keys = [f"grill-{i:02d}" for i in range(JOBS)]
                jobs: dict[str, str] = {}
                for key in keys:
                    body = {
                        "location_id": location,
                        "station_id": station,
                        "expires_in_s": JOB_EXPIRES_IN_S,
                        "document": {"blocks": [{"type": "text", "text": f"JOB {key}"}]},
                    }
                    r = await client.post("/v1/print-jobs", json=body, headers=tenant.pos)
                    assert r.status_code == 201, r.text
                    jobs[key] = r.json()["id"]

                deadline = time.monotonic() + WAIT_S
                while True:
                    statuses: Counter[str] = Counter()
                    for job_id in jobs.values():
                        r = await client.get(f"/v1/print-jobs/{job_id}", headers=tenant.manager)
                        statuses[r.json()["status"]] += 1
                    if statuses["printed"] == JOBS or time.monotonic() > deadline:
                        break
                    await asyncio.sleep(0.3)
                recovered_s = time.monotonic() - killed_at
                counts = {k: location_printer.received.count(f"JOB {k}".encode()) for k in keys}
                print(
                    f"\nstation crash: {JOBS} station jobs, statuses {dict(statuses)}, "
                    f"printed by the location bridge {sum(counts.values())}, all printed "
                    f"{recovered_s:.1f} s after the crash (lock {LOCK_TTL_S} s, sweep {SWEEP_S} s)"
                )
                assert statuses == {"printed": JOBS}, dict(statuses)
                assert counts == dict.fromkeys(keys, 1)  # none lost, none printed twice
                assert not any(f"JOB {k}".encode() in station_printer.received for k in keys)
                devices = (await client.get("/v1/devices", headers=tenant.manager)).json()
                online = {d["station_id"]: d["online"] for d in devices["items"]}
                assert online == {station: False, None: True}
            finally:
                for agent in agents.values():
                    stop_agent(agent)
                doomed.stop()
                survivor.stop()
