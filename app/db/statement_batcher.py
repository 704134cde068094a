"""Opportunistic batching of one-statement calls on the hot path's connections.

``StatementBatcher`` knows nothing of jobs: it is given, for each kind of call it takes, the
single statement (a callable), and the batch statements: one for each combination of kinds a
batch can hold (SQL over ``unnest`` of one array per parameter,
kind after kind, each kind's arrays followed by ``ord``: each input's position in the batch,
which every returned row carries back). ``app.print_jobs.hot_path`` holds the batchers, and
``app.print_jobs.hot_sql`` their statements.
"""

from __future__ import annotations

import asyncio
from collections.abc import Awaitable, Callable, Mapping, Sequence
from typing import Any

import asyncpg

from app.db.hot_pool import HotPool

Args = tuple[Any, ...]  # one statement's parameters, in order
# A kind of call a batcher takes: its single statement, run for a batch of one.
OneStatement = Callable[[HotPool, Args], Awaitable[Any]]
_Call = tuple[int, Args, "asyncio.Future[Any]"]  # kind, parameters, where the answer goes


class StatementBatcher:
    """Calls (in ``app.print_jobs.hot_path``: submissions; claims and reports, which share a
    batcher) that arrive while others of the batcher are being written share the next statement.

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
        self,
        pool: HotPool,
        kinds: Sequence[OneStatement],
        many_sql: Mapping[tuple[OneStatement, ...], str],
    ) -> None:
        """``many_sql``: the batch statement for each combination of kinds (in ``kinds``'
        order) a batch may hold; a batch of one kind need not pay for the others' SQL."""
        self.pool = pool
        self.kinds = tuple(kinds)
        self._many_sql = dict(many_sql)
        self.queue: list[_Call] = []
        self.flights = 0
        self._tasks: set[asyncio.Task[None]] = set()

    async def submit(self, args: Args, kind: int = 0) -> Any:
        """``args`` for the single statement of ``kinds[kind]``; its row, or None."""
        answer: asyncio.Future[Any] = asyncio.get_running_loop().create_future()
        self.queue.append((kind, args, answer))
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

    async def _fly(self, batch: list[_Call]) -> None:
        try:
            if len(batch) == 1:
                await self._one(*batch[0])
            else:
                await self._many(batch)
        finally:
            self.flights -= 1
            self._launch()

    async def _one(self, kind: int, args: Args, answer: asyncio.Future[Any]) -> None:
        try:
            row = await self.kinds[kind](self.pool, args)
        except BaseException as exc:
            _fail([answer], exc)
            return
        if not answer.done():
            answer.set_result(row)

    async def _many(self, batch: list[_Call]) -> None:
        try:
            rows = await self.pool.fetch(*self._statement(batch))
        except asyncpg.PostgresError:
            for call in batch:  # find the one PostgreSQL refuses; the others go
                await self._one(*call)
            return
        except BaseException as exc:
            _fail([answer for _, _, answer in batch], exc)
            return
        by_ord = {}
        for row in rows:
            values = dict(row)
            by_ord[values.pop("ord")] = values  # the columns a single call's row has
        for i, (_, _, answer) in enumerate(batch):
            if not answer.done():
                answer.set_result(by_ord.get(i))

    def _statement(self, batch: list[_Call]) -> tuple[Any, ...]:
        """The batch statement for the kinds in ``batch``, and its parameters: per kind
        present, one array per parameter, then the batch positions of that kind's calls."""
        present: list[OneStatement] = []
        arrays: list[Sequence[Any]] = []
        for k, kind in enumerate(self.kinds):
            positions = [i for i, (call_kind, _, _) in enumerate(batch) if call_kind == k]
            if positions:
                present.append(kind)
                arrays += zip(*(batch[i][1] for i in positions), strict=True)
                arrays.append(positions)
        return (self._many_sql[tuple(present)], *arrays)


def _fail(answers: list[asyncio.Future[Any]], exc: BaseException) -> None:
    """Hand ``exc`` to every caller still waiting; a cancellation or exit goes on up."""
    for answer in answers:
        if not answer.done():
            answer.set_exception(exc)
    if not isinstance(exc, Exception):
        raise exc
