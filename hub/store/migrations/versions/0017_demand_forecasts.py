"""demand forecasts and reorder policies

Revision ID: 0017
Revises: 0016
Create Date: 2026-12-04 19:10:00

- ``demand_forecasts``: the next 28 days' daily demand per SKU and location (NULL
  location: all locations), the method, its error (sigma) and band; written by the
  ``replenishment.forecast`` job.
- ``reorder_policies``: per SKU and location, fixed (min/max set by people) or
  computed from the forecast, the lead time and the service level.

Both are unique on ``(sku, coalesce(location_id, 0))``: NULLs never collide in a
plain unique constraint.
"""

import sqlalchemy as sa
from alembic import op
from sqlalchemy.dialects import postgresql

revision = "0017"
down_revision = "0016"
branch_labels = None
depends_on = None

_JSON = sa.JSON().with_variant(postgresql.JSONB(astext_type=sa.Text()), "postgresql")
_SKU_LOCATION = [sa.text("sku"), sa.text("coalesce(location_id, 0)")]


def upgrade() -> None:
    op.create_table(
        "demand_forecasts",
        sa.Column("id", sa.Integer(), nullable=False),
        sa.Column("sku", sa.String(length=100), nullable=False),
        sa.Column("location_id", sa.Integer(), nullable=True),
        sa.Column("method", sa.String(length=32), nullable=False),
        sa.Column("demand_class", sa.String(length=16), nullable=False),
        sa.Column("history_days", sa.Integer(), nullable=False),
        sa.Column("mean_daily", sa.Double(), nullable=False),
        sa.Column("sigma", sa.Double(), nullable=False),
        sa.Column("daily", _JSON, nullable=False),
        sa.Column("lower", _JSON, nullable=False),
        sa.Column("upper", _JSON, nullable=False),
        sa.Column("computed_at", sa.DateTime(timezone=True), nullable=False),
        sa.ForeignKeyConstraint(["location_id"], ["locations.id"], ondelete="CASCADE"),
        sa.PrimaryKeyConstraint("id"),
    )
    op.create_index("ix_demand_forecasts_location_id", "demand_forecasts", ["location_id"])
    op.create_index(
        "uq_demand_forecasts_sku_location", "demand_forecasts", _SKU_LOCATION, unique=True
    )
    op.create_table(
        "reorder_policies",
        sa.Column("id", sa.Integer(), nullable=False),
        sa.Column("sku", sa.String(length=100), nullable=False),
        sa.Column("location_id", sa.Integer(), nullable=True),
        sa.Column("kind", sa.String(length=16), nullable=False),
        sa.Column("min_quantity", sa.Integer(), nullable=True),
        sa.Column("max_quantity", sa.Integer(), nullable=True),
        sa.Column("service_level", sa.Double(), nullable=False),
        sa.Column("lead_time_days", sa.Integer(), nullable=False),
        sa.Column("review_days", sa.Integer(), nullable=False),
        sa.Column("updated_by", sa.String(length=200), nullable=False),
        sa.Column("updated_at", sa.DateTime(timezone=True), nullable=False),
        sa.ForeignKeyConstraint(["location_id"], ["locations.id"], ondelete="CASCADE"),
        sa.PrimaryKeyConstraint("id"),
    )
    op.create_index("ix_reorder_policies_location_id", "reorder_policies", ["location_id"])
    op.create_index(
        "uq_reorder_policies_sku_location", "reorder_policies", _SKU_LOCATION, unique=True
    )


def downgrade() -> None:
    op.drop_table("reorder_policies")
    op.drop_table("demand_forecasts")
