"""End to end: a real server, the real agent process paired with its CLI, and a TCP printer on
loopback that records bytes and answers DLE EOT."""

from __future__ import annotations

import ast
import asyncio
from pathlib import Path

import pytest

from bridge_agent.render import render_job
from bridge_agent.transports import PrinterState
from tests.agents import (
    TERMINAL,
    WAIT_S,
    credentials_files,
    pair_with_cli,
    paired_station_bridge,
    start_agent,
    stop_agent,
    wait_status,
)
from tests.bridge_agent.escpos_listing import listing
from tests.bridge_agent.printer_sim import PrinterSimulator
from tests.world import DOCUMENT, World

pytestmark = pytest.mark.slow


async def test_a_document_prints_once_with_the_renderers_bytes(
    server: str, rest: World, printer: PrinterSimulator, tmp_path: Path
) -> None:
    tenant, location, station = await paired_station_bridge(rest, server, tmp_path)
    agent = start_agent(tmp_path, printer.url)
    try:
        job = await tenant.job(location, station, drawer_pulse=True, copies=2)
        done = await wait_status(rest, tenant, job["id"], TERMINAL)
        assert done["status"] == "printed", (tmp_path / "agent.log").read_text()[-3000:]
        expected = render_job(done, paper_width_mm=80)
        assert expected.count(b"\x1b\x70\x00\x19\xfa") == 1
        await printer.wait_for_bytes(len(expected), timeout=5)
        assert printer.received == expected

        # The printer goes down: the next job stays unclaimed until it is back, then prints once.
        await printer.stop()
        second = await tenant.job(
            location, station, document={"blocks": [{"type": "text", "text": "SECOND"}]}
        )
        await asyncio.sleep(2.0)
        waiting = (
            await rest.client.get(f"/v1/print-jobs/{second['id']}", headers=tenant.manager)
        ).json()
        assert waiting["status"] == "pending" and waiting["claimed_by"] is None
        await printer.start()
        done2 = await wait_status(rest, tenant, second["id"], TERMINAL)
        assert done2["status"] == "printed"
        second_bytes = render_job(done2, paper_width_mm=80)
        await printer.wait_for_bytes(len(expected) + len(second_bytes), timeout=5)
        assert printer.received == expected + second_bytes
    finally:
        assert stop_agent(agent) == 0


async def test_a_full_printer_holds_jobs_and_reports_its_state(
    server: str, rest: World, printer: PrinterSimulator, tmp_path: Path
) -> None:
    tenant, location, station = await paired_station_bridge(rest, server, tmp_path)
    printer.state = PrinterState.PAPER_OUT
    agent = start_agent(tmp_path, printer.url)
    try:
        job = await tenant.job(location, station)
        await asyncio.sleep(2.0)
        held = (await rest.client.get(f"/v1/print-jobs/{job['id']}", headers=tenant.manager)).json()
        assert held["status"] == "pending"
        assert printer.received == b""
        printer.state = PrinterState.ONLINE
        assert (await wait_status(rest, tenant, job["id"], TERMINAL))["status"] == "printed"
    finally:
        stop_agent(agent)


@pytest.mark.parametrize(
    ("crash_at", "final", "bytes_printed"),
    [
        ("claim_acked", "printed", "all"),  # claimed on the server, journal never saw it
        ("claimed", "printed", "all"),  # journaled as claimed, not one byte sent
        ("mid_write", "failed", "half"),  # died while writing: cannot know, says so
        ("printed", "printed", "all"),  # printed, died before reporting
    ],
)
async def test_an_agent_killed_mid_job_loses_nothing_and_never_prints_twice(
    server: str,
    rest: World,
    printer: PrinterSimulator,
    tmp_path: Path,
    crash_at: str,
    final: str,
    bytes_printed: str,
) -> None:
    tenant, location, station = await paired_station_bridge(rest, server, tmp_path)
    job = await tenant.job(location, station, document=DOCUMENT)
    crashing = start_agent(tmp_path, printer.url, crash_at=crash_at)
    try:
        await asyncio.wait_for(asyncio.to_thread(crashing.wait), WAIT_S)
    finally:
        stop_agent(crashing)
    assert crashing.returncode == 137, (tmp_path / "agent.log").read_text()[-3000:]

    restarted = start_agent(tmp_path, printer.url)
    try:
        done = await wait_status(rest, tenant, job["id"], TERMINAL)
    finally:
        stop_agent(restarted)
    full = render_job(done, paper_width_mm=80)
    assert done["status"] == final, (tmp_path / "agent.log").read_text()[-3000:]
    if bytes_printed == "all":
        assert printer.received == full  # exactly once
    else:
        assert printer.received == full[: len(full) // 2]
        assert done["error"].startswith("interrupted_while_printing")
    events = (
        await rest.client.get(f"/v1/print-jobs/{job['id']}/events", headers=tenant.manager)
    ).json()
    assert [e["to_status"] for e in events["items"]] == ["pending", "sent", final]


async def test_an_unpaired_agent_stops_for_good(
    server: str, rest: World, printer: PrinterSimulator, tmp_path: Path
) -> None:
    tenant, _, _ = await paired_station_bridge(rest, server, tmp_path)
    agent = start_agent(tmp_path, printer.url)
    try:
        device = (await rest.client.get("/v1/devices", headers=tenant.manager)).json()["items"][0]
        for _ in range(100):
            me = (await rest.client.get("/v1/devices", headers=tenant.manager)).json()["items"][0]
            if me["online"]:
                break
            await asyncio.sleep(0.1)
        r = await rest.client.delete(f"/v1/devices/{device['id']}", headers=tenant.manager)
        assert r.status_code == 204
        code = await asyncio.wait_for(asyncio.to_thread(agent.wait), WAIT_S)
        assert code == 3
        assert not credentials_files(tmp_path)
    finally:
        stop_agent(agent)


async def test_a_ticket_the_agent_cannot_render_is_reported_failed_not_left_hanging(
    server: str, rest: World, printer: PrinterSimulator, tmp_path: Path
) -> None:
    import base64
    import io

    from PIL import Image

    # A PNG whose header is whole and true (the server checks it) and whose picture data is
    # not a picture: the server accepts it, the renderer cannot decode it.
    buf = io.BytesIO()
    Image.new("1", (64, 64)).save(buf, format="PNG")
    corrupt = buf.getvalue()[:33] + b"\x00\x00\x00\x04IDATjunk\x00\x00\x00\x00"
    document = {"blocks": [{"type": "image", "png_base64": base64.b64encode(corrupt).decode()}]}
    tenant, location, station = await paired_station_bridge(rest, server, tmp_path)
    agent = start_agent(tmp_path, printer.url)
    try:
        job = await tenant.job(location, station, document=document)
        done = await wait_status(rest, tenant, job["id"], TERMINAL)
    finally:
        stop_agent(agent)
    assert done["status"] == "failed"
    assert done["error"].startswith("render_error")
    assert printer.received == b""


# Text that wraps on either paper, and a row whose price goes flush right: its last line is
# exactly as wide as the paper's columns.
WRAPPING_TICKET = {
    "blocks": [
        {"type": "text", "text": "Sin cebolla, sin tomate, con la salsa aparte y el pan sin"
         " gluten, por favor, gracias"},
        {"type": "row", "left": "2x Hamburguesa doble con queso y bacon extra", "right": "19.00"},
        {"type": "cut"},
    ]
}  # fmt: skip


def _printed_tickets(data: bytes) -> dict[str, list[str]]:
    """The text lines of each ticket in ``data`` (each starts with ESC @), by its first line's
    first word (the station's name the test puts there)."""
    tickets: dict[str, list[str]] = {}
    lines: list[str] | None = None
    line = ""
    for item in listing(data):
        if item == "ESC @ (initialise)":
            lines, line = [], ""
        elif item.startswith("TEXT "):
            line += ast.literal_eval(item[5:]).decode("cp437")  # the listing's bytes literal
        elif item == "LF" and lines is not None:
            lines.append(line)
            if len(lines) == 1:
                tickets[line.split()[0]] = lines
            line = ""
    return tickets


async def test_a_location_bridge_prints_each_stations_jobs_at_its_paper_width(
    server: str, rest: World, printer: PrinterSimulator, tmp_path: Path
) -> None:
    """One location bridge (run without --paper-width) and two stations without bridges of
    their own, one with 58 mm paper and one with 80: each station's ticket prints at 32 and 42
    columns on the location bridge's printer."""
    tenant = await rest.tenant()
    location = await tenant.location()
    narrow = await tenant.station(location, "BAR", 58)
    wide = await tenant.station(location, "COCINA", 80)
    pair_with_cli(server, await tenant.pairing_code(location), tmp_path)
    agent = start_agent(tmp_path, printer.url)  # no --paper-width: the agent's default is 80
    try:
        jobs = {}
        for name, station in (("BAR", narrow), ("COCINA", wide)):
            header = {"type": "text", "text": f"{name} ticket"}
            document = {"blocks": [header, *WRAPPING_TICKET["blocks"]]}
            jobs[name] = await tenant.job(location, station, document=document)
        done = {
            name: await wait_status(rest, tenant, job["id"], TERMINAL) for name, job in jobs.items()
        }
        log = (tmp_path / "agent.log").read_text()[-3000:]
        assert [j["status"] for j in done.values()] == ["printed", "printed"], log
        expected = sum(len(render_job(job)) for job in done.values())
        await printer.wait_for_bytes(expected, timeout=5)
    finally:
        assert stop_agent(agent) == 0
    tickets = _printed_tickets(printer.received)
    assert set(tickets) == {"BAR", "COCINA"}, printer.received
    for name, columns in (("BAR", 32), ("COCINA", 42)):
        lines = tickets[name]
        assert max(len(line) for line in lines) == columns, (name, lines)
        assert lines[-1].endswith("19.00") and len(lines[-1]) == columns, (name, lines)
        words = " ".join(WRAPPING_TICKET["blocks"][0]["text"].split())  # type: ignore[index]
        wrapped = [line for line in lines[1:] if not line.endswith("19.00")]
        assert " ".join(" ".join(wrapped).split()).startswith(words), (name, lines)
        assert len(wrapped) >= 3, (name, lines)  # the text wrapped, and so did the row's left
    # What the agent sent is what the renderer makes of each job at its own width.
    assert [j["paper_width_mm"] for j in done.values()] == [58, 80]
