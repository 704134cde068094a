"""Which locations have a watcher somewhere, so a job's status change is only fanned out
(``print_job.updated``) where someone listens.

With Redis every emit is a publish that every server process receives and decodes, whether or
not anyone is in the room; on the hot path (three status changes per printed job) that was the
largest single cost. The registry counts subscribed sockets per location across processes: a
subscription is counted before its ack, so every change committed after the ack is emitted.
A process that dies leaves its counts behind: the cost is a few needless emits, never a missed
one. If Redis cannot answer, the change is emitted.

Each process keeps the answers it read for ``ANSWER_TTL_S`` (a printed job asks three times:
pending, sent, printed), and a subscription waits that long after counting itself before it is
acknowledged: by then every answer "not watched" read before the count has expired in every
process, so the promise above holds without a Redis round trip per status change.
"""

from __future__ import annotations

import asyncio
import logging
import time
import uuid
from collections import Counter
from typing import Any, Protocol

log = logging.getLogger(__name__)

WATCHERS_KEY = "printrelay:watchers"
ANSWER_TTL_S = 0.25
_MAX_ANSWERS = 10_000  # locations remembered; past it, expired answers are dropped

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
    def __init__(self, redis: Any, answer_ttl_s: float = ANSWER_TTL_S) -> None:
        self.redis = redis
        self.answer_ttl_s = answer_ttl_s
        self._release = redis.register_script(_RELEASE)
        self._answers: dict[uuid.UUID, tuple[bool, float]] = {}  # location -> (answer, until)

    async def watched(self, location_id: uuid.UUID) -> bool:
        asked_at = time.monotonic()
        answer = self._answers.get(location_id)
        if answer is not None and asked_at < answer[1]:
            return answer[0]
        try:
            count = await self.redis.hget(WATCHERS_KEY, str(location_id))
        except Exception as exc:  # unknown: emit rather than miss
            log.warning("watch registry unavailable: %s", type(exc).__name__)
            return True
        watched = count is not None and int(count) > 0
        # Valid from before the question was sent: the subscriber's wait covers it.
        self._remember(location_id, watched, asked_at + self.answer_ttl_s)
        return watched

    async def add(self, location_id: uuid.UUID) -> None:
        await self.redis.hincrby(WATCHERS_KEY, str(location_id), 1)
        self._remember(location_id, True, time.monotonic() + self.answer_ttl_s)
        # Until every process's remembered "not watched" for this location has expired.
        await asyncio.sleep(self.answer_ttl_s)

    def _remember(self, location_id: uuid.UUID, watched: bool, until: float) -> None:
        if len(self._answers) >= _MAX_ANSWERS:
            now = time.monotonic()
            self._answers = {k: v for k, v in self._answers.items() if v[1] > now}
            if len(self._answers) >= _MAX_ANSWERS:
                self._answers.clear()
        self._answers[location_id] = (watched, until)

    async def remove(self, location_id: uuid.UUID) -> None:
        await self._release(keys=[WATCHERS_KEY], args=[str(location_id)])
