"""devices.revoked_by_key_id: which manager key unpaired a device

Unpaired devices stay in the table (marked ``revoked_at``); managers list them with
``GET /v1/devices?include=revoked`` and want to see who unpaired each. Rows unpaired before
this revision keep a null: nobody recorded it.

Revision ID: 0005
Revises: 0004
Create Date: 2026-12-05 13:00:00
"""

from collections.abc import Sequence

import sqlalchemy as sa
from alembic import op

revision: str = "0005"
down_revision: str | None = "0004"
branch_labels: str | Sequence[str] | None = None
depends_on: str | Sequence[str] | None = None


def upgrade() -> None:
    with op.batch_alter_table("devices", schema=None) as batch_op:
        batch_op.add_column(sa.Column("revoked_by_key_id", sa.Uuid(), nullable=True))


def downgrade() -> None:
    with op.batch_alter_table("devices", schema=None) as batch_op:
        batch_op.drop_column("revoked_by_key_id")
