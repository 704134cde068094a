"""print_jobs.paper_width_mm: the paper a job is rendered for

A job carries its station's width at submission (80 mm for a job without a station), so a
location bridge serving a 58 mm and an 80 mm station prints each job at its own width. Jobs
stored before this revision get their station's width as it is now (nobody recorded it at
their submission), or 80 without a station.

Revision ID: 0006
Revises: 0005
Create Date: 2026-12-05 14:30:00
"""

from collections.abc import Sequence

import sqlalchemy as sa
from alembic import op

revision: str = "0006"
down_revision: str | None = "0005"
branch_labels: str | Sequence[str] | None = None
depends_on: str | Sequence[str] | None = None


def upgrade() -> None:
    # NOT NULL with a constant default: PostgreSQL adds it without rewriting the table.
    with op.batch_alter_table("print_jobs", schema=None) as batch_op:
        batch_op.add_column(
            sa.Column(
                "paper_width_mm", sa.SmallInteger(), server_default=sa.text("80"), nullable=False
            )
        )
    # Only jobs of stations narrower or wider than the default are written again.
    op.execute(
        "UPDATE print_jobs SET paper_width_mm = ("
        " SELECT s.paper_width_mm FROM stations s WHERE s.id = print_jobs.station_id)"
        " WHERE station_id IN (SELECT id FROM stations WHERE paper_width_mm <> 80)"
    )


def downgrade() -> None:
    with op.batch_alter_table("print_jobs", schema=None) as batch_op:
        batch_op.drop_column("paper_width_mm")
