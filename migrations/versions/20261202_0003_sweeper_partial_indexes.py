"""sweeper partial indexes: only pending jobs by expiry, only sent jobs by lease

The sweeper's two scans (pending jobs past ``expires_at``, sent jobs past
``lease_expires_at``) were served by ``(status, expires_at)`` and ``(status,
lease_expires_at)``: every job ever written had an entry in both, and every status change
(a job changes status three times on its way to paper) wrote a new entry in both. Now each is
partial: an entry only while the job is pending (by expiry) or sent (by lease). The indexes
hold the jobs in flight instead of the whole history, and a printed job costs four index
entries fewer. The sweeper names the status as a constant (``repository.expire_due``,
``repository.unconfirm_overdue``), so every plan of its statements can use them.

Revision ID: 0003
Revises: 0002
Create Date: 2026-12-02 15:00:00
"""

from collections.abc import Sequence

import sqlalchemy as sa
from alembic import op

revision: str = "0003"
down_revision: str | None = "0002"
branch_labels: str | Sequence[str] | None = None
depends_on: str | Sequence[str] | None = None

# (old name, old columns, new name, new column, the new index's predicate)
CHANGES = (
    (
        "ix_print_jobs_status_expires",
        ["status", "expires_at"],
        "ix_print_jobs_pending_expires",
        "expires_at",
        sa.text("status = 'pending'"),
    ),
    (
        "ix_print_jobs_status_lease",
        ["status", "lease_expires_at"],
        "ix_print_jobs_sent_lease",
        "lease_expires_at",
        sa.text("status = 'sent'"),
    ),
)


def upgrade() -> None:
    for old, _, new, column, where in CHANGES:
        op.drop_index(old, table_name="print_jobs")
        op.create_index(new, "print_jobs", [column], postgresql_where=where, sqlite_where=where)


def downgrade() -> None:
    for old, columns, new, _, _ in CHANGES:
        op.drop_index(new, table_name="print_jobs")
        op.create_index(old, "print_jobs", columns)
