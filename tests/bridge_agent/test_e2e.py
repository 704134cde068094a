"""End to end: a real server, the real agent process paired with its CLI, and a TCP printer on
loopback that records bytes and answers DLE EOT."""

from __future__ import annotations

import asyncio
from collections.abc import AsyncIterator, Iterator
from pathlib import Path

import httpx
import pytest

from bridge_agent.render import render_job
from bridge_agent.transports import PrinterState
from tests.agents import (
    TERMINAL,
    WAIT_S,
    paired_station_bridge,
    start_agent,
    stop_agent,
    wait_status,
)
from tests.bridge_agent.printer_sim import PrinterSimulator
from tests.servers import running_server
from tests.world import DOCUMENT, World

pytestmark = pytest.mark.slow


@pytest.fixture(scope="module")
def server(tmp_path_factory: pytest.TempPathFactory) -> Iterator[str]:
    cwd = tmp_path_factory.mktemp("e2e")
    env = {"PRINTRELAY_PAIRING_RATE_LIMIT": "10000"}
    with running_server(f"sqlite:///{cwd / 'e2e.db'}", cwd=cwd, extra_env=env) as url:
        yield url


@pytest.fixture
async def rest(server: str) -> AsyncIterator[World]:
    async with httpx.AsyncClient(base_url=server, timeout=30) as client:
        yield World(client, app=None)


@pytest.fixture
async def printer() -> AsyncIterator[PrinterSimulator]:
    async with PrinterSimulator(host="127.0.0.1", port=0) as sim:
        yield sim


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
        assert not (tmp_path / "credentials.json").exists()
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
