"""Which locations have a watcher somewhere, so a job's status change is only fanned out
(``print_job.updated``) where someone listens.

With Redis every emit is a publish that every server process receives and decodes, whether or
not anyone is in the room; on the hot path (three status changes per printed job) that was the
largest single cost. The registry counts subscribed sockets per location across processes: a
subscription is counted before its ack, so every change committed after the ack is emitted.
A process that dies leaves its counts behind: the cost is a few needless emits, never a missed
one. If Redis cannot answer, the change is emitted.
"""

from __future__ import annotations

import logging
import uuid
from collections import Counter
from typing import Any, Protocol

log = logging.getLogger(__name__)

WATCHERS_KEY = "printrelay:watchers"

# Decrement, and drop the field at zero in the same step (a concurrent increment is never lost).
_RELEASE = """
local n = redis.call('HINCRBY', KEYS[1], ARGV[1], -1)
if n <= 0 then redis.call('HDEL', KEYS[1], ARGV[1]) end
return n
"""


class WatchRegistry(Protocol):
    async def watched(self, location_id: uuid.UUID) -> bool: ...

    async def add(self, location_id: uuid.UUID) -> None: ...

    async def remove(self, location_id: uuid.UUID) -> None: ...


class InMemoryWatchRegistry:
    def __init__(self) -> None:
        self.counts: Counter[uuid.UUID] = Counter()

    async def watched(self, location_id: uuid.UUID) -> bool:
        return self.counts[location_id] > 0

    async def add(self, location_id: uuid.UUID) -> None:
        self.counts[location_id] += 1

    async def remove(self, location_id: uuid.UUID) -> None:
        self.counts[location_id] -= 1
        if self.counts[location_id] <= 0:
            del self.counts[location_id]


class RedisWatchRegistry:
    def __init__(self, redis: Any) -> None:
        self.redis = redis
        self._release = redis.register_script(_RELEASE)

    async def watched(self, location_id: uuid.UUID) -> bool:
        try:
            count = await self.redis.hget(WATCHERS_KEY, str(location_id))
        except Exception as exc:  # unknown: emit rather than miss
            log.warning("watch registry unavailable: %s", type(exc).__name__)
            return True
        return count is not None and int(count) > 0

    async def add(self, location_id: uuid.UUID) -> None:
        await self.redis.hincrby(WATCHERS_KEY, str(location_id), 1)

    async def remove(self, location_id: uuid.UUID) -> None:
        await self._release(keys=[WATCHERS_KEY], args=[str(location_id)])
