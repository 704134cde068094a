"""webhooks: endpoints, the outbox (written by triggers) and the delivery log

An outbox row is written by a trigger in the statement that writes a job's history row
(``job_events``) or flips a device's ``online``: every path that changes a job or a device
(the ORM, the hot SQL and its batches, the sweeper) already goes through those, so the event
commits or rolls back with its change. On PostgreSQL the history trigger runs once per
statement over its new rows (one call for a batch); for a tenant without endpoints it costs
that call and a join with no match (docs/benchmarks.md).

Revision ID: 0010
Revises: 0009
Create Date: 2026-12-05 17:00:00
"""

from collections.abc import Sequence

import sqlalchemy as sa
from alembic import op

revision: str = "0010"
down_revision: str | None = "0009"
branch_labels: str | Sequence[str] | None = None
depends_on: str | Sequence[str] | None = None

_DELIVERY_COLUMNS = (
    "id, tenant_id, endpoint_id, event_id, event_type, subject_id, state, previous, error,"
    " occurred_at, status, attempts, next_attempt_at"
)

# Once per statement (the hot path's batches write many history rows in one), over the
# statement's new rows: a call and one join with no match for a tenant without webhooks.
PG_JOB_FUNCTION = f"""
CREATE FUNCTION printrelay_job_event_webhooks() RETURNS trigger LANGUAGE plpgsql AS $$
BEGIN
    INSERT INTO webhook_deliveries ({_DELIVERY_COLUMNS})
    SELECT gen_random_uuid(), e.tenant_id, e.id, n.id, 'print_job.updated', n.job_id,
           n.to_status, n.from_status, n.error, n.at, 'pending', 0, n.at
    FROM new_rows n JOIN webhook_endpoints e ON e.tenant_id = n.tenant_id AND e.on_print_job
    WHERE e.location_id IS NULL
       OR e.location_id = (SELECT j.location_id FROM print_jobs j WHERE j.id = n.job_id);
    RETURN NULL;
END $$
"""  # noqa: S608 (constants only)
PG_DEVICE_FUNCTION = f"""
CREATE FUNCTION printrelay_device_webhooks() RETURNS trigger LANGUAGE plpgsql AS $$
BEGIN
    INSERT INTO webhook_deliveries ({_DELIVERY_COLUMNS})
    SELECT ev.id, e.tenant_id, e.id, ev.id, 'device.status', NEW.id,
           CASE WHEN NEW.online THEN 'online' ELSE 'offline' END,
           CASE WHEN OLD.online THEN 'online' ELSE 'offline' END, NULL,
           clock_timestamp(), 'pending', 0, clock_timestamp()
    FROM webhook_endpoints e, (SELECT gen_random_uuid() AS id) ev
    WHERE e.tenant_id = NEW.tenant_id AND e.on_device_status
      AND (e.location_id IS NULL OR e.location_id = NEW.location_id);
    RETURN NULL;
END $$
"""  # noqa: S608 (constants only)
PG_TRIGGERS = (
    "CREATE TRIGGER job_events_webhooks AFTER INSERT ON job_events REFERENCING NEW TABLE AS"
    " new_rows FOR EACH STATEMENT EXECUTE FUNCTION printrelay_job_event_webhooks()",
    "CREATE TRIGGER devices_webhooks AFTER UPDATE OF online ON devices FOR EACH ROW"
    " WHEN (OLD.online IS DISTINCT FROM NEW.online) EXECUTE FUNCTION printrelay_device_webhooks()",
)

# SQLite: UUIDs are 32 hex digits (SQLAlchemy's Uuid), times 'YYYY-MM-DD HH:MM:SS.ffffff'.
_SQLITE_UUID = "lower(hex(randomblob(16)))"
_SQLITE_NOW = "strftime('%Y-%m-%d %H:%M:%f000', 'now')"
SQLITE_TRIGGERS = (
    f"""
CREATE TRIGGER job_events_webhooks AFTER INSERT ON job_events BEGIN
    INSERT INTO webhook_deliveries ({_DELIVERY_COLUMNS})
    SELECT {_SQLITE_UUID}, e.tenant_id, e.id, NEW.id, 'print_job.updated', NEW.job_id,
           NEW.to_status, NEW.from_status, NEW.error, NEW.at, 'pending', 0, NEW.at
    FROM webhook_endpoints e
    WHERE e.tenant_id = NEW.tenant_id AND e.on_print_job
      AND (e.location_id IS NULL
           OR e.location_id = (SELECT j.location_id FROM print_jobs j WHERE j.id = NEW.job_id));
END
""",  # noqa: S608 (constants only)
    f"""
CREATE TRIGGER devices_webhooks AFTER UPDATE OF online ON devices
WHEN OLD.online IS NOT NEW.online BEGIN
    INSERT INTO webhook_deliveries ({_DELIVERY_COLUMNS})
    SELECT {_SQLITE_UUID}, e.tenant_id, e.id, {_SQLITE_UUID}, 'device.status', NEW.id,
           CASE WHEN NEW.online THEN 'online' ELSE 'offline' END,
           CASE WHEN OLD.online THEN 'online' ELSE 'offline' END, NULL,
           {_SQLITE_NOW}, 'pending', 0, {_SQLITE_NOW}
    FROM webhook_endpoints e
    WHERE e.tenant_id = NEW.tenant_id AND e.on_device_status
      AND (e.location_id IS NULL OR e.location_id = NEW.location_id);
END
""",  # noqa: S608 (constants only)
)


def upgrade() -> None:
    op.create_table(
        "webhook_endpoints",
        sa.Column("id", sa.Uuid(), nullable=False),
        sa.Column("tenant_id", sa.Uuid(), nullable=False),
        sa.Column("location_id", sa.Uuid(), nullable=True),
        sa.Column("url", sa.String(length=2000), nullable=False),
        sa.Column("on_print_job", sa.Boolean(), nullable=False),
        sa.Column("on_device_status", sa.Boolean(), nullable=False),
        sa.Column("secret", sa.String(length=100), nullable=False),
        sa.Column("created_at", sa.DateTime(timezone=True), nullable=False),
        sa.PrimaryKeyConstraint("id", name=op.f("pk_webhook_endpoints")),
    )
    op.create_index("ix_webhook_endpoints_tenant", "webhook_endpoints", ["tenant_id"])
    op.create_table(
        "webhook_deliveries",
        sa.Column("id", sa.Uuid(), nullable=False),
        sa.Column("tenant_id", sa.Uuid(), nullable=False),
        sa.Column("endpoint_id", sa.Uuid(), nullable=False),
        sa.Column("event_id", sa.Uuid(), nullable=False),
        sa.Column("event_type", sa.String(length=30), nullable=False),
        sa.Column("subject_id", sa.Uuid(), nullable=False),
        sa.Column("state", sa.String(length=20), nullable=False),
        sa.Column("previous", sa.String(length=20), nullable=True),
        sa.Column("error", sa.String(length=200), nullable=True),
        sa.Column("occurred_at", sa.DateTime(timezone=True), nullable=False),
        sa.Column("status", sa.String(length=12), nullable=False),
        sa.Column("attempts", sa.Integer(), nullable=False),
        sa.Column("next_attempt_at", sa.DateTime(timezone=True), nullable=False),
        sa.Column("finished_at", sa.DateTime(timezone=True), nullable=True),
        sa.PrimaryKeyConstraint("id", name=op.f("pk_webhook_deliveries")),
    )
    op.create_index(
        "ix_webhook_deliveries_due", "webhook_deliveries", ["status", "next_attempt_at"]
    )
    op.create_index("ix_webhook_deliveries_endpoint", "webhook_deliveries", ["endpoint_id"])
    op.create_table(
        "webhook_attempts",
        sa.Column("id", sa.Uuid(), nullable=False),
        sa.Column("tenant_id", sa.Uuid(), nullable=False),
        sa.Column("endpoint_id", sa.Uuid(), nullable=False),
        sa.Column("delivery_id", sa.Uuid(), nullable=False),
        sa.Column("event_id", sa.Uuid(), nullable=False),
        sa.Column("event_type", sa.String(length=30), nullable=False),
        sa.Column("attempt", sa.Integer(), nullable=False),
        sa.Column("status_code", sa.Integer(), nullable=True),
        sa.Column("error", sa.String(length=200), nullable=True),
        sa.Column("at", sa.DateTime(timezone=True), nullable=False),
        sa.PrimaryKeyConstraint("id", name=op.f("pk_webhook_attempts")),
    )
    op.create_index("ix_webhook_attempts_endpoint_at", "webhook_attempts", ["endpoint_id", "at"])
    if op.get_bind().dialect.name == "postgresql":
        for statement in (PG_JOB_FUNCTION, PG_DEVICE_FUNCTION, *PG_TRIGGERS):
            op.execute(statement)
    else:
        for statement in SQLITE_TRIGGERS:
            op.execute(statement)


def downgrade() -> None:
    op.execute("DROP TRIGGER IF EXISTS devices_webhooks" + _on("devices"))
    op.execute("DROP TRIGGER IF EXISTS job_events_webhooks" + _on("job_events"))
    if op.get_bind().dialect.name == "postgresql":
        op.execute("DROP FUNCTION IF EXISTS printrelay_device_webhooks()")
        op.execute("DROP FUNCTION IF EXISTS printrelay_job_event_webhooks()")
    op.drop_table("webhook_attempts")
    op.drop_table("webhook_deliveries")
    op.drop_table("webhook_endpoints")


def _on(table: str) -> str:
    return f" ON {table}" if op.get_bind().dialect.name == "postgresql" else ""
