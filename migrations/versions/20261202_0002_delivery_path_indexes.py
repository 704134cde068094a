"""delivery path indexes: partial idempotency index, no job_events tenant index

1. Jobs without an Idempotency-Key (most of them) no longer have an entry in the unique index.
With one entry (tenant, NULL) per job, the index was a path to every job of a tenant, and
PostgreSQL planned the claim and report statements (``id = $1 AND tenant_id = $2``) through
it while the table's statistics were young: each statement read the tenant's whole history.
The hot path's ``ON CONFLICT`` names the index predicate, which also infers the old
constraint, so that code works before and after this migration.

2. ``ix_job_events_tenant_id`` is dropped. Every history row of a tenant had the same key, so
all three inserts of every printed job went to the last page of one run of duplicates; in a
direct loop of the three delivery statements (8 connections, one tenant) that index alone was
17% of PostgreSQL's CPU per job (0.76 -> 0.63 ms). Nothing reads history by tenant alone: a
job's history is read through ``ix_job_events_job_at``, and tenants are never deleted.

Revision ID: 0002
Revises: 0001
Create Date: 2026-12-02 12:30:00
"""

from collections.abc import Sequence

import sqlalchemy as sa
from alembic import op

revision: str = "0002"
down_revision: str | None = "0001"
branch_labels: str | Sequence[str] | None = None
depends_on: str | Sequence[str] | None = None

NAME = "uq_print_jobs_tenant_idempotency"
COLUMNS = ["tenant_id", "idempotency_key"]
HAS_KEY = sa.text("idempotency_key IS NOT NULL")
EVENTS_TENANT = "ix_job_events_tenant_id"


def upgrade() -> None:
    with op.batch_alter_table("print_jobs", schema=None) as batch_op:
        batch_op.drop_constraint(NAME, type_="unique")
    op.create_index(
        NAME, "print_jobs", COLUMNS, unique=True, postgresql_where=HAS_KEY, sqlite_where=HAS_KEY
    )
    op.drop_index(EVENTS_TENANT, table_name="job_events")


def downgrade() -> None:
    op.create_index(EVENTS_TENANT, "job_events", ["tenant_id"], unique=False)
    op.drop_index(NAME, table_name="print_jobs")
    with op.batch_alter_table("print_jobs", schema=None) as batch_op:
        batch_op.create_unique_constraint(NAME, COLUMNS)
