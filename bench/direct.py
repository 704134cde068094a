"""PostgreSQL alone: the delivery path's three statements in a loop, no server in between.

``python -m bench.direct`` makes a fresh database at a migration (``--revision``, default the
newest), writes a history of printed jobs (``--history``), then has ``--connections`` asyncpg
connections, one station and its bridge each, run the single submit, claim and report
statements of ``app.print_jobs.hot_sql`` for ``--jobs`` jobs in all (after a warm-up of 50 per
connection). It prints PostgreSQL's CPU per job (utime + stime of the connections' backends,
from ``/proc``; PostgreSQL on this machine) and jobs per second, and the sizes of
``print_jobs``' indexes. It isolates what the database does per job from the server's own
work: the fourth round in docs/benchmarks.md measured schema and planner changes with it.

Options for comparisons: ``--generic-plans`` (``plan_cache_mode = force_generic_plan``, as the
server's hot connections set) and ``--drop-constraint NAME`` (repeatable; a foreign key of
``print_jobs`` or ``job_events`` dropped before the loop). The database is dropped afterwards.
"""

from __future__ import annotations

import argparse
import asyncio
import json
import time
import uuid
from dataclasses import dataclass
from datetime import UTC, datetime, timedelta
from typing import Any

import asyncpg

from app.db import migrate
from app.print_jobs import hot_sql
from bench import procstat
from bench.server import POSTGRES_ADMIN_URL, _pg_admin

WARMUP_PER_CONNECTION = 50


@dataclass(frozen=True)
class Place:
    tenant: uuid.UUID
    location: uuid.UUID
    key: uuid.UUID
    stations: list[uuid.UUID]
    devices: list[uuid.UUID]


async def _place(conn: asyncpg.Connection, connections: int, history: int) -> Place:
    now = datetime.now(UTC)
    tenant, location, key = uuid.uuid4(), uuid.uuid4(), uuid.uuid4()
    stations = [uuid.uuid4() for _ in range(connections)]
    devices = [uuid.uuid4() for _ in range(connections)]
    await conn.execute("INSERT INTO tenants VALUES ($1, 'T', $2)", tenant, now)
    await conn.execute("INSERT INTO locations VALUES ($1, $2, 'L', $3)", location, tenant, now)
    await conn.execute(
        "INSERT INTO api_keys VALUES ($1, $2, 'K', 'pos', $3, $4, NULL)",
        key, tenant, uuid.uuid4().bytes, now,
    )  # fmt: skip
    for station, device in zip(stations, devices, strict=True):
        await conn.execute(
            "INSERT INTO stations VALUES ($1, $2, $3, 'S', 80, $4)", station, tenant, location, now
        )
        await conn.execute(
            "INSERT INTO devices (id, tenant_id, location_id, station_id, name, kind, token_hash,"
            " epoch, online, paired_at) VALUES ($1, $2, $3, $4, 'D', 'agent', $5, 1, true, $6)",
            device, tenant, location, station, uuid.uuid4().bytes, now,
        )  # fmt: skip
    await conn.execute(
        "INSERT INTO print_jobs (id, tenant_id, location_id, station_id, status, copies,"
        " drawer_pulse, claimed_by, epoch, created_at, updated_at, expires_at)"
        " SELECT gen_random_uuid(), $1, $2, $3, 'printed', 1, false, $4, 1, now(), now(),"
        " now() + interval '1 day' FROM generate_series(1, $5)",
        tenant, location, stations[0], devices[0], history,
    )  # fmt: skip
    return Place(tenant, location, key, stations, devices)


async def _deliver(conn: asyncpg.Connection, place: Place, i: int, jobs: int) -> None:
    """``jobs`` jobs submitted, claimed and reported one after another by connection ``i``."""
    station, device = place.stations[i], place.devices[i]
    for _ in range(jobs):
        job, at = uuid.uuid4(), datetime.now(UTC)
        await conn.fetchrow(
            hot_sql.SUBMIT_SQL,
            place.key, place.tenant, place.location, station, job, '{"blocks": []}', None, 1,
            False, None, None, at, at + timedelta(hours=1), uuid.uuid4(), "pos",
        )  # fmt: skip
        claimed = await conn.fetchrow(
            hot_sql.CLAIM_STATION_SQL,
            job, place.tenant, device, 1, place.location, station, at,
            at + timedelta(seconds=60), uuid.uuid4(),
        )  # fmt: skip
        reported = await conn.fetchrow(
            hot_sql.REPORT_SQL,
            job, place.tenant, device, 1, "printed", None, at, uuid.uuid4(),
        )  # fmt: skip
        if claimed is None or reported is None:
            raise RuntimeError(f"job {job} was not claimed and reported")


async def run(
    database_url: str,
    *,
    connections: int,
    history: int,
    jobs: int,
    generic_plans: bool,
    drop: list[str],
) -> dict[str, Any]:
    dsn = database_url.replace("postgresql+asyncpg://", "postgresql://")
    admin = await asyncpg.connect(dsn)
    try:
        place = await _place(admin, connections, history)
        for name in drop:
            table = "job_events" if name.startswith("fk_job_events") else "print_jobs"
            await admin.execute(f'ALTER TABLE {table} DROP CONSTRAINT "{name}"')
        await admin.execute("VACUUM ANALYZE")
    finally:
        await admin.close()
    conns = [await asyncpg.connect(dsn) for _ in range(connections)]
    try:
        pids = [await c.fetchval("SELECT pg_backend_pid()") for c in conns]
        if generic_plans:
            for c in conns:
                await c.execute("SET plan_cache_mode = force_generic_plan")
        await asyncio.gather(
            *(_deliver(c, place, i, WARMUP_PER_CONNECTION) for i, c in enumerate(conns))
        )
        per_connection = max(1, jobs // connections)
        cpu_before, started = backend_cpu_s(pids), time.monotonic()
        await asyncio.gather(*(_deliver(c, place, i, per_connection) for i, c in enumerate(conns)))
        cpu_after, elapsed = backend_cpu_s(pids), time.monotonic() - started
        done = per_connection * connections
        indexes = {
            r["name"]: r["bytes"]
            for r in await conns[0].fetch(
                "SELECT indexrelname AS name, pg_relation_size(indexrelid) AS bytes"
                " FROM pg_stat_user_indexes WHERE relname = 'print_jobs' ORDER BY 1"
            )
        }
    finally:
        for c in conns:
            await c.close()
    return {
        "jobs": done,
        "postgres_ms_per_job": 1000 * (cpu_after - cpu_before) / done,
        "jobs_per_s": done / elapsed,
        "print_jobs_index_bytes": indexes,
    }


def backend_cpu_s(pids: list[int]) -> float:
    """CPU seconds the backends ``pids`` have used, in whole clock ticks (/proc)."""
    times = [procstat.read_times(pid) for pid in pids]
    if any(t is None for t in times):
        raise RuntimeError("a PostgreSQL backend is not visible in /proc (not on this machine?)")
    return sum(t.own_s for t in times if t is not None)


def main(argv: list[str] | None = None) -> int:
    parser = argparse.ArgumentParser(prog="python -m bench.direct", description=__doc__)
    parser.add_argument("--revision", default="head", help="migrate to this revision (0003, ...)")
    parser.add_argument("--history", type=int, default=50_000, help="printed jobs written first")
    parser.add_argument("--jobs", type=int, default=8_000)
    parser.add_argument("--connections", type=int, default=8)
    parser.add_argument("--generic-plans", action="store_true")
    parser.add_argument("--drop-constraint", action="append", default=[], metavar="NAME")
    parser.add_argument("--json", action="store_true", help="print the result as JSON")
    args = parser.parse_args(argv)
    name = f"printrelay_direct_{uuid.uuid4().hex[:10]}"
    asyncio.run(_pg_admin(f'CREATE DATABASE "{name}"'))
    url = POSTGRES_ADMIN_URL.rsplit("/", 1)[0] + f"/{name}"
    try:
        migrate.upgrade(url, args.revision)
        result = asyncio.run(
            run(
                url.replace("postgresql://", "postgresql+asyncpg://"),
                connections=args.connections,
                history=args.history,
                jobs=args.jobs,
                generic_plans=args.generic_plans,
                drop=args.drop_constraint,
            )
        )
    finally:
        asyncio.run(_pg_admin(f'DROP DATABASE IF EXISTS "{name}" WITH (FORCE)'))
    result["revision"] = args.revision
    if args.json:
        print(json.dumps(result))
    else:
        print(
            f"revision {args.revision}, {args.history:,} printed jobs before,"
            f" {args.connections} connections: PostgreSQL {result['postgres_ms_per_job']:.3f} ms"
            f" per job, {result['jobs_per_s']:,.0f} jobs/s over {result['jobs']:,} jobs"
        )
        for index, size in result["print_jobs_index_bytes"].items():
            print(f"  {index}: {size / 1024:,.0f} kB")
    return 0


if __name__ == "__main__":
    raise SystemExit(main())
