"""app/db/hot_pool.py on a real PostgreSQL: the bound on connections, waiting callers, errors
that keep the connection, failures and cancellations that drop it, lost connections, close."""

from __future__ import annotations

import asyncio
from collections.abc import AsyncIterator

import asyncpg
import pytest

from app.db.hot_pool import HotPool
from tests import databases

pytestmark = pytest.mark.postgres

DSN = databases.POSTGRES_ADMIN_URL.replace("postgresql+asyncpg://", "postgresql://")


@pytest.fixture(scope="module")
def dsn() -> str:
    databases.require_service("PostgreSQL", databases.postgres_reachable())
    return DSN


@pytest.fixture
async def pool(dsn: str) -> AsyncIterator[HotPool]:
    pool = HotPool(dsn, size=3)
    yield pool
    await pool.close()


async def _backend(pool: HotPool) -> int:
    pid: int = await pool.fetchval("SELECT pg_backend_pid()")
    return pid


async def test_callers_beyond_the_size_wait_their_turn(pool: HotPool) -> None:
    rows = await asyncio.gather(
        *(pool.fetchrow("SELECT pg_backend_pid() AS pid, $1::int AS n, pg_sleep(0.05)", i)
          for i in range(12))
    )  # fmt: skip
    assert [r["n"] for r in rows] == list(range(12))
    assert len({r["pid"] for r in rows}) == 3  # twelve statements, three connections
    assert pool.open_connections == 3
    assert [r["n"] for r in await pool.fetch("SELECT generate_series(1, 3) AS n")] == [1, 2, 3]


async def test_an_error_from_postgresql_keeps_the_connection(pool: HotPool) -> None:
    before = await _backend(pool)
    with pytest.raises(asyncpg.DivisionByZeroError):
        await pool.fetchval("SELECT 1 / $1::int", 0)
    assert pool.open_connections == 1
    assert await _backend(pool) == before


async def test_a_connection_lost_while_idle_is_replaced(pool: HotPool) -> None:
    killed = await _backend(pool)
    admin = await asyncpg.connect(DSN)
    try:
        assert await admin.fetchval("SELECT pg_terminate_backend($1)", killed)
    finally:
        await admin.close()
    await asyncio.sleep(0.2)  # the client sees the socket close
    assert await _backend(pool) != killed  # no failed statement: dropped when taken
    assert pool.open_connections == 1


async def test_a_cancelled_statement_drops_its_connection(pool: HotPool) -> None:
    before = await _backend(pool)
    slow = asyncio.create_task(pool.fetchval("SELECT pg_sleep(5)"))
    await asyncio.sleep(0.2)
    slow.cancel()
    with pytest.raises(asyncio.CancelledError):
        await slow
    assert pool.open_connections == 0  # its protocol state is unknown: not reused
    assert await _backend(pool) != before
    assert pool.open_connections == 1


async def test_a_caller_waiting_when_a_connection_breaks_opens_a_new_one(pool: HotPool) -> None:
    held = [asyncio.create_task(pool.fetchval("SELECT pg_sleep(0.3)")) for _ in range(3)]
    await asyncio.sleep(0.1)
    waiting = asyncio.create_task(pool.fetchval("SELECT 42"))
    await asyncio.sleep(0.05)
    held[0].cancel()  # its connection is dropped; the waiter must not wait for the others
    result = await asyncio.wait_for(waiting, timeout=0.15)
    assert result == 42
    await asyncio.gather(*held[1:])


async def test_close_refuses_new_statements_and_closes_connections_in_use(dsn: str) -> None:
    pool = HotPool(dsn, size=2)
    busy = asyncio.create_task(pool.fetchval("SELECT 7 FROM pg_sleep(0.2)"))
    await asyncio.sleep(0.05)
    await pool.close()
    assert await busy == 7  # the statement in flight finishes
    assert pool.open_connections == 0  # and its connection is closed on the way back
    with pytest.raises(asyncpg.InterfaceError):
        await pool.fetchval("SELECT 1")
