"""Rows written straight into a PostgreSQL test database (asyncpg, no app code), for tests of
the hot path's statements and plans."""

from __future__ import annotations

import uuid
from datetime import UTC, datetime

import asyncpg


async def place(
    conn: asyncpg.Connection,
    tenant: uuid.UUID,
    location: uuid.UUID,
    station: uuid.UUID | None = None,
) -> None:
    """A tenant with one location, and optionally one station there."""
    now = datetime.now(UTC)
    await conn.execute("INSERT INTO tenants VALUES ($1, 'T', $2)", tenant, now)
    await conn.execute("INSERT INTO locations VALUES ($1, $2, 'L', $3)", location, tenant, now)
    if station is not None:
        await conn.execute(
            "INSERT INTO stations VALUES ($1, $2, $3, 'S', 80, $4)", station, tenant, location, now
        )
