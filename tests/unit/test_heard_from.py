"""The heartbeat batcher: every id is written once per round, and kept when the write fails."""

from __future__ import annotations

import uuid
from collections.abc import AsyncIterator, Collection
from contextlib import asynccontextmanager
from typing import Any

import pytest

from app.realtime import heard_from
from app.realtime.heard_from import HeardFrom


class FakeDb:
    def __init__(self) -> None:
        self.down = False

    @asynccontextmanager
    async def transaction(self) -> AsyncIterator[object]:
        if self.down:
            raise ConnectionError("database away")
        yield object()


async def test_ids_are_written_in_chunks_and_kept_while_the_database_is_away(
    monkeypatch: pytest.MonkeyPatch,
) -> None:
    written: list[list[uuid.UUID]] = []

    async def record(tx: Any, ids: Collection[uuid.UUID]) -> None:
        written.append(list(ids))

    monkeypatch.setattr(heard_from.devices, "heard_from", record)
    monkeypatch.setattr(heard_from, "CHUNK", 2)
    db = FakeDb()
    batcher = HeardFrom(db, interval_s=3600)  # type: ignore[arg-type]
    ids = [uuid.uuid4() for _ in range(3)]

    db.down = True
    for i in ids:
        batcher.add(i)
    batcher.add(ids[0])  # a second heartbeat of the same device in the round
    await batcher.flush()
    assert written == []  # nothing written, nothing forgotten

    db.down = False
    await batcher.close()
    assert sorted(i for chunk in written for i in chunk) == sorted(ids)
    assert [len(chunk) for chunk in written] == [2, 1]
    written.clear()
    await batcher.flush()
    assert written == []  # written once
