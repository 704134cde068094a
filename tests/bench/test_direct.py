"""``python -m bench.direct``: the delivery statements alone against PostgreSQL. Every job of
the loop is submitted, claimed and reported (it raises otherwise), the CPU it reports is
PostgreSQL's, and the options change what they say they change.

CPU time comes from /proc in clock ticks (10 ms at the usual 100 Hz), so a short loop can
honestly measure 0: no test asserts that a small workload's CPU reading moved. That the reading
is the PostgreSQL backends' is shown by working a backend until its counter moves."""

from __future__ import annotations

import asyncpg
import pytest

from bench import direct

pytestmark = pytest.mark.postgres


async def test_the_loop_delivers_every_job_and_measures_postgres(own_postgres_url: str) -> None:
    result = await direct.run(
        own_postgres_url, connections=2, history=300, jobs=40, generic_plans=True,
        drop=["fk_print_jobs_claimed_by_devices"],
    )  # fmt: skip
    assert result["jobs"] == 40
    # 40 jobs can fit within one clock tick of PostgreSQL CPU: 0 is a correct reading.
    assert result["postgres_ms_per_job"] >= 0 and result["jobs_per_s"] > 0
    assert "ix_print_jobs_pending_expires" in result["print_jobs_index_bytes"]
    conn = await asyncpg.connect(own_postgres_url.replace("postgresql+asyncpg://", "postgresql://"))
    try:
        statuses = dict(await conn.fetch("SELECT status, count(*) FROM print_jobs GROUP BY 1"))
        history = await conn.fetchval("SELECT count(*) FROM job_events")
        keys = await conn.fetchval(
            "SELECT count(*) FROM pg_constraint WHERE conname = 'fk_print_jobs_claimed_by_devices'"
        )
    finally:
        await conn.close()
    warmup = 2 * direct.WARMUP_PER_CONNECTION
    assert statuses == {"printed": 300 + warmup + 40}
    assert history == 3 * (warmup + 40)  # submitted, sent, printed: one row each
    assert keys == 0


# Enough to move the counter by a tick or more on any machine, while still bounded.
BURN_ROUNDS = 200
BURN_SQL = "SELECT count(*) FROM generate_series(1, 1000000)"


async def test_the_cpu_read_is_the_postgres_backends(own_postgres_url: str) -> None:
    conn = await asyncpg.connect(own_postgres_url.replace("postgresql+asyncpg://", "postgresql://"))
    try:
        pid = await conn.fetchval("SELECT pg_backend_pid()")
        before = direct.backend_cpu_s([pid])
        for _ in range(BURN_ROUNDS):
            await conn.fetchval(BURN_SQL)
            if direct.backend_cpu_s([pid]) > before:
                break
        assert direct.backend_cpu_s([pid]) > before, "the backend worked but its CPU never moved"
    finally:
        await conn.close()
