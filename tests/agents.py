"""Real agent processes for end-to-end and fault tests, driven through the agent's own CLI."""

from __future__ import annotations

import asyncio
import os
import signal
import stat
import subprocess
import sys
from collections.abc import Sequence
from pathlib import Path
from typing import Any

from tests.world import Tenant, World

AGENT_STATUS_INTERVAL_S = "0.3"
WAIT_S = 30.0
TERMINAL = {"printed", "failed", "unconfirmed", "expired", "canceled"}


def _agent_env(crash_at: str | None = None) -> dict[str, str]:
    env = {k: v for k, v in os.environ.items() if not k.startswith("PRINTRELAY_")}
    if crash_at:
        env["PRINTRELAY_BRIDGE_CRASH_AT"] = crash_at
    return env


def pair_with_cli(
    server: str, code: str, state_dir: Path, name: str = "kitchen-pc", printer: str | None = None
) -> Path:
    """Pairs through the CLI; the new device's directory (``devices/<id>``)."""
    before = set(state_dir.glob("devices/*"))
    proc = subprocess.run(
        [
            sys.executable,
            "-m",
            "bridge_agent.cli",
            "pair",
            "--server",
            server,
            "--code",
            code,
            "--name",
            name,
            "--state-dir",
            str(state_dir),
            *(["--printer", printer] if printer else []),
        ],
        capture_output=True,
        text=True,
        timeout=60,
        env=_agent_env(),
    )
    assert proc.returncode == 0, proc.stderr
    assert f"paired as {name}" in proc.stdout
    (device_dir,) = set(state_dir.glob("devices/*")) - before
    creds = device_dir / "credentials.json"
    assert stat.S_IMODE(creds.stat().st_mode) == 0o600
    assert stat.S_IMODE(device_dir.stat().st_mode) == 0o700
    return device_dir


def credentials_files(state_dir: Path) -> list[Path]:
    """Every device's credentials in the state dir (either layout)."""
    return sorted(state_dir.glob("**/credentials.json"))


def start_agent(
    state_dir: Path,
    printer_url: str | None,
    crash_at: str | None = None,
    heartbeat_interval_s: float | None = None,
    launcher: Sequence[str] = (),
    extra_args: Sequence[str] = (),
) -> subprocess.Popen[bytes]:
    """The agent as a child process, its output in ``agent.log``; ``launcher``: a module (and
    its arguments) that runs ``bridge_agent.cli`` for it (tests/bridge_agent/skewed_clock.py)."""
    log = open(state_dir / "agent.log", "ab")  # noqa: SIM115 (closed with the process)
    return subprocess.Popen(
        [
            sys.executable,
            "-m",
            *launcher,
            "bridge_agent.cli",
            "run",
            *(["--printer", printer_url] if printer_url else []),
            "--state-dir",
            str(state_dir),
            "--status-interval",
            AGENT_STATUS_INTERVAL_S,
            *(["--heartbeat-interval", str(heartbeat_interval_s)] if heartbeat_interval_s else []),
            *extra_args,
        ],
        stdout=log,
        stderr=subprocess.STDOUT,
        env=_agent_env(crash_at),
    )


def stop_agent(proc: subprocess.Popen[bytes]) -> int:
    if proc.poll() is None:
        proc.send_signal(signal.SIGTERM)
        try:
            proc.wait(timeout=15)
        except subprocess.TimeoutExpired:
            proc.kill()
            proc.wait()
    return proc.returncode


async def wait_status(rest: World, tenant: Tenant, job_id: str, want: set[str]) -> dict[str, Any]:
    deadline = asyncio.get_running_loop().time() + WAIT_S
    while True:
        job: dict[str, Any] = (
            await rest.client.get(f"/v1/print-jobs/{job_id}", headers=tenant.manager)
        ).json()
        if job["status"] in want:
            return job
        if asyncio.get_running_loop().time() > deadline:
            raise AssertionError(f"job stayed {job['status']}, wanted {want}")
        await asyncio.sleep(0.1)


async def paired_station_bridge(
    world: World, server: str, state_dir: Path
) -> tuple[Tenant, str, str]:
    """A new tenant with a location and an 80 mm station, and an agent state dir paired to
    that station through the agent's own CLI (which creates the dir, mode 0700)."""
    tenant = await world.tenant()
    location = await tenant.location()
    station = await tenant.station(location, "COCINA", 80)
    pair_with_cli(server, await tenant.pairing_code(location, station), state_dir)
    return tenant, location, station
