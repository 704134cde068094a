"""Expiry and lease timeouts, run periodically inside the server process.

Several server processes may sweep at once: each change is a conditional UPDATE, so a job moves
(and gets its history row) exactly once whoever gets there first.
"""

from __future__ import annotations

import asyncio
import logging
from datetime import datetime

from app.cloudprnt import service as cloudprnt
from app.db import Database, utcnow
from app.devices import service as devices
from app.print_jobs import service

log = logging.getLogger(__name__)


class Sweeper:
    def __init__(self, db: Database, interval_s: float, device_silence_s: float = 60.0):
        self.db = db
        self.interval_s = interval_s
        self.device_silence_s = device_silence_s

    async def run_once(self, now: datetime | None = None) -> tuple[int, int]:
        async with self.db.transaction() as tx:
            expired, unconfirmed = await service.sweep(tx, now or utcnow())
            # Devices whose server died holding them: no heartbeat for a lock lifetime.
            went_offline = await devices.offline_if_silent(tx, self.device_silence_s)
            # CloudPRNT printers that stopped polling.
            went_offline += await cloudprnt.offline_if_silent(tx)
            # Stations whose printer has been down for their fallback_after_s (failover).
            failed_over = await devices.fail_over_due(tx, now or utcnow())
        if expired or unconfirmed or went_offline or failed_over:
            log.info(
                "sweep: %d expired, %d unconfirmed, %d devices offline, %d stations failed over",
                len(expired),
                len(unconfirmed),
                went_offline,
                failed_over,
            )
        return len(expired), len(unconfirmed)

    async def run_forever(self) -> None:
        while True:
            try:
                await self.run_once()
            except Exception:  # a database blip must not end the sweeper
                log.exception("sweep failed; retrying in %.1f s", self.interval_s)
            await asyncio.sleep(self.interval_s)
