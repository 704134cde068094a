"""stations.fallback_after_s; devices.fallback_at and fallback_offered (failover)

A station whose every online bridge has reported a printer that cannot print for longer than
``fallback_after_s`` (default 60, null: never) has its jobs in the location bridges' scope.
Each station bridge carries the moment that happens (``fallback_at``, set when it reports such
a state) so the claim's scope condition stays a comparison on the device rows it already reads;
``fallback_offered`` marks that the sweeper has offered the station's jobs to the location
bridges since.

Revision ID: 0009
Revises: 0008
Create Date: 2026-12-05 17:05:00
"""

from collections.abc import Sequence

import sqlalchemy as sa
from alembic import op

revision: str = "0009"
down_revision: str | None = "0008"
branch_labels: str | Sequence[str] | None = None
depends_on: str | Sequence[str] | None = None


def upgrade() -> None:
    with op.batch_alter_table("stations", schema=None) as batch_op:
        batch_op.add_column(
            sa.Column("fallback_after_s", sa.Integer(), server_default=sa.text("60"), nullable=True)
        )
    with op.batch_alter_table("devices", schema=None) as batch_op:
        batch_op.add_column(sa.Column("fallback_at", sa.DateTime(timezone=True), nullable=True))
        batch_op.add_column(
            sa.Column(
                "fallback_offered",
                sa.Boolean(),
                server_default=sa.text("false"),
                nullable=False,
            )
        )
        batch_op.create_index(
            "ix_devices_fallback_due",
            ["fallback_at"],
            unique=False,
            postgresql_where=sa.text("fallback_at IS NOT NULL AND NOT fallback_offered"),
            sqlite_where=sa.text("fallback_at IS NOT NULL AND NOT fallback_offered"),
        )


def downgrade() -> None:
    with op.batch_alter_table("devices", schema=None) as batch_op:
        batch_op.drop_index("ix_devices_fallback_due")
        batch_op.drop_column("fallback_offered")
        batch_op.drop_column("fallback_at")
    with op.batch_alter_table("stations", schema=None) as batch_op:
        batch_op.drop_column("fallback_after_s")
