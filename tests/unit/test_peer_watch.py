"""PeerWatch with fakes: alone only after a count of one with the control subscription up;
anything in doubt publishes; a failing count is logged once per outage."""

from __future__ import annotations

import logging
import time
from dataclasses import dataclass

import pytest

from app.realtime.rooms_manager import ALONE_VALID_S, PeerWatch


@dataclass
class FakeRedis:
    listeners: int | None = 1  # None: the call fails
    calls: int = 0

    async def pubsub_numsub(self, channel: str) -> list[tuple[bytes, int]]:
        self.calls += 1
        if self.listeners is None:
            raise ConnectionError("Redis away")
        return [(channel.encode(), self.listeners)]


@dataclass
class FakeBus:
    listening: bool = True


@dataclass
class FakeManager:
    alone_until: float = 0.0


def watch(redis: FakeRedis, bus: FakeBus) -> tuple[PeerWatch, FakeManager]:
    manager = FakeManager()
    return PeerWatch(redis, bus, manager), manager  # type: ignore[arg-type]


async def test_alone_for_a_while_after_a_count_of_one() -> None:
    peers, manager = watch(FakeRedis(listeners=1), FakeBus())
    before = time.monotonic()
    await peers.count_once()
    assert before + ALONE_VALID_S <= manager.alone_until <= time.monotonic() + ALONE_VALID_S


@pytest.mark.parametrize(
    ("redis", "bus"),
    [
        (FakeRedis(listeners=2), FakeBus()),  # another process
        (FakeRedis(listeners=1), FakeBus(listening=False)),  # that one is not us: resubscribing
        (FakeRedis(listeners=None), FakeBus()),  # the count failed
    ],
)
async def test_anything_in_doubt_publishes(redis: FakeRedis, bus: FakeBus) -> None:
    peers, manager = watch(redis, bus)
    manager.alone_until = time.monotonic() + 60  # a count of one earlier
    await peers.count_once()
    assert manager.alone_until == 0.0


async def test_a_failing_count_is_logged_once_per_outage(caplog: pytest.LogCaptureFixture) -> None:
    redis = FakeRedis(listeners=None)
    peers, _ = watch(redis, FakeBus())
    with caplog.at_level(logging.WARNING, logger="app.realtime.rooms_manager"):
        for _ in range(5):
            await peers.count_once()
        redis.listeners = 1
        await peers.count_once()
        redis.listeners = None
        await peers.count_once()
    assert redis.calls == 7
    assert len([r for r in caplog.records if "counting server processes" in r.message]) == 2
