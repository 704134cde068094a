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


# KEYS[1]: the window's counter; ARGV[1]: its lifetime in seconds, ARGV[2]: hits wanted,
# ARGV[3]: the limit. Counts the hits and returns how many of them fit under the limit.
_RESERVE = """
local wanted = tonumber(ARGV[2])
local n = redis.call('INCRBY', KEYS[1], wanted)
if n == wanted then redis.call('EXPIRE', KEYS[1], ARGV[1]) end
local before = n - wanted
local granted = tonumber(ARGV[3]) - before
if granted > wanted then granted = wanted end
if granted < 0 then granted = 0 end
return granted
"""
# Hits a process reserves at once: a hundredth of the limit, at most this many.
MAX_RESERVATION = 50


class RedisRateLimiter:
    """Fixed windows shared by every server process: at most ``limit`` hits per key per window.

    A fixed window admits up to twice the limit across one window boundary; for abuse limits
    that is acceptable. A process reserves hits in batches (a hundredth of the limit, between 1
    and ``MAX_RESERVATION``) and spends them locally, so a busy key costs one round trip per
    batch rather than per hit. The shared count can never pass the limit; hits a process
    reserved and did not spend are lost to the others for the rest of the window (at most a
    batch per process). Limits under 200 reserve one hit at a time: exact, as before. Once a
    window is used up, the process refuses the key locally until the window ends.
    While Redis is unreachable the limit is kept per process (in memory) instead: a limiter
    must never be the reason a job is refused.
    """

    MAX_KEYS = 100_000

    def __init__(self, redis: object, limit: int, window_s: float, prefix: str) -> None:
        self._redis = redis
        self.limit = limit
        self.window_s = window_s
        self.batch = max(1, min(MAX_RESERVATION, limit // 100))
        self._prefix = prefix
        self._clock = time.time
        self._fallback = InMemoryRateLimiter(limit, window_s)
        self._reserve = redis.register_script(_RESERVE)  # type: ignore[attr-defined]
        # key -> (window, hits reserved and not yet spent; -1: the window is used up)
        self._local: dict[str, tuple[int, int]] = {}

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
        refused_for = (window + 1) * self.window_s - now
        held_window, held = self._local.get(key, (window, 0))
        if held_window == window:
            if held > 0:
                self._local[key] = (window, held - 1)
                return None
            if held < 0:
                return refused_for
        redis_key = f"{self._prefix}:{key}:{window}"
        granted = int(
            await self._reserve(
                keys=[redis_key], args=[math.ceil(self.window_s) + 1, self.batch, self.limit]
            )
        )
        if len(self._local) >= self.MAX_KEYS:
            self._local = {k: v for k, v in self._local.items() if v[0] == window}
        if granted <= 0:
            self._local[key] = (window, -1)
            return refused_for
        # Hits reserved meanwhile by another coroutine of this process are kept.
        spare_window, spare = self._local.get(key, (window, 0))
        spare = spare if spare_window == window and spare > 0 else 0
        self._local[key] = (window, spare + granted - 1)
        return None
