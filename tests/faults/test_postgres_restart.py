"""Scenario 8: PostgreSQL restarted under load. Clients get clear 503s (never 500s), nothing
half-done is left behind, and the server recovers by itself once the database is back."""

from __future__ import annotations

import asyncio
import time
from collections import Counter
from pathlib import Path

import httpx
import pytest

from tests.faults.services import private_postgres, require_private_services
from tests.servers import running_server
from tests.world import DOCUMENT, World

pytestmark = [pytest.mark.postgres, pytest.mark.slow, pytest.mark.faults]

OUTAGE_REQUESTS = 30
RECOVERY_LIMIT_S = 30


async def test_postgres_restart_answers_503_then_recovers(tmp_path: Path) -> None:
    require_private_services()
    with private_postgres() as pg, running_server(pg.url, cwd=tmp_path) as base_url:
        async with httpx.AsyncClient(base_url=base_url, timeout=30) as client:
            world = World(client, app=None)
            tenant = await world.tenant()
            location = await tenant.location()
            await tenant.job(location)

            pg.stop("immediate")  # a crash, not a polite shutdown
            outcomes: Counter[tuple[int, str]] = Counter()
            for i in range(OUTAGE_REQUESTS):
                r = await client.post(
                    "/v1/print-jobs",
                    json={"location_id": location, "document": DOCUMENT},
                    headers={**tenant.pos, "Idempotency-Key": f"outage-{i}"},
                )
                outcomes[(r.status_code, r.json()["error"]["code"])] += 1
                assert r.headers.get("Retry-After") == "1"
                r = await client.get("/v1/locations", headers=tenant.manager)
                outcomes[(r.status_code, r.json()["error"]["code"])] += 1
            assert outcomes == {(503, "service_unavailable"): 2 * OUTAGE_REQUESTS}

            pg.start()
            started = time.monotonic()
            while True:
                r = await client.get("/v1/locations", headers=tenant.manager)
                if r.status_code == 200:
                    break
                assert r.status_code == 503, r.text
                assert time.monotonic() - started < RECOVERY_LIMIT_S
                await asyncio.sleep(0.1)
            recovery_s = time.monotonic() - started
            print(f"\nscenario 8: recovered {recovery_s:.2f} s after PostgreSQL came back")

            # The POS retries what failed with the same keys: each becomes exactly one job.
            for i in range(OUTAGE_REQUESTS):
                r = await client.post(
                    "/v1/print-jobs",
                    json={"location_id": location, "document": DOCUMENT},
                    headers={**tenant.pos, "Idempotency-Key": f"outage-{i}"},
                )
                assert r.status_code == 201, r.text
            page = await client.get(
                "/v1/print-jobs", params={"location_id": location, "limit": 200}, headers=tenant.pos
            )
            assert len(page.json()["items"]) == OUTAGE_REQUESTS + 1
