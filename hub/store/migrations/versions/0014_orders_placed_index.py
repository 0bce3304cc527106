"""an index for the orders lists' default order

Revision ID: 0014
Revises: 0013
Create Date: 2026-12-04 19:00:00

The admin, the API and the CLI list orders newest placed first
(``coalesce(placed_at, created_at) DESC, id DESC``); without an index every
page sorted the whole table.
"""

import sqlalchemy as sa
from alembic import op

revision = "0014"
down_revision = "0013"
branch_labels = None
depends_on = None


def upgrade() -> None:
    op.create_index(
        "ix_orders_placed", "orders", [sa.text("coalesce(placed_at, created_at)"), "id"]
    )


def downgrade() -> None:
    op.drop_index("ix_orders_placed", table_name="orders")
