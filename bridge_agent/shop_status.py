"""``printrelay-bridge status``: the devices paired in a state dir and, while an agent serves
them, what it sees (from each device's status file, which the running agent rewrites on every
change). Reads only; never shows a token."""

from __future__ import annotations

import json
from pathlib import Path
from typing import Any

from bridge_agent import lifecycle, shop


def collect(state_dir: Path) -> dict[str, Any]:
    pid = lifecycle.StateDirLock(state_dir).holder() if state_dir.is_dir() else None
    devices, problems = shop.paired_devices(state_dir)
    return {
        "state_dir": str(state_dir),
        "agent": {"running": pid is not None, "pid": pid or None},
        "devices": [_device(d, pid) for d in devices],
        "problems": [str(p) for p in problems],
    }


def _device(device: shop.PairedDevice, agent_pid: int | None) -> dict[str, Any]:
    creds = device.creds
    status = shop.read_status(device.directory) or {}
    # Live only when written by the agent running now (pid 0: its pid is unknown, Windows).
    live = agent_pid is not None and agent_pid in (0, status.get("pid"))
    stored = creds.printer
    return {
        "name": creds.name,
        "device_id": creds.device_id,
        "server": creds.server,
        "location_id": creds.location_id,
        "station_id": creds.station_id,
        "printer": stored or (status.get("printer") if live else None),
        "printer_from": "pair" if stored else ("run" if live and status.get("printer") else None),
        "connection": status.get("connection") if live else None,
        "printer_state": status.get("printer_state") if live else None,
        "printer_cause": status.get("printer_cause") if live else None,
        "problem": status.get("problem") if live else None,
        "last_job": status.get("last_job"),  # kept from an earlier run too
        "status_at": status.get("updated_at") if live else None,
    }


def render_text(report: dict[str, Any]) -> str:
    agent = report["agent"]
    if agent["running"]:
        pid = f" (pid {agent['pid']})" if agent["pid"] else ""
        head = f"agent: running{pid}, state dir {report['state_dir']}"
    else:
        head = f"agent: not running, state dir {report['state_dir']}"
    lines = [head]
    if not report["devices"]:
        lines.append("no device paired here; run 'printrelay-bridge pair'")
    for d in report["devices"]:
        lines += ["", f"{d['name']}  ({d['device_id']})", f"  server      {d['server']}"]
        if d["station_id"]:
            lines.append(f"  station     {d['station_id']} (location {d['location_id']})")
        elif d["location_id"]:
            lines.append(f"  location    {d['location_id']} (a location bridge)")
        printer = d["printer"] or "none: give run --printer"
        source = {"pair": " (from pair)", "run": " (from run --printer)"}.get(d["printer_from"], "")
        lines.append(f"  printer     {printer}{source}")
        if agent["running"]:
            state = d["printer_state"] or "not checked yet"
            cause = f" ({d['printer_cause']})" if d["printer_cause"] else ""
            lines.append(f"  connection  {d['connection'] or 'starting'}")
            lines.append(f"  printer is  {state}{cause}")
            if d["problem"]:
                lines.append(f"  problem     {d['problem']}")
        job = d["last_job"]
        if job:
            lines.append(f"  last job    {job['id']} {job['status']} at {job['at']}")
        else:
            lines.append("  last job    none yet")
    lines += [f"problem: {p}" for p in report["problems"]]
    return "\n".join(lines) + "\n"


def render_json(report: dict[str, Any]) -> str:
    return json.dumps(report, indent=2) + "\n"
