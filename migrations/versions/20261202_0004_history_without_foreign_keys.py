"""history without foreign keys: job_events.tenant_id and job_events.job_id are plain columns

Every history row (three per printed job) checked two foreign keys when written. In
PostgreSQL each check is a query run by a trigger at the end of the statement, and it locks
the referenced row FOR KEY SHARE: the tenant's one row, locked by every job of the tenant, and
the job's. In a direct loop of the three delivery statements (8 connections, 50,000 jobs of
history) those checks were 18% of PostgreSQL's samples (perf, ``AfterTriggerEndQuery``), and
without them PostgreSQL's CPU per job went from 0.63-0.65 to 0.47-0.49 ms.

What the keys guarded holds by construction: a history row is written only from the job's own
row (the hot path's statements insert it from the UPDATE's or INSERT's RETURNING; the general
path in the transaction that changes the job, from the job it changed), so its job and tenant
exist; and nothing deletes jobs or tenants. ``print_jobs`` keeps its foreign keys.

Revision ID: 0004
Revises: 0003
Create Date: 2026-12-02 15:30:00
"""

from collections.abc import Sequence

from alembic import op

revision: str = "0004"
down_revision: str | None = "0003"
branch_labels: str | Sequence[str] | None = None
depends_on: str | Sequence[str] | None = None

# (constraint, column, referred table)
KEYS = (
    ("fk_job_events_tenant_id_tenants", "tenant_id", "tenants"),
    ("fk_job_events_job_id_print_jobs", "job_id", "print_jobs"),
)


def upgrade() -> None:
    with op.batch_alter_table("job_events", schema=None) as batch_op:
        for name, _, _ in KEYS:
            batch_op.drop_constraint(name, type_="foreignkey")


def downgrade() -> None:
    with op.batch_alter_table("job_events", schema=None) as batch_op:
        for name, column, referred in KEYS:
            batch_op.create_foreign_key(name, referred, [column], ["id"])
