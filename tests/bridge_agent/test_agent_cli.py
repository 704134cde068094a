"""``printrelay-bridge`` as a user meets it: real child processes against a real server on
loopback (or nothing listening), a TCP printer on loopback, real signals. Issue 19, items 11-15:
one clear line and a non-zero exit for every mistake, a clean stop at any moment, one agent per
state dir, the stop path that works without ``loop.add_signal_handler`` (Windows), --log-level."""

from __future__ import annotations

import re
import signal
import socket
import sys
from pathlib import Path

import pytest

from bridge_agent import credentials
from tests.agents import paired_station_bridge
from tests.bridge_agent.agent_cli import AgentProcess, assert_clean_stop, cli, one_line
from tests.bridge_agent.printer_sim import PrinterSimulator
from tests.servers import free_port, running_server
from tests.world import World

pytestmark = pytest.mark.slow

OWNER = "owner of device"


@pytest.fixture
async def paired(server: str, rest: World, tmp_path: Path) -> Path:
    state_dir = tmp_path / "state"
    await paired_station_bridge(rest, server, state_dir)
    return state_dir


# -- item 11: one clear line, a non-zero exit ---------------------------------------------------


def test_pair_with_the_server_down_says_so_in_one_line(tmp_path: Path) -> None:
    url = f"http://127.0.0.1:{free_port()}"  # nothing listens there
    proc = cli("pair", "--server", url, "--code", "ABCD", "--state-dir", str(tmp_path / "s"))
    line = one_line(proc.stderr)
    assert proc.returncode == 5
    assert f"cannot reach the server at {url} (Connection refused)" in line
    assert not (tmp_path / "s").exists()


def test_a_server_address_without_a_scheme_is_refused_before_any_request(tmp_path: Path) -> None:
    proc = cli("pair", "--server", "127.0.0.1:8000", "--code", "ABCD", "--state-dir", str(tmp_path))
    line = one_line(proc.stderr)
    assert proc.returncode == 2
    assert "http://127.0.0.1:8000" in line  # what to type instead


def test_a_server_address_with_v1_is_named_as_the_mistake(server: str, tmp_path: Path) -> None:
    proc = cli("pair", "--server", f"{server}/v1", "--code", "ABCD", "--state-dir", str(tmp_path))
    line = one_line(proc.stderr)
    assert proc.returncode == 2
    assert "Not Found" not in line
    assert f"no Printrelay server at {server}/v1" in line
    assert f"e.g. {server}" in line


def test_a_rate_limited_pairing_says_when_to_retry(tmp_path: Path) -> None:
    env = {"PRINTRELAY_PAIRING_RATE_LIMIT": "1", "PRINTRELAY_PAIRING_RATE_WINDOW_S": "600"}
    with running_server(f"sqlite:///{tmp_path / 'rl.db'}", cwd=tmp_path, extra_env=env) as url:
        first = cli("pair", "--server", url, "--code", "WRONG1", "--state-dir", str(tmp_path))
        assert first.returncode == 2
        assert "(invalid_pairing_code)" in one_line(first.stderr)
        second = cli("pair", "--server", url, "--code", "WRONG2", "--state-dir", str(tmp_path))
    line = one_line(second.stderr)
    assert second.returncode == 5
    assert "(rate_limited)" in line
    retry = re.search(r"retry in (\d+) s", line)
    assert retry is not None, line
    assert 1 <= int(retry.group(1)) <= 600


def test_unreadable_credentials_are_one_line_not_a_traceback(tmp_path: Path) -> None:
    credentials.ensure_state_dir(tmp_path)
    (tmp_path / credentials.CREDENTIALS_FILE).write_text("{not json")
    proc = cli("run", "--printer", "file:///dev/null", "--state-dir", str(tmp_path))
    line = one_line(proc.stderr)
    assert proc.returncode == 2
    assert "pair again" in line


# -- item 12: a stop is clean at any moment -----------------------------------------------------


async def test_sigterm_at_any_moment_stops_cleanly(
    paired: Path, printer: PrinterSimulator, tmp_path: Path
) -> None:
    moments = [
        ("as soon as SIGTERM is handled", AgentProcess.wait_catching_sigterm),
        ("at its first line", lambda a: a.wait_for_line("printrelay-bridge")),
        ("once owner", lambda a: a.wait_for_line(OWNER)),
    ]
    for round_ in range(3):  # the old agent failed 3 stops in 5, always in its first seconds
        for name, wait in moments:
            agent = AgentProcess.run(tmp_path / f"{round_}-{name}.log", paired, printer.url)
            try:
                wait(agent)
                assert_clean_stop(agent, agent.stop())
            except AssertionError as exc:
                raise AssertionError(f"stopped {name} (round {round_}): {exc}") from None
            finally:
                agent.kill()


def test_sigterm_while_the_server_is_away_or_silent_stops_cleanly(tmp_path: Path) -> None:
    silent = socket.create_server(("127.0.0.1", 0))  # accepts, never answers: connect hangs
    try:
        servers = {
            "backing off": (f"http://127.0.0.1:{free_port()}", "reconnecting in"),
            "connecting": (f"http://127.0.0.1:{silent.getsockname()[1]}", "-> connecting"),
        }
        for name, (url, line) in servers.items():
            state_dir = tmp_path / name.replace(" ", "-")
            credentials.save(state_dir, credentials.Credentials(url, "prd_x", "dev-1", "pc"))
            agent = AgentProcess.run(tmp_path / f"{name}.log", state_dir, "file:///dev/null")
            try:
                agent.wait_for_line(line)
                assert_clean_stop(agent, agent.stop())
            finally:
                agent.kill()
    finally:
        silent.close()


# -- item 13: one agent per state dir -----------------------------------------------------------


async def test_a_second_agent_on_the_same_state_dir_refuses_to_start(
    paired: Path, printer: PrinterSimulator, tmp_path: Path
) -> None:
    first = AgentProcess.run(tmp_path / "first.log", paired, printer.url)
    try:
        first.wait_for_line(OWNER)
        second = cli("run", "--printer", printer.url, "--state-dir", str(paired))
        line = one_line(second.stderr)
        assert second.returncode == 6
        assert "another agent" in line and str(paired) in line
        assert f"pid {first.proc.pid}" in line
        assert first.proc.poll() is None
        assert "superseded" not in first.output()

        # The lock goes with the process, however it ends: after a SIGKILL a new agent starts.
        first.kill()
        third = AgentProcess.run(tmp_path / "third.log", paired, printer.url)
        try:
            third.wait_for_line(OWNER)
            assert_clean_stop(third, third.stop())
        finally:
            third.kill()
    finally:
        first.kill()


# -- item 14: no loop.add_signal_handler (Windows) ----------------------------------------------

WINDOWS_LOOP = """
import asyncio.unix_events, sys
def unavailable(self, sig, callback, *args):
    raise NotImplementedError  # what Windows' event loops do
asyncio.unix_events._UnixSelectorEventLoop.add_signal_handler = unavailable
from bridge_agent.cli import main
sys.exit(main(sys.argv[1:]))
"""


async def test_without_add_signal_handler_a_stop_is_still_clean(
    paired: Path, printer: PrinterSimulator, tmp_path: Path
) -> None:
    for sig in (signal.SIGTERM, signal.SIGINT):
        argv = [sys.executable, "-c", WINDOWS_LOOP, "run", "--printer", printer.url]
        agent = AgentProcess(tmp_path / f"{sig.name}.log", [*argv, "--state-dir", str(paired)])
        try:
            agent.wait_for_line(OWNER)
            assert_clean_stop(agent, agent.stop(sig))
        finally:
            agent.kill()


# -- item 15 (the flag half): --log-level ------------------------------------------------------


async def test_log_level_chooses_what_the_agent_prints(
    paired: Path, printer: PrinterSimulator, tmp_path: Path
) -> None:
    debug = AgentProcess.run(tmp_path / "debug.log", paired, printer.url, "--log-level", "debug")
    try:
        debug.wait_for_line(OWNER)
        assert " DEBUG " in debug.output()
        assert_clean_stop(debug, debug.stop())
    finally:
        debug.kill()

    # At warning: the warnings of a server that is away, none of the info lines around them.
    away = tmp_path / "away"
    url = f"http://127.0.0.1:{free_port()}"
    credentials.save(away, credentials.Credentials(url, "prd_x", "dev-1", "pc"))
    quiet = AgentProcess.run(tmp_path / "quiet.log", away, printer.url, "--log-level", "warning")
    try:
        quiet.wait_for_line("cannot connect")
        assert quiet.stop() == 0
        assert " WARNING " in quiet.output()
        assert " INFO " not in quiet.output()  # not even "stopped"
    finally:
        quiet.kill()

    wrong = cli("run", "--printer", printer.url, "--state-dir", str(paired), "--log-level", "loud")
    assert wrong.returncode == 2
    assert "--log-level" in wrong.stderr
