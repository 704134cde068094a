"""The running agent's look at its state dir (shop.DeviceWatcher): devices paired or removed
while it runs, and credentials it cannot read. The end-to-end test with a server and printers:
test_shop.py."""

from __future__ import annotations

import json
import logging
import shutil
import sys
from pathlib import Path

import pytest

from bridge_agent import shop
from tests.bridge_agent.agent_cli import UNCLEAN, AgentProcess, cli
from tests.bridge_agent.test_shop_units import TOKEN, creds
from tests.servers import free_port


def unreadable_lines(caplog: pytest.LogCaptureFixture) -> list[str]:
    return [r.getMessage() for r in caplog.records if "cannot read" in r.getMessage()]


def test_a_device_paired_meanwhile_is_new_once_and_a_removed_one_is_gone(tmp_path: Path) -> None:
    first = shop.save_device(tmp_path, creds("d-1", "bar-pc", "tcp://10.0.0.5:9100")).parent
    watcher = shop.DeviceWatcher(tmp_path, ["d-1"])
    assert watcher.poll() == ([], set())

    second = shop.save_device(tmp_path, creds("d-2", "kitchen-pc", "tcp://10.0.0.6:9100"))
    new, gone = watcher.poll()
    assert new == [
        shop.PairedDevice(second.parent, creds("d-2", "kitchen-pc", "tcp://10.0.0.6:9100"))
    ]
    assert gone == set()
    assert watcher.poll() == ([], set())  # served already: not new again

    shutil.rmtree(first)
    assert watcher.poll() == ([], {"d-1"})
    assert watcher.poll() == ([], set())  # gone once

    shutil.rmtree(tmp_path / "devices")
    assert watcher.poll() == ([], {"d-2"})


def test_a_directory_whose_credentials_are_not_written_yet_is_looked_at_again(
    tmp_path: Path,
) -> None:
    """``pair`` creates the directory, then writes a temp file and renames it: until the rename
    there is nothing to read, and nothing is said."""
    watcher = shop.DeviceWatcher(tmp_path, [])
    assert watcher.poll() == ([], set())  # no devices/ at all yet
    directory = shop.device_dir(tmp_path, "d-3")
    directory.mkdir(parents=True)
    (directory / ".credentials.json.tmp").write_text('{"server": "http://x", "tok')
    assert watcher.poll() == ([], set())
    shop.save_device(tmp_path, creds("d-3", "till"))
    assert [d.creds.device_id for d in watcher.poll()[0]] == ["d-3"]


def test_unreadable_credentials_are_logged_once_and_read_again_until_they_can_be(
    tmp_path: Path, caplog: pytest.LogCaptureFixture
) -> None:
    caplog.set_level(logging.ERROR, logger="bridge_agent.shop")
    saved = shop.save_device(tmp_path, creds("d-4", "till"))
    whole = saved.read_text()
    saved.write_text(whole[: len(whole) // 2])  # half a file, as a careless copy leaves it
    watcher = shop.DeviceWatcher(tmp_path, [])
    for _ in range(3):
        assert watcher.poll() == ([], set())
    (line,) = unreadable_lines(caplog)
    assert str(saved) in line and "the other devices are served" in line
    assert TOKEN not in caplog.text

    saved.write_text(whole)
    new, _ = watcher.poll()
    assert [d.creds for d in new] == [creds("d-4", "till")]

    saved.write_text("{}")  # readable once, broken again: said again, and not counted as gone
    assert watcher.poll() == ([], set())
    assert len(unreadable_lines(caplog)) == 2


def test_credentials_reported_at_start_are_not_logged_again(
    tmp_path: Path, caplog: pytest.LogCaptureFixture
) -> None:
    caplog.set_level(logging.ERROR, logger="bridge_agent.shop")
    broken = shop.save_device(tmp_path, creds("d-5", "till"))
    broken.write_text("not json")
    _, problems = shop.paired_devices(tmp_path)
    watcher = shop.DeviceWatcher(tmp_path, [], [p.path for p in problems])
    assert watcher.poll() == ([], set())
    assert unreadable_lines(caplog) == []


def test_the_running_agent_serves_a_device_paired_meanwhile_and_stops_a_removed_one(
    tmp_path: Path,
) -> None:
    """A real agent process with no server to reach (its devices keep reconnecting): a device
    saved into its state dir starts, an unreadable one is named once and the agent carries on,
    a directory removed by hand stops that device alone."""
    server = f"http://127.0.0.1:{free_port()}"
    shop.save_device(tmp_path, creds("d-1", "bar-pc", "file:///dev/null", server=server))
    argv = [sys.executable, "-m", "bridge_agent.cli", "run", "--state-dir", str(tmp_path)]
    agent = AgentProcess(tmp_path / "agent.log", argv)
    try:
        agent.wait_for_line("[bar-pc d-1] connection: disconnected -> connecting")
        broken = shop.device_dir(tmp_path, "d-9")
        broken.mkdir(mode=0o700)
        (broken / "credentials.json").write_text('{"server": ')
        shop.save_device(tmp_path, creds("d-2", "kitchen-pc", "file:///dev/null", server=server))
        agent.wait_for_line("[kitchen-pc d-2] connection: disconnected -> connecting")
        agent.wait_for_line(f"cannot read {broken / 'credentials.json'}")
        report = json.loads(cli("status", "--json", "--state-dir", str(tmp_path)).stdout)
        kitchen = next(d for d in report["devices"] if d["name"] == "kitchen-pc")
        assert kitchen["printer"] == "file:///dev/null"
        assert kitchen["connection"] in {"connecting", "backing_off"}
        (problem,) = report["problems"]
        assert problem.startswith(f"cannot read {broken / 'credentials.json'} (JSONDecodeError")

        shutil.rmtree(shop.device_dir(tmp_path, "d-1"))
        agent.wait_for_line("device bar-pc (d-1): its credentials file is gone; stopped serving it")
        assert agent.proc.poll() is None  # the other device is still served
        assert agent.stop() == 0
    finally:
        agent.kill()
    out = agent.output()
    assert out.count("cannot read") == 1, out
    assert not any(text in out for text in UNCLEAN), out
