"""webhooks: room for encrypted signing secrets; device.status on printer-state changes

``webhook_endpoints.secret`` widens to hold ``fernet:<token>`` (app/secret_box.py). Rows
written before keep their clear secret and keep signing with it: the prefix tells the two
apart, and ``printrelay serve`` seals them at start once PRINTRELAY_ENCRYPTION_KEYS is set
(``printrelay reencrypt-secrets`` does it on demand). No data is changed here: a migration
does not read the server's keys.

The device trigger now fires when ``printer_state`` changes too (a printer out of paper), and
the outbox row keeps the printer state of that moment. One change now has one event id across
the tenant's endpoints (0010 gave each endpoint's row its own). The job trigger is unchanged
(SQLite: dropped and made again around the table rebuild that widens the column, which its
body names).

Revision ID: 0011
Revises: 0010
Create Date: 2026-12-05 19:00:00
"""

from collections.abc import Sequence

import sqlalchemy as sa
from alembic import op

revision: str = "0011"
down_revision: str | None = "0010"
branch_labels: str | Sequence[str] | None = None
depends_on: str | Sequence[str] | None = None

_COLUMNS = (
    "id, tenant_id, endpoint_id, event_id, event_type, subject_id, state, previous, error,"
    " occurred_at, status, attempts, next_attempt_at"
)

# Each endpoint's row its own id, the change one event id. A tenant without device.status
# webhooks leaves after one indexed lookup (device changes are rare and never per job, but a
# restart reconnects every bridge at once).
PG_DEVICE_FUNCTION = f"""
CREATE OR REPLACE FUNCTION printrelay_device_webhooks() RETURNS trigger LANGUAGE plpgsql AS $$
DECLARE
    change_id uuid;
BEGIN
    IF NOT EXISTS (SELECT 1 FROM webhook_endpoints e
                   WHERE e.tenant_id = NEW.tenant_id AND e.on_device_status) THEN
        RETURN NULL;
    END IF;
    change_id := gen_random_uuid();
    INSERT INTO webhook_deliveries ({_COLUMNS}, printer_state, printer_state_at)
    SELECT gen_random_uuid(), e.tenant_id, e.id, change_id, 'device.status', NEW.id,
           CASE WHEN NEW.online THEN 'online' ELSE 'offline' END,
           CASE WHEN OLD.online THEN 'online' ELSE 'offline' END, NULL,
           clock_timestamp(), 'pending', 0, clock_timestamp(),
           NEW.printer_state, NEW.printer_state_at
    FROM webhook_endpoints e
    WHERE e.tenant_id = NEW.tenant_id AND e.on_device_status
      AND (e.location_id IS NULL OR e.location_id = NEW.location_id);
    RETURN NULL;
END $$
"""  # noqa: S608 (constants only)
PG_DEVICE_TRIGGER = (
    "CREATE TRIGGER devices_webhooks AFTER UPDATE OF online, printer_state ON devices"
    " FOR EACH ROW WHEN (OLD.online IS DISTINCT FROM NEW.online"
    " OR OLD.printer_state IS DISTINCT FROM NEW.printer_state)"
    " EXECUTE FUNCTION printrelay_device_webhooks()"
)
# 0010's condition and columns, for the downgrade.
PG_DEVICE_TRIGGER_0010 = (
    "CREATE TRIGGER devices_webhooks AFTER UPDATE OF online ON devices FOR EACH ROW"
    " WHEN (OLD.online IS DISTINCT FROM NEW.online) EXECUTE FUNCTION printrelay_device_webhooks()"
)
PG_DEVICE_FUNCTION_0010 = f"""
CREATE OR REPLACE FUNCTION printrelay_device_webhooks() RETURNS trigger LANGUAGE plpgsql AS $$
DECLARE
    change_id uuid := gen_random_uuid();
BEGIN
    INSERT INTO webhook_deliveries ({_COLUMNS})
    SELECT gen_random_uuid(), e.tenant_id, e.id, change_id, 'device.status', NEW.id,
           CASE WHEN NEW.online THEN 'online' ELSE 'offline' END,
           CASE WHEN OLD.online THEN 'online' ELSE 'offline' END, NULL,
           clock_timestamp(), 'pending', 0, clock_timestamp()
    FROM webhook_endpoints e
    WHERE e.tenant_id = NEW.tenant_id AND e.on_device_status
      AND (e.location_id IS NULL OR e.location_id = NEW.location_id);
    RETURN NULL;
END $$
"""  # noqa: S608 (constants only)

# SQLite: UUIDs are 32 hex digits (SQLAlchemy's Uuid), times 'YYYY-MM-DD HH:MM:SS.ffffff'.
# The one-row subquery ``ev`` is evaluated once per change: one event id for every endpoint.
_SQLITE_UUID = "lower(hex(randomblob(16)))"
_SQLITE_NOW = "strftime('%Y-%m-%d %H:%M:%f000', 'now')"
SQLITE_JOB_TRIGGER = f"""
CREATE TRIGGER job_events_webhooks AFTER INSERT ON job_events BEGIN
    INSERT INTO webhook_deliveries ({_COLUMNS})
    SELECT {_SQLITE_UUID}, e.tenant_id, e.id, NEW.id, 'print_job.updated', NEW.job_id,
           NEW.to_status, NEW.from_status, NEW.error, NEW.at, 'pending', 0, NEW.at
    FROM webhook_endpoints e
    WHERE e.tenant_id = NEW.tenant_id AND e.on_print_job
      AND (e.location_id IS NULL
           OR e.location_id = (SELECT j.location_id FROM print_jobs j WHERE j.id = NEW.job_id));
END
"""  # noqa: S608 (constants only)
SQLITE_DEVICE_TRIGGER = f"""
CREATE TRIGGER devices_webhooks AFTER UPDATE OF online, printer_state ON devices
WHEN (OLD.online IS NOT NEW.online OR OLD.printer_state IS NOT NEW.printer_state)
     AND EXISTS (SELECT 1 FROM webhook_endpoints e
                 WHERE e.tenant_id = NEW.tenant_id AND e.on_device_status) BEGIN
    INSERT INTO webhook_deliveries ({_COLUMNS}, printer_state, printer_state_at)
    SELECT {_SQLITE_UUID}, e.tenant_id, e.id, ev.id, 'device.status', NEW.id,
           CASE WHEN NEW.online THEN 'online' ELSE 'offline' END,
           CASE WHEN OLD.online THEN 'online' ELSE 'offline' END, NULL,
           {_SQLITE_NOW}, 'pending', 0, {_SQLITE_NOW}, NEW.printer_state, NEW.printer_state_at
    FROM webhook_endpoints e, (SELECT {_SQLITE_UUID} AS id) ev
    WHERE e.tenant_id = NEW.tenant_id AND e.on_device_status
      AND (e.location_id IS NULL OR e.location_id = NEW.location_id);
END
"""  # noqa: S608 (constants only)
SQLITE_DEVICE_TRIGGER_0010 = f"""
CREATE TRIGGER devices_webhooks AFTER UPDATE OF online ON devices
WHEN OLD.online IS NOT NEW.online BEGIN
    INSERT INTO webhook_deliveries ({_COLUMNS})
    SELECT {_SQLITE_UUID}, e.tenant_id, e.id, ev.id, 'device.status', NEW.id,
           CASE WHEN NEW.online THEN 'online' ELSE 'offline' END,
           CASE WHEN OLD.online THEN 'online' ELSE 'offline' END, NULL,
           {_SQLITE_NOW}, 'pending', 0, {_SQLITE_NOW}
    FROM webhook_endpoints e, (SELECT {_SQLITE_UUID} AS id) ev
    WHERE e.tenant_id = NEW.tenant_id AND e.on_device_status
      AND (e.location_id IS NULL OR e.location_id = NEW.location_id);
END
"""  # noqa: S608 (constants only)


def _is_postgres() -> bool:
    return bool(op.get_bind().dialect.name == "postgresql")


def _drop_sqlite_triggers() -> None:
    # SQLite rebuilds a table to change a column (batch mode): a trigger whose body names
    # the table being rebuilt would break the rename, so both go first and come back after.
    op.execute("DROP TRIGGER IF EXISTS devices_webhooks")
    op.execute("DROP TRIGGER IF EXISTS job_events_webhooks")


def upgrade() -> None:
    postgres = _is_postgres()
    if not postgres:
        _drop_sqlite_triggers()
    with op.batch_alter_table("webhook_endpoints") as batch:
        batch.alter_column(
            "secret",
            existing_type=sa.String(length=100),
            type_=sa.String(length=500),
            existing_nullable=False,
        )
    with op.batch_alter_table("webhook_deliveries") as batch:
        batch.add_column(sa.Column("printer_state", sa.String(length=20), nullable=True))
        batch.add_column(sa.Column("printer_state_at", sa.DateTime(timezone=True), nullable=True))
    if postgres:
        op.execute("DROP TRIGGER devices_webhooks ON devices")
        op.execute(PG_DEVICE_FUNCTION)
        op.execute(PG_DEVICE_TRIGGER)
    else:
        op.execute(SQLITE_JOB_TRIGGER)
        op.execute(SQLITE_DEVICE_TRIGGER)


def downgrade() -> None:
    """Back to 0010's columns and trigger condition. Refused while a secret is sealed: 0010's
    code would sign with the sealed text, and a migration has no key to open it (delete
    those webhooks first)."""
    sealed = op.get_bind().execute(
        sa.text("SELECT count(*) FROM webhook_endpoints WHERE secret LIKE 'fernet:%'")
    )
    if sealed.scalar():
        raise RuntimeError(
            "webhook_endpoints holds encrypted signing secrets, which revision 0010 cannot "
            "read: delete those webhooks before downgrading"
        )
    postgres = _is_postgres()
    if postgres:
        op.execute("DROP TRIGGER devices_webhooks ON devices")
        op.execute(PG_DEVICE_FUNCTION_0010)
        op.execute(PG_DEVICE_TRIGGER_0010)
    else:
        _drop_sqlite_triggers()
    with op.batch_alter_table("webhook_deliveries") as batch:
        batch.drop_column("printer_state_at")
        batch.drop_column("printer_state")
    with op.batch_alter_table("webhook_endpoints") as batch:
        batch.alter_column(
            "secret",
            existing_type=sa.String(length=500),
            type_=sa.String(length=100),
            existing_nullable=False,
        )
    if not postgres:
        op.execute(SQLITE_JOB_TRIGGER)
        op.execute(SQLITE_DEVICE_TRIGGER_0010)
