"""devices.printer_state, devices.printer_state_at: the printer's last reported state

A bridge reports ``printer.status`` when its printer changes state; the server now keeps the
last state and its time, so ``GET /v1/devices`` shows it. Devices that have not reported since
are ``unknown`` (time null).

Revision ID: 0007
Revises: 0006
Create Date: 2026-12-05 16:30:00
"""

from collections.abc import Sequence

import sqlalchemy as sa
from alembic import op

revision: str = "0007"
down_revision: str | None = "0006"
branch_labels: str | Sequence[str] | None = None
depends_on: str | Sequence[str] | None = None


def upgrade() -> None:
    # NOT NULL with a constant default: PostgreSQL adds it without rewriting the table.
    with op.batch_alter_table("devices", schema=None) as batch_op:
        batch_op.add_column(
            sa.Column(
                "printer_state",
                sa.String(length=20),
                server_default=sa.text("'unknown'"),
                nullable=False,
            )
        )
        batch_op.add_column(
            sa.Column("printer_state_at", sa.DateTime(timezone=True), nullable=True)
        )


def downgrade() -> None:
    with op.batch_alter_table("devices", schema=None) as batch_op:
        batch_op.drop_column("printer_state_at")
        batch_op.drop_column("printer_state")
