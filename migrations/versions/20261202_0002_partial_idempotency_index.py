"""partial unique index on (tenant_id, idempotency_key)

Jobs without an Idempotency-Key (most of them) no longer have an entry in the unique index.
With one entry (tenant, NULL) per job, the index was a path to every job of a tenant, and
PostgreSQL planned the claim and report statements (``id = $1 AND tenant_id = $2``) through
it while the table's statistics were young: each statement read the tenant's whole history.
The hot path's ``ON CONFLICT`` names the index predicate, which also infers the old
constraint, so that code works before and after this migration.

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


def upgrade() -> None:
    with op.batch_alter_table("print_jobs", schema=None) as batch_op:
        batch_op.drop_constraint(NAME, type_="unique")
    op.create_index(
        NAME, "print_jobs", COLUMNS, unique=True, postgresql_where=HAS_KEY, sqlite_where=HAS_KEY
    )


def downgrade() -> None:
    op.drop_index(NAME, table_name="print_jobs")
    with op.batch_alter_table("print_jobs", schema=None) as batch_op:
        batch_op.create_unique_constraint(NAME, COLUMNS)
