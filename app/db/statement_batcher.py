"""Opportunistic batching of one-statement calls on the hot path's connections.

``StatementBatcher`` knows nothing of jobs: it is given the single statement (a callable) and
the batch statement (SQL over ``unnest`` of one array per parameter, plus ``ord``: each input's
position, which every returned row carries back). ``app.print_jobs.hot_path`` holds the
statements and one batcher per kind.
"""

from __future__ import annotations

import asyncio
from collections.abc import Awaitable, Callable
from typing import Any

import asyncpg

from app.db.hot_pool import HotPool

Args = tuple[Any, ...]  # one statement's parameters, in order


class StatementBatcher:
    """Calls of one kind (in ``app.print_jobs.hot_path``: submissions, claims, reports) that
    arrive while others of their kind are being written share the next statement.

    Each is one statement; hundreds a second means hundreds of round trips, and on a small
    machine waking PostgreSQL for each costs more of the server's CPU than the rest of the
    work. They queue here; while fewer than ``MAX_FLIGHTS`` statements are out, the queue goes
    at once, so a lone one waits for nothing and a busy server sends them in batches (the
    batch statement has the same conditions per row and one commit). Each gets its own
    answer: its row, or None (a claim or report refused: the caller asks why, as before). A
    batch that PostgreSQL refuses as a whole is retried one at a time, so one bad input cannot
    fail the others."""

    # One statement of a kind out at a time: the bench's closed loop, alternated three times,
    # did 937 jobs/s on average at 0.70-0.72 ms of API CPU per job with one, 890 at 0.76-0.80
    # with two, and 828 at 0.83-0.89 with four (fewer, larger batches win).
    MAX_FLIGHTS = 1
    MAX_BATCH = 64

    def __init__(
        self, pool: HotPool, one: Callable[[HotPool, Args], Awaitable[Any]], many_sql: str
    ) -> None:
        self.pool = pool
        self._one_statement = one
        self._many_sql = many_sql
        self.queue: list[tuple[Args, asyncio.Future[Any]]] = []
        self.flights = 0
        self._tasks: set[asyncio.Task[None]] = set()

    async def submit(self, args: Args) -> Any:
        answer: asyncio.Future[Any] = asyncio.get_running_loop().create_future()
        self.queue.append((args, answer))
        self._launch()
        return await answer

    def _launch(self) -> None:
        while self.queue and self.flights < self.MAX_FLIGHTS:
            batch, self.queue = self.queue[: self.MAX_BATCH], self.queue[self.MAX_BATCH :]
            self.flights += 1
            # Its own task: a caller cancelled while waiting does not strand the others.
            task = asyncio.ensure_future(self._fly(batch))
            self._tasks.add(task)
            task.add_done_callback(self._tasks.discard)

    async def _fly(self, batch: list[tuple[Args, asyncio.Future[Any]]]) -> None:
        try:
            if len(batch) == 1:
                await self._one(*batch[0])
            else:
                await self._many(batch)
        finally:
            self.flights -= 1
            self._launch()

    async def _one(self, args: Args, answer: asyncio.Future[Any]) -> None:
        try:
            row = await self._one_statement(self.pool, args)
        except BaseException as exc:
            _fail([answer], exc)
            return
        if not answer.done():
            answer.set_result(row)

    async def _many(self, batch: list[tuple[Args, asyncio.Future[Any]]]) -> None:
        columns = list(zip(*(args for args, _ in batch), strict=True))
        try:
            rows = await self.pool.fetch(self._many_sql, *columns, list(range(len(batch))))
        except asyncpg.PostgresError:
            for args, answer in batch:  # find the one PostgreSQL refuses; the others go
                await self._one(args, answer)
            return
        except BaseException as exc:
            _fail([answer for _, answer in batch], exc)
            return
        by_ord = {}
        for row in rows:
            values = dict(row)
            by_ord[values.pop("ord")] = values  # the columns a single call's row has
        for i, (_, answer) in enumerate(batch):
            if not answer.done():
                answer.set_result(by_ord.get(i))


def _fail(answers: list[asyncio.Future[Any]], exc: BaseException) -> None:
    """Hand ``exc`` to every caller still waiting; a cancellation or exit goes on up."""
    for answer in answers:
        if not answer.done():
            answer.set_exception(exc)
    if not isinstance(exc, Exception):
        raise exc
