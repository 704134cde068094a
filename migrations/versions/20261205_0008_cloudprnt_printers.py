"""devices: the CloudPRNT columns (MAC, polling interval, media types)

A Star CloudPRNT printer is a device of kind ``cloudprnt`` that polls the server itself. It
records the MAC address of its first poll (another MAC on the same URL is refused), and what
it answers to the GetPollInterval and Encodings client actions. Null for other devices.

Revision ID: 0008
Revises: 0007
Create Date: 2026-12-05 16:40:00
"""

from collections.abc import Sequence

import sqlalchemy as sa
from alembic import op

revision: str = "0008"
down_revision: str | None = "0007"
branch_labels: str | Sequence[str] | None = None
depends_on: str | Sequence[str] | None = None


def upgrade() -> None:
    with op.batch_alter_table("devices", schema=None) as batch_op:
        batch_op.add_column(sa.Column("cloudprnt_mac", sa.String(length=17), nullable=True))
        batch_op.add_column(
            sa.Column("cloudprnt_poll_interval_s", sa.SmallInteger(), nullable=True)
        )
        batch_op.add_column(
            sa.Column("cloudprnt_media_types", sa.String(length=500), nullable=True)
        )


def downgrade() -> None:
    with op.batch_alter_table("devices", schema=None) as batch_op:
        batch_op.drop_column("cloudprnt_media_types")
        batch_op.drop_column("cloudprnt_poll_interval_s")
        batch_op.drop_column("cloudprnt_mac")
