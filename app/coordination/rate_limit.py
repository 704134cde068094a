"""Rate limits behind a Protocol: in-memory for one process; Redis joins with the realtime work."""

from __future__ import annotations

import logging
import math
import time
from collections import deque
from collections.abc import Callable
from typing import Protocol

log = logging.getLogger(__name__)


class RateLimiter(Protocol):
    async def hit(self, key: str) -> float | None:
        """Count one attempt for ``key``; None when allowed, else seconds until it would be."""


class InMemoryRateLimiter:
    """Sliding-window log per key: at most ``limit`` attempts in any ``window_s`` seconds."""

    # Bound the table so a flood of distinct addresses cannot grow memory without end.
    MAX_KEYS = 100_000

    def __init__(
        self, limit: int, window_s: float, clock: Callable[[], float] = time.monotonic
    ) -> None:
        self.limit = limit
        self.window_s = window_s
        self._clock = clock
        self._hits: dict[str, deque[float]] = {}

    async def hit(self, key: str) -> float | None:
        now = self._clock()
        hits = self._hits.get(key)
        if hits is None:
            if len(self._hits) >= self.MAX_KEYS:
                self._evict(now)
            hits = self._hits[key] = deque()
        while hits and hits[0] <= now - self.window_s:
            hits.popleft()
        if len(hits) >= self.limit:
            return max(0.0, hits[0] + self.window_s - now)
        hits.append(now)
        return None

    def _evict(self, now: float) -> None:
        stale = [k for k, v in self._hits.items() if not v or v[-1] <= now - self.window_s]
        for k in stale:
            del self._hits[k]
        if len(self._hits) >= self.MAX_KEYS:  # all live: drop the oldest inserted
            for k in list(self._hits)[: len(self._hits) // 10 or 1]:
                del self._hits[k]


def retry_after_seconds(wait_s: float) -> int:
    return max(1, math.ceil(wait_s))


# KEYS[1]: the window's counter; ARGV[1]: its lifetime in seconds. Returns the count so far.
_COUNT_HIT = """
local n = redis.call('INCR', KEYS[1])
if n == 1 then redis.call('EXPIRE', KEYS[1], ARGV[1]) end
return n
"""


class RedisRateLimiter:
    """Fixed windows shared by every server process: at most ``limit`` hits per key per window.

    A fixed window admits up to twice the limit across one window boundary; for abuse limits
    that is acceptable, and it costs one round trip: a script that counts the hit and sets the
    window's expiry on its first hit (one command, where a MULTI/INCR/EXPIRE/EXEC pipeline is
    four for the client to encode and parse).
    While Redis is unreachable the limit is kept per process (in memory) instead: a limiter
    must never be the reason a job is refused.
    """

    def __init__(self, redis: object, limit: int, window_s: float, prefix: str) -> None:
        self._redis = redis
        self.limit = limit
        self.window_s = window_s
        self._prefix = prefix
        self._clock = time.time
        self._fallback = InMemoryRateLimiter(limit, window_s)
        self._count = redis.register_script(_COUNT_HIT)  # type: ignore[attr-defined]

    async def hit(self, key: str) -> float | None:
        from redis.exceptions import RedisError

        try:
            return await self._hit(key)
        except (RedisError, OSError) as exc:
            log.warning(
                "rate limiter: Redis unavailable (%s); limiting per process", type(exc).__name__
            )
            return await self._fallback.hit(key)

    async def _hit(self, key: str) -> float | None:
        now = self._clock()
        window = int(now // self.window_s)
        redis_key = f"{self._prefix}:{key}:{window}"
        count = await self._count(keys=[redis_key], args=[math.ceil(self.window_s) + 1])
        if int(count) > self.limit:
            return (window + 1) * self.window_s - now
        return None
