"""``python -m bench cloudprnt``: Star CloudPRNT printers polling the server.

Two figures (issue 22):

- submit -> printed latency at a 1 s and a 5 s polling interval: ``--cloudprnt-printers``
  printers (one per station) poll at the interval, each from its own phase, as printers do;
  a POS submits a job to a random station at random moments, one job per printer every ten
  intervals on average; a job is printed when the printer's DELETE (``code=200 OK``) is
  answered. The printer fetches at its next poll and
  confirms at once (a real printer adds its printing time before the DELETE).
- server CPU per poll: the same printers, idle, polling every second; the server process's
  CPU (and PostgreSQL's) over the window, divided by the polls answered.
"""

from __future__ import annotations

import asyncio
import random
import time
from dataclasses import dataclass, field
from functools import partial
from typing import Any

import aiohttp

from bench.scenarios import Options, client_session, cpu_breakdown, meter_for, serving
from bench.stats import latency_summary_ms
from bench.world import bearer, create_world, gather_limited, post_json

TICKET = {
    "blocks": [
        {"type": "text", "text": "COCINA", "align": "center", "size": "double"},
        {"type": "row", "left": "2x Burger", "right": "19.00"},
        {"type": "row", "left": "1x Fries", "right": "3.50"},
        {"type": "cut"},
    ]
}
POLL_BODY = {"statusCode": "200%20OK", "status": "23 86 00 00 00 00 00 00 00"}
JOBS_PER_PRINTER_POLL = 10  # polls per job a printer gets, on average (1 / load)
# What the printers answer to the server's client actions (an mC-Print3's Encodings).
ENCODINGS = "image/png; image/jpeg; application/vnd.star.starprnt; text/plain"


@dataclass
class BenchPrinter:
    url: str
    mac: str
    interval_s: float
    polls: int = 0
    printed: dict[str, float] = field(default_factory=dict)  # job id -> monotonic time
    errors: list[str] = field(default_factory=list)

    async def poll(self, session: aiohttp.ClientSession) -> dict[str, Any]:
        body: dict[str, Any] = {**POLL_BODY, "printerMAC": self.mac}
        while True:
            async with session.post(self.url, json=body) as r:
                self.polls += 1
                answer: dict[str, Any] = await r.json()
                if r.status != 200:
                    self.errors.append(f"poll {r.status}")
                    return {}
            asked = answer.get("clientAction")
            if not asked:
                return answer
            body["clientAction"] = [
                {
                    "request": a["request"],
                    "result": (
                        ENCODINGS if a["request"] == "Encodings" else str(int(self.interval_s))
                    ),
                }
                for a in asked
            ]

    async def print_ready(self, session: aiohttp.ClientSession, answer: dict[str, Any]) -> None:
        token = answer["jobToken"]
        query = {"mac": self.mac, "type": "image/png", "token": token}
        async with session.get(self.url, params=query) as r:
            await r.read()
            if r.status != 200:
                self.errors.append(f"get {r.status}")
                return
        async with session.delete(self.url, params={**query, "code": "200 OK"}) as r:
            if r.status != 200:
                self.errors.append(f"delete {r.status}")
                return
        self.printed[token] = time.monotonic()

    async def run(self, session: aiohttp.ClientSession, stop: asyncio.Event) -> None:
        await asyncio.sleep(random.uniform(0, self.interval_s))  # noqa: S311 (its own phase)
        while not stop.is_set():
            started = time.monotonic()
            answer = await self.poll(session)
            if answer.get("jobReady"):
                await self.print_ready(session, answer)
            await asyncio.sleep(max(0.0, self.interval_s - (time.monotonic() - started)))


async def _printers(
    session: aiohttp.ClientSession,
    base_url: str,
    manager: str,
    stations: dict[str, str],
    interval_s: float,
) -> list[tuple[str, BenchPrinter]]:
    async def add(n: int, station: str, location: str) -> tuple[str, BenchPrinter]:
        made = await post_json(
            session,
            f"{base_url}/v1/cloudprnt-printers",
            {"location_id": location, "station_id": station, "name": f"star {n}"},
            bearer(manager),
        )
        mac = f"00:11:62:{n >> 16 & 255:02x}:{n >> 8 & 255:02x}:{n & 255:02x}"
        return station, BenchPrinter(made["server_url"], mac, interval_s)

    return await gather_limited(
        [partial(add, n, s, loc) for n, (s, loc) in enumerate(stations.items())],
        32,
    )


async def _latency(
    session: aiohttp.ClientSession, server_url: str, admin: str, opts: Options, interval_s: float
) -> dict[str, Any]:
    world = await create_world(
        session,
        server_url,
        admin,
        locations=1,
        stations_per_location=opts.cloudprnt_printers,
        pos_keys=1,
    )
    printers = await _printers(
        session, server_url, world.manager_secret, world.stations, interval_s
    )
    stop = asyncio.Event()
    loops = [asyncio.create_task(p.run(session, stop)) for _, p in printers]
    await asyncio.sleep(interval_s + 0.5)  # every printer polled (and answered the client actions)
    submitted: dict[str, float] = {}
    by_station = dict(printers)
    pos = bearer(world.pos_secrets[0])
    jobs = opts.cloudprnt_jobs
    # Jobs at random moments (a printer's phase is not the job's), a tenth of a job per
    # printer per interval on average: the figure is the wait for a poll, hardly ever for a
    # job before it (a printer takes one job a poll).
    window_s = max(2 * interval_s, jobs * interval_s * JOBS_PER_PRINTER_POLL / len(printers))
    for _ in range(jobs):
        station = random.choice(list(by_station))  # noqa: S311
        started = time.monotonic()
        job = await post_json(
            session,
            f"{server_url}/v1/print-jobs",
            {"location_id": world.locations[0], "station_id": station, "document": TICKET},
            pos,
        )
        submitted[job["id"]] = started
        await asyncio.sleep(random.expovariate(jobs / window_s))
    deadline = time.monotonic() + 3 * interval_s + 10
    while time.monotonic() < deadline:
        printed = sum(len(p.printed) for _, p in printers)
        if printed >= len(submitted):
            break
        await asyncio.sleep(0.1)
    stop.set()
    await asyncio.gather(*loops)
    done = {k: v for _, p in printers for k, v in p.printed.items()}
    latencies = [done[j] - t for j, t in submitted.items() if j in done]
    errors = [e for _, p in printers for e in p.errors]
    problems = []
    if len(done) != len(submitted):
        problems.append(f"{len(submitted) - len(done)} of {len(submitted)} jobs not printed")
    if errors:
        problems.append(f"printer errors: {errors[:5]}")
    return {
        "poll_interval_s": interval_s,
        "printers": len(printers),
        "jobs": len(submitted),
        "latency_ms": latency_summary_ms(latencies),
        "problems": problems,
    }


async def _cpu_per_poll(
    session: aiohttp.ClientSession, server: Any, backend: Any, opts: Options
) -> dict[str, Any]:
    world = await create_world(
        session, server.url, server.admin_token, locations=1,
        stations_per_location=opts.cloudprnt_idle_printers, pos_keys=1,
    )  # fmt: skip
    printers = await _printers(session, server.url, world.manager_secret, world.stations, 1.0)
    stop = asyncio.Event()
    loops = [asyncio.create_task(p.run(session, stop)) for _, p in printers]
    await asyncio.sleep(opts.warmup_s + 1.0)
    meter = meter_for(server, backend)
    polls0 = sum(p.polls for _, p in printers)
    before = meter.snapshot()
    await asyncio.sleep(opts.duration_s)
    after = meter.snapshot()
    polls = sum(p.polls for _, p in printers) - polls0
    stop.set()
    await asyncio.gather(*loops)
    cpu = await cpu_breakdown(backend, before, after)
    return {
        "printers": len(printers),
        "window_s": opts.duration_s,
        "polls": polls,
        "polls_per_s": round(polls / opts.duration_s, 1),
        "server_cpu_ms_per_poll": round(1000 * cpu.get("server_s", 0.0) / max(1, polls), 3),
        "postgres_cpu_ms_per_poll": round(1000 * cpu.get("postgres_s", 0.0) / max(1, polls), 3),
        "cpu": cpu,
    }


async def cloudprnt(backend_name: str, opts: Options) -> dict[str, Any]:
    result: dict[str, Any] = {"scenario": "cloudprnt", "backend": backend_name, "problems": []}
    async with (
        serving(backend_name, opts, "cloudprnt") as (backend, server),
        client_session() as session,
    ):
        await server.start(session)
        runs = []
        for interval_s in (1.0, 5.0):
            run = await _latency(session, server.url, server.admin_token, opts, interval_s)
            result["problems"] += run.pop("problems")
            runs.append(run)
        result["latency"] = runs
        result["idle"] = await _cpu_per_poll(session, server, backend, opts)
    return result
