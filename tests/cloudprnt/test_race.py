"""Two simulated CloudPRNT printers and a socket bridge of one station race for 1,000 jobs on
PostgreSQL + Redis: every job is printed exactly once, by the device that claimed it."""

from __future__ import annotations

import asyncio
from collections.abc import Iterator
from typing import Any

import httpx
import pytest

from tests import databases
from tests.cloudprnt.conftest import CLOUDPRNT_SERVER_ENV
from tests.cloudprnt.printer_sim import CloudPrntPrinter
from tests.realtime.clients import bridge
from tests.realtime.conftest import redis_reachable
from tests.servers import ServerProcess
from tests.world import World

# The server draws PNGs: it needs the renderer's font (skipped locally without it).
pytestmark = [pytest.mark.postgres, pytest.mark.slow, pytest.mark.usefixtures("cell_font")]

JOBS = 1000
RACE_LIMIT_S = 60
SUBMITTERS = 8  # POS tills submitting at once
# The bridge's paper time for a ticket. Without it a pushed bridge wins nearly every claim on an
# idle machine, and the printers' polls would race for almost nothing.
BRIDGE_PRINT_S = 0.005


@pytest.fixture(scope="module")
def pg_server(postgres_url: str, tmp_path_factory: pytest.TempPathFactory) -> Iterator[str]:
    databases.require_service("Redis", redis_reachable())
    process = ServerProcess(
        postgres_url,
        cwd=tmp_path_factory.mktemp("race"),
        extra_env={**CLOUDPRNT_SERVER_ENV, "PRINTRELAY_REDIS_URL": databases.REDIS_URL},
    )
    try:
        yield process.start()
    finally:
        process.stop()


async def _all_jobs(world: World, headers: dict[str, str], location: str) -> list[dict[str, Any]]:
    jobs: list[dict[str, Any]] = []
    cursor: str | None = None
    while True:
        params: dict[str, Any] = {"location_id": location, "limit": 200}
        if cursor:
            params["cursor"] = cursor
        page = (await world.client.get("/v1/print-jobs", params=params, headers=headers)).json()
        jobs += page["items"]
        cursor = page["next_cursor"]
        if cursor is None:
            return jobs


async def test_printers_and_a_bridge_print_every_job_exactly_once(pg_server: str) -> None:
    async with httpx.AsyncClient(base_url=pg_server, timeout=30) as client:
        world = World(client, app=None)
        tenant = await world.tenant()
        location = await tenant.location()
        station = await tenant.station(location)
        printers = []
        for n in range(2):
            r = await client.post(
                "/v1/cloudprnt-printers",
                json={"location_id": location, "station_id": station, "name": f"star {n}"},
                headers=tenant.manager,
            )
            sim = CloudPrntPrinter(client, r.json()["server_url"], mac=f"00:11:62:00:00:0{n}")
            await sim.poll_until_settled()
            printers.append((r.json()["device"]["id"], sim))
        station_bridge = await tenant.device(location, station)
        by_bridge: set[str] = set()
        b = await bridge(pg_server, station_bridge.token).connect()
        epoch = (await b.wait_for("bridge.owner"))[0]["epoch"]

        refused_reports: list[Any] = []

        printing = asyncio.Lock()  # the bridge has one printer: it claims and prints one at a time

        async def bridge_prints(job: dict[str, Any]) -> None:
            async with printing:
                won = await b.call("print_job.claim", {"id": job["id"], "epoch": epoch})
                if not won["ok"] or job["id"] in by_bridge:  # lost, or a repeated offer
                    return
                by_bridge.add(job["id"])  # a won claim is paper: it prints now
                await asyncio.sleep(BRIDGE_PRINT_S)
            report = {"id": job["id"], "epoch": epoch, "status": "printed"}
            done = await b.call("print_job.report", report)
            if not done["ok"]:
                refused_reports.append(done)
            count_one()

        tasks: set[asyncio.Task[None]] = set()

        def on_new(job: dict[str, Any]) -> None:
            task = asyncio.create_task(bridge_prints(job))
            tasks.add(task)
            task.add_done_callback(tasks.discard)

        b.sio.on("print_job.new", on_new)
        submitted: list[str] = []
        finished = asyncio.Event()

        async def submit(first: int) -> None:
            for n in range(first, JOBS, SUBMITTERS):
                doc = {"blocks": [{"type": "text", "text": f"#{n}"}, {"type": "cut"}]}
                job = await tenant.job(location, station, document=doc)
                submitted.append(job["id"])

        async def printer_loop(sim: CloudPrntPrinter) -> None:
            while not finished.is_set():
                if await sim.print_next() is None:
                    await asyncio.sleep(0.005)
                else:
                    count_one()

        all_printed = asyncio.Event()

        def total() -> int:
            return len(by_bridge) + sum(len(p.printed) for _, p in printers)

        def count_one() -> None:
            if total() >= JOBS:
                all_printed.set()

        loops = [asyncio.create_task(printer_loop(sim)) for _, sim in printers]
        try:
            async with asyncio.timeout(RACE_LIMIT_S):
                await asyncio.gather(*(submit(n) for n in range(SUBMITTERS)))
                await all_printed.wait()
        finally:
            finished.set()
            await asyncio.gather(*loops)
            await asyncio.gather(*tasks, return_exceptions=True)
            await b.close()

        assert refused_reports == []
        by_printer = {device_id: [p.token for p in sim.printed] for device_id, sim in printers}
        everyone = [*by_bridge, *(t for tokens in by_printer.values() for t in tokens)]
        assert len(everyone) == len(set(everyone)) == JOBS  # nobody printed a job twice
        assert set(everyone) == set(submitted)
        assert all(by_printer.values()) and by_bridge  # every claimer won some
        printed_by = {job_id: station_bridge.id for job_id in by_bridge}
        for device_id, tokens in by_printer.items():
            printed_by.update({str(t): device_id for t in tokens})
        jobs = await _all_jobs(world, tenant.pos, location)
        assert len(jobs) == JOBS
        for job in jobs:
            assert job["status"] == "printed" and job["claimed_by"] == printed_by[job["id"]]
