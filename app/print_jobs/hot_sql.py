"""The delivery path's statements on PostgreSQL (run by ``app.print_jobs.hot_path``).

Each write is one statement: a data-modifying CTE writes the job and its history event
together, with the checks the general path makes (``app.print_jobs.repository``) in the same
SQL terms: key still active, location and station of the tenant, the device's scope and its
current epoch. The ``*_BATCH_SQL`` statements take one array per parameter (``unnest``) and
state the same conditions row by row, for ``app.db.statement_batcher``. Every value is bound
as ``$n``; the text is built from constants only. ``tests/integration/test_hot_plans.py``
holds every statement's plan to index access.
"""

from __future__ import annotations

from app.models import LOCATION_JOB_PAPER_WIDTH_MM, JobStatus
from app.print_jobs.states import sources_of

JOB_COLUMNS = (
    "id, tenant_id, location_id, station_id, status, document, raw_data, copies, drawer_pulse,"
    " claimed_by, epoch, reprint_of, error, idempotency_key, request_hash, created_at,"
    " updated_at, expires_at, lease_expires_at, paper_width_mm"
)
# A job's paper: its station's width, read by the probe that checks the station (no query of
# its own), or this without a station (``repository.submit_target`` states the same).
_LOCATION_WIDTH = str(LOCATION_JOB_PAPER_WIDTH_MM)
_EVENT_COLUMNS = "id, tenant_id, job_id, from_status, to_status, actor_kind, actor_id, error, at"


def _in(statuses: frozenset[JobStatus]) -> str:
    return "(" + ", ".join(f"'{s.value}'" for s in sorted(statuses)) + ")"


# $1 key, $2 tenant, $3 location, $4 station (NULL: none), $5.. the job ($6 its document as
# JSON text), $14 event id, $15 actor kind. The job row is written only when every check
# holds; ON CONFLICT covers a repeated Idempotency-Key (the general path then answers with the
# first job). The station's probe reads its width (NULL: not found) for the job's paper.
SUBMIT_SQL = f"""
WITH probes AS (
    SELECT
        EXISTS (SELECT 1 FROM api_keys WHERE id = $1 AND revoked_at IS NULL) AS key_active,
        EXISTS (SELECT 1 FROM locations WHERE id = $3 AND tenant_id = $2) AS location_found,
        (SELECT paper_width_mm FROM stations WHERE id = $4 AND tenant_id = $2 AND location_id = $3
        ) AS station_width,
        ($4::uuid IS NOT NULL AND EXISTS (
            SELECT 1 FROM devices
            WHERE station_id = $4 AND tenant_id = $2 AND online AND revoked_at IS NULL
              AND (fallback_at IS NULL OR fallback_at > $12)
        )) AS station_bridge_online
), checks AS (
    SELECT key_active, location_found,
        ($4::uuid IS NULL OR station_width IS NOT NULL) AS station_found,
        station_bridge_online,
        COALESCE(station_width, {_LOCATION_WIDTH}) AS paper_width_mm
    FROM probes
), job AS (
    INSERT INTO print_jobs ({JOB_COLUMNS})
    SELECT $5, $2, $3, $4, 'pending', $6::text::jsonb, $7, $8, $9, NULL, NULL, NULL, NULL, $10, $11,
           $12, $12, $13, NULL, paper_width_mm
    FROM checks WHERE key_active AND location_found AND station_found
    ON CONFLICT (tenant_id, idempotency_key) WHERE idempotency_key IS NOT NULL DO NOTHING
    RETURNING id, tenant_id
), event AS (
    INSERT INTO job_events ({_EVENT_COLUMNS})
    SELECT $14, tenant_id, id, NULL, 'pending', $15, $1, NULL, $12 FROM job
)
SELECT checks.*, EXISTS (SELECT 1 FROM job) AS inserted FROM checks
"""  # noqa: S608 (built from constants; every value is bound as $n)

# Several submissions in one statement: SUBMIT_SQL's checks and writes, row by row. Two rows
# with one Idempotency-Key: the first is written, the other is not (and is answered with it).
# The station's probe reads its width for the job's paper, as in SUBMIT_SQL.
SUBMIT_BATCH_SQL = f"""
WITH input AS (
    SELECT * FROM unnest($1::uuid[], $2::uuid[], $3::uuid[], $4::uuid[], $5::uuid[], $6::text[],
                         $7::text[], $8::int2[], $9::bool[], $10::text[], $11::bytea[],
                         $12::timestamptz[], $13::timestamptz[], $14::uuid[], $15::text[],
                         $16::int[])
        AS i(key_id, tenant_id, location_id, station_id, id, document, raw_data, copies,
             drawer_pulse, idempotency_key, request_hash, created_at, expires_at, event_id,
             actor_kind, ord)
), checks AS (
    -- Each check a probe of one row by index (LATERAL ... LIMIT 1): as EXISTS, PostgreSQL
    -- may read all of stations or devices into a hash table once per statement instead.
    SELECT i.*,
        key_row.ok IS NOT NULL AS key_active,
        location_row.ok IS NOT NULL AS location_found,
        (i.station_id IS NULL OR station_row.width IS NOT NULL) AS station_found,
        (i.station_id IS NOT NULL AND bridge_row.ok IS NOT NULL) AS station_bridge_online,
        COALESCE(station_row.width, {_LOCATION_WIDTH}) AS paper_width_mm
    FROM input AS i
    LEFT JOIN LATERAL (
        SELECT true AS ok FROM api_keys k WHERE k.id = i.key_id AND k.revoked_at IS NULL LIMIT 1
    ) AS key_row ON true
    LEFT JOIN LATERAL (
        SELECT true AS ok FROM locations l
        WHERE l.id = i.location_id AND l.tenant_id = i.tenant_id LIMIT 1
    ) AS location_row ON true
    LEFT JOIN LATERAL (
        SELECT s.paper_width_mm AS width FROM stations s
        WHERE s.id = i.station_id AND s.tenant_id = i.tenant_id AND s.location_id = i.location_id
        LIMIT 1
    ) AS station_row ON true
    LEFT JOIN LATERAL (
        SELECT true AS ok FROM devices d
        WHERE d.station_id = i.station_id AND d.tenant_id = i.tenant_id AND d.online
            AND d.revoked_at IS NULL AND (d.fallback_at IS NULL OR d.fallback_at > i.created_at)
        LIMIT 1
    ) AS bridge_row ON true
), job AS (
    INSERT INTO print_jobs ({JOB_COLUMNS})
    SELECT id, tenant_id, location_id, station_id, 'pending', document::jsonb, raw_data, copies,
           drawer_pulse, NULL, NULL, NULL, NULL, idempotency_key, request_hash, created_at,
           created_at, expires_at, NULL, paper_width_mm
    FROM checks WHERE key_active AND location_found AND station_found
    ORDER BY ord
    ON CONFLICT (tenant_id, idempotency_key) WHERE idempotency_key IS NOT NULL DO NOTHING
    RETURNING id
), event AS (
    INSERT INTO job_events ({_EVENT_COLUMNS})
    SELECT c.event_id, c.tenant_id, c.id, NULL, 'pending', c.actor_kind, c.key_id, NULL,
           c.created_at
    FROM checks AS c JOIN job ON job.id = c.id
)
SELECT c.key_active, c.location_found, c.station_found, c.station_bridge_online,
       c.paper_width_mm, EXISTS (SELECT 1 FROM job WHERE job.id = c.id) AS inserted, c.ord
FROM checks AS c
"""  # noqa: S608 (built from constants; every value is bound as $n)


def _device_at_epoch(device: str, epoch: str) -> str:
    """The device at its current epoch, not unpaired (as ``repository._device_at_epoch``);
    ``device`` and ``epoch`` name the parameters or columns holding them."""
    return f"""EXISTS (SELECT 1 FROM devices d
                  WHERE d.id = {device} AND d.epoch = {epoch} AND d.revoked_at IS NULL)"""  # noqa: S608 (parameter names, not values)


def device_scope_sql(location: str, station: str, *, station_bridge: bool, now: str) -> str:
    """Jobs ``j`` a device may claim at ``now``, as ``repository.in_device_scope``;
    ``location``, ``station`` and ``now`` name the parameters (or SQL) holding the device's and
    the time. A station bridge: its station's jobs. A location bridge (its station parameter is
    NULL): the location's jobs without a station, and a station's jobs while that station has
    no printing station bridge (none online, or every online one past its ``fallback_at``: its
    printer down for longer than the station's ``fallback_after_s``)."""
    if station_bridge:
        return f"j.location_id = {location} AND j.station_id = {station}"
    return f"""j.location_id = {location} AND {station}::uuid IS NULL AND (
    j.station_id IS NULL OR NOT EXISTS (
        SELECT 1 FROM devices sb
        WHERE sb.station_id = j.station_id AND sb.online AND sb.revoked_at IS NULL
          AND (sb.fallback_at IS NULL OR sb.fallback_at > {now})
    ))"""  # noqa: S608 (parameter names, not values)


# Every job column, qualified (statements that also read devices).
J_COLUMNS = ", ".join(f"j.{c.strip()}" for c in JOB_COLUMNS.split(","))


def _claim_sql(scope: str) -> str:
    # $1 job, $2 tenant, $3 device, $4 epoch, $5 location, $6 station, $7 now,
    # $8 lease until, $9 event id
    return f"""
WITH job AS (
    UPDATE print_jobs AS j
    SET status = 'sent', claimed_by = $3, epoch = $4, updated_at = $7, lease_expires_at = $8
    WHERE j.id = $1 AND j.tenant_id = $2 AND j.status IN {_in(sources_of(JobStatus.SENT))}
      AND j.expires_at > $7 AND {scope} AND {_device_at_epoch("$3", "$4")}
    RETURNING {J_COLUMNS}
), event AS (
    INSERT INTO job_events ({_EVENT_COLUMNS})
    SELECT $9, tenant_id, id, 'pending', 'sent', 'device', $3, NULL, $7 FROM job
)
SELECT * FROM job
"""  # noqa: S608 (built from constants; every value is bound as $n)


CLAIM_STATION_SQL = _claim_sql(device_scope_sql("$5", "$6", station_bridge=True, now="$7"))
CLAIM_LOCATION_SQL = _claim_sql(device_scope_sql("$5", "$6", station_bridge=False, now="$7"))

# $1 job, $2 tenant, $3 device, $4 epoch, $5 status, $6 error, $7 now, $8 event id
REPORT_SQL = f"""
WITH job AS (
    UPDATE print_jobs AS j
    SET status = $5, error = $6, updated_at = $7, lease_expires_at = NULL
    WHERE j.id = $1 AND j.tenant_id = $2 AND j.status = 'sent' AND j.claimed_by = $3
      AND {_device_at_epoch("$3", "$4")}
    RETURNING {J_COLUMNS}
), event AS (
    INSERT INTO job_events ({_EVENT_COLUMNS})
    SELECT $8, tenant_id, id, 'sent', $5, 'device', $3, $6, $7 FROM job
)
SELECT * FROM job
"""  # noqa: S608 (built from constants; every value is bound as $n)
assert sources_of(JobStatus.PRINTED) == sources_of(JobStatus.FAILED) == {JobStatus.SENT}


# Claims and reports of several devices in batch statements: each row under its single
# statement's conditions. A claim batch's parameters are one array per parameter of
# CLAIM_*_SQL plus ``ord`` (each claim's position in the batch, which its answer carries
# back); a report batch's likewise for REPORT_SQL. A batch of claims and reports together is
# one statement with both (DEVICE_BATCH_SQL: the claims' arrays, then the reports'): a claim
# takes a pending job and a report a sent one, so within the statement (one snapshot) no job
# is both claimed and reported. A batch of one kind uses its kind's statement: PostgreSQL sets
# up every part of a plan for each execution, used or not. A claim is scoped by each row's
# device: a station bridge when its station is not NULL, else a location bridge. When two rows
# claim the same job, PostgreSQL updates it once, for one of them: one claim wins.
def _batch_scope(*, station_bridge: bool) -> str:
    return device_scope_sql(
        "i.location_id", "i.station_id", station_bridge=station_bridge, now="i.at"
    )


def _claim_batch_ctes(first: int) -> str:
    p = [f"${first + i}" for i in range(10)]
    return f"""claim_input AS (
    SELECT * FROM unnest({p[0]}::uuid[], {p[1]}::uuid[], {p[2]}::uuid[], {p[3]}::bigint[],
                         {p[4]}::uuid[], {p[5]}::uuid[], {p[6]}::timestamptz[],
                         {p[7]}::timestamptz[], {p[8]}::uuid[], {p[9]}::int[])
        AS i(job_id, tenant_id, device_id, epoch, location_id, station_id, at, lease_until,
             event_id, ord)
), claimed AS (
    UPDATE print_jobs AS j
    SET status = 'sent', claimed_by = i.device_id, epoch = i.epoch, updated_at = i.at,
        lease_expires_at = i.lease_until
    FROM claim_input AS i
    WHERE j.id = i.job_id AND j.tenant_id = i.tenant_id
      AND j.status IN {_in(sources_of(JobStatus.SENT))} AND j.expires_at > i.at
      AND ((i.station_id IS NOT NULL AND {_batch_scope(station_bridge=True)})
           OR (i.station_id IS NULL AND {_batch_scope(station_bridge=False)}))
      AND {_device_at_epoch("i.device_id", "i.epoch")}
    RETURNING {J_COLUMNS}, i.ord, i.event_id
)"""  # noqa: S608 (built from constants; every value is bound as $n)


def _report_batch_ctes(first: int) -> str:
    p = [f"${first + i}" for i in range(9)]
    return f"""report_input AS (
    SELECT * FROM unnest({p[0]}::uuid[], {p[1]}::uuid[], {p[2]}::uuid[], {p[3]}::bigint[],
                         {p[4]}::text[], {p[5]}::text[], {p[6]}::timestamptz[], {p[7]}::uuid[],
                         {p[8]}::int[])
        AS i(job_id, tenant_id, device_id, epoch, status, error, at, event_id, ord)
), reported AS (
    UPDATE print_jobs AS j
    SET status = i.status, error = i.error, updated_at = i.at, lease_expires_at = NULL
    FROM report_input AS i
    WHERE j.id = i.job_id AND j.tenant_id = i.tenant_id AND j.status = 'sent'
      AND j.claimed_by = i.device_id
      AND {_device_at_epoch("i.device_id", "i.epoch")}
    RETURNING {J_COLUMNS}, i.ord, i.event_id
)"""  # noqa: S608 (built from constants; every value is bound as $n)


_CLAIM_EVENTS = """SELECT event_id, tenant_id, id, 'pending', 'sent', 'device', claimed_by, NULL,
           updated_at
    FROM claimed"""
_REPORT_EVENTS = """SELECT event_id, tenant_id, id, 'sent', status, 'device', claimed_by, error,
           updated_at
    FROM reported"""


_UNION = "\n    UNION ALL\n    "
_ANSWERS_FROM = f"SELECT {JOB_COLUMNS}, ord FROM {{cte}}"  # noqa: S608 (constants only)


def _device_batch_sql(*, claims: bool, reports: bool) -> str:
    ctes, events, answers = [], [], []
    if claims:
        ctes.append(_claim_batch_ctes(1))
        events.append(_CLAIM_EVENTS)
        answers.append(_ANSWERS_FROM.format(cte="claimed"))
    if reports:
        ctes.append(_report_batch_ctes(11 if claims else 1))
        events.append(_REPORT_EVENTS)
        answers.append(_ANSWERS_FROM.format(cte="reported"))
    return f"""
WITH {", ".join(ctes)}, event AS (
    INSERT INTO job_events ({_EVENT_COLUMNS})
    {_UNION.join(events)}
)
{_UNION.join(answers)}
"""


CLAIM_BATCH_SQL = _device_batch_sql(claims=True, reports=False)
REPORT_BATCH_SQL = _device_batch_sql(claims=False, reports=True)
DEVICE_BATCH_SQL = _device_batch_sql(claims=True, reports=True)


# $1 job, $2 tenant, $3 device, $4 location, $5 station (NULL for a location bridge): the job
# as the device may see it (in scope, or claimed by it) and the device's current epoch.
_REFUSAL_SQL = """
SELECT j.claimed_by,
       (SELECT d.epoch FROM devices d
        WHERE d.id = $3 AND d.tenant_id = $2 AND d.revoked_at IS NULL) AS device_epoch
FROM print_jobs j
WHERE j.id = $1 AND j.tenant_id = $2 AND (({scope}) OR j.claimed_by = $3)
"""
# The time is the statement's (``now()``): a refusal explains a claim that just failed.
REFUSAL_STATION_SQL = _REFUSAL_SQL.format(
    scope=device_scope_sql("$4", "$5", station_bridge=True, now="now()")
)
REFUSAL_LOCATION_SQL = _REFUSAL_SQL.format(
    scope=device_scope_sql("$4", "$5", station_bridge=False, now="now()")
)
