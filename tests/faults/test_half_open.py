"""Scenario 7: a bridge that stops answering without closing its connection (frozen with
SIGSTOP) is detected within the Socket.IO ping timeout: its lock is released, the device goes
offline and its station's jobs are offered to the location bridge. When it wakes up it
reconnects, and nothing prints twice."""

from __future__ import annotations

import asyncio
import signal
import time
from pathlib import Path

import httpx
import pytest

from tests import databases
from tests.agents import pair_with_cli, start_agent, stop_agent, wait_status
from tests.bridge_agent.printer_sim import PrinterSimulator
from tests.realtime.conftest import TEST_SERVER_ENV, redis_reachable
from tests.servers import ServerProcess
from tests.world import World

pytestmark = [pytest.mark.postgres, pytest.mark.slow, pytest.mark.faults]

PING_INTERVAL_S = 1.0
PING_TIMEOUT_S = 1.0
DETECTION_LIMIT_S = 10.0


def ticket(text: str) -> dict[str, object]:
    return {"blocks": [{"type": "text", "text": text}]}


async def test_a_frozen_bridge_is_dropped_and_its_jobs_go_to_the_location_bridge(
    postgres_url: str, tmp_path: Path
) -> None:
    databases.require_service("Redis", redis_reachable())
    env = {
        **TEST_SERVER_ENV,
        "PRINTRELAY_REDIS_URL": databases.REDIS_URL,
        "PRINTRELAY_SOCKET_PING_INTERVAL_S": str(PING_INTERVAL_S),
        "PRINTRELAY_SOCKET_PING_TIMEOUT_S": str(PING_TIMEOUT_S),
    }
    server = ServerProcess(postgres_url, cwd=tmp_path, extra_env=env)
    base_url = server.start()
    station_agent = location_agent = None
    async with (
        PrinterSimulator(host="127.0.0.1", port=0) as kitchen,
        PrinterSimulator(host="127.0.0.1", port=0) as front,
        httpx.AsyncClient(base_url=base_url, timeout=10) as client,
    ):
        try:
            world = World(client, app=None)
            tenant = await world.tenant()
            location = await tenant.location()
            station = await tenant.station(location)
            (tmp_path / "kitchen").mkdir()
            (tmp_path / "front").mkdir()
            pair_with_cli(
                base_url, await tenant.pairing_code(location, station), tmp_path / "kitchen"
            )
            pair_with_cli(base_url, await tenant.pairing_code(location), tmp_path / "front")
            station_agent = start_agent(tmp_path / "kitchen", kitchen.url)
            location_agent = start_agent(tmp_path / "front", front.url)

            for _ in range(150):  # both bridges connected and owners
                devices = (await client.get("/v1/devices", headers=tenant.manager)).json()["items"]
                if len(devices) == 2 and all(d["online"] for d in devices):
                    break
                await asyncio.sleep(0.1)
            assert all(d["online"] for d in devices)
            kitchen_id = next(d["id"] for d in devices if d["station_id"] == station)
            first = await tenant.job(location, station, document=ticket("BEFORE"))
            printed = await wait_status(world, tenant, first["id"], {"printed"})
            assert printed["status"] == "printed"

            station_agent.send_signal(signal.SIGSTOP)  # alive, connected, silent
            frozen_at = time.monotonic()
            during = await tenant.job(location, station, document=ticket("DURING"))
            while True:
                devices = (await client.get("/v1/devices", headers=tenant.manager)).json()["items"]
                if not next(d for d in devices if d["id"] == kitchen_id)["online"]:
                    break
                assert time.monotonic() - frozen_at < DETECTION_LIMIT_S
                await asyncio.sleep(0.1)
            detected_s = time.monotonic() - frozen_at
            after = await tenant.job(location, station, document=ticket("AFTER"))
            for job in (during, after):
                done = await wait_status(world, tenant, job["id"], {"printed", "failed"})
                assert done["status"] == "printed"

            station_agent.send_signal(signal.SIGCONT)
            await asyncio.sleep(3.0)  # it notices its dead socket, reconnects and reconciles
            for _ in range(50):
                devices = (await client.get("/v1/devices", headers=tenant.manager)).json()["items"]
                if next(d for d in devices if d["id"] == kitchen_id)["online"]:
                    break
                await asyncio.sleep(0.2)
            print(
                f"\nscenario 7: frozen bridge detected offline in {detected_s:.1f} s "
                f"(ping interval {PING_INTERVAL_S} s + timeout {PING_TIMEOUT_S} s)"
            )
            assert kitchen.received.count(b"BEFORE") == 1
            assert kitchen.received.count(b"DURING") == 0 and kitchen.received.count(b"AFTER") == 0
            assert front.received.count(b"DURING") == 1 and front.received.count(b"AFTER") == 1
            assert next(d for d in devices if d["id"] == kitchen_id)["online"] is True
        finally:
            for agent in (station_agent, location_agent):
                if agent is not None:
                    agent.send_signal(signal.SIGCONT)
                    stop_agent(agent)
            server.stop()
