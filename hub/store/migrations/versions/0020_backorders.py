"""backorders, per-SKU settings and low-stock alert state

Revision ID: 0020
Revises: 0019
Create Date: 2026-12-04 19:50:00

- ``sku_settings``: per SKU, whether orders may wait for stock on a purchase
  order (``allow_backorder``).
- ``backorders``: units of an order line promised from stock on its way to a
  location (active, released into a reservation when it arrived, cancelled).
- ``low_stock_states``: per SKU and location, whether it was last below its
  reorder point, so the merchant hears once per crossing.
"""

import sqlalchemy as sa
from alembic import op

revision = "0020"
down_revision = "0019"
branch_labels = None
depends_on = None

_TIME = sa.DateTime(timezone=True)


def upgrade() -> None:
    op.create_table(
        "sku_settings",
        sa.Column("sku", sa.String(length=100), nullable=False),
        sa.Column("allow_backorder", sa.Boolean(), nullable=False),
        sa.Column("updated_by", sa.String(length=200), nullable=False),
        sa.Column("updated_at", _TIME, nullable=False),
        sa.PrimaryKeyConstraint("sku"),
    )
    op.create_table(
        "backorders",
        sa.Column("id", sa.Integer(), nullable=False),
        sa.Column("order_id", sa.Integer(), nullable=False),
        sa.Column("order_line_id", sa.Integer(), nullable=False),
        sa.Column("location_id", sa.Integer(), nullable=False),
        sa.Column("sku", sa.String(length=100), nullable=False),
        sa.Column("quantity", sa.Integer(), nullable=False),
        sa.Column("status", sa.String(length=16), nullable=False),
        sa.Column("expected_at", _TIME, nullable=True),
        sa.Column("created_at", _TIME, nullable=False),
        sa.Column("updated_at", _TIME, nullable=False),
        sa.ForeignKeyConstraint(["order_id"], ["orders.id"], ondelete="CASCADE"),
        sa.ForeignKeyConstraint(["order_line_id"], ["order_lines.id"], ondelete="CASCADE"),
        sa.ForeignKeyConstraint(["location_id"], ["locations.id"], ondelete="CASCADE"),
        sa.PrimaryKeyConstraint("id"),
    )
    op.create_index("ix_backorders_order_id", "backorders", ["order_id"])
    op.create_index("ix_backorders_order_line_id", "backorders", ["order_line_id"])
    op.create_index(
        "ix_backorders_sku_location_status", "backorders", ["sku", "location_id", "status"]
    )
    op.create_table(
        "low_stock_states",
        sa.Column("id", sa.Integer(), nullable=False),
        sa.Column("sku", sa.String(length=100), nullable=False),
        sa.Column("location_id", sa.Integer(), nullable=False),
        sa.Column("below", sa.Boolean(), nullable=False),
        sa.Column("changed_at", _TIME, nullable=False),
        sa.ForeignKeyConstraint(["location_id"], ["locations.id"], ondelete="CASCADE"),
        sa.PrimaryKeyConstraint("id"),
        sa.UniqueConstraint("sku", "location_id"),
    )
    op.create_index("ix_low_stock_states_location_id", "low_stock_states", ["location_id"])


def downgrade() -> None:
    op.drop_table("low_stock_states")
    op.drop_table("backorders")
    op.drop_table("sku_settings")
