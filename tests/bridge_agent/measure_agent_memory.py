"""The agent's idle memory with 1 and with 3 devices: a real server, real agent processes, TCP
printers on loopback. Not a test: ``python -m tests.bridge_agent.measure_agent_memory``.

For each count: a fresh state dir, that many stations paired through the CLI (each with its
own printer), one ``run`` with the default status interval, every device online, then
``IDLE_S`` idle; prints VmRSS and VmHWM of the agent (``/proc/PID/status``), several rounds.
``--code-dir DIR`` runs the agent from another checkout (its one-device agent: ``--printer``).
"""

from __future__ import annotations

import argparse
import asyncio
import os
import subprocess
import sys
import tempfile
from pathlib import Path

import httpx

from tests.agents import pair_with_cli
from tests.bridge_agent.printer_sim import PrinterSimulator
from tests.servers import running_server
from tests.world import World

IDLE_S = 15.0
ROUNDS = 3


def memory_kb(pid: int) -> dict[str, int]:
    fields = {}
    for line in Path(f"/proc/{pid}/status").read_text().splitlines():
        key, _, value = line.partition(":")
        if key in ("VmRSS", "VmHWM"):
            fields[key] = int(value.split()[0])
    return fields


async def measure(server: str, devices: int, code_dir: str | None, work: Path) -> dict[str, int]:
    async with httpx.AsyncClient(base_url=server, timeout=30) as client:
        world = World(client, app=None)
        tenant = await world.tenant()
        location = await tenant.location()
        printers = [PrinterSimulator() for _ in range(devices)]
        for sim in printers:
            await sim.__aenter__()
        state_dir = Path(tempfile.mkdtemp(dir=work))
        try:
            for n, sim in enumerate(printers):
                station = await tenant.station(location, f"S{n}", 80)
                code = await tenant.pairing_code(location, station)
                if code_dir:  # an older agent: one device, its printer given to run
                    await asyncio.to_thread(pair_old, code_dir, server, code, state_dir)
                else:
                    await asyncio.to_thread(
                        pair_with_cli, server, code, state_dir, f"pc-{n}", sim.url
                    )
            argv = [sys.executable, "-m", "bridge_agent.cli", "run", "--state-dir", str(state_dir)]
            if code_dir:
                argv += ["--printer", printers[0].url]
            env = {k: v for k, v in os.environ.items() if not k.startswith("PRINTRELAY_")}
            if code_dir:
                env["PYTHONPATH"] = code_dir
            agent = start(argv, env, state_dir / "agent.log")
            try:
                for _ in range(300):
                    items = (await client.get("/v1/devices", headers=tenant.manager)).json()
                    if sum(d["online"] for d in items["items"]) == devices:
                        break
                    await asyncio.sleep(0.1)
                else:
                    raise RuntimeError((state_dir / "agent.log").read_text()[-2000:])
                await asyncio.sleep(IDLE_S)
                return memory_kb(agent.pid)
            finally:
                agent.terminate()
                agent.wait(timeout=30)
        finally:
            for sim in printers:
                await sim.__aexit__(None, None, None)


def start(argv: list[str], env: dict[str, str], log_path: Path) -> subprocess.Popen[bytes]:
    with open(log_path, "wb") as log:
        return subprocess.Popen(argv, stdout=log, stderr=subprocess.STDOUT, env=env)


def pair_old(code_dir: str, server: str, code: str, state_dir: Path) -> None:
    env = {k: v for k, v in os.environ.items() if not k.startswith("PRINTRELAY_")}
    env["PYTHONPATH"] = code_dir
    argv = [sys.executable, "-m", "bridge_agent.cli", "pair", "--server", server, "--code", code]
    subprocess.run([*argv, "--state-dir", str(state_dir)], check=True, env=env, cwd=code_dir)


async def main_async(args: argparse.Namespace) -> None:
    with tempfile.TemporaryDirectory() as tmp:
        work = Path(tmp)
        env = {"PRINTRELAY_PAIRING_RATE_LIMIT": "10000"}
        with running_server(f"sqlite:///{work / 'srv.db'}", cwd=work, extra_env=env) as server:
            counts = (1,) if args.code_dir else (1, 3)
            for _ in range(args.rounds):
                for devices in counts:
                    kb = await measure(server, devices, args.code_dir, work)
                    print(
                        f"{devices} device(s): RSS {kb['VmRSS'] / 1024:.1f} MB,"
                        f" peak {kb['VmHWM'] / 1024:.1f} MB",
                        flush=True,
                    )


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__)
    parser.add_argument("--rounds", type=int, default=ROUNDS)
    parser.add_argument("--code-dir", help="run the agent from this checkout instead")
    asyncio.run(main_async(parser.parse_args()))


if __name__ == "__main__":
    main()
