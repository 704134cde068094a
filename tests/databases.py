"""Test databases: a migrated SQLite file, and a fresh PostgreSQL database per test session.

PostgreSQL is found at PRINTRELAY_TEST_POSTGRES_URL (default: this machine's 127.0.0.1:5432,
user root, database test). Locally the Postgres tier skips when it is absent; with CI=true
it must be there, so CI can never pass by skipping it.
"""

from __future__ import annotations

import asyncio
import contextlib
import os
import uuid
from collections.abc import Iterator
from urllib.parse import urlsplit, urlunsplit

import pytest

POSTGRES_ADMIN_URL = os.environ.get(
    "PRINTRELAY_TEST_POSTGRES_URL", "postgresql://root@127.0.0.1:5432/test"
)
REDIS_URL = os.environ.get("PRINTRELAY_TEST_REDIS_URL", "redis://127.0.0.1:6379/0")
IN_CI = os.environ.get("CI", "").lower() in {"1", "true", "yes"}


def require_service(name: str, reachable: bool) -> None:
    if reachable:
        return
    if IN_CI:
        pytest.fail(f"{name} is required when CI=true but is not reachable", pytrace=False)
    pytest.skip(f"{name} not reachable (the Postgres/Redis tier runs in CI)")


def _with_database(url: str, database: str) -> str:
    parts = urlsplit(url)
    return urlunsplit(parts._replace(path="/" + database))


async def _admin_execute(sql: str) -> None:
    import asyncpg

    dsn = POSTGRES_ADMIN_URL.replace("postgresql+asyncpg://", "postgresql://")
    conn = await asyncpg.connect(dsn, timeout=3)
    try:
        await conn.execute(sql)
    finally:
        await conn.close()


def postgres_reachable() -> bool:
    try:
        asyncio.run(_admin_execute("SELECT 1"))
    except Exception:
        return False
    return True


def create_postgres_database() -> str:
    name = f"printrelay_test_{uuid.uuid4().hex[:10]}"
    asyncio.run(_admin_execute(f'CREATE DATABASE "{name}"'))
    return _with_database(POSTGRES_ADMIN_URL, name)


@contextlib.contextmanager
def own_postgres_database() -> Iterator[str]:
    """An empty PostgreSQL database for one test (skipped without PostgreSQL, as the tier is),
    dropped afterwards."""
    require_service("PostgreSQL", postgres_reachable())
    url = create_postgres_database()
    try:
        yield url
    finally:
        drop_postgres_database(url)


def drop_postgres_database(url: str) -> None:
    name = urlsplit(url).path.lstrip("/")
    asyncio.run(_admin_execute(f'DROP DATABASE IF EXISTS "{name}" WITH (FORCE)'))
