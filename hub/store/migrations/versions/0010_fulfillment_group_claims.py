"""fulfillment groups are claimed by the flush that sends them

Revision ID: 0010
Revises: 0009
Create Date: 2026-12-03 17:50:00

When the queue ran behind, two ``shipping.flush`` jobs of one channel could
read and send the same pending groups (`docs/benchmarks.md`, (c)). A flush now
writes its job's id on the groups it sends before it sends them; a group
belongs to that flush while the job runs. The groups still to send are
indexed apart, so finding them does not read every group ever sent.
"""

import sqlalchemy as sa
from alembic import op

revision = "0010"
down_revision = "0009"
branch_labels = None
depends_on = None

UNSENT = "status IN ('pending', 'cancelling')"


def upgrade() -> None:
    op.add_column("fulfillment_groups", sa.Column("flush_job_id", sa.Integer(), nullable=True))
    op.create_index(
        "ix_fulfillment_groups_unsent",
        "fulfillment_groups",
        ["shipping_channel_id", "id"],
        unique=False,
        postgresql_where=sa.text(UNSENT),
        sqlite_where=sa.text(UNSENT),
    )


def downgrade() -> None:
    op.drop_index("ix_fulfillment_groups_unsent", table_name="fulfillment_groups")
    with op.batch_alter_table("fulfillment_groups") as batch:
        batch.drop_column("flush_job_id")
