"""The agent's journal: each claimed job's progress, durable before the next step is taken.

Order of a job's life (each step recorded before the following one starts):

    claimed -> printing -> printed -> reported

After a crash the journal says what to do: ``claimed`` (no byte was sent) prints it; ``printed``
reports it; ``printing`` (the agent died while writing: paper may or may not have come out) is
reported ``failed`` with a reason that says so, for a person to decide on a reprint. A job the
server shows as claimed by this device but the journal never saw was never sent to the printer
either (``printing`` is written before the first byte), so it is printed.
"""

from __future__ import annotations

import asyncio
import sqlite3
import time
from dataclasses import dataclass
from enum import StrEnum
from pathlib import Path

from bridge_agent.workers import run_blocking

JOURNAL_FILE = "journal.sqlite3"
# How long finished entries are kept, for de-duplicating late repeats of old jobs.
KEEP_FINISHED_S = 7 * 24 * 3600


class Stage(StrEnum):
    CLAIMED = "claimed"
    PRINTING = "printing"
    PRINTED = "printed"
    REPORTED = "reported"


@dataclass(frozen=True)
class Entry:
    job_id: str
    stage: Stage
    outcome: str | None  # "printed" or "failed" once known
    error: str | None


class Journal:
    def __init__(self, state_dir: Path) -> None:
        self.path = state_dir / JOURNAL_FILE
        # One connection, used from one worker thread at a time (the lock), never the loop.
        self._conn = sqlite3.connect(self.path, check_same_thread=False, isolation_level=None)
        self._conn.execute("PRAGMA journal_mode=WAL")
        self._conn.execute("PRAGMA synchronous=FULL")  # the journal is what survives a crash
        self._conn.execute(
            "CREATE TABLE IF NOT EXISTS jobs ("
            " job_id TEXT PRIMARY KEY, stage TEXT NOT NULL, outcome TEXT, error TEXT,"
            " updated_at REAL NOT NULL)"
        )
        self._lock = asyncio.Lock()

    async def _run(self, sql: str, params: tuple[object, ...] = ()) -> list[tuple[object, ...]]:
        async with self._lock:
            return await run_blocking(self._execute, sql, params)

    def _execute(self, sql: str, params: tuple[object, ...]) -> list[tuple[object, ...]]:
        return self._conn.execute(sql, params).fetchall()

    async def get(self, job_id: str) -> Entry | None:
        rows = await self._run(
            "SELECT job_id, stage, outcome, error FROM jobs WHERE job_id = ?", (job_id,)
        )
        return _entry(rows[0]) if rows else None

    async def record(
        self, job_id: str, stage: Stage, outcome: str | None = None, error: str | None = None
    ) -> None:
        await self._run(
            "INSERT INTO jobs (job_id, stage, outcome, error, updated_at) VALUES (?, ?, ?, ?, ?)"
            " ON CONFLICT(job_id) DO UPDATE SET stage = excluded.stage,"
            " outcome = COALESCE(excluded.outcome, jobs.outcome),"
            " error = COALESCE(excluded.error, jobs.error), updated_at = excluded.updated_at",
            (job_id, stage.value, outcome, error, time.time()),
        )

    async def unfinished(self) -> list[Entry]:
        rows = await self._run(
            "SELECT job_id, stage, outcome, error FROM jobs WHERE stage != ? ORDER BY updated_at",
            (Stage.REPORTED.value,),
        )
        return [_entry(r) for r in rows]

    async def prune(self) -> None:
        await self._run(
            "DELETE FROM jobs WHERE stage = ? AND updated_at < ?",
            (Stage.REPORTED.value, time.time() - KEEP_FINISHED_S),
        )

    def close(self) -> None:
        self._conn.close()


def _entry(row: tuple[object, ...]) -> Entry:
    job_id, stage, outcome, error = row
    return Entry(str(job_id), Stage(str(stage)), _opt(outcome), _opt(error))


def _opt(value: object) -> str | None:
    return None if value is None else str(value)
