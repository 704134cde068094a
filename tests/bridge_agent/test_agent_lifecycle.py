"""Units of the agent process's lifecycle: the state dir's lock, and stop signals where the event
loop has no ``add_signal_handler`` (Windows). The real processes: test_agent_cli.py."""

from __future__ import annotations

import asyncio
import os
import signal
from collections.abc import Iterator
from pathlib import Path

import pytest

from bridge_agent import lifecycle

SIGNAL_WAIT_S = 5.0


@pytest.fixture
def saved_signal_handlers() -> Iterator[None]:
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


def test_outside_the_loop_a_stop_signal_is_a_keyboard_interrupt(
    saved_signal_handlers: None,
) -> None:
    lifecycle.interrupt_on_stop_signals()
    with pytest.raises(KeyboardInterrupt):
        signal.raise_signal(signal.SIGTERM)


def test_the_state_dir_lock_admits_one_holder_and_names_it(tmp_path: Path) -> None:
    first = lifecycle.StateDirLock(tmp_path)
    first.acquire()
    second = lifecycle.StateDirLock(tmp_path)  # flock: a second open file conflicts, same pid too
    with pytest.raises(lifecycle.AlreadyRunning, match=f"pid {os.getpid()}"):
        second.acquire()
    first.release()
    second.acquire()
    second.release()
