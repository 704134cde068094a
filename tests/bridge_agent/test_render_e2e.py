"""The issue's promise for ``render?format=escpos``: its bytes are the bytes a real agent process
wrote to a TCP printer on loopback for the same job (the printer simulator keeps the DLE EOT
status queries the transport sends around a job out of ``received``)."""

from __future__ import annotations

import base64
from pathlib import Path
from typing import Any

import pytest

from tests.agents import TERMINAL, paired_station_bridge, start_agent, stop_agent, wait_status
from tests.bridge_agent.printer_sim import PrinterSimulator
from tests.bridge_agent.tickets import KITCHEN_TICKET, RECEIPT, SCRIPTS_TICKET
from tests.world import Tenant, World

pytestmark = pytest.mark.slow

RAW_BYTES = b"\x1b@RAW \xa5 TICKET\n\x1dV\x00"


async def _printed_and_rendered(
    rest: World, tenant: Tenant, printer: PrinterSimulator, job: dict[str, Any]
) -> tuple[bytes, bytes]:
    """What the printer received for ``job`` (printed by the running agent) and what the render
    endpoint answers for it."""
    done = await wait_status(rest, tenant, job["id"], TERMINAL)
    assert done["status"] == "printed", done
    r = await rest.client.get(
        f"/v1/print-jobs/{job['id']}/render", params={"format": "escpos"}, headers=tenant.pos
    )
    assert r.status_code == 200, r.text
    printed = await printer.wait_for_bytes(len(r.content), timeout=5)
    return printed, r.content


@pytest.mark.usefixtures("script_fonts")  # 拉面 and issue 20's ticket print as pictures
async def test_render_escpos_is_what_the_agent_sent_to_the_printer(
    server: str, rest: World, printer: PrinterSimulator, tmp_path: Path
) -> None:
    tenant, location, station = await paired_station_bridge(rest, server, tmp_path)
    agent = start_agent(tmp_path, printer.url)
    try:
        bodies: list[dict[str, Any]] = [
            {"document": KITCHEN_TICKET, "drawer_pulse": True},
            {"document": RECEIPT},
            {"document": SCRIPTS_TICKET},
            {"raw": {"encoding": "base64", "data": base64.b64encode(RAW_BYTES).decode()}},
        ]
        for body in bodies:  # one at a time, so the printer holds one job's bytes
            job = await tenant.job(location, station, **body)
            printed, rendered = await _printed_and_rendered(rest, tenant, printer, job)
            assert rendered, job
            assert printed == rendered, job["id"]
            if body.get("document") is SCRIPTS_TICKET:  # three dishes, three picture lines
                assert printed.count(b"\x1dv0") == 3 and b"?" not in printed.split(b"\x1dv0")[0]
            printer.clear()
    finally:
        assert stop_agent(agent) == 0
    assert printer.received == b""  # nothing printed twice after the last comparison
