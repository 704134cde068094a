"""Units of the agent process's lifecycle and CLI: the state dir's lock, stop signals where the
event loop has no ``add_signal_handler`` (Windows), Retry-After. The real processes:
test_agent_cli.py."""

from __future__ import annotations

import asyncio
import os
import signal
from collections.abc import Iterator
from datetime import UTC, datetime, timedelta
from email.utils import format_datetime
from pathlib import Path

import pytest

from bridge_agent import lifecycle
from bridge_agent.api import _retry_after_s

SIGNAL_WAIT_S = 5.0


@pytest.fixture
def saved_signal_handlers(monkeypatch: pytest.MonkeyPatch) -> Iterator[None]:
    monkeypatch.setattr(lifecycle, "_stop_requested", False)
    saved = {sig: signal.getsignal(sig) for sig in lifecycle.STOP_SIGNALS}
    try:
        yield
    finally:
        for sig, handler in saved.items():
            signal.signal(sig, handler)


async def test_stop_signals_fall_back_to_signal_signal_without_add_signal_handler(
    saved_signal_handlers: None, monkeypatch: pytest.MonkeyPatch
) -> None:
    loop = asyncio.get_running_loop()

    def unavailable(*_: object) -> None:
        raise NotImplementedError  # what Windows' event loops do

    monkeypatch.setattr(loop, "add_signal_handler", unavailable)
    stopped = asyncio.Event()
    assert lifecycle.call_on_stop_signals(loop, stopped.set) == "signal"
    for sig in (signal.SIGTERM, signal.SIGINT):
        stopped.clear()
        signal.raise_signal(sig)  # no KeyboardInterrupt: the callback runs on the loop instead
        await asyncio.wait_for(stopped.wait(), SIGNAL_WAIT_S)


async def test_stop_signals_use_the_loops_handlers_where_it_has_them(
    saved_signal_handlers: None,
) -> None:
    loop = asyncio.get_running_loop()
    stopped = asyncio.Event()
    try:
        assert lifecycle.call_on_stop_signals(loop, stopped.set) == "loop"
        signal.raise_signal(signal.SIGTERM)
        await asyncio.wait_for(stopped.wait(), SIGNAL_WAIT_S)
    finally:
        for sig in lifecycle.STOP_SIGNALS:
            loop.remove_signal_handler(sig)


def test_a_stop_signal_before_the_loop_runs_is_delivered_once_it_does(
    saved_signal_handlers: None,
) -> None:
    lifecycle.defer_stop_signals()
    signal.raise_signal(signal.SIGTERM)  # noted only: no KeyboardInterrupt, no death

    async def main() -> str:
        task = asyncio.current_task()
        assert task is not None
        lifecycle.call_on_stop_signals(asyncio.get_running_loop(), task.cancel)
        await asyncio.sleep(SIGNAL_WAIT_S)
        return "not stopped"

    with pytest.raises(asyncio.CancelledError):
        asyncio.run(main())


def test_the_state_dir_lock_admits_one_holder_and_names_it(tmp_path: Path) -> None:
    first = lifecycle.StateDirLock(tmp_path)
    first.acquire()
    second = lifecycle.StateDirLock(tmp_path)  # flock: a second open file conflicts, same pid too
    with pytest.raises(lifecycle.AlreadyRunning, match=f"pid {os.getpid()}"):
        second.acquire()
    first.release()
    second.acquire()
    second.release()


def test_retry_after_reads_seconds_and_http_dates() -> None:
    assert _retry_after_s("120") == 120
    in_a_minute = format_datetime(datetime.now(UTC) + timedelta(seconds=60), usegmt=True)
    assert 50 <= (_retry_after_s(in_a_minute) or 0) <= 61
    assert _retry_after_s("Tue, 01 Jan 2000 00:00:00 GMT") == 0  # already past: retry now
    assert _retry_after_s(None) is None
    assert _retry_after_s("soon") is None
