"""Engines and the unit of work.

The boundary (a REST endpoint, a socket handler, the sweeper) opens a transaction with
``Database.transaction()``; services receive the ``Tx`` and never commit. Work that must
happen only once the data is durable (socket emits) is queued with ``Tx.after_commit``.
"""

from __future__ import annotations

import logging
from collections.abc import AsyncIterator, Awaitable, Callable
from contextlib import asynccontextmanager
from dataclasses import dataclass, field
from typing import Any

from sqlalchemy import event
from sqlalchemy.ext.asyncio import (
    AsyncEngine,
    AsyncSession,
    async_sessionmaker,
    create_async_engine,
)

log = logging.getLogger(__name__)

SQLITE_BUSY_TIMEOUT_S = 30


@dataclass
class Tx:
    """A session inside one transaction, plus the work to run after it commits."""

    session: AsyncSession
    _after_commit: list[Callable[[], Awaitable[None]]] = field(default_factory=list)

    def after_commit(self, fn: Callable[[], Awaitable[None]]) -> None:
        self._after_commit.append(fn)


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
    return create_async_engine(
        url, echo=echo, pool_size=10, max_overflow=10, pool_pre_ping=True, pool_recycle=1800
    )


def _configure_sqlite(engine: AsyncEngine) -> None:
    @event.listens_for(engine.sync_engine, "connect")
    def _on_connect(dbapi_conn: Any, _record: Any) -> None:
        cursor = dbapi_conn.cursor()
        cursor.execute("PRAGMA journal_mode=WAL")
        cursor.execute("PRAGMA foreign_keys=ON")
        cursor.execute("PRAGMA synchronous=NORMAL")
        cursor.close()


class Database:
    def __init__(self, engine: AsyncEngine):
        self.engine = engine
        self._sessions = async_sessionmaker(engine, expire_on_commit=False, autoflush=False)

    @classmethod
    def from_url(cls, url: str) -> Database:
        return cls(create_engine(url))

    @property
    def dialect(self) -> str:
        return self.engine.dialect.name

    @asynccontextmanager
    async def transaction(self) -> AsyncIterator[Tx]:
        """Commit on success, roll back on error, then run the after-commit hooks."""
        async with self._sessions() as session:
            tx = Tx(session)
            async with session.begin():
                yield tx
        for hook in tx._after_commit:
            try:
                await hook()
            except Exception:
                log.exception("after-commit hook failed")

    async def dispose(self) -> None:
        await self.engine.dispose()
