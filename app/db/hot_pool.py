"""The hot path's PostgreSQL connections: a few asyncpg connections handed out one statement
at a time, without ``asyncpg.Pool``'s per-call machinery.

Every statement of the delivery path is one call (``fetchrow``, ``fetch``, ``fetchval``) that
holds its connection for a single round trip and sets no session state. ``asyncpg.Pool`` wraps
each call in work meant for long, arbitrary use of a connection: a shielded task to release
it, a reset, a timer for idle connections, a proxy object. Measured on this project's machine
(``SELECT $1::int`` in a loop, uvloop): 55-62 µs of client CPU per call through the pool,
29-34 µs on the bare connection; three such calls per printed job.

What this pool does, and no more:

- At most ``size`` connections, opened on first need (a database that is down at start-up only
  delays them); callers beyond that wait in order for the next free connection.
- A connection goes back to the idle list after its statement. One whose statement ended in
  anything but an error reported by PostgreSQL (the connection broke, a timeout, the caller
  was cancelled mid-statement) is closed instead, since its protocol state is unknown; the
  next caller opens a fresh one. An idle connection that was lost (PostgreSQL restarted) is
  dropped when it comes up, as ``asyncpg.Pool`` does.
- ``close()`` closes the idle connections and those in use as they come back.
"""

from __future__ import annotations

import asyncio
import contextlib
from collections import deque
from collections.abc import Awaitable, Callable
from typing import Any

import asyncpg

ConnectionInit = Callable[[asyncpg.Connection], Awaitable[None]]


class HotPool:
    def __init__(
        self,
        dsn: str,
        *,
        size: int,
        connection_class: type[asyncpg.Connection] = asyncpg.Connection,
        init: ConnectionInit | None = None,
    ) -> None:
        self._dsn = dsn
        self._size = size
        self._connection_class = connection_class
        self._init = init
        self._idle: list[asyncpg.Connection] = []
        # Callers waiting for a connection; woken with one, or with None: "open your own".
        self._waiters: deque[asyncio.Future[asyncpg.Connection | None]] = deque()
        self._open = 0  # connections open or being opened
        self._closed = False

    @property
    def size(self) -> int:
        return self._size

    @property
    def open_connections(self) -> int:
        return self._open

    async def fetchrow(self, query: str, *args: Any) -> Any:
        return await self._call("fetchrow", query, args)

    async def fetch(self, query: str, *args: Any) -> list[Any]:
        rows: list[Any] = await self._call("fetch", query, args)
        return rows

    async def fetchval(self, query: str, *args: Any) -> Any:
        return await self._call("fetchval", query, args)

    async def _call(self, method: str, query: str, args: tuple[Any, ...]) -> Any:
        conn = await self._acquire()
        try:
            result = await getattr(conn, method)(query, *args)
        except asyncpg.PostgresError:
            self._release(conn)  # the server said no; the connection is as good as before
            raise
        except BaseException:
            self._discard(conn)
            raise
        self._release(conn)
        return result

    async def _acquire(self) -> asyncpg.Connection:
        while True:
            if self._closed:
                raise asyncpg.InterfaceError("the hot path's pool is closed")
            while self._idle:
                conn = self._idle.pop()
                if not conn.is_closed():
                    return conn
                self._open -= 1  # lost while idle (PostgreSQL restarted): open another
                conn.terminate()
            if self._open < self._size:
                return await self._connect()
            waiter: asyncio.Future[asyncpg.Connection | None]
            waiter = asyncio.get_running_loop().create_future()
            self._waiters.append(waiter)
            try:
                conn = await waiter
            except asyncio.CancelledError:
                if waiter.done() and not waiter.cancelled():
                    handed = waiter.result()  # handed over just as we were cancelled
                    if handed is not None:
                        self._release(handed)
                    else:
                        self._wake_one()
                raise
            if conn is not None:
                return conn
            # None: a connection was closed; there is room to open one (loop round).

    async def _connect(self) -> asyncpg.Connection:
        self._open += 1
        conn: asyncpg.Connection | None = None
        try:
            conn = await asyncpg.connect(self._dsn, connection_class=self._connection_class)
            if self._init is not None:
                await self._init(conn)
        except BaseException:
            self._open -= 1
            if conn is not None:
                conn.terminate()
            self._wake_one()  # someone waiting may try in our place
            raise
        return conn

    def _release(self, conn: asyncpg.Connection) -> None:
        if self._closed or conn.is_closed():
            self._discard(conn)
            return
        while self._waiters:
            waiter = self._waiters.popleft()
            if not waiter.done():
                waiter.set_result(conn)
                return
        self._idle.append(conn)

    def _discard(self, conn: asyncpg.Connection) -> None:
        self._open -= 1
        conn.terminate()
        self._wake_one()

    def _wake_one(self) -> None:
        while self._waiters:
            waiter = self._waiters.popleft()
            if not waiter.done():
                waiter.set_result(None)
                return

    async def close(self) -> None:
        """Close the idle connections; those in use are closed as they come back."""
        self._closed = True
        idle, self._idle = self._idle, []
        for conn in idle:
            self._open -= 1
            with contextlib.suppress(Exception):
                await conn.close(timeout=5)
        self._wake_all()

    def terminate(self) -> None:
        self._closed = True
        idle, self._idle = self._idle, []
        for conn in idle:
            self._open -= 1
            conn.terminate()
        self._wake_all()

    def _wake_all(self) -> None:
        while self._waiters:
            self._wake_one()  # they find the pool closed
