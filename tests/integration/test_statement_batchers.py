"""The batchers (app/print_jobs/hot_path.py, their statements in hot_sql.py) on real
PostgreSQL: concurrent submissions, and concurrent claims and reports (which share one
batcher), share statements; each still gets its own answer under the same fence (one winner
per job, the device's scope and epoch), and one PostgreSQL refuses does not fail the others."""

from __future__ import annotations

import asyncio
import uuid
from collections.abc import AsyncIterator
from dataclasses import dataclass
from datetime import UTC, datetime, timedelta
from typing import Any

import asyncpg
import pytest

from app.db.hot_pool import HotPool
from app.db.statement_batcher import Args, StatementBatcher
from app.models import JobStatus
from app.print_jobs.hot_path import CLAIM, REPORT, device_batcher, job_of, submit_batcher
from app.print_jobs.hot_sql import (
    CLAIM_BATCH_SQL,
    DEVICE_BATCH_SQL,
    REPORT_BATCH_SQL,
    SUBMIT_BATCH_SQL,
)
from tests.integration.pg_rows import place

pytestmark = pytest.mark.postgres

FIRST_ALONE = ["one"] * StatementBatcher.MAX_FLIGHTS
assert StatementBatcher.MAX_FLIGHTS <= 2  # the tests queue two before the batch they check


BATCHES = {  # which batch statement a batch used
    CLAIM_BATCH_SQL: "claims",
    REPORT_BATCH_SQL: "reports",
    DEVICE_BATCH_SQL: "claims+reports",
    SUBMIT_BATCH_SQL: "submissions",
}


class CountingPool(HotPool):
    """The real pool, counting the statements that reach PostgreSQL."""

    def __init__(self, dsn: str) -> None:
        super().__init__(dsn, size=4)
        self.statements: list[str] = []

    async def _call(self, method: str, query: str, args: tuple[Any, ...]) -> Any:
        self.statements.append(BATCHES.get(query, "one"))
        return await super()._call(method, query, args)


async def _device(
    conn: asyncpg.Connection,
    device: uuid.UUID,
    tenant: uuid.UUID,
    location: uuid.UUID,
    station: uuid.UUID | None = None,
    epoch: int = 1,
) -> None:
    await conn.execute(
        "INSERT INTO devices (id, tenant_id, location_id, station_id, name, kind, token_hash,"
        " epoch, online, paired_at) VALUES ($1, $2, $3, $4, 'D', 'agent', $5, $6, true, $7)",
        device, tenant, location, station, uuid.uuid4().bytes, epoch, datetime.now(UTC),
    )  # fmt: skip


async def _job(
    conn: asyncpg.Connection,
    job: uuid.UUID,
    tenant: uuid.UUID,
    location: uuid.UUID,
    station: uuid.UUID | None = None,
    claimed_by: uuid.UUID | None = None,
    epoch: int | None = None,
) -> None:
    """A pending job, or one ``sent`` to ``claimed_by`` at ``epoch``."""
    now = datetime.now(UTC)
    await conn.execute(
        "INSERT INTO print_jobs (id, tenant_id, location_id, station_id, status, copies,"
        " drawer_pulse, claimed_by, epoch, created_at, updated_at, expires_at)"
        " VALUES ($1, $2, $3, $4, $5, 1, false, $6, $7, $8, $8, $9)",
        job, tenant, location, station, "pending" if claimed_by is None else "sent",
        claimed_by, epoch, now, now + timedelta(hours=1),
    )  # fmt: skip


@dataclass
class Setup:
    pool: CountingPool
    tenant: uuid.UUID
    location: uuid.UUID
    device: uuid.UUID
    jobs: list[uuid.UUID]


@pytest.fixture
async def setup(postgres_url: str) -> AsyncIterator[Setup]:
    dsn = postgres_url.replace("postgresql+asyncpg://", "postgresql://")
    tenant, location, device = uuid.uuid4(), uuid.uuid4(), uuid.uuid4()
    jobs = [uuid.uuid4() for _ in range(12)]
    conn = await asyncpg.connect(dsn)
    try:
        await place(conn, tenant, location)
        await _device(conn, device, tenant, location, epoch=5)
        for job in jobs:
            await _job(conn, job, tenant, location, claimed_by=device, epoch=5)
    finally:
        await conn.close()
    pool = CountingPool(dsn)
    yield Setup(pool, tenant, location, device, jobs)
    await pool.close()


def _report(s: Setup, job: uuid.UUID, epoch: int = 5, error: str | None = None) -> Args:
    status = "failed" if error is not None else "printed"
    return (job, s.tenant, s.device, epoch, status, error, datetime.now(UTC), uuid.uuid4())


async def test_concurrent_reports_share_statements_and_get_their_own_rows(setup: Setup) -> None:
    batcher = device_batcher(setup.pool)
    rows = await asyncio.gather(*(batcher.submit(_report(setup, j), REPORT) for j in setup.jobs))
    jobs = [job_of(r) for r in rows]  # a batch's answer reads as a single report's row
    assert [j.id for j in jobs] == setup.jobs
    assert all(j.status is JobStatus.PRINTED for j in jobs)
    # The first MAX_FLIGHTS go at once, the others wait and share the next statement.
    assert setup.pool.statements == [*FIRST_ALONE, "reports"]
    events = await setup.pool.fetchval(
        "SELECT count(*) FROM job_events WHERE job_id = ANY($1::uuid[]) AND to_status = 'printed'",
        setup.jobs,
    )
    assert events == len(setup.jobs)  # one history row per report


async def test_the_fence_holds_row_by_row_within_a_batch(setup: Setup) -> None:
    batcher = device_batcher(setup.pool)
    first, second, *rest = setup.jobs
    reports = [
        _report(setup, first),
        _report(setup, first),  # a repeat in the same batch: one of the two updates
        _report(setup, second, epoch=4),  # a stale epoch: refused
        *(_report(setup, j, error="paper_out") for j in rest),
    ]
    rows = await asyncio.gather(*(batcher.submit(r, REPORT) for r in reports))
    assert "reports" in setup.pool.statements
    assert sum(r is not None for r in rows[:2]) == 1
    assert rows[2] is None
    assert all(job_of(r).status is JobStatus.FAILED and r["error"] == "paper_out" for r in rows[3:])
    stale = await setup.pool.fetchval("SELECT status FROM print_jobs WHERE id = $1", second)
    assert stale == "sent"


async def test_a_report_postgresql_refuses_does_not_fail_the_others(setup: Setup) -> None:
    batcher = device_batcher(setup.pool)
    bad = _report(setup, setup.jobs[5], error="nul \x00 byte")  # text PostgreSQL cannot store
    reports = [_report(setup, j) for j in setup.jobs[:5]] + [bad]
    results = await asyncio.gather(
        *(batcher.submit(r, REPORT) for r in reports), return_exceptions=True
    )
    assert all(not isinstance(r, BaseException) and r["status"] == "printed" for r in results[:5])
    assert isinstance(results[5], asyncpg.PostgresError)
    assert setup.pool.statements.count("reports") == 1  # refused whole, then one by one


async def _pending_jobs(s: Setup, n: int) -> list[uuid.UUID]:
    """``n`` more jobs of the setup's location, pending (the pool's statement count restarts)."""
    jobs = [uuid.uuid4() for _ in range(n)]
    for job in jobs:
        await s.pool.fetchval(
            "INSERT INTO print_jobs (id, tenant_id, location_id, status, copies, drawer_pulse,"
            " created_at, updated_at, expires_at)"
            " VALUES ($1, $2, $3, 'pending', 1, false, now(), now(), now() + interval '1 hour')",
            job, s.tenant, s.location,
        )  # fmt: skip
    s.pool.statements.clear()
    return jobs


def _claim(s: Setup, job: uuid.UUID, epoch: int = 5) -> Args:
    at = datetime.now(UTC)
    lease = at + timedelta(seconds=60)
    return (job, s.tenant, s.device, epoch, s.location, None, at, lease, uuid.uuid4())


async def test_claims_and_reports_share_a_statement_each_under_its_own_fence(
    setup: Setup,
) -> None:
    pending = await _pending_jobs(setup, 4)
    sent = setup.jobs
    batcher = device_batcher(setup.pool)
    calls = [
        (_report(setup, sent[0]), REPORT),  # at least the first goes at once ...
        (_claim(setup, pending[0]), CLAIM),  # ... the rest share one statement
        (_report(setup, sent[1]), REPORT),
        (_claim(setup, pending[1]), CLAIM),
        (_report(setup, sent[2], error="paper_out"), REPORT),
        (_claim(setup, pending[2], epoch=4), CLAIM),  # stale epoch: refused
        (_report(setup, sent[3], epoch=4), REPORT),  # stale epoch: refused
        (_claim(setup, sent[4]), CLAIM),  # already sent: refused
        (_report(setup, pending[3]), REPORT),  # not sent: refused ...
        (_claim(setup, pending[3]), CLAIM),  # ... while its claim in the same batch wins
    ]
    rows = await asyncio.gather(*(batcher.submit(args, kind) for args, kind in calls))
    assert setup.pool.statements == [*FIRST_ALONE, "claims+reports"]
    answers = [None if r is None else (job_of(r).id, job_of(r).status) for r in rows]
    assert answers == [
        (sent[0], JobStatus.PRINTED),
        (pending[0], JobStatus.SENT),
        (sent[1], JobStatus.PRINTED),
        (pending[1], JobStatus.SENT),
        (sent[2], JobStatus.FAILED),
        None,
        None,
        None,
        None,
        (pending[3], JobStatus.SENT),
    ]
    assert rows[3] is not None and rows[3]["claimed_by"] == setup.device
    assert rows[4] is not None and rows[4]["error"] == "paper_out"
    statuses = dict(
        await setup.pool.fetch(
            "SELECT id, status FROM print_jobs WHERE id = ANY($1::uuid[])", [*pending, *sent[:5]]
        )
    )
    assert [statuses[j] for j in pending] == ["sent", "sent", "pending", "sent"]
    assert [statuses[j] for j in sent[:5]] == ["printed", "printed", "failed", "sent", "sent"]
    events = await setup.pool.fetch(
        "SELECT job_id, from_status, to_status FROM job_events WHERE job_id = ANY($1::uuid[])",
        [*pending, *sent[:5]],
    )  # one history row per change, none for a refusal
    assert sorted((e["job_id"], e["from_status"], e["to_status"]) for e in events) == sorted(
        [(j, "pending", "sent") for j in (pending[0], pending[1], pending[3])]
        + [(sent[0], "sent", "printed"), (sent[1], "sent", "printed"), (sent[2], "sent", "failed")]
    )


async def test_a_mixed_batch_postgresql_refuses_is_retried_call_by_call(setup: Setup) -> None:
    (pending,) = await _pending_jobs(setup, 1)
    batcher = device_batcher(setup.pool)
    calls = [
        (_report(setup, setup.jobs[0]), REPORT),
        (_claim(setup, pending), CLAIM),
        (_report(setup, setup.jobs[1], error="nul \x00 byte"), REPORT),  # PostgreSQL refuses it
        (_report(setup, setup.jobs[2]), REPORT),
    ]
    results = await asyncio.gather(
        *(batcher.submit(args, kind) for args, kind in calls), return_exceptions=True
    )
    ok = [r for r in results if not isinstance(r, BaseException)]
    assert [(r["id"], r["status"]) for r in ok] == [
        (setup.jobs[0], "printed"),
        (pending, "sent"),
        (setup.jobs[2], "printed"),
    ]
    assert isinstance(results[2], asyncpg.PostgresError)
    # Refused whole, then each call alone with its own kind's statement.
    assert setup.pool.statements == [*FIRST_ALONE, "claims+reports", "one", "one", "one"]


async def test_claims_in_one_batch_keep_one_winner_and_each_devices_scope(
    postgres_url: str,
) -> None:
    dsn = postgres_url.replace("postgresql+asyncpg://", "postgresql://")
    tenant, location, station = uuid.uuid4(), uuid.uuid4(), uuid.uuid4()
    a, b, s = uuid.uuid4(), uuid.uuid4(), uuid.uuid4()  # two location bridges, a station's
    fillers, contested, station_job = [uuid.uuid4(), uuid.uuid4()], uuid.uuid4(), uuid.uuid4()
    conn = await asyncpg.connect(dsn)
    try:
        await place(conn, tenant, location, station)
        for device, device_station in ((a, None), (b, None), (s, station)):
            await _device(conn, device, tenant, location, device_station)
        for job in (*fillers, contested):
            await _job(conn, job, tenant, location)
        await _job(conn, station_job, tenant, location, station)
    finally:
        await conn.close()

    def claim(job: uuid.UUID, device: uuid.UUID, device_station: uuid.UUID | None) -> Args:
        at = datetime.now(UTC)
        lease = at + timedelta(seconds=60)
        return (job, tenant, device, 1, location, device_station, at, lease, uuid.uuid4())

    pool = CountingPool(dsn)
    try:
        batcher = device_batcher(pool)
        rows = await asyncio.gather(
            batcher.submit(claim(fillers[0], a, None), CLAIM),  # at least the first goes at once
            batcher.submit(claim(fillers[1], b, None), CLAIM),
            batcher.submit(claim(contested, a, None), CLAIM),  # the rest share one statement
            batcher.submit(claim(contested, b, None), CLAIM),
            batcher.submit(claim(station_job, a, None), CLAIM),  # its station's bridge is online
            batcher.submit(claim(station_job, s, station), CLAIM),
        )
        assert pool.statements == [*FIRST_ALONE, "claims"]
        assert [r is not None for r in rows[:2]] == [True, True]
        (winner,) = [r for r in rows[2:4] if r is not None]
        assert winner["claimed_by"] in (a, b) and job_of(winner).id == contested
        assert rows[4] is None  # out of a location bridge's scope
        assert rows[5] is not None and rows[5]["claimed_by"] == s
        claimed = await pool.fetchval("SELECT claimed_by FROM print_jobs WHERE id = $1", contested)
        assert claimed == winner["claimed_by"]
        events = await pool.fetchval(
            "SELECT count(*) FROM job_events WHERE job_id = $1 AND to_status = 'sent'", contested
        )
        assert events == 1
    finally:
        await pool.close()


async def test_submissions_in_one_batch_are_checked_row_by_row(postgres_url: str) -> None:
    dsn = postgres_url.replace("postgresql+asyncpg://", "postgresql://")
    now = datetime.now(UTC)
    tenant, location, station = uuid.uuid4(), uuid.uuid4(), uuid.uuid4()
    key, revoked = uuid.uuid4(), uuid.uuid4()
    conn = await asyncpg.connect(dsn)
    try:
        await place(conn, tenant, location, station)
        await _device(conn, uuid.uuid4(), tenant, location, station)
        for key_id, revoked_at in ((key, None), (revoked, now)):
            await conn.execute(
                "INSERT INTO api_keys VALUES ($1, $2, 'K', 'pos', $3, $4, $5)",
                key_id, tenant, uuid.uuid4().bytes, now, revoked_at,
            )  # fmt: skip
    finally:
        await conn.close()

    def submission(
        key_id: uuid.UUID = key,
        at: uuid.UUID = location,
        to_station: uuid.UUID | None = None,
        idempotency_key: str | None = None,
    ) -> Args:
        at_time = datetime.now(UTC)
        return (
            key_id, tenant, at, to_station, uuid.uuid4(), '{"blocks": []}', None, 1, False,
            idempotency_key, b"h" * 32 if idempotency_key else None, at_time,
            at_time + timedelta(hours=1), uuid.uuid4(), "api_key",
        )  # fmt: skip

    pool = CountingPool(dsn)
    try:
        batcher = submit_batcher(pool)
        inputs = [
            submission(),  # at least the first goes at once ...
            submission(),
            submission(),  # ... the rest share one statement
            submission(to_station=station),
            submission(at=uuid.uuid4()),  # no such location
            submission(key_id=revoked),
            submission(idempotency_key="k"),
            submission(idempotency_key="k"),  # the same key: not written again
        ]
        rows = await asyncio.gather(*(batcher.submit(i) for i in inputs))
        assert pool.statements == [*FIRST_ALONE, "submissions"]
        assert [r["inserted"] for r in rows] == [True, True, True, True, False, False, True, False]
        assert rows[3]["station_bridge_online"] and not rows[2]["station_bridge_online"]
        assert not rows[4]["location_found"] and rows[4]["key_active"]
        assert not rows[5]["key_active"]
        written = {r["id"] for r in await pool.fetch("SELECT id FROM print_jobs")}
        expected = {i[4] for i, r in zip(inputs, rows, strict=True) if r["inserted"]}
        assert expected <= written and inputs[7][4] not in written
        events = await pool.fetchval(
            "SELECT count(*) FROM job_events WHERE job_id = ANY($1::uuid[])", list(expected)
        )
        assert events == len(expected)  # one history row per job written, none for the others
    finally:
        await pool.close()


async def test_submissions_in_one_batch_take_each_stations_width(postgres_url: str) -> None:
    """The station probe of each row gives its job the station's paper width: 58 and 80 mm
    stations and a location job in one statement, each answered and stored with its own."""
    dsn = postgres_url.replace("postgresql+asyncpg://", "postgresql://")
    now = datetime.now(UTC)
    tenant, location, wide, narrow = uuid.uuid4(), uuid.uuid4(), uuid.uuid4(), uuid.uuid4()
    key = uuid.uuid4()
    conn = await asyncpg.connect(dsn)
    try:
        await place(conn, tenant, location, wide)
        await conn.execute(
            "INSERT INTO stations VALUES ($1, $2, $3, 'S', 58, $4)", narrow, tenant, location, now
        )
        await conn.execute(
            "INSERT INTO api_keys VALUES ($1, $2, 'K', 'pos', $3, $4, NULL)",
            key, tenant, uuid.uuid4().bytes, now,
        )  # fmt: skip
    finally:
        await conn.close()

    def submission(to_station: uuid.UUID | None) -> Args:
        at = datetime.now(UTC)
        return (
            key, tenant, location, to_station, uuid.uuid4(), '{"blocks": []}', None, 1, False,
            None, None, at, at + timedelta(hours=1), uuid.uuid4(), "api_key",
        )  # fmt: skip

    pool = CountingPool(dsn)
    try:
        targets = [narrow, wide, None, narrow, None, wide, narrow]
        inputs = [submission(s) for s in targets]
        batcher = submit_batcher(pool)
        rows = await asyncio.gather(*(batcher.submit(i) for i in inputs))
        assert pool.statements == [*FIRST_ALONE, "submissions"]
        want = [{narrow: 58, wide: 80, None: 80}[s] for s in targets]
        assert [r["paper_width_mm"] for r in rows] == want
        stored = dict(await pool.fetch("SELECT id, paper_width_mm FROM print_jobs"))
        assert [stored[i[4]] for i in inputs] == want
    finally:
        await pool.close()
