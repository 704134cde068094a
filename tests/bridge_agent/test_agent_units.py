"""Units of the agent: journal, credentials, backoff, connection states."""

from __future__ import annotations

import random
import stat
from pathlib import Path

import pytest

from bridge_agent import credentials
from bridge_agent.connection import (
    BACKOFF_CAP_S,
    TRANSITIONS,
    ConnectionState,
    backoff_delay,
)
from bridge_agent.spool import Journal, Stage


async def test_journal_walks_a_job_and_survives_reopening(tmp_path: Path) -> None:
    journal = Journal(tmp_path)
    await journal.record("a", Stage.CLAIMED)
    await journal.record("b", Stage.CLAIMED)
    await journal.record("a", Stage.PRINTING)
    await journal.record("a", Stage.PRINTED, outcome="printed")
    await journal.record("b", Stage.PRINTING)
    journal.close()

    reopened = Journal(tmp_path)  # what a restarted agent sees
    a = await reopened.get("a")
    assert a is not None and a.stage is Stage.PRINTED and a.outcome == "printed"
    assert [(e.job_id, e.stage) for e in await reopened.unfinished()] == [
        ("a", Stage.PRINTED),
        ("b", Stage.PRINTING),
    ]
    await reopened.record("a", Stage.REPORTED)
    assert (await reopened.get("a")).outcome == "printed"  # type: ignore[union-attr]
    assert [e.job_id for e in await reopened.unfinished()] == ["b"]
    assert await reopened.get("missing") is None
    reopened.close()


def test_credentials_are_owner_only_and_never_shown(tmp_path: Path) -> None:
    state_dir = tmp_path / "state"
    creds = credentials.Credentials("http://s", "prd_secret-token", "dev-1", "kitchen")
    path = credentials.save(state_dir, creds)
    assert stat.S_IMODE(path.stat().st_mode) == 0o600
    assert stat.S_IMODE(state_dir.stat().st_mode) == 0o700
    assert credentials.load(state_dir) == creds
    assert "prd_secret-token" not in repr(creds)
    credentials.forget(state_dir)
    assert credentials.load(state_dir) is None


def test_backoff_is_full_jitter_under_an_exponential_cap() -> None:
    rng = random.Random(7)
    for attempt in range(12):
        ceiling = min(BACKOFF_CAP_S, 2**attempt)
        samples = [backoff_delay(attempt, rng) for _ in range(200)]
        assert all(0 <= s <= ceiling for s in samples)
        assert max(samples) > ceiling * 0.8  # spread over the whole range, not a fixed delay
        assert min(samples) < ceiling * 0.2


@pytest.mark.parametrize("state", list(ConnectionState))
def test_stopped_is_final_and_every_state_can_stop(state: ConnectionState) -> None:
    assert TRANSITIONS[ConnectionState.STOPPED] == frozenset()
    if state is not ConnectionState.STOPPED:
        assert ConnectionState.STOPPED in TRANSITIONS[state]
