"""One agent process serving a shop: several devices paired into one state dir, each printing on
its own TCP printer on loopback, against a real server."""

from __future__ import annotations

import asyncio
import json
import os
import shutil
import subprocess
import sys
from pathlib import Path
from typing import Any

import pytest

from bridge_agent import shop_runner
from bridge_agent.render import render_job
from tests.agents import (
    TERMINAL,
    WAIT_S,
    credentials_files,
    pair_with_cli,
    start_agent,
    stop_agent,
    wait_status,
)
from tests.bridge_agent.agent_cli import UNCLEAN, agent_env
from tests.bridge_agent.printer_sim import PrinterSimulator
from tests.bridge_agent.test_e2e import WRAPPING_TICKET, _printed_tickets
from tests.world import DOCUMENT, Tenant, World

pytestmark = pytest.mark.slow


def status_of(state_dir: Path) -> dict[str, Any]:
    proc = subprocess.run(
        [
            sys.executable,
            "-m",
            "bridge_agent.cli",
            "status",
            "--json",
            "--state-dir",
            str(state_dir),
        ],
        capture_output=True,
        text=True,
        timeout=60,
        env=agent_env(),
    )
    assert proc.returncode == 0, proc.stderr
    report: dict[str, Any] = json.loads(proc.stdout)
    return report


def agent_log(state_dir: Path) -> str:
    return (state_dir / "agent.log").read_text(errors="replace")


def assert_stopped_cleanly(state_dir: Path) -> None:
    """Every device closed its socket and sessions: nothing left for finalizers to complain of."""
    log = agent_log(state_dir)
    assert log.rstrip().endswith(" stopped") and not any(text in log for text in UNCLEAN), log


async def wait_for_log(state_dir: Path, text: str) -> None:
    for _ in range(int(WAIT_S / 0.05)):
        if text in await asyncio.to_thread(agent_log, state_dir):
            return
        await asyncio.sleep(0.05)
    raise AssertionError(f"no {text!r} in the agent's log:\n{agent_log(state_dir)[-3000:]}")


async def wait_online(rest: World, tenant: Tenant, count: int) -> list[dict[str, Any]]:
    for _ in range(int(WAIT_S / 0.1)):
        items = (await rest.client.get("/v1/devices", headers=tenant.manager)).json()["items"]
        if sum(d["online"] for d in items) == count:
            return list(items)
        await asyncio.sleep(0.1)
    raise AssertionError(f"not {count} devices online")


async def job_status(rest: World, tenant: Tenant, job_id: str) -> str:
    job = (await rest.client.get(f"/v1/print-jobs/{job_id}", headers=tenant.manager)).json()
    return str(job["status"])


def ticket(name: str) -> dict[str, Any]:
    return {"blocks": [{"type": "text", "text": f"{name} ticket"}, *WRAPPING_TICKET["blocks"]]}


async def test_two_devices_print_each_stations_tickets_on_its_own_printer_at_its_width(
    server: str, rest: World, tmp_path: Path
) -> None:
    tenant = await rest.tenant()
    location = await tenant.location()
    stations = {"BAR": await tenant.station(location, "BAR", 58)}
    stations["COCINA"] = await tenant.station(location, "COCINA", 80)
    async with PrinterSimulator() as bar_printer, PrinterSimulator() as kitchen_printer:
        printers = {"BAR": bar_printer, "COCINA": kitchen_printer}
        dirs = {
            name: pair_with_cli(
                server,
                await tenant.pairing_code(location, stations[name]),
                tmp_path,
                name=f"{name.lower()}-pc",
                printer=printers[name].url,
            )
            for name in printers
        }
        agent = start_agent(tmp_path, None)  # no --printer: each device has its own
        try:
            await wait_online(rest, tenant, 2)
            jobs = {
                name: await tenant.job(location, stations[name], document=ticket(name))
                for name in printers
            }
            done = {n: await wait_status(rest, tenant, j["id"], TERMINAL) for n, j in jobs.items()}
            assert {j["status"] for j in done.values()} == {"printed"}, agent_log(tmp_path)
            for name, printer in printers.items():
                await printer.wait_for_bytes(len(render_job(done[name])), timeout=5)
            report = await asyncio.to_thread(status_of, tmp_path)

            # Pairing into the state dir of a running agent: stored, and it says when it serves.
            code = await tenant.pairing_code(location)
            late = await asyncio.to_thread(
                subprocess.run,
                [
                    *[sys.executable, "-m", "bridge_agent.cli", "pair", "--server", server],
                    *["--code", code, "--name", "late", "--state-dir", str(tmp_path)],
                ],
                capture_output=True,
                text=True,
                env=agent_env(),
            )
            assert late.returncode == 0, late.stderr
            assert (
                f"the running agent (pid {agent.pid}) starts serving it within a few seconds"
                in late.stdout
            )
            # Picked up; with no printer of its own and no run --printer, named and not served.
            await wait_for_log(tmp_path, "not served: late (")
            late_report = await asyncio.to_thread(status_of, tmp_path)
            late_live = next(d for d in late_report["devices"] if d["name"] == "late")
            assert late_live["connection"] == "not served" and "no printer" in late_live["problem"]
        finally:
            assert stop_agent(agent) == 0, agent_log(tmp_path)
    assert_stopped_cleanly(tmp_path)

    for name, printer in printers.items():
        tickets = _printed_tickets(printer.received)
        assert set(tickets) == {name}, printer.received  # its own station's ticket only
        columns = 32 if name == "BAR" else 42
        lines = tickets[name]
        assert max(len(line) for line in lines) == columns, (name, lines)
        assert lines[-1].endswith("19.00") and len(lines[-1]) == columns, (name, lines)
        assert printer.received == render_job(done[name])

    # status: each device, its printer, its live states and its last job; never a token.
    assert report["agent"] == {"running": True, "pid": agent.pid}
    by_name = {d["name"]: d for d in report["devices"]}
    assert set(by_name) == {"bar-pc", "cocina-pc"}
    for name in printers:
        device = by_name[f"{name.lower()}-pc"]
        assert device["device_id"] == dirs[name].name
        assert device["station_id"] == stations[name] and device["location_id"] == location
        assert device["printer"] == printers[name].url and device["printer_from"] == "pair"
        assert device["connection"] == "owner" and device["printer_state"] == "online"
        assert device["last_job"]["id"] == jobs[name]["id"]
        assert device["last_job"]["status"] == "printed"
    tokens = stored_tokens(tmp_path)
    shown = json.dumps(report) + agent_log(tmp_path)
    assert len(tokens) == 3 and not any(token in shown for token in tokens)

    # Every line about one device names it: each printed job's line names its own device.
    for name, job in jobs.items():
        lines = [line for line in agent_log(tmp_path).splitlines() if job["id"] in line]
        assert lines and all(f"[{name.lower()}-pc {dirs[name].name[:8]}]" in x for x in lines)

    # Stopped: status still lists the devices, says the agent is not running, keeps the last job.
    stopped = status_of(tmp_path)
    assert stopped["agent"] == {"running": False, "pid": None}
    assert len(stopped["devices"]) == 3
    late_device = next(d for d in stopped["devices"] if d["name"] == "late")
    assert late_device["printer"] is None and late_device["last_job"] is None
    bar = next(d for d in stopped["devices"] if d["name"] == "bar-pc")
    assert bar["connection"] is None and bar["last_job"]["id"] == jobs["BAR"]["id"]


def assert_printed_alone_at(
    printer: PrinterSimulator, job: dict[str, Any], name: str, columns: int
) -> None:
    """The printer received this job (``ticket(name)``) only, at its station's width."""
    assert printer.received == render_job(job)
    lines = _printed_tickets(printer.received)[name]
    assert max(len(line) for line in lines) == columns, lines
    assert lines[-1].endswith("19.00") and len(lines[-1]) == columns, lines


async def test_a_device_paired_while_the_agent_runs_prints_without_a_restart(
    server: str, rest: World, tmp_path: Path
) -> None:
    """An agent serving one device; a second is paired into its state dir and prints on its own
    printer at its width, the agent never restarted. A third device's credentials arrive half
    written (as a careless copy leaves them): named once in the log, the agent carries on, and
    once the file is whole that device is served too."""
    tenant = await rest.tenant()
    location = await tenant.location()
    stations = {name: await tenant.station(location, name, 58) for name in ("BAR", "TERRAZA")}
    stations["COCINA"] = await tenant.station(location, "COCINA", 80)
    async with (
        PrinterSimulator() as bar_printer,
        PrinterSimulator() as kitchen_printer,
        PrinterSimulator() as terrace_printer,
    ):

        async def pairing_code(name: str) -> str:
            return await tenant.pairing_code(location, stations[name])

        pair_with_cli(server, await pairing_code("BAR"), tmp_path, "bar", bar_printer.url)
        agent = start_agent(tmp_path, None)
        try:
            await wait_online(rest, tenant, 1)
            paired = await asyncio.to_thread(
                subprocess.run,
                [
                    *[sys.executable, "-m", "bridge_agent.cli", "pair", "--server", server],
                    *["--code", await pairing_code("COCINA"), "--name", "cocina"],
                    *["--printer", kitchen_printer.url, "--state-dir", str(tmp_path)],
                ],
                capture_output=True,
                text=True,
                env=agent_env(),
            )
            assert paired.returncode == 0, paired.stderr
            assert (
                f"the running agent (pid {agent.pid}) starts serving it within a few seconds"
                in paired.stdout
            )
            await wait_online(rest, tenant, 2)
            kitchen_job = await tenant.job(location, stations["COCINA"], document=ticket("COCINA"))
            kitchen_done = await wait_status(rest, tenant, kitchen_job["id"], TERMINAL)
            assert kitchen_done["status"] == "printed", agent_log(tmp_path)[-3000:]
            await kitchen_printer.wait_for_bytes(len(render_job(kitchen_done)), timeout=5)
            report = await asyncio.to_thread(status_of, tmp_path)

            # The third device's credentials, half written into the running agent's state dir.
            elsewhere = pair_with_cli(
                server,
                await pairing_code("TERRAZA"),
                tmp_path / "elsewhere",
                "terraza",
                terrace_printer.url,
            )
            whole = (elsewhere / "credentials.json").read_text()
            target = tmp_path / "devices" / elsewhere.name
            target.mkdir(mode=0o700)
            (target / "credentials.json").write_text(whole[: len(whole) // 2])
            await wait_for_log(tmp_path, f"cannot read {target / 'credentials.json'}")
            await asyncio.sleep(shop_runner.WATCH_S * 2.5)  # looked at again, not said again
            assert agent.poll() is None
            bar_job = await tenant.job(location, stations["BAR"], document=ticket("BAR"))
            bar_done = await wait_status(rest, tenant, bar_job["id"], TERMINAL)
            assert bar_done["status"] == "printed", agent_log(tmp_path)[-3000:]
            await bar_printer.wait_for_bytes(len(render_job(bar_done)), timeout=5)

            (target / "credentials.json").write_text(whole)
            await wait_online(rest, tenant, 3)
            terrace_job = await tenant.job(
                location, stations["TERRAZA"], document=ticket("TERRAZA")
            )
            terrace_done = await wait_status(rest, tenant, terrace_job["id"], TERMINAL)
            assert terrace_done["status"] == "printed", agent_log(tmp_path)[-3000:]
            await terrace_printer.wait_for_bytes(len(render_job(terrace_done)), timeout=5)
        finally:
            assert stop_agent(agent) == 0, agent_log(tmp_path)
    assert_stopped_cleanly(tmp_path)
    assert agent_log(tmp_path).count("cannot read") == 1, agent_log(tmp_path)

    assert_printed_alone_at(kitchen_printer, kitchen_done, "COCINA", 42)
    assert_printed_alone_at(bar_printer, bar_done, "BAR", 32)
    assert_printed_alone_at(terrace_printer, terrace_done, "TERRAZA", 32)

    # status showed the new device live, from the agent that picked it up.
    kitchen = next(d for d in report["devices"] if d["name"] == "cocina")
    assert kitchen["printer"] == kitchen_printer.url and kitchen["printer_from"] == "pair"
    assert kitchen["connection"] == "owner" and kitchen["printer_state"] == "online"
    assert kitchen["last_job"]["id"] == kitchen_job["id"]
    assert report["problems"] == []


async def test_a_dead_printer_on_one_device_delays_nothing_on_the_others(
    server: str, rest: World, printer: PrinterSimulator, tmp_path: Path, unanswered_port: int
) -> None:
    """Three devices in one agent: one printer never answers a connection (each status check
    waits out the connect timeout), one is a device node whose write never returns (a FIFO no
    one reads: the write blocks a worker thread for good), one works. The working one prints
    while the others' jobs are stuck, and SIGTERM still stops the agent cleanly."""
    tenant = await rest.tenant()
    location = await tenant.location()
    fifo = tmp_path / "hung-printer"
    os.mkfifo(fifo)
    printers = {
        "silent": f"tcp://127.0.0.1:{unanswered_port}",
        "hung": fifo.as_uri(),
        "good": printer.url,
    }
    stations = {}
    for name, url in printers.items():
        stations[name] = await tenant.station(location, name.upper(), 80)
        code = await tenant.pairing_code(location, stations[name])
        pair_with_cli(server, code, tmp_path, name=name, printer=url)
    agent = start_agent(tmp_path, None)
    try:
        await wait_online(rest, tenant, 3)
        silent = await tenant.job(location, stations["silent"], document=DOCUMENT)
        hung = await tenant.job(location, stations["hung"], document=DOCUMENT)
        await wait_for_log(tmp_path, f"printer {printers['silent']}: offline")
        await wait_status(rest, tenant, hung["id"], {"sent"})  # claimed: its write has begun
        await wait_for_log(tmp_path, f"] claimed job {hung['id']}")

        good = await tenant.job(location, stations["good"], document=DOCUMENT)
        done = await wait_status(rest, tenant, good["id"], TERMINAL)
        assert done["status"] == "printed", agent_log(tmp_path)[-3000:]
        await printer.wait_for_bytes(len(render_job(done)), timeout=5)
        assert await job_status(rest, tenant, hung["id"]) == "sent"  # still stuck, by itself
        assert await job_status(rest, tenant, silent["id"]) == "pending"  # held: printer offline

        report = await asyncio.to_thread(status_of, tmp_path)
        states = {d["name"]: d for d in report["devices"]}
        assert states["silent"]["printer_state"] == "offline"
        assert "no answer to the connection" in states["silent"]["printer_cause"]
        assert states["good"]["last_job"]["id"] == good["id"]
        assert states["hung"]["last_job"] == {
            "id": hung["id"],
            "status": "printing",
            "at": states["hung"]["last_job"]["at"],
        }
    finally:
        code = stop_agent(agent)
    assert code == 0, agent_log(tmp_path)[-3000:]
    assert_stopped_cleanly(tmp_path)


async def test_unpairing_one_device_stops_only_that_one(
    server: str, rest: World, tmp_path: Path
) -> None:
    tenant = await rest.tenant()
    location = await tenant.location()
    async with PrinterSimulator() as first_printer, PrinterSimulator() as second_printer:
        first_station = await tenant.station(location, "ONE", 80)
        second_station = await tenant.station(location, "TWO", 58)
        first = pair_with_cli(
            server, await tenant.pairing_code(location, first_station), tmp_path, name="one"
        )
        second = pair_with_cli(
            server,
            await tenant.pairing_code(location, second_station),
            tmp_path,
            name="two",
            printer=second_printer.url,
        )
        # "one" was paired without a printer: run's --printer is its printer.
        agent = start_agent(tmp_path, first_printer.url)
        try:
            await wait_online(rest, tenant, 2)
            r = await rest.client.delete(f"/v1/devices/{first.name}", headers=tenant.manager)
            assert r.status_code == 204
            await wait_for_log(tmp_path, "the server no longer accepts device one (unpaired)")
            assert agent.poll() is None  # the other device is still served
            assert credentials_files(tmp_path) == [second / "credentials.json"]
            job = await tenant.job(location, second_station, document=DOCUMENT)
            done = await wait_status(rest, tenant, job["id"], TERMINAL)
            assert done["status"] == "printed", agent_log(tmp_path)[-3000:]
            await second_printer.wait_for_bytes(len(render_job(done)), timeout=5)
            assert first_printer.received == b""

            r = await rest.client.delete(f"/v1/devices/{second.name}", headers=tenant.manager)
            assert r.status_code == 204
            code = await asyncio.wait_for(asyncio.to_thread(agent.wait), WAIT_S)
            assert code == 3, agent_log(tmp_path)[-3000:]  # no device left: as one device did
            assert credentials_files(tmp_path) == []
            assert "no device left to serve" in agent_log(tmp_path)
        finally:
            stop_agent(agent)


@pytest.mark.parametrize("crash_at", ["claim_acked", "claimed", "mid_write", "printed"])
async def test_two_devices_killed_mid_job_lose_nothing_and_never_print_twice(
    server: str, rest: World, tmp_path: Path, crash_at: str
) -> None:
    """The journal's crash tests (test_e2e) with two devices in one process: whichever device
    reaches the crash point first kills the process, the other is wherever it was. After a
    restart each job is settled by its own device's journal and token: printed once, or (cut
    off mid-write) failed and saying so."""
    tenant = await rest.tenant()
    location = await tenant.location()
    async with PrinterSimulator() as a, PrinterSimulator() as b:
        printers = {"A": a, "B": b}
        jobs = {}
        for name, sim in printers.items():
            station = await tenant.station(location, name, 80 if name == "A" else 58)
            code = await tenant.pairing_code(location, station)
            pair_with_cli(server, code, tmp_path, name=name, printer=sim.url)
            jobs[name] = await tenant.job(location, station, document=DOCUMENT)
        crashing = start_agent(tmp_path, None, crash_at=crash_at)
        try:
            await asyncio.wait_for(asyncio.to_thread(crashing.wait), WAIT_S)
        finally:
            stop_agent(crashing)
        assert crashing.returncode == 137, agent_log(tmp_path)[-3000:]

        restarted = start_agent(tmp_path, None)
        try:
            done = {n: await wait_status(rest, tenant, j["id"], TERMINAL) for n, j in jobs.items()}
        finally:
            stop_agent(restarted)

    final = "failed" if crash_at == "mid_write" else "printed"
    assert final in {job["status"] for job in done.values()}, agent_log(tmp_path)[-3000:]
    devices = {
        d["station_id"]: d["id"]
        for d in (await rest.client.get("/v1/devices", headers=tenant.manager)).json()["items"]
    }
    for name, job in done.items():
        full = render_job(job)
        received = printers[name].received
        assert job["claimed_by"] == devices[job["station_id"]]
        if job["status"] == "printed":
            assert received == full  # exactly once
        else:
            assert job["status"] == "failed", job
            assert job["error"].startswith("interrupted_while_printing")
            assert len(received) < len(full) and full.startswith(received)
        events = (
            await rest.client.get(f"/v1/print-jobs/{job['id']}/events", headers=tenant.manager)
        ).json()
        assert [e["to_status"] for e in events["items"]] == ["pending", "sent", job["status"]]


def stored_tokens(state_dir: Path) -> list[str]:
    return [json.loads(p.read_text())["token"] for p in credentials_files(state_dir)]


OLD_CREDENTIALS_FIELDS = ("server", "token", "device_id", "name")


def _to_old_layout(state_dir: Path, device_dir: Path, step: str) -> None:
    """What an older agent left (credentials and journal at the root), or what a migration cut
    short at ``step`` leaves."""
    stored = json.loads((device_dir / "credentials.json").read_text())
    old = {key: stored[key] for key in OLD_CREDENTIALS_FIELDS}
    (state_dir / "credentials.json").write_text(json.dumps(old))
    (state_dir / "credentials.json").chmod(0o600)
    for path in device_dir.glob("journal.sqlite3*"):
        path.rename(state_dir / path.name)
    assert (state_dir / "journal.sqlite3-wal").exists()  # killed: its last entries are there
    if step == "old":  # nothing moved yet
        shutil.rmtree(device_dir)
        return
    journal_files = sorted(p.name for p in state_dir.glob("journal.sqlite3*"))
    if step == "journal_moved":  # the journal is in its new place, the credentials are not
        for name in journal_files:
            (state_dir / name).rename(device_dir / name)
        (device_dir / "credentials.json").unlink()
    elif step == "both_copies":  # everything moved but the root's credentials not yet removed
        for name in journal_files:
            (state_dir / name).rename(device_dir / name)


@pytest.mark.parametrize("step", ["old", "journal_moved", "both_copies"])
async def test_a_state_dir_from_before_is_moved_without_losing_a_journal_entry(
    server: str, rest: World, printer: PrinterSimulator, tmp_path: Path, step: str
) -> None:
    """An agent died after printing a job, before reporting it; its state dir is in the old
    layout (or in a migration cut short). The next agent moves it and reports the job printed,
    with no second print."""
    tenant = await rest.tenant()
    location = await tenant.location()
    station = await tenant.station(location, "COCINA", 80)
    device_dir = pair_with_cli(server, await tenant.pairing_code(location, station), tmp_path)
    job = await tenant.job(location, station, document=DOCUMENT)
    crashing = start_agent(tmp_path, printer.url, crash_at="printed")
    try:
        await asyncio.wait_for(asyncio.to_thread(crashing.wait), WAIT_S)
    finally:
        stop_agent(crashing)
    assert crashing.returncode == 137
    _to_old_layout(tmp_path, device_dir, step)

    restarted = start_agent(tmp_path, printer.url)
    try:
        done = await wait_status(rest, tenant, job["id"], TERMINAL)
    finally:
        assert stop_agent(restarted) == 0
    assert done["status"] == "printed", agent_log(tmp_path)[-3000:]
    assert printer.received == render_job(done)  # once: the journal said it was printed
    _assert_moved(tmp_path, device_dir)


def _assert_moved(state_dir: Path, device_dir: Path) -> None:
    assert credentials_files(state_dir) == [device_dir / "credentials.json"]
    assert not list(state_dir.glob("journal.sqlite3*"))
    assert (device_dir / "journal.sqlite3").exists()
