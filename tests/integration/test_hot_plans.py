"""Every statement of the hot path, as PostgreSQL plans it on the hot connections: one
generic plan per statement (``plan_cache_mode = force_generic_plan``, set in
``app.db.engine``), made without the parameters' values. Each must still reach jobs, history
and devices through an index, never by reading a table through: the tables here hold a
history of printed jobs, as a server's do after a while."""

from __future__ import annotations

import uuid
from datetime import UTC, datetime

import asyncpg
import pytest

from app.db import Database
from app.devices import hot_path as devices_hot_path
from app.print_jobs import hot_sql
from tests.integration.pg_rows import place

pytestmark = pytest.mark.postgres

STATEMENTS = {
    name: getattr(module, name)
    for module, names in (
        (
            hot_sql,
            [
                "SUBMIT_SQL", "SUBMIT_BATCH_SQL", "CLAIM_STATION_SQL", "CLAIM_LOCATION_SQL",
                "REPORT_SQL", "CLAIM_BATCH_SQL", "REPORT_BATCH_SQL", "DEVICE_BATCH_SQL",
                "REFUSAL_STATION_SQL", "REFUSAL_LOCATION_SQL",
            ],
        ),
        (
            devices_hot_path,
            [
                "BY_HASH_SQL", "EPOCH_SQL", "TAKE_OWNERSHIP_SQL", "BACKLOG_STATION_SQL",
                "BACKLOG_LOCATION_SQL",
            ],
        ),
    )
    for name in names
}  # fmt: skip
BIG_TABLES = ("print_jobs", "job_events", "devices", "stations")


async def _history(dsn: str, printed: int) -> None:
    """A tenant with 2,000 stations and their bridges, and ``printed`` printed jobs with their
    history."""
    now = datetime.now(UTC)
    tenant, location = uuid.uuid4(), uuid.uuid4()
    conn = await asyncpg.connect(dsn)
    try:
        await place(conn, tenant, location)
        stations = [uuid.uuid4() for _ in range(2_000)]  # each with its bridge
        await conn.executemany(
            "INSERT INTO stations VALUES ($1, $2, $3, 'S', 80, $4)",
            [(station, tenant, location, now) for station in stations],
        )
        await conn.executemany(
            "INSERT INTO devices (id, tenant_id, location_id, station_id, name, kind, token_hash,"
            " epoch, online, paired_at) VALUES ($1, $2, $3, $4, 'D', 'agent', $5, 1, true, $6)",
            [(uuid.uuid4(), tenant, location, s, uuid.uuid4().bytes, now) for s in stations],
        )
        await conn.execute(
            "INSERT INTO print_jobs (id, tenant_id, location_id, station_id, status, copies,"
            " drawer_pulse, epoch, created_at, updated_at, expires_at)"
            " SELECT gen_random_uuid(), $1, $2, $3, 'printed', 1, false, 1, now(), now(),"
            " now() + interval '1 day' FROM generate_series(1, $4)",
            tenant, location, stations[0], printed,
        )  # fmt: skip
        await conn.execute(
            "INSERT INTO job_events (id, tenant_id, job_id, to_status, actor_kind, at)"
            " SELECT gen_random_uuid(), tenant_id, id, 'printed', 'device', now()"
            " FROM print_jobs"
        )
        await conn.execute("ANALYZE")
    finally:
        await conn.close()


async def test_every_hot_statement_has_one_plan_and_it_uses_indexes(
    own_postgres_url: str,
) -> None:
    await _history(own_postgres_url.replace("postgresql+asyncpg://", "postgresql://"), 20_000)
    db = Database.from_url(own_postgres_url)
    await db.open_hot_path(max_size=1)
    try:
        await _check_plans(db)
    finally:
        await db.dispose()


async def _check_plans(db: Database) -> None:
    pool = db.hot_pool
    assert pool is not None
    assert await pool.fetchval("SHOW plan_cache_mode") == "force_generic_plan"
    through: dict[str, str] = {}  # statement -> the plan that reads a big table through
    for i, (name, sql) in enumerate(STATEMENTS.items()):
        await pool.fetchval(f"PREPARE hot{i} AS {sql}")
        params = await pool.fetchval(
            "SELECT cardinality(parameter_types) FROM pg_prepared_statements WHERE name = $1",
            f"hot{i}",
        )
        nulls = ", ".join(["NULL"] * params)
        rows = await pool.fetch(f"EXPLAIN EXECUTE hot{i}({nulls})")
        plan = "\n".join(r[0] for r in rows)
        scanned = [table for table in BIG_TABLES if f"Seq Scan on {table}" in plan]
        if scanned:
            through[name] = f"{scanned}\n{plan}"
    assert not through, "\n\n".join(f"{name}: {plan}" for name, plan in through.items())
