"""``python -m bench.direct``: the delivery statements alone against PostgreSQL. Every job of
the loop is submitted, claimed and reported (it raises otherwise), the CPU it reports is
PostgreSQL's, and the options change what they say they change."""

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
    assert result["postgres_ms_per_job"] > 0 and result["jobs_per_s"] > 0
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
