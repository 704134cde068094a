"""The scenarios: closed and open loop throughput, idle bridges, reconnect after a crash, and
the agent's render cost. Each returns a JSON-able dict; ``problems`` non-empty means the run
broke a guarantee (or could not run) and the bench exits non-zero."""

from __future__ import annotations

import asyncio
import contextlib
import math
import shutil
import subprocess
import sys
import time
import uuid
from collections import Counter
from collections.abc import AsyncIterator, Awaitable, Callable
from contextlib import asynccontextmanager
from dataclasses import dataclass, field
from functools import partial
from pathlib import Path
from typing import Any

import aiohttp

from bench import procstat
from bench.load import (
    BenchBridge,
    LoopbackPrinter,
    PosClient,
    PrinterLink,
    Tracker,
    now,
    verify,
)
from bench.profile import Recorder, summarize
from bench.server import Backend, Server, postgres_reachable, redis_reachable
from bench.stats import latency_summary_ms
from bench.world import create_world, gather_limited, pair_devices

MB = 1024 * 1024


@dataclass
class Options:
    stations: int = 20
    pos: int = 8
    duration_s: float = 10.0
    warmup_s: float = 2.0
    rate: float = 200.0
    heartbeat_s: float = 30.0
    printer: bool = False
    idempotency_keys: bool = False
    profile: bool = False
    count_tasks: bool = False  # count the server's asyncio tasks per printed job (closed/open)
    redis_db: int = 13
    idle_sizes: list[int] = field(default_factory=lambda: [1000, 5000, 10000])
    idle_hold_s: float = 35.0
    connect_concurrency: int = 200
    idle_connect_budget_s: float = 180.0
    reconnect_bridges: int = 1000
    backlog_per_bridge: int = 1
    render_iterations: int = 500
    cloudprnt_printers: int = 100  # one per station (cloudprnt latency)
    cloudprnt_jobs: int = 60  # per polling interval
    cloudprnt_idle_printers: int = 200  # polling every second (cloudprnt CPU per poll)
    stall_timeout_s: float = 30.0  # a drain fails once nothing printed for this long
    server_env: dict[str, str] = field(default_factory=dict)  # e.g. PRINTRELAY_HOT_PATH=false
    workers: int = 1  # server processes (closed/open on PostgreSQL + Redis)
    server_bin: str | None = None  # a virtualenv's bin directory to run the server from
    results_dir: Path = Path("bench/results")
    stamp: str = ""


class Skip(Exception):
    pass


@asynccontextmanager
async def serving(
    backend_name: str, opts: Options, label: str, workers: int = 1
) -> AsyncIterator[tuple[Backend, Server]]:
    """A fresh backend and a running server on it; torn down (database dropped) after."""
    if backend_name == "postgres":
        if not await postgres_reachable():
            raise Skip("PostgreSQL is not reachable at 127.0.0.1:5432")
        if not await redis_reachable():
            raise Skip("Redis is not reachable at 127.0.0.1:6379")
    backend = await Backend.create(backend_name, opts.redis_db)
    workers = workers if backend.redis_url is not None else 1  # SQLite: one process
    server = Server(
        backend,
        extra_env=dict(opts.server_env),
        workers=workers,
        bin_dir=opts.server_bin,
        count_tasks=opts.count_tasks,
    )
    try:
        yield backend, server
    finally:
        server.stop()
        await backend.drop()
        opts.results_dir.mkdir(parents=True, exist_ok=True)
        with contextlib.suppress(OSError):
            log_copy = opts.results_dir / f"{opts.stamp}-{label}-{backend_name}.log"
            shutil.copy(server.log_path, log_copy)
            server.keep_log(log_copy)
        shutil.rmtree(backend.workdir, ignore_errors=True)


def client_session() -> aiohttp.ClientSession:
    return aiohttp.ClientSession(
        connector=aiohttp.TCPConnector(limit=0),
        timeout=aiohttp.ClientTimeout(total=60),
    )


def meter_for(server: Server, backend: Backend) -> procstat.CpuMeter:
    return procstat.CpuMeter(
        [server.pid], postgres=backend.uses_postgres, redis=backend.redis_url is not None
    )


async def cpu_breakdown(
    backend: Backend, before: procstat.Snapshot, after: procstat.Snapshot
) -> dict[str, float]:
    per_pid = procstat.delta(before, after)
    groups = procstat.totals(per_pid)
    out = {f"{g}_s": round(s, 3) for g, s in groups.items()}
    out["total_s"] = round(sum(groups.values()), 3)
    # Everything else the machine ran meanwhile (another user's processes compete for the
    # same 2 cores): busy time of all cores minus the server side and this generator.
    generator_s = after.generator_s - before.generator_s
    machine_s = after.machine_busy_s - before.machine_busy_s
    out["generator_s"] = round(generator_s, 3)
    out["machine_busy_s"] = round(machine_s, 3)
    out["foreign_s"] = round(max(0.0, machine_s - out["total_s"] - generator_s), 3)
    others = await backend.backend_pids_of_other_databases()
    if others:
        other_s = sum(s for pid, s in per_pid.get("postgres", {}).items() if pid in others)
        out["postgres_other_databases_s"] = round(other_s, 3)
    return out


async def wait_owners(bridges: list[BenchBridge], timeout_s: float) -> int:
    """Wait until every bridge is owner; return how many are not."""
    with contextlib.suppress(TimeoutError):
        async with asyncio.timeout(timeout_s):
            for b in bridges:
                await b.is_owner.wait()
    return sum(1 for b in bridges if not b.is_owner.is_set())


def _spawn_guarded(
    factory: Callable[[], Awaitable[Any]], tasks: set[asyncio.Task[Any]]
) -> asyncio.Task[Any]:
    task: asyncio.Task[Any] = asyncio.ensure_future(factory())
    tasks.add(task)
    task.add_done_callback(tasks.discard)
    return task


# -- closed and open loop ---------------------------------------------------------------------


async def throughput(mode: str, backend_name: str, opts: Options) -> dict[str, Any]:
    result: dict[str, Any] = {
        "scenario": mode,
        "backend": backend_name,
        "stations": opts.stations,
        "workers": opts.workers if backend_name == "postgres" else 1,
        "pos_clients": opts.pos,
        "warmup_s": opts.warmup_s,
        "duration_s": opts.duration_s,
        "printer": "loopback-tcp" if opts.printer else "none",
        "idempotency_keys": opts.idempotency_keys,
    }
    if mode == "open":
        result["offered_rate"] = opts.rate
    label = mode if mode == "closed" else f"open{opts.rate:g}"
    async with (
        serving(backend_name, opts, label, opts.workers) as (backend, server),
        client_session() as session,
    ):
        await server.start(session)
        world = await create_world(
            session,
            server.url,
            server.admin_token,
            locations=1,
            stations_per_location=opts.stations,
            pos_keys=opts.pos,
        )
        devices = await pair_devices(
            session, server.url, world, [(loc, st) for st, loc in world.stations.items()]
        )
        tracker = Tracker()
        printer: LoopbackPrinter | None = None
        ticket = b""
        if opts.printer:
            from bench.tickets import KITCHEN_TICKET
            from bridge_agent.render import render_job

            ticket = render_job({"document": KITCHEN_TICKET, "copies": 1})
            printer = LoopbackPrinter()
            await printer.start()
        bridges = [
            BenchBridge(
                session,
                server.url,
                d,
                tracker,
                printer=PrinterLink(printer.port, ticket) if printer else None,
                heartbeat_s=opts.heartbeat_s,
            )
            for d in devices
        ]
        await asyncio.gather(*(b.connect() for b in bridges))
        if missing := await wait_owners(bridges, 30):
            raise RuntimeError(f"{missing} bridges never became owner")
        for b in bridges:
            b.start_heartbeats()
        # Like the agent: a bridge whose heartbeat times out drops the socket, backs off,
        # reconnects and works its backlog again.
        runs = [asyncio.create_task(b.run_forever()) for b in bridges]
        attempts_before = sum(b.connect_attempts for b in bridges)
        pos = [
            PosClient(
                server.url,
                world.pos_secrets[i],
                world.stations,
                tracker,
                idempotency_keys=opts.idempotency_keys,
            )
            for i in range(opts.pos)
        ]
        meter = meter_for(server, backend)
        recorder: Recorder | None = None
        if opts.profile:
            out = opts.results_dir / f"{opts.stamp}-{label}-{backend_name}.collapsed.txt"
            opts.results_dir.mkdir(parents=True, exist_ok=True)
            recorder = Recorder(server.pid, out, opts.duration_s, subprocesses=server.workers > 1)
        window, lag = await drive(mode, pos, list(world.stations), opts, meter, recorder)
        drained = await tracker.wait_drained(
            opts.stall_timeout_s,
            recovering=lambda: any(not b.is_owner.is_set() for b in bridges),
        )
        rss, hwm = procstat.tree_rss_bytes(server.pid)
        verification = await verify(backend, tracker)
        if recorder is not None:
            await recorder.wait()
            result["profile"] = summarize(recorder.output)
        cpu = await cpu_breakdown(backend, window["cpu0"], window["cpu1"])
        result["gc_pauses"] = server.gc_pauses(window["cpu0"].wall_s, window["cpu1"].wall_s)
        tasks = server.tasks_in(window["cpu0"].wall_s, window["cpu1"].wall_s)
        result["io_stall_pct"] = io_stall_pct(window["cpu0"], window["cpu1"])
        reconnects = sum(b.connect_attempts for b in bridges) - attempts_before
        heartbeat_timeouts = sum(b.heartbeat_timeouts for b in bridges)
        for b in bridges:
            await b.close()
        for r in runs:
            r.cancel()
        await asyncio.gather(*runs, return_exceptions=True)
        for p in pos:
            await p.close()
        if printer is not None:
            result["printer_bytes"] = printer.bytes_received
            await printer.close()
    result.update(window_figures(tracker, window))
    result.update(
        {
            "server_cpu": cpu,
            "server_cpu_ms_per_job": per_job_ms(cpu["total_s"], result["printed_in_window"]),
            "server_process_cpu_ms_per_job": per_job_ms(
                cpu["server_s"], result["printed_in_window"]
            ),
            "server_process_utilisation": round(cpu["server_s"] / result["window_s"], 2),
            "server_rss_mb": round(rss / MB, 1),
            "server_hwm_mb": round(hwm / MB, 1),
            "drained": drained,
            "heartbeats_ok": sum(b.heartbeats_ok for b in bridges),
            "heartbeats_not_owner": sum(b.heartbeats_not_owner for b in bridges),
            "heartbeat_timeouts": heartbeat_timeouts,
            "bridge_reconnect_attempts": reconnects,
            # bridge.owner events beyond one per bridge: each is a new epoch for a device
            "extra_ownerships": sum(b.owner_count for b in bridges) - len(bridges),
            "superseded": sum(b.superseded for b in bridges),
            "verification": verification.__dict__,
            "server_log": server.log_problems(),
        }
    )
    if opts.count_tasks:
        result["tasks_per_job"] = tasks_per_job(tasks, result["printed_in_window"])
    if mode == "open":
        result["sender_late_ms_max"] = round(1000 * max(lag), 2) if lag else 0.0
    problems = list(verification.problems)
    if not drained:
        problems.append(
            f"{tracker.outstanding()} jobs never printed (nothing for {opts.stall_timeout_s} s)"
        )
    result["problems"] = problems
    result["warnings"] = verification.warnings + load_warnings(tracker)
    if heartbeat_timeouts or reconnects:
        result["warnings"].append(
            f"{heartbeat_timeouts} heartbeats timed out (10 s); bridges reconnected "
            f"({reconnects} connect attempts)"
        )
    return result


def tasks_per_job(tasks: dict[str, float], jobs: int) -> dict[str, Any]:
    """``--count-tasks``: the server's asyncio tasks per printed job, all and by coroutine."""
    if not jobs or not tasks:
        return {}
    return {
        "total": round(sum(tasks.values()) / jobs, 2),
        "by_coroutine": {name: round(n / jobs, 3) for name, n in list(tasks.items())[:10]},
    }


def per_job_ms(cpu_s: float, jobs: int) -> float | None:
    return round(1000 * cpu_s / jobs, 3) if jobs else None


async def drive(
    mode: str,
    pos: list[PosClient],
    stations: list[str],
    opts: Options,
    meter: procstat.CpuMeter,
    recorder: Recorder | None = None,
) -> tuple[dict[str, Any], list[float]]:
    """Run the POS load (closed or open loop) through warm-up and the measured window; return
    the window's clock and CPU snapshots, and how late the open-loop sender ran."""
    window: dict[str, Any] = {}

    async def measure() -> None:
        await asyncio.sleep(opts.warmup_s)
        if recorder is not None:
            await recorder.start()
        window["t0"], window["cpu0"] = now(), meter.snapshot()
        await asyncio.sleep(opts.duration_s)
        window["t1"], window["cpu1"] = now(), meter.snapshot()

    lag: list[float] = []
    if mode == "closed":
        stop = asyncio.Event()

        async def till(i: int) -> None:
            n = i
            while not stop.is_set():
                await pos[i].submit(stations[n % len(stations)])
                n += 1

        tills = [asyncio.create_task(till(i)) for i in range(len(pos))]
        await measure()
        stop.set()
        await asyncio.gather(*tills)
    else:
        tasks: set[asyncio.Task[Any]] = set()
        interval = 1.0 / opts.rate
        total = int(opts.rate * (opts.warmup_s + opts.duration_s))
        measuring = asyncio.create_task(measure())
        start = now() + 0.01
        for i in range(total):
            due = start + i * interval
            delay = due - now()
            if delay > 0:
                await asyncio.sleep(delay)
            else:
                lag.append(-delay)
            client = pos[i % len(pos)]
            station = stations[i % len(stations)]
            # Latency counts from when the job was due, so a late sender cannot hide it.
            _spawn_guarded(partial(client.submit, station, due), tasks)
        await measuring
        await asyncio.gather(*list(tasks))
    return window, lag


def window_figures(tracker: Tracker, window: dict[str, Any]) -> dict[str, Any]:
    """Throughput, latency and the generator's CPU over the measured window."""
    t0, t1 = window["t0"], window["t1"]
    wall = t1 - t0
    printed = sum(1 for t in tracker.printed_at.values() if t0 <= t < t1)
    in_window = [j for j, t in tracker.submitted_at.items() if t0 <= t < t1]
    latencies = [
        tracker.printed_at[j] - tracker.submitted_at[j]
        for j in in_window
        if j in tracker.printed_at
    ]
    http = [tracker.accepted_at[j] - tracker.submitted_at[j] for j in in_window]
    gen_s = window["cpu1"].generator_s - window["cpu0"].generator_s
    return {
        "window_s": round(wall, 3),
        "printed_in_window": printed,
        "printed_per_s": round(printed / wall, 1),
        "submitted_per_s": round(len(in_window) / wall, 1),
        "achieved_rate": round(len(in_window) / wall, 1),
        "submit_to_printed_ms": latency_summary_ms(latencies),
        "submit_http_ms": latency_summary_ms(http),
        "generator_cpu_s": round(gen_s, 3),
        "generator_cpu_ms_per_job": per_job_ms(gen_s, printed),
        "generator_utilisation": round(gen_s / wall, 2),
        "deliveries": tracker.deliveries,
        "duplicate_deliveries": tracker.duplicate_deliveries,
        "http_status": dict(tracker.http_status),
        "http_errors": tracker.http_errors,
        "transport_errors": dict(tracker.transport_errors),
        "ack_errors": dict(tracker.ack_errors),
        "slowest": slowest_jobs(tracker, in_window, t0),
    }


def io_stall_pct(before: procstat.Snapshot, after: procstat.Snapshot) -> float:
    """Share of the window in which some task on the machine waited on I/O."""
    wall = after.wall_s - before.wall_s
    return round(100 * (after.io_stall_us - before.io_stall_us) / 1e6 / wall, 1) if wall else 0.0


def slowest_jobs(tracker: Tracker, job_ids: list[str], t0: float, n: int = 20) -> list[Any]:
    """The ``n`` slowest jobs as [s into the window, submit→printed ms, of it HTTP ms]: slow
    jobs bunched at one moment point at a stall (a GC pause, a periodic task), spread ones at
    queueing."""
    rows = [
        (
            round(tracker.submitted_at[j] - t0, 3),
            round(1000 * (tracker.printed_at[j] - tracker.submitted_at[j]), 1),
            round(1000 * (tracker.accepted_at[j] - tracker.submitted_at[j]), 1),
        )
        for j in job_ids
        if j in tracker.printed_at
    ]
    return sorted(rows, key=lambda r: -r[1])[:n]


def load_warnings(tracker: Tracker) -> list[str]:
    """Errors under load: not a broken guarantee (the job was never accepted), but news."""
    warnings = []
    non_201 = {s: n for s, n in tracker.http_status.items() if s != 201}
    if non_201:
        warnings.append(f"POS submissions answered {non_201} (not 201): {tracker.http_errors[:3]}")
    if tracker.transport_errors:
        warnings.append(f"POS transport errors: {dict(tracker.transport_errors)}")
    if tracker.ack_errors:
        warnings.append(f"socket acks with errors: {dict(tracker.ack_errors)}")
    return warnings


# -- idle bridges -----------------------------------------------------------------------------

IDLE_BRIDGES_PER_LOCATION = 100


async def idle(backend_name: str, opts: Options) -> dict[str, Any]:
    """Pair max(sizes) location bridges once; then, for each size, a fresh server process
    holds that many bridges (each heartbeating every ``heartbeat_s``) for ``idle_hold_s``."""
    sizes = sorted(opts.idle_sizes)
    result: dict[str, Any] = {
        "scenario": "idle",
        "backend": backend_name,
        "heartbeat_s": opts.heartbeat_s,
        "hold_s": opts.idle_hold_s,
        "tiers": [],
    }
    problems: list[str] = []
    warnings: list[str] = []
    async with (
        serving(backend_name, opts, "idle") as (backend, server),
        client_session() as session,
    ):
        await server.start(session)
        locations = math.ceil(sizes[-1] / IDLE_BRIDGES_PER_LOCATION)
        world = await create_world(
            session,
            server.url,
            server.admin_token,
            locations=locations,
            stations_per_location=0,
            pos_keys=0,
        )
        t = now()
        scopes: list[tuple[str, str | None]] = [
            (world.locations[i // IDLE_BRIDGES_PER_LOCATION], None) for i in range(sizes[-1])
        ]
        devices = await pair_devices(session, server.url, world, scopes, concurrency=64)
        pairing_s = now() - t
        print(f"  paired {len(devices)} bridges in {pairing_s:.1f} s", flush=True)
        result["paired"] = len(devices)
        result["pairing_s"] = round(pairing_s, 1)
        result["pairings_per_s"] = round(len(devices) / pairing_s, 1)
        server.stop()
        for n in sizes:
            tier = await _idle_tier(session, backend, server, devices[:n], opts)
            result["tiers"].append(tier)
            warnings.extend(f"{n} bridges: {p}" for p in tier.pop("warnings"))
        result["server_log"] = server.log_problems()
    result["problems"] = problems
    result["warnings"] = warnings
    return result


async def _idle_tier(
    session: aiohttp.ClientSession,
    backend: Backend,
    server: Server,
    devices: list[Any],
    opts: Options,
) -> dict[str, Any]:
    n = len(devices)
    await server.start(session)
    await asyncio.sleep(1.0)
    rss_empty, _ = procstat.rss_bytes(server.pid)
    tracker = Tracker()
    bridges = [
        BenchBridge(session, server.url, d, tracker, heartbeat_s=opts.heartbeat_s) for d in devices
    ]
    failures: Counter[str] = Counter()

    async def bring_up(b: BenchBridge) -> None:
        try:
            await b.connect(timeout_s=60)
            await asyncio.wait_for(b.is_owner.wait(), 60)
        except Exception as exc:
            failures[type(exc).__name__] += 1
            return
        b.start_heartbeats()

    meter = meter_for(server, backend)
    t0, cpu0 = now(), meter.snapshot()
    bringing = asyncio.ensure_future(
        gather_limited([partial(bring_up, b) for b in bridges], opts.connect_concurrency)
    )
    done, _ = await asyncio.wait({bringing}, timeout=opts.idle_connect_budget_s)
    budget_exhausted = not done
    if budget_exhausted:
        bringing.cancel()
        with contextlib.suppress(asyncio.CancelledError):
            await bringing
    connect_s = now() - t0
    cpu1 = meter.snapshot()
    owners = sum(1 for b in bridges if b.is_owner.is_set())
    rss_connected, _ = procstat.rss_bytes(server.pid)
    print(
        f"  {n} bridges: {owners} owners after {connect_s:.1f} s"
        + (" (connect budget exhausted)" if budget_exhausted else "")
        + f"; holding {opts.idle_hold_s:g} s",
        flush=True,
    )
    hold_start = now()
    await asyncio.sleep(opts.idle_hold_s)
    cpu2 = meter.snapshot()
    rss, hwm = procstat.rss_bytes(server.pid)
    still_open = sum(1 for b in bridges if b.client is not None and b.client.connected)
    owners_after = sum(
        1 for b in bridges if b.is_owner.is_set() and b.client is not None and b.client.connected
    )
    # Heartbeats sent while holding (the connect storm's are not an idle server's).
    latencies = [lat for b in bridges for t, lat in b.heartbeat_samples if t >= hold_start]
    connect_cpu = await cpu_breakdown(backend, cpu0, cpu1)
    hold_cpu = await cpu_breakdown(backend, cpu1, cpu2)
    tier: dict[str, Any] = {
        "bridges": n,
        "owners": owners,
        "connect_failures": dict(failures),
        "connect_s": round(connect_s, 2),
        "connects_per_s": round(owners / connect_s, 1),
        "connect_budget_exhausted": budget_exhausted,
        "connect_cpu": connect_cpu,
        "connect_server_cpu_ms_per_bridge": round(
            1000 * connect_cpu["total_s"] / max(owners, 1), 2
        ),
        "open_after_hold": still_open,
        "owners_after_hold": owners_after,
        "heartbeat_timeouts": sum(b.heartbeat_timeouts for b in bridges),
        "server_rss_empty_mb": round(rss_empty / MB, 1),
        "server_rss_connected_mb": round(rss_connected / MB, 1),
        "server_rss_mb": round(rss / MB, 1),
        "server_hwm_mb": round(hwm / MB, 1),
        "rss_per_bridge_kb": round((rss - rss_empty) / max(still_open, 1) / 1024, 1),
        "hold_cpu": hold_cpu,
        "hold_server_utilisation": round(hold_cpu["server_s"] / opts.idle_hold_s, 3),
        "hold_total_utilisation": round(hold_cpu["total_s"] / opts.idle_hold_s, 3),
        "heartbeats_ok": sum(b.heartbeats_ok for b in bridges),
        "heartbeats_not_owner": sum(b.heartbeats_not_owner for b in bridges),
        "heartbeat_errors": sum(b.heartbeat_errors for b in bridges),
        "heartbeats_in_hold": len(latencies),
        "heartbeat_ack_ms": latency_summary_ms(latencies),
        "engineio_pings_answered": sum(
            b.client.pings_answered for b in bridges if b.client is not None
        ),
    }
    warnings = []
    if owners < n:
        warnings.append(f"only {owners} of {n} became owner ({dict(failures)})")
    if still_open < owners:
        warnings.append(f"{owners - still_open} sockets dropped while idle")
    if tier["heartbeats_not_owner"] or tier["heartbeat_errors"]:
        warnings.append(
            f"heartbeats: {tier['heartbeats_not_owner']} not owner, "
            f"{tier['heartbeat_errors']} failed"
        )
    tier["warnings"] = warnings
    await gather_limited([b.close for b in bridges], 500)
    server.stop()
    return tier


# -- reconnect and drain after a crash --------------------------------------------------------

RECONNECT_STATIONS_PER_LOCATION = 20


async def reconnect(backend_name: str, opts: Options) -> dict[str, Any]:
    """N station bridges are owners; the server is SIGKILLed and started again at once; as soon
    as /healthz answers, the POS clients submit ``backlog_per_bridge`` jobs for every station.
    Measured from the moment the restarted server answers: until every bridge is owner again,
    and until every one of those jobs is reported printed."""
    n = opts.reconnect_bridges
    result: dict[str, Any] = {
        "scenario": "reconnect",
        "backend": backend_name,
        "bridges": n,
        "backlog_jobs": n * opts.backlog_per_bridge,
        "backoff": "agent's: full jitter, base 1 s, doubling, cap 60 s",
    }
    async with (
        serving(backend_name, opts, "reconnect") as (backend, server),
        client_session() as session,
    ):
        await server.start(session)
        world = await create_world(
            session,
            server.url,
            server.admin_token,
            locations=math.ceil(n / RECONNECT_STATIONS_PER_LOCATION),
            stations_per_location=RECONNECT_STATIONS_PER_LOCATION,
            pos_keys=opts.pos,
        )
        scopes: list[tuple[str, str | None]] = [
            (loc, st) for st, loc in list(world.stations.items())[:n]
        ]
        devices = await pair_devices(session, server.url, world, scopes)
        tracker = Tracker()
        bridges = [
            BenchBridge(session, server.url, d, tracker, heartbeat_s=opts.heartbeat_s)
            for d in devices
        ]
        runs: list[asyncio.Task[None]] = []
        try:
            return await _crash_and_recover(
                session, backend, server, world, scopes, tracker, bridges, runs, opts, result
            )
        finally:
            await gather_limited([b.close for b in bridges], 500)
            for r in runs:
                r.cancel()
            await asyncio.gather(*runs, return_exceptions=True)


async def _bring_up(bridge: BenchBridge, budget_s: float) -> None:
    """Connect until owner (a few tries while the server is busy), then heartbeat."""
    deadline = now() + budget_s
    while now() < deadline:
        try:
            await bridge.connect()
            await asyncio.wait_for(bridge.is_owner.wait(), max(1.0, deadline - now()))
        except Exception:
            if bridge.client is not None:
                await bridge.client.close()
            await asyncio.sleep(0.5)
            continue
        bridge.start_heartbeats()
        return


async def _crash_and_recover(
    session: aiohttp.ClientSession,
    backend: Backend,
    server: Server,
    world: Any,
    scopes: list[tuple[str, str | None]],
    tracker: Tracker,
    bridges: list[BenchBridge],
    runs: list[asyncio.Task[None]],
    opts: Options,
    result: dict[str, Any],
) -> dict[str, Any]:
    n = len(bridges)
    t = now()
    await gather_limited([partial(_bring_up, b, 120.0) for b in bridges], opts.connect_concurrency)
    if missing := sum(1 for b in bridges if not b.is_owner.is_set()):
        raise RuntimeError(f"{missing} bridges never became owner before the crash")
    result["first_connect_s"] = round(now() - t, 2)
    runs.extend(asyncio.create_task(b.run_forever()) for b in bridges)
    await asyncio.sleep(1.0)
    attempts_before = sum(b.connect_attempts for b in bridges)

    t_kill = now()
    server.kill()
    server.spawn()
    meter = meter_for(server, backend)
    cpu0 = meter.snapshot()
    await server.wait_healthy(session, poll_s=0.01)
    t_up = now()

    pos = [PosClient(server.url, s, world.stations, tracker) for s in world.pos_secrets]
    backlog_stations = [st for _, st in scopes if st is not None] * opts.backlog_per_bridge

    async def till(i: int) -> None:
        for station in backlog_stations[i :: len(pos)]:
            await pos[i].submit(station)

    await asyncio.gather(*(till(i) for i in range(len(pos))))
    t_submitted = now()
    expected = set(tracker.submitted_at)
    missing_owners = await wait_owners(bridges, 120)
    drained = await tracker.wait_drained(
        opts.stall_timeout_s,
        expected,
        recovering=lambda: any(not b.is_owner.is_set() for b in bridges),
    )
    t_done = now()
    cpu1 = meter.snapshot()
    back = [b.owner_at - t_up for b in bridges if b.owner_at is not None and b.owner_at > t_kill]
    printed = [tracker.printed_at[j] - t_up for j in expected if j in tracker.printed_at]
    verification = await verify(backend, tracker)
    cpu = await cpu_breakdown(backend, cpu0, cpu1)
    for p in pos:
        await p.close()
    result.update(
        {
            "restart_s": round(t_up - t_kill, 2),
            "submit_s": round(t_submitted - t_up, 2),
            "all_owners_s": round(max(back), 2) if len(back) == n else None,
            "owner_back_s": latency_summary_ms(back),
            "drained_s": round(max(printed), 2) if drained and printed else None,
            "all_owners_and_drained_s": (
                round(max(max(back), max(printed)), 2)
                if len(back) == n and drained and printed
                else None
            ),
            "from_kill_s": round(t_done - t_kill, 2),
            "reconnect_attempts": sum(b.connect_attempts for b in bridges) - attempts_before,
            "failed_connects": sum(b.failed_connects for b in bridges),
            "recovery_cpu": cpu,
            "duplicate_deliveries": tracker.duplicate_deliveries,
            "http_status": dict(tracker.http_status),
            "transport_errors": dict(tracker.transport_errors),
            "ack_errors": dict(tracker.ack_errors),
            "verification": verification.__dict__,
            "server_log": server.log_problems(),
        }
    )
    # owner_back_s holds seconds, not milliseconds: rename the keys' unit.
    result["owner_back_s"] = {
        k: (round(v / 1000, 2) if isinstance(v, float) else v)
        for k, v in result["owner_back_s"].items()
    }
    problems = list(verification.problems)
    if missing_owners:
        problems.append(f"{missing_owners} bridges not owner again")
    if not drained:
        problems.append("the backlog did not drain")
    result["problems"] = problems
    result["warnings"] = verification.warnings + load_warnings(tracker)
    return result


# -- the load generator's own ceiling ---------------------------------------------------------


def _spawn_stub(port: int) -> subprocess.Popen[bytes]:
    from bench.server import _die_with_parent

    return subprocess.Popen(  # noqa: S603 (this interpreter, our module)
        [sys.executable, "-m", "bench.stub", "--port", str(port)],
        preexec_fn=_die_with_parent,
    )


async def selftest(opts: Options) -> dict[str, Any]:
    """The same closed loop against bench.stub (no database, no auth): how many jobs/s this
    generator can drive on this machine, and its CPU per job, next to the stub's."""
    from bench.server import free_port
    from bench.stub import STUB_TOKEN_PREFIX
    from bench.world import PairedDevice

    port = free_port()
    url = f"http://127.0.0.1:{port}"
    proc = _spawn_stub(port)
    result: dict[str, Any] = {
        "scenario": "selftest",
        "backend": "stub",
        "stations": opts.stations,
        "pos_clients": opts.pos,
        "duration_s": opts.duration_s,
    }
    try:
        async with client_session() as session:
            for _ in range(200):
                try:
                    async with session.get(f"{url}/healthz") as r:
                        if r.status == 200:
                            break
                except aiohttp.ClientError:
                    pass
                await asyncio.sleep(0.05)
            location = str(uuid.uuid4())
            stations = {str(uuid.uuid4()): location for _ in range(opts.stations)}
            tracker = Tracker()
            bridges = [
                BenchBridge(
                    session,
                    url,
                    PairedDevice(st, STUB_TOKEN_PREFIX + st, location, st),
                    tracker,
                    heartbeat_s=opts.heartbeat_s,
                )
                for st in stations
            ]
            await asyncio.gather(*(b.connect() for b in bridges))
            if missing := await wait_owners(bridges, 10):
                raise RuntimeError(f"{missing} bridges not owner on the stub")
            pos = [PosClient(url, "prk_stub", stations, tracker) for _ in range(opts.pos)]
            meter = procstat.CpuMeter([proc.pid], postgres=False, redis=False)
            window, _ = await drive("closed", pos, list(stations), opts, meter)
            drained = await tracker.wait_drained(10)
            for b in bridges:
                await b.close()
            for p in pos:
                await p.close()
    finally:
        proc.terminate()
        proc.wait(timeout=10)
    result.update(window_figures(tracker, window))
    stub_s = procstat.totals(procstat.delta(window["cpu0"], window["cpu1"]))["server"]
    result["stub_cpu_ms_per_job"] = per_job_ms(stub_s, result["printed_in_window"])
    result["stub_utilisation"] = round(stub_s / result["window_s"], 2)
    double = sum(1 for n in tracker.prints.values() if n > 1)
    result["problems"] = [] if drained and not double else ["the stub run lost or doubled jobs"]
    result["warnings"] = load_warnings(tracker)
    return result


# -- the agent's render cost -------------------------------------------------------------------


def render(opts: Options) -> dict[str, Any]:
    """ESC/POS bytes (what the agent sends) and the PNG of the paper (the render endpoints)."""
    from bench.tickets import (
        KITCHEN_TICKET,
        SCRIPTS_TICKET,
        fresh_scripts_ticket,
        without_qr,
    )
    from bridge_agent.render import render_job

    def escpos(document: dict[str, Any], width: int) -> bytes:
        return render_job({"document": document}, paper_width_mm=width)

    fresh = iter(range(10**9))

    def escpos_fresh(_: dict[str, Any], width: int) -> bytes:
        return escpos(fresh_scripts_ticket(next(fresh)), width)

    def png_fresh(_: dict[str, Any], width: int) -> bytes:
        return _png(fresh_scripts_ticket(next(fresh)), width)

    cases: dict[str, tuple[Callable[[dict[str, Any], int], bytes], dict[str, Any], int]] = {
        "kitchen ticket, 80 mm (with QR)": (escpos, KITCHEN_TICKET, 80),
        "kitchen ticket, 80 mm, no QR": (escpos, without_qr(KITCHEN_TICKET), 80),
        "kitchen ticket, 58 mm (with QR)": (escpos, KITCHEN_TICKET, 58),
        "PNG: kitchen ticket, 80 mm (with QR)": (_png, KITCHEN_TICKET, 80),
        "PNG: kitchen ticket, 80 mm, no QR": (_png, without_qr(KITCHEN_TICKET), 80),
        "PNG: kitchen ticket, 58 mm (with QR)": (_png, KITCHEN_TICKET, 58),
        # Issue 20: CJK, Arabic and Thai lines drawn as pictures. Repeated dishes come from the
        # renderer's caches; "new dishes" changes them every time (shaping them anew).
        "scripts ticket, 80 mm": (escpos, SCRIPTS_TICKET, 80),
        "scripts ticket, 80 mm, new dishes": (escpos_fresh, SCRIPTS_TICKET, 80),
        "PNG: scripts ticket, 80 mm": (_png, SCRIPTS_TICKET, 80),
        "PNG: scripts ticket, 80 mm, new dishes": (png_fresh, SCRIPTS_TICKET, 80),
    }
    rows = []
    for name, (encode, document, width) in cases.items():
        for _ in range(20):
            encode(document, width)
        times = []
        cpu0 = time.process_time()
        for _ in range(opts.render_iterations):
            t = time.perf_counter()
            out = encode(document, width)
            times.append(time.perf_counter() - t)
        cpu = time.process_time() - cpu0
        summary = latency_summary_ms(times)
        rows.append(
            {
                "case": name,
                "iterations": opts.render_iterations,
                "bytes": len(out),
                "mean_ms": round(1000 * sum(times) / len(times), 3),
                "p50_ms": summary["p50"],
                "p99_ms": summary["p99"],
                "cpu_ms_per_ticket": round(1000 * cpu / opts.render_iterations, 3),
            }
        )
    return {"scenario": "render", "backend": "-", "cases": rows, "problems": []}


def _png(document: dict[str, Any], width: int) -> bytes:
    from bridge_agent.render import render_png

    return render_png(document, paper_width_mm=width)
