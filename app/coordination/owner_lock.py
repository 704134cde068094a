"""One active socket per device: the owner lock, with fencing epochs.

A lock's value is ``"{epoch}|{sid}"``. Taking the lock always succeeds (a new socket supersedes the
old one) and hands out a new epoch, higher than any before it: the epoch counter lives beside the
lock and never falls below the epoch the database already knows (``floor``), so even a Redis that
lost its data cannot hand out an old epoch. Renew and release are compare-and-set on the value, so
only the holder can extend or drop its lock.
"""

from __future__ import annotations

import time
from collections.abc import Callable
from dataclasses import dataclass
from typing import Protocol

OWNER_LOCK_TTL_S = 60
HEARTBEAT_INTERVAL_S = 30


def owner_key(device_id: str) -> str:
    return f"kds:bridge:owner:{device_id}"


def epoch_key(device_id: str) -> str:
    return f"kds:bridge:epoch:{device_id}"


@dataclass(frozen=True, slots=True)
class Holder:
    epoch: int
    sid: str

    def encode(self) -> str:
        return f"{self.epoch}|{self.sid}"

    @classmethod
    def decode(cls, value: str | bytes | None) -> Holder | None:
        if value is None:
            return None
        text = value.decode() if isinstance(value, bytes) else value
        epoch, _, sid = text.partition("|")
        return cls(int(epoch), sid)


@dataclass(frozen=True, slots=True)
class Taken:
    holder: Holder
    previous: Holder | None  # the live owner this take superseded, if any


class OwnerLocks(Protocol):
    async def take(self, device_id: str, sid: str, ttl_s: float, floor: int) -> Taken:
        """Make ``sid`` the owner with a new epoch > max(every earlier epoch, floor)."""

    async def renew(self, device_id: str, holder: Holder, ttl_s: float) -> bool:
        """Extend the lock if ``holder`` still holds it."""

    async def release(self, device_id: str, holder: Holder) -> bool:
        """Drop the lock if ``holder`` still holds it."""

    async def current(self, device_id: str) -> Holder | None: ...

    async def close(self) -> None: ...


class InMemoryOwnerLocks:
    """For the single-process embedded default."""

    def __init__(self, clock: Callable[[], float] = time.monotonic) -> None:
        self._clock = clock
        self._locks: dict[str, tuple[Holder, float]] = {}
        self._epochs: dict[str, int] = {}

    def _live(self, device_id: str) -> Holder | None:
        entry = self._locks.get(device_id)
        if entry is None:
            return None
        if entry[1] <= self._clock():
            del self._locks[device_id]
            return None
        return entry[0]

    async def take(self, device_id: str, sid: str, ttl_s: float, floor: int) -> Taken:
        previous = self._live(device_id)
        epoch = max(self._epochs.get(device_id, 0), floor) + 1
        self._epochs[device_id] = epoch
        holder = Holder(epoch, sid)
        self._locks[device_id] = (holder, self._clock() + ttl_s)
        return Taken(holder, previous)

    async def renew(self, device_id: str, holder: Holder, ttl_s: float) -> bool:
        if self._live(device_id) != holder:
            return False
        self._locks[device_id] = (holder, self._clock() + ttl_s)
        return True

    async def release(self, device_id: str, holder: Holder) -> bool:
        if self._live(device_id) != holder:
            return False
        del self._locks[device_id]
        return True

    async def current(self, device_id: str) -> Holder | None:
        return self._live(device_id)

    async def close(self) -> None:
        return None


# KEYS[1] owner key, KEYS[2] epoch key; ARGV[1] sid, ARGV[2] ttl ms, ARGV[3] floor.
# Returns {new value, previous value or false}.
_TAKE = """
local epoch = redis.call('INCR', KEYS[2])
local floor = tonumber(ARGV[3])
if epoch <= floor then
  epoch = floor + 1
  redis.call('SET', KEYS[2], epoch)
end
local value = epoch .. '|' .. ARGV[1]
local previous = false
if not redis.call('SET', KEYS[1], value, 'NX', 'PX', ARGV[2]) then
  previous = redis.call('GET', KEYS[1])
  redis.call('SET', KEYS[1], value, 'PX', ARGV[2])
end
return {value, previous}
"""

_RENEW = """
if redis.call('GET', KEYS[1]) == ARGV[1] then
  return redis.call('PEXPIRE', KEYS[1], ARGV[2])
end
return 0
"""

_RELEASE = """
if redis.call('GET', KEYS[1]) == ARGV[1] then
  return redis.call('DEL', KEYS[1])
end
return 0
"""


class RedisOwnerLocks:
    """Shared by every server process; atomic through Lua scripts."""

    def __init__(self, redis: object) -> None:
        from redis.asyncio import Redis

        assert isinstance(redis, Redis)
        self._redis = redis
        self._take = redis.register_script(_TAKE)
        self._renew = redis.register_script(_RENEW)
        self._release = redis.register_script(_RELEASE)

    async def take(self, device_id: str, sid: str, ttl_s: float, floor: int) -> Taken:
        value, previous = await self._take(
            keys=[owner_key(device_id), epoch_key(device_id)],
            args=[sid, int(ttl_s * 1000), floor],
        )
        holder = Holder.decode(value)
        assert holder is not None
        return Taken(holder, Holder.decode(previous) if previous else None)

    async def renew(self, device_id: str, holder: Holder, ttl_s: float) -> bool:
        keys = [owner_key(device_id)]
        return bool(await self._renew(keys=keys, args=[holder.encode(), int(ttl_s * 1000)]))

    async def release(self, device_id: str, holder: Holder) -> bool:
        return bool(await self._release(keys=[owner_key(device_id)], args=[holder.encode()]))

    async def current(self, device_id: str) -> Holder | None:
        return Holder.decode(await self._redis.get(owner_key(device_id)))

    async def close(self) -> None:
        return None
