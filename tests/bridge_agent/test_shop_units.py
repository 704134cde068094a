"""Units of the multi-device agent: each device's own threads, the state dir's layout and its
migration, which printer each device uses, ``status`` without a server, and log lines that name
their device. The end-to-end tests with a server: test_shop.py."""

from __future__ import annotations

import asyncio
import json
import logging
import sys
import threading
from pathlib import Path
from typing import Any

import pytest

from bridge_agent import credentials, lifecycle, shop, shop_runner
from bridge_agent.credentials import Credentials
from bridge_agent.device_log import CURRENT_DEVICE, DeviceLabel, DeviceLogFilter
from bridge_agent.json_logs import JsonLogFormatter
from bridge_agent.spool import Journal, Stage
from bridge_agent.workers import DEVICE_THREADS, DaemonThreadPool, run_blocking
from tests.bridge_agent.agent_cli import AgentProcess, cli, one_line
from tests.servers import free_port

WAIT_S = 10.0
TOKEN = "prd_never-shown-0123456789abcdef"


def creds(device_id: str, name: str, printer: str | None = None, **kw: Any) -> Credentials:
    server = kw.pop("server", "http://127.0.0.1:9")
    return Credentials(server, TOKEN, device_id, name, printer=printer, **kw)


async def test_a_device_whose_calls_never_return_leaves_the_others_threads_free() -> None:
    """Forty calls stuck on one device (more than asyncio's default executor has threads, 32
    at most): another device's call still runs at once, on its own threads."""
    gate = threading.Event()
    stuck_pool, free_pool = DaemonThreadPool("device-stuck"), DaemonThreadPool("device-free")

    async def on_device(pool: DaemonThreadPool, label: str, calls: int) -> list[Any]:
        DEVICE_THREADS.set(pool)
        CURRENT_DEVICE.set(DeviceLabel(label, label))

        def call() -> tuple[str, str | None]:
            if label == "stuck":
                gate.wait(WAIT_S * 3)
            device = CURRENT_DEVICE.get()
            return threading.current_thread().name, device.name if device else None

        return await asyncio.gather(*(run_blocking(call) for _ in range(calls)))

    stuck = asyncio.create_task(on_device(stuck_pool, "stuck", 40))
    try:
        await asyncio.sleep(0.1)
        free = await asyncio.wait_for(on_device(free_pool, "free", 3), WAIT_S)
        assert not stuck.done()
        assert all(thread.startswith("device-free-") and name == "free" for thread, name in free)
    finally:
        gate.set()
        await asyncio.wait_for(stuck, WAIT_S)
        stuck_pool.shutdown()
        free_pool.shutdown()


def _old_state_dir(state_dir: Path) -> Credentials:
    old = creds("3f1c0a52-0000-4000-8000-000000000001", "till")
    credentials.save(state_dir, old)
    journal = Journal(state_dir)

    async def record() -> None:
        await journal.record("job-printed", Stage.PRINTED, outcome="printed")
        await journal.record("job-claimed", Stage.CLAIMED)

    asyncio.run(record())
    journal.close()
    return old


def _unfinished(directory: Path) -> list[tuple[str, Stage]]:
    journal = Journal(directory)
    try:
        return [(e.job_id, e.stage) for e in asyncio.run(journal.unfinished())]
    finally:
        journal.close()


def test_the_old_layout_moves_into_a_device_directory_and_keeps_every_journal_entry(
    tmp_path: Path, monkeypatch: pytest.MonkeyPatch
) -> None:
    old = _old_state_dir(tmp_path)
    target = shop.device_dir(tmp_path, old.device_id)

    # Cut short after the journal moved, before the credentials were written in their new place.
    def power_cut(*_: object) -> Path:
        raise OSError("power cut")

    monkeypatch.setattr(credentials, "save", power_cut)
    with pytest.raises(OSError, match="power cut"):
        shop.migrate_root_device(tmp_path)
    monkeypatch.undo()
    assert (tmp_path / "credentials.json").exists()  # the token is still where it was
    devices, _ = shop.paired_devices(tmp_path)
    assert [d.creds for d in devices] == [old]

    moved = shop.migrate_root_device(tmp_path)  # the next start finishes it
    assert moved == shop.PairedDevice(target, old)
    assert not (tmp_path / "credentials.json").exists()
    assert not list(tmp_path.glob("journal.sqlite3*"))
    assert credentials.load(target) == old
    assert _unfinished(target) == [("job-printed", Stage.PRINTED), ("job-claimed", Stage.CLAIMED)]
    assert shop.migrate_root_device(tmp_path) is None  # nothing left to move
    assert shop.paired_devices(tmp_path) == ([shop.PairedDevice(target, old)], [])


def test_each_device_prints_on_its_own_printer_else_on_runs(tmp_path: Path) -> None:
    own = shop.PairedDevice(tmp_path / "a", creds("a", "bar", "tcp://10.0.0.5:9100"))
    bare = shop.PairedDevice(tmp_path / "b", creds("b", "kitchen"))
    wrong = shop.PairedDevice(tmp_path / "c", creds("c", "till", "lpt://1"))
    served, unserved = shop_runner.plan([own, bare, wrong], "file:///dev/usb/lp0")
    assert [(s.device.creds.name, s.printer) for s in served] == [
        ("bar", "tcp://10.0.0.5:9100"),  # its own wins over run's --printer
        ("kitchen", "file:///dev/usb/lp0"),
    ]
    assert list(unserved) == ["c"] and "till (c)" in unserved["c"]
    served, unserved = shop_runner.plan([own, bare], None)
    assert [s.device.creds.name for s in served] == ["bar"]
    assert "kitchen (b) has no printer" in unserved["b"]


def test_status_lists_the_stored_devices_with_no_agent_and_never_a_token(tmp_path: Path) -> None:
    location = "6b1e6c3c-0000-4000-8000-00000000000a"
    shop.save_device(tmp_path, creds("d-1", "bar-pc", "tcp://10.0.0.5:9100", location_id=location))
    shop.save_device(tmp_path, creds("d-2", "kitchen-pc", station_id="st-1", location_id=location))
    text = cli("status", "--state-dir", str(tmp_path))
    assert text.returncode == 0, text.stderr
    assert text.stdout.startswith(f"agent: not running, state dir {tmp_path}\n")
    assert "bar-pc  (d-1)" in text.stdout and "kitchen-pc  (d-2)" in text.stdout
    assert "printer     tcp://10.0.0.5:9100 (from pair)" in text.stdout
    assert "printer     none: give run --printer" in text.stdout
    assert "station     st-1" in text.stdout and "last job    none yet" in text.stdout
    report = json.loads(cli("status", "--json", "--state-dir", str(tmp_path)).stdout)
    assert [d["name"] for d in report["devices"]] == ["bar-pc", "kitchen-pc"]
    assert report["agent"] == {"running": False, "pid": None}
    assert TOKEN not in text.stdout + json.dumps(report)

    lock = lifecycle.StateDirLock(tmp_path)  # as a running agent holds it
    lock.acquire()
    try:
        running = cli("status", "--state-dir", str(tmp_path))
    finally:
        lock.release()
    assert running.stdout.startswith("agent: running (pid ")
    assert "connection  starting" in running.stdout

    empty = cli("status", "--state-dir", str(tmp_path / "nowhere"))
    assert "agent: not running" in empty.stdout and "no device paired here" in empty.stdout
    assert not (tmp_path / "nowhere").exists()  # status changes nothing


def test_a_device_without_a_printer_is_named_and_the_others_still_run(tmp_path: Path) -> None:
    server = f"http://127.0.0.1:{free_port()}"  # no server: the devices keep reconnecting
    shop.save_device(tmp_path, creds("d-1", "bar-pc", "file:///dev/null", server=server))
    shop.save_device(tmp_path, creds("d-2", "kitchen-pc", server=server))
    argv = [sys.executable, "-m", "bridge_agent.cli", "run", "--state-dir", str(tmp_path)]
    agent = AgentProcess(tmp_path / "agent.log", argv)
    try:
        agent.wait_for_line("not served: kitchen-pc (d-2) has no printer")
        agent.wait_for_line("[bar-pc d-1] connection: disconnected -> connecting")
        report = json.loads(cli("status", "--json", "--state-dir", str(tmp_path)).stdout)
        kitchen = next(d for d in report["devices"] if d["name"] == "kitchen-pc")
        assert "has no printer" in kitchen["problem"]
        assert kitchen["connection"] == "not served"
        assert agent.stop() == 0
    finally:
        agent.kill()

    (tmp_path / "devices" / "d-1").joinpath("credentials.json").unlink()
    alone = cli("run", "--state-dir", str(tmp_path))
    assert alone.returncode == 2
    assert "no device can print: kitchen-pc (d-2) has no printer" in one_line(alone.stderr)


def test_log_lines_name_their_device_in_text_and_json() -> None:
    record = logging.LogRecord(
        "bridge_agent.runner", logging.INFO, "", 0, "claimed job %s", ("j",), None
    )
    token = CURRENT_DEVICE.set(DeviceLabel("0123456789ab", "bar-pc"))
    try:
        assert DeviceLogFilter().filter(record)
    finally:
        CURRENT_DEVICE.reset(token)
    assert record.device_tag == "[bar-pc 01234567] "  # type: ignore[attr-defined]
    line = json.loads(JsonLogFormatter().format(record))
    assert line["device_id"] == "0123456789ab" and line["device"] == "bar-pc 01234567"
    outside = logging.LogRecord("x", logging.INFO, "", 0, "no device", (), None)
    DeviceLogFilter().filter(outside)
    assert outside.device_tag == ""  # type: ignore[attr-defined]
    assert "device_id" not in json.loads(JsonLogFormatter().format(outside))


def test_a_device_that_fails_is_restarted_alone_and_status_says_so(tmp_path: Path) -> None:
    server = f"http://127.0.0.1:{free_port()}"
    shop.save_device(tmp_path, creds("d-1", "bar-pc", "file:///dev/null", server=server))
    broken = shop.save_device(
        tmp_path, creds("d-2", "kitchen-pc", "file:///dev/null", server=server)
    )
    (broken.parent / "journal.sqlite3").mkdir()  # its journal cannot be opened
    argv = [sys.executable, "-m", "bridge_agent.cli", "run", "--state-dir", str(tmp_path)]
    agent = AgentProcess(tmp_path / "agent.log", argv)
    try:
        agent.wait_for_line("[kitchen-pc d-2] device stopped by an error; restarting it in 5 s")
        agent.wait_for_line("[bar-pc d-1] connection: disconnected -> connecting")
        report = json.loads(cli("status", "--json", "--state-dir", str(tmp_path)).stdout)
        kitchen = next(d for d in report["devices"] if d["name"] == "kitchen-pc")
        assert kitchen["problem"] == "stopped by an error; restarting"
        assert agent.stop() == 0
    finally:
        agent.kill()


def test_pair_refuses_a_printer_url_it_cannot_use_before_spending_the_code(
    tmp_path: Path,
) -> None:
    server = f"http://127.0.0.1:{free_port()}"  # nothing listens: had it tried, exit 5
    args = ["pair", "--server", server, "--code", "ABCD-EFGH", "--printer", "lpt://1"]
    proc = cli(*args, "--state-dir", str(tmp_path))
    assert proc.returncode == 2
    assert "lpt://1" in one_line(proc.stderr)
    assert not (tmp_path / "devices").exists()
