"""Engines and the unit of work.

The boundary (a REST endpoint, a socket handler, the sweeper) opens a transaction with
``Database.transaction()``; services receive the ``Tx`` and never commit. What they change is
recorded with ``Tx.publish(event)`` and handed to the event sink only after the commit, so a
socket never announces data another reader could not yet see (or that was rolled back).
"""

from __future__ import annotations

import asyncio
import logging
from collections.abc import AsyncIterator, Awaitable, Callable, Sequence
from contextlib import asynccontextmanager
from dataclasses import dataclass, field
from typing import Any

import asyncpg
from sqlalchemy import event
from sqlalchemy.ext.asyncio import (
    AsyncEngine,
    AsyncSession,
    async_sessionmaker,
    create_async_engine,
)

from app import json_codec
from app.db.hot_pool import HotPool

log = logging.getLogger(__name__)

SQLITE_BUSY_TIMEOUT_S = 30


EventSink = Callable[[Sequence[Any]], Awaitable[None]]


@dataclass
class Tx:
    """A session inside one transaction, plus the events to publish after it commits."""

    session: AsyncSession
    events: list[Any] = field(default_factory=list)

    def publish(self, event: Any) -> None:
        self.events.append(event)


def create_engine(url: str, *, echo: bool = False) -> AsyncEngine:
    if url.startswith("sqlite"):
        # One connection: SQLite serialises writers anyway, and a single connection turns
        # lock contention into an orderly queue inside the process instead of SQLITE_BUSY.
        engine = create_async_engine(
            url,
            echo=echo,
            pool_size=1,
            max_overflow=0,
            pool_timeout=60,
            connect_args={"timeout": SQLITE_BUSY_TIMEOUT_S},
        )
        _configure_sqlite(engine)
        return engine
    # No pre-ping: with asyncpg it costs three round trips per checkout (BEGIN, a query,
    # ROLLBACK). A connection the server dropped fails its first statement instead; SQLAlchemy
    # then invalidates the whole pool, and that request gets a 503 with Retry-After.
    return create_async_engine(
        url, echo=echo, pool_size=10, max_overflow=10, pool_pre_ping=False, pool_recycle=1800
    )


def _configure_sqlite(engine: AsyncEngine) -> None:
    @event.listens_for(engine.sync_engine, "connect")
    def _on_connect(dbapi_conn: Any, _record: Any) -> None:
        cursor = dbapi_conn.cursor()
        cursor.execute("PRAGMA journal_mode=WAL")
        cursor.execute("PRAGMA foreign_keys=ON")
        cursor.execute("PRAGMA synchronous=NORMAL")
        cursor.close()


async def _init_hot_connection(conn: asyncpg.Connection) -> None:
    # Plan each hot statement once. asyncpg prepares every statement; PostgreSQL plans the
    # first five executions for their values and then keeps planning per execution whenever
    # its generic plan looks costlier, which for the batch statements (arrays of unknown
    # length) it always did: the bench's closed loop spent 15-20% more of PostgreSQL's CPU
    # per job that way. Every hot statement looks rows up by id or tenant, so the one plan is
    # the right plan (tests/integration/test_hot_plans.py holds them to index scans).
    await conn.execute("SET plan_cache_mode = force_generic_plan")
    # JSONB in and out as Python objects, as SQLAlchemy's JSONB type does.
    await conn.set_type_codec(
        "jsonb",
        encoder=json_codec.dumps,
        decoder=json_codec.loads,
        schema="pg_catalog",
        format="text",
    )


class Database:
    def __init__(self, engine: AsyncEngine, event_sink: EventSink | None = None):
        self.engine = engine
        self.event_sink = event_sink
        self._sessions = async_sessionmaker(engine, expire_on_commit=False, autoflush=False)
        # PostgreSQL only, once open_hot_path() ran: plain asyncpg for the statements of
        # app.print_jobs.hot_sql, run by app.print_jobs.hot_path and app.devices.hot_path (no
        # ORM, no greenlet, one round trip each).
        self.hot_pool: HotPool | None = None
        # Helpers of the hot path that live as long as its pool (app.print_jobs.hot_path).
        self.hot_helpers: dict[str, Any] = {}

    @classmethod
    def from_url(cls, url: str, event_sink: EventSink | None = None) -> Database:
        return cls(create_engine(url), event_sink)

    @property
    def dialect(self) -> str:
        return self.engine.dialect.name

    @asynccontextmanager
    async def transaction(self) -> AsyncIterator[Tx]:
        """Commit on success, roll back on error; after a commit, publish the events."""
        async with self._sessions() as session:
            tx = Tx(session)
            async with session.begin():
                yield tx
        if tx.events:
            await self.publish(tx.events)

    async def open_hot_path(self, max_size: int = 10) -> None:
        """On PostgreSQL, a few asyncpg connections beside the engine's pool (``HotPool``:
        made on first use, so a database that is down at start-up only delays them)."""
        if self.dialect != "postgresql" or self.hot_pool is not None:
            return
        url = self.engine.url.set(drivername="postgresql")
        self.hot_pool = HotPool(
            url.render_as_string(hide_password=False),
            size=max_size,
            init=_init_hot_connection,
        )

    async def publish(self, events: Sequence[Any]) -> None:
        """Hand events to the sink; for writes committed outside ``transaction()``."""
        if self.event_sink is None:
            return
        try:
            await self.event_sink(events)
        except Exception:  # the data is committed; a lost notice is healed by reconciliation
            log.exception("publishing %d events failed", len(events))

    async def dispose(self) -> None:
        if self.hot_pool is not None:
            pool, self.hot_pool = self.hot_pool, None
            try:
                await asyncio.wait_for(pool.close(), timeout=5)
            except (TimeoutError, OSError):
                pool.terminate()
        await self.engine.dispose()
