"""Scenario 2: the server is killed with SIGKILL mid-load and restarted. POS clients retry with
Idempotency-Keys; real agent processes reconnect and reconcile. Every accepted job prints exactly
once: nothing lost, nothing duplicated."""

from __future__ import annotations

import asyncio
import time
from collections import Counter
from pathlib import Path

import httpx
import pytest

from tests import databases
from tests.agents import pair_with_cli, start_agent, stop_agent
from tests.bridge_agent.printer_sim import PrinterSimulator
from tests.realtime.conftest import TEST_SERVER_ENV, redis_reachable
from tests.servers import ServerProcess
from tests.world import World

pytestmark = [pytest.mark.postgres, pytest.mark.slow, pytest.mark.faults]

POS_CLIENTS = 4
JOBS_PER_POS = 40
KILL_AFTER_ACCEPTED = 50
DOWN_S = 1.5
RECOVERY_LIMIT_S = 90


def marker(key: str) -> bytes:
    return f"JOB {key}".encode()


async def test_sigkill_mid_load_prints_every_accepted_job_exactly_once(
    postgres_url: str, tmp_path: Path
) -> None:
    databases.require_service("Redis", redis_reachable())
    env = {**TEST_SERVER_ENV, "PRINTRELAY_REDIS_URL": databases.REDIS_URL}
    server = ServerProcess(postgres_url, cwd=tmp_path, extra_env=env)
    base_url = server.start()
    agents = []
    async with (
        PrinterSimulator(host="127.0.0.1", port=0) as grill,
        PrinterSimulator(host="127.0.0.1", port=0) as bar,
        httpx.AsyncClient(base_url=base_url, timeout=5) as client,
    ):
        try:
            world = World(client, app=None)
            tenant = await world.tenant()
            location = await tenant.location()
            stations = [
                await tenant.station(location, "GRILL"),
                await tenant.station(location, "BAR"),
            ]
            for station, printer, name in zip(
                stations, (grill, bar), ("grill", "bar"), strict=True
            ):
                state_dir = tmp_path / name
                state_dir.mkdir()
                pair_with_cli(base_url, await tenant.pairing_code(location, station), state_dir)
                agents.append(start_agent(state_dir, printer.url))

            accepted: dict[str, str] = {}  # idempotency key -> job id
            attempts: Counter[str] = Counter()
            killed = asyncio.Event()

            async def pos(n: int) -> None:
                for i in range(JOBS_PER_POS):
                    key = f"pos{n}-{i:03d}"
                    body = {
                        "location_id": location,
                        "station_id": stations[i % 2],
                        "document": {
                            "blocks": [
                                {"type": "text", "text": marker(key).decode()},
                                {"type": "cut"},
                            ]
                        },
                    }
                    while True:  # a POS retries until it has an answer, with the same key
                        attempts["sent"] += 1
                        try:
                            r = await client.post(
                                "/v1/print-jobs",
                                json=body,
                                headers={**tenant.pos, "Idempotency-Key": key},
                            )
                        except httpx.TransportError:
                            attempts["transport_error"] += 1
                            await asyncio.sleep(0.2)
                            continue
                        if r.status_code in (200, 201):
                            accepted[key] = r.json()["id"]
                            if len(accepted) >= KILL_AFTER_ACCEPTED:
                                enough_accepted.set()
                            break
                        attempts[f"http_{r.status_code}"] += 1
                        await asyncio.sleep(0.2)
                    await asyncio.sleep(0.01)

            enough_accepted = asyncio.Event()

            async def chaos() -> None:
                await enough_accepted.wait()
                server.kill()
                killed.set()
                await asyncio.sleep(DOWN_S)
                await asyncio.to_thread(server.start)

            restarted_at = 0.0

            async def load() -> None:
                nonlocal restarted_at
                await asyncio.gather(*(pos(n) for n in range(POS_CLIENTS)), chaos())
                restarted_at = time.monotonic()

            await load()
            assert killed.is_set()
            assert len(accepted) == POS_CLIENTS * JOBS_PER_POS

            # Every accepted job reaches paper once, through the agents' reconnect and reconcile.
            deadline = time.monotonic() + RECOVERY_LIMIT_S
            while True:
                statuses = Counter()
                for job_id in accepted.values():
                    r = await client.get(f"/v1/print-jobs/{job_id}", headers=tenant.manager)
                    statuses[r.json()["status"]] += 1
                if statuses["printed"] == len(accepted) or time.monotonic() > deadline:
                    break
                await asyncio.sleep(0.5)
            drained_s = time.monotonic() - restarted_at
            printed = grill.received + bar.received
            counts = {key: printed.count(marker(key)) for key in accepted}
            lost = [k for k, c in counts.items() if c == 0]
            duplicated = [k for k, c in counts.items() if c > 1]
            all_jobs = await client.get(
                "/v1/print-jobs", params={"location_id": location, "limit": 200}, headers=tenant.pos
            )
            print(
                f"\nscenario 2: {len(accepted)} jobs accepted, {dict(attempts)}, "
                f"statuses {dict(statuses)}, lost {len(lost)}, duplicated {len(duplicated)}, "
                f"all printed {drained_s:.1f} s after the load ended"
            )
            assert statuses == {"printed": len(accepted)}
            assert lost == [] and duplicated == []
            assert len(all_jobs.json()["items"]) == len(accepted)  # retries never made a 2nd job
        finally:
            for agent in agents:
                stop_agent(agent)
            server.stop()
