"""Which locations have a watcher somewhere, so a job's status change is only fanned out
(``print_job.updated``) where someone listens.

With Redis every emit is a publish that every server process receives and decodes, whether or
not anyone is in the room; on the hot path (three status changes per printed job) that was the
largest single cost. Each process counts its own subscribed sockets per location (the source of
truth for its own sockets) and keeps its id in a Redis set per location while it has any. A
subscription is added before its ack, so every change committed after the ack is emitted. If
Redis cannot answer, the change is emitted.

Each process keeps the answers it read for ``ANSWER_TTL_S`` (a printed job asks three times:
pending, sent, printed), and a subscription waits that long after adding itself before it is
acknowledged: by then every answer "not watched" read before the add has expired in every
process, so the promise above holds without a Redis round trip per status change.

Redis may restart empty (or from an old snapshot) while the watcher sockets stay connected.
Every ``CHECK_EVERY_S`` each process swaps a counter of its own in Redis; when Redis does not
hand back the value the process wrote last, it lost writes, and the process writes its
locations again (set members: repeating them is harmless). Meanwhile, for ``DOUBT_S`` after any
Redis failure or loss this process noticed, every change is emitted: long enough for every
other process to have noticed too and written its own locations back.

A process that dies leaves its id behind: the cost is needless emits, never a missed one.
"""

from __future__ import annotations

import asyncio
import contextlib
import logging
import time
import uuid
from collections import Counter
from typing import Any, Protocol

log = logging.getLogger(__name__)

WATCHERS_KEY_PREFIX = "printrelay:watchers:"  # + location id: a set of server process ids
PROOF_KEY_PREFIX = "printrelay:watchers-proof:"  # + process id: the counter it swaps
ANSWER_TTL_S = 0.25
CHECK_EVERY_S = 0.25
# Several checks long: another process notices a loss within CHECK_EVERY_S of Redis answering.
DOUBT_S = 1.0
PROOF_TTL_S = 300  # a dead process's counter goes by itself
_MAX_ANSWERS = 10_000  # locations remembered; past it, expired answers are dropped

# KEYS[1] the proof key; ARGV[1] the new value, ARGV[2] its lifetime (s). Returns the old value.
_SWAP = """
local previous = redis.call('GET', KEYS[1])
redis.call('SET', KEYS[1], ARGV[1], 'EX', ARGV[2])
return previous
"""


def watchers_key(location_id: uuid.UUID) -> str:
    return f"{WATCHERS_KEY_PREFIX}{location_id}"


class WatchRegistry(Protocol):
    async def watched(self, location_id: uuid.UUID) -> bool: ...

    async def add(self, location_id: uuid.UUID) -> None: ...

    async def remove(self, location_id: uuid.UUID) -> None: ...

    async def start(self) -> None: ...

    async def close(self) -> None: ...


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

    async def start(self) -> None:
        return None

    async def close(self) -> None:
        return None


class RedisWatchRegistry:
    def __init__(
        self,
        redis: Any,
        answer_ttl_s: float = ANSWER_TTL_S,
        check_every_s: float = CHECK_EVERY_S,
    ) -> None:
        self.redis = redis
        self.answer_ttl_s = answer_ttl_s
        self.check_every_s = check_every_s
        self.process_id = uuid.uuid4().hex
        self.local: Counter[uuid.UUID] = Counter()  # this process's watcher sockets
        self._swap = redis.register_script(_SWAP)
        self._answers: dict[uuid.UUID, tuple[bool, float]] = {}  # location -> (answer, until)
        # Serializes this process's writes, so an add and a remove never pass each other.
        self._writing = asyncio.Lock()
        self._written = 0  # the proof counter's value this process wrote last (0: none yet)
        self._lost = False  # a check failed: write the locations again once Redis answers
        self._doubt_until = 0.0  # time.monotonic(); before it, every location is watched
        self._task: asyncio.Task[None] | None = None

    async def watched(self, location_id: uuid.UUID) -> bool:
        if self.local[location_id] > 0:
            return True
        asked_at = time.monotonic()
        if asked_at < self._doubt_until:
            return True
        answer = self._answers.get(location_id)
        if answer is not None and asked_at < answer[1]:
            return answer[0]
        try:
            watched = bool(await self.redis.exists(watchers_key(location_id)))
        except Exception as exc:  # unknown: emit rather than miss
            log.warning("watch registry unavailable: %s", type(exc).__name__)
            self._doubt(DOUBT_S)
            return True
        # Valid from before the question was sent: the subscriber's wait covers it.
        self._remember(location_id, watched, asked_at + self.answer_ttl_s)
        return watched

    async def add(self, location_id: uuid.UUID) -> None:
        async with self._writing:
            self.local[location_id] += 1
            try:
                await self.redis.sadd(watchers_key(location_id), self.process_id)
            except Exception:
                self._drop_local(location_id)
                raise
        self._remember(location_id, True, time.monotonic() + self.answer_ttl_s)
        # Until every process's remembered "not watched" for this location has expired.
        await asyncio.sleep(self.answer_ttl_s)

    async def remove(self, location_id: uuid.UUID) -> None:
        async with self._writing:
            if self._drop_local(location_id):
                await self.redis.srem(watchers_key(location_id), self.process_id)

    def _drop_local(self, location_id: uuid.UUID) -> bool:
        """One socket fewer; True when it was this process's last watcher of the location."""
        self.local[location_id] -= 1
        if self.local[location_id] > 0:
            return False
        del self.local[location_id]
        return True

    # -- surviving a Redis that lost its data ------------------------------------------------

    async def start(self) -> None:
        self._task = asyncio.create_task(self._keep_written(), name="watch-registry")

    async def close(self) -> None:
        if self._task is not None:
            self._task.cancel()
            with contextlib.suppress(asyncio.CancelledError):
                await self._task
        with contextlib.suppress(Exception):  # best effort: a dead process's id only costs emits
            async with self.redis.pipeline(transaction=False) as pipe:
                for location_id in self.local:
                    pipe.srem(watchers_key(location_id), self.process_id)
                pipe.delete(PROOF_KEY_PREFIX + self.process_id)
                await pipe.execute()

    async def _keep_written(self) -> None:
        while True:
            try:
                await self.check_once()
            except Exception as exc:
                if not self._lost:
                    log.warning(
                        "watch registry lost Redis (%s); emitting every change until it is back",
                        type(exc).__name__,
                    )
                self._lost = True
                self._doubt(DOUBT_S)
            await asyncio.sleep(self.check_every_s)

    async def check_once(self) -> bool:
        """Swap the proof counter; if Redis lost what this process wrote, write its locations
        again. True when it did."""
        expected, value = self._written, self._written + 1
        previous = await self._swap(
            keys=[PROOF_KEY_PREFIX + self.process_id], args=[value, PROOF_TTL_S]
        )
        self._written = value
        first = expected == 0 and previous is None
        if not self._lost and (first or (previous is not None and int(previous) == expected)):
            return False
        async with self._writing:
            locations = list(self.local)
            if locations:
                async with self.redis.pipeline(transaction=False) as pipe:
                    for location_id in locations:
                        pipe.sadd(watchers_key(location_id), self.process_id)
                    await pipe.execute()
        if not self._lost:
            log.warning("Redis lost the watch registry; wrote %d locations again", len(locations))
        self._lost = False
        self._doubt(DOUBT_S)
        return True

    def _doubt(self, for_s: float) -> None:
        self._doubt_until = max(self._doubt_until, time.monotonic() + for_s)
        self._answers.clear()

    def _remember(self, location_id: uuid.UUID, watched: bool, until: float) -> None:
        if len(self._answers) >= _MAX_ANSWERS:
            now = time.monotonic()
            self._answers = {k: v for k, v in self._answers.items() if v[1] > now}
            if len(self._answers) >= _MAX_ANSWERS:
                self._answers.clear()
        self._answers[location_id] = (watched, until)
