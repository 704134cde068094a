"""The sweeper's statements on real PostgreSQL use the partial indexes of migration 0003
(``ix_print_jobs_pending_expires``, ``ix_print_jobs_sent_lease``) even in a prepared
statement's generic plan, which is what a long-running server ends up with: the statuses are
constants in the SQL text, so the plan can prove the index predicate."""

from __future__ import annotations

import uuid
from datetime import UTC, datetime, timedelta
from typing import Any

import asyncpg
import pytest
from sqlalchemy import event

from app.db import Database
from app.print_jobs import repository
from tests.integration.pg_rows import place

pytestmark = pytest.mark.postgres


async def _history(dsn: str, printed: int) -> None:
    """A tenant with ``printed`` printed jobs (the history) and a few pending and sent ones."""
    now = datetime.now(UTC)
    tenant, location = uuid.uuid4(), uuid.uuid4()
    conn = await asyncpg.connect(dsn)
    try:
        await place(conn, tenant, location)
        rows = [("printed", None)] * printed + [("pending", None), ("sent", now)] * 5
        await conn.executemany(
            "INSERT INTO print_jobs (id, tenant_id, location_id, status, copies, drawer_pulse,"
            " created_at, updated_at, expires_at, lease_expires_at)"
            " VALUES ($1, $2, $3, $4, 1, false, $5, $5, $6, $7)",
            [(uuid.uuid4(), tenant, location, s, now, now + timedelta(hours=1), lease)
             for s, lease in rows],
        )  # fmt: skip
        await conn.execute("ANALYZE print_jobs")
    finally:
        await conn.close()


def _literal(value: Any) -> str:
    if value is None:
        return "NULL"
    text = value.isoformat() if isinstance(value, datetime) else str(value)
    return "'" + text.replace("'", "''") + "'"


async def test_the_sweepers_generic_plans_use_the_partial_indexes(own_postgres_url: str) -> None:
    url = own_postgres_url
    dsn = url.replace("postgresql+asyncpg://", "postgresql://")
    await _history(dsn, printed=5_000)
    db = Database.from_url(url)
    sent: list[tuple[str, Any]] = []

    @event.listens_for(db.engine.sync_engine, "before_cursor_execute")
    def keep(_c: Any, _cur: Any, statement: str, parameters: Any, _ctx: Any, _many: Any) -> None:
        if statement.startswith("UPDATE print_jobs"):
            sent.append((statement, parameters))

    try:
        async with db.transaction() as tx:
            expired = await repository.expire_due(tx, datetime.now(UTC))
            unconfirmed = await repository.unconfirm_overdue(tx, datetime.now(UTC) + timedelta(1))
    finally:
        await db.engine.dispose()
    assert expired == [] and len(unconfirmed) == 5  # the statements do their work
    assert len(sent) == 2

    conn = await asyncpg.connect(dsn)
    try:
        await conn.execute("SET plan_cache_mode = force_generic_plan")
        plans = []
        for i, (statement, parameters) in enumerate(sent):
            await conn.execute(f"PREPARE sweep{i} AS {statement}")
            arguments = ", ".join(_literal(p) for p in parameters)
            rows = await conn.fetch(f"EXPLAIN EXECUTE sweep{i}({arguments})")
            plans.append("\n".join(r[0] for r in rows))
    finally:
        await conn.close()
    assert "ix_print_jobs_pending_expires" in plans[0], plans[0]
    assert "ix_print_jobs_sent_lease" in plans[1], plans[1]
