"""Heartbeats mark their device as heard from; one UPDATE a second writes them all.

A heartbeat's answer (owner or not) comes from the owner lock in Redis; ``last_seen_at`` only
tells the sweeper which online devices still have a live socket somewhere (it turns a device
offline after ``owner_lock_ttl_s`` of silence, 60 s). Writing it per heartbeat cost a database
transaction for each of them: 10,000 bridges beating every 30 s are 333 transactions a second on
one process. Batched, they are one statement a second, a second late at most, which the
sweeper's 60 s threshold does not notice. Ids that could not be written (database away) are
kept for the next round.
"""

from __future__ import annotations

import asyncio
import contextlib
import logging
import uuid

from app.db import Database
from app.devices import service as devices

log = logging.getLogger(__name__)

FLUSH_INTERVAL_S = 1.0
CHUNK = 1000  # ids per UPDATE (bound parameters)


class HeardFrom:
    def __init__(self, db: Database, interval_s: float = FLUSH_INTERVAL_S) -> None:
        self._db = db
        self._interval_s = interval_s
        self._pending: set[uuid.UUID] = set()
        self._task: asyncio.Task[None] | None = None

    def add(self, device_id: uuid.UUID) -> None:
        self._pending.add(device_id)
        if self._task is None or self._task.done():
            self._task = asyncio.create_task(self._run(), name="heard-from")

    async def _run(self) -> None:
        while self._pending:
            await asyncio.sleep(self._interval_s)
            await self.flush()

    async def flush(self) -> None:
        ids, self._pending = self._pending, set()
        batch = list(ids)
        try:
            for i in range(0, len(batch), CHUNK):
                async with self._db.transaction() as tx:
                    await devices.heard_from(tx, batch[i : i + CHUNK])
        except Exception as exc:  # the database away: keep them for the next round
            log.warning("heartbeats: last_seen_at not written (%s)", type(exc).__name__)
            self._pending |= ids

    async def close(self) -> None:
        """Write what is pending, then stop."""
        if self._task is not None:
            self._task.cancel()
            with contextlib.suppress(asyncio.CancelledError):
                await self._task
        if self._pending:
            await self.flush()
