"""The atomic claim, raced through the real HTTP stack on PostgreSQL.

Eight bridges of one location all claim each of 1,000 jobs at the same instant, over real sockets
against a real server process. Exactly one claim per job may win. Rewriting the claim as
read-then-write makes this test fail (tried at 200 jobs: 65 had two or more winners).
"""

from __future__ import annotations

import asyncio
import random
from collections import Counter, defaultdict
from pathlib import Path

import httpx
import pytest

from tests.servers import running_server
from tests.world import ADMIN, DOCUMENT, bearer

pytestmark = [pytest.mark.postgres, pytest.mark.slow]

BRIDGES = 8
JOBS = 1000
JOBS_IN_FLIGHT = 16


async def _patch_retrying_stale_connections(
    c: httpx.AsyncClient, url: str, **kwargs: object
) -> httpx.Response:
    """A PATCH sent again when the server had closed the pooled connection under it.

    On a loaded machine the client can be held up for seconds between reading a response and
    returning its connection to the pool, so the pool's 1 s expiry can still hand out a connection
    that uvicorn's 5 s keep-alive has closed (seen once in CI: httpx.ReadError mid-race). Such a
    request never reached the server, and a device repeating its own claim gets 200 anyway, so a
    resend cannot make a second winner: a double win would still show in ``winners``.
    """
    for attempt in range(3):
        try:
            return await c.patch(url, **kwargs)  # type: ignore[arg-type]
        except (httpx.ReadError, httpx.RemoteProtocolError):
            if attempt == 2:
                raise
    raise AssertionError("unreachable")


async def _setup(c: httpx.AsyncClient) -> tuple[str, list[str], list[str]]:
    t = (await c.post("/v1/tenants", json={"name": "race"}, headers=ADMIN)).json()
    manager = bearer(t["api_key"]["secret"])
    location = (await c.post("/v1/locations", json={"name": "L"}, headers=manager)).json()["id"]
    tokens = []
    for i in range(BRIDGES):
        code = (
            await c.post(
                "/v1/pairing-codes",
                json={"location_id": location, "kind": "print_bridge"},
                headers=manager,
            )
        ).json()["code"]
        pair = await c.post("/v1/devices/pair", json={"code": code, "name": f"b{i}"})
        assert pair.status_code == 201, pair.text
        tokens.append(pair.json()["token"])

    async def submit(i: int) -> str:
        r = await c.post(
            "/v1/print-jobs",
            json={"location_id": location, "document": DOCUMENT},
            headers={**manager, "Idempotency-Key": f"race-{i}"},
        )
        assert r.status_code == 201, r.text
        job_id: str = r.json()["id"]
        return job_id

    job_ids = list(await asyncio.gather(*(submit(i) for i in range(JOBS))))
    return t["api_key"]["secret"], tokens, job_ids


async def test_exactly_one_winner_per_job(postgres_url: str, tmp_path: Path) -> None:
    # A lease longer than any run: on a loaded machine the race can outlast the default 120 s,
    # and the sweeper would rightly turn its winners unconfirmed before the final check.
    lease = {"PRINTRELAY_JOB_LEASE_S": "3600"}
    with running_server(postgres_url, cwd=tmp_path, extra_env=lease) as base_url:
        # Idle connections are dropped by the client before uvicorn's 5 s keep-alive would close
        # them under it (a reused, server-closed connection is a ReadError, not a claim result).
        limits = httpx.Limits(max_connections=64, keepalive_expiry=1.0)
        async with httpx.AsyncClient(base_url=base_url, limits=limits, timeout=60) as c:
            manager_secret, tokens, job_ids = await _setup(c)
            winners: dict[str, list[str]] = defaultdict(list)
            outcomes: Counter[str] = Counter()

            async def claim(token: str, job_id: str) -> None:
                r = await _patch_retrying_stale_connections(
                    c,
                    f"/v1/print-jobs/{job_id}",
                    json={"status": "sent", "epoch": 0},
                    headers=bearer(token),
                )
                if r.status_code == 200:
                    winners[job_id].append(r.json()["claimed_by"])
                    outcomes["won"] += 1
                else:
                    assert r.status_code == 409, r.text
                    assert r.json()["error"]["code"] == "already_claimed"
                    outcomes["already_claimed"] += 1

            # All eight bridges claim a job at the same instant, a few jobs in flight at once:
            # every job meets the worst collision the claim can face.
            in_flight = asyncio.Semaphore(JOBS_IN_FLIGHT)

            async def contend(job_id: str) -> None:
                async with in_flight:
                    order = tokens[:]
                    random.shuffle(order)
                    await asyncio.gather(*(claim(t, job_id) for t in order))

            await asyncio.gather(*(contend(j) for j in job_ids))

            double = {j: w for j, w in winners.items() if len(w) != 1}
            assert double == {}, f"{len(double)} jobs with more than one winner"
            assert set(winners) == set(job_ids)
            assert outcomes == {"won": JOBS, "already_claimed": JOBS * (BRIDGES - 1)}
            # The database agrees with what the winners were told.
            for job_id in random.sample(job_ids, 25):
                r = await c.get(f"/v1/print-jobs/{job_id}", headers=bearer(manager_secret))
                job = r.json()
                assert job["status"] == "sent"
                assert job["claimed_by"] == winners[job_id][0]
