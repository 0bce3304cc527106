"""service levels by rules, SKU attributes, the delivery promise and late orders

Revision ID: 0024
Revises: 0023
Create Date: 2026-12-04 22:30:00

- ``sku_attributes``: per SKU, weight (grams), length/width/height (mm),
  hazardous, fragile.
- ``service_level_rules``: the ordered table mapping a fulfilment group (the
  customer's shipping method, its goods, weight, destination) to a carrier
  service or a restriction (ground only).
- ``location_promises``: per location, the order cut-off time and working days;
  ``transit_times``: working days in transit per destination zone.
- ``order_late_marks``: an order found late, once per cause.
- ``orders.shipping_method``: what the customer chose at checkout.
- ``fulfillment_groups``: the rule that fired, the carrier service sent, what
  was asked for, and the promise (ship by, deliver by, from what).
"""

import sqlalchemy as sa
from alembic import op
from sqlalchemy.dialects import postgresql

revision = "0024"
down_revision = "0023"
branch_labels = None
depends_on = None

_TIME = sa.DateTime(timezone=True)
_JSON = sa.JSON().with_variant(postgresql.JSONB(), "postgresql")

_GROUP_TEXT = (
    ("service_rule", 300),
    ("carrier_code", 50),
    ("service_code", 100),
    ("requested_service", 200),
    ("promise_basis", 200),
)


def upgrade() -> None:
    op.create_table(
        "sku_attributes",
        sa.Column("sku", sa.String(length=100), nullable=False),
        sa.Column("weight_grams", sa.Integer(), nullable=True),
        sa.Column("length_mm", sa.Integer(), nullable=True),
        sa.Column("width_mm", sa.Integer(), nullable=True),
        sa.Column("height_mm", sa.Integer(), nullable=True),
        sa.Column("hazardous", sa.Boolean(), nullable=False),
        sa.Column("fragile", sa.Boolean(), nullable=False),
        sa.Column("updated_by", sa.String(length=200), nullable=False),
        sa.Column("updated_at", _TIME, nullable=False),
        sa.PrimaryKeyConstraint("sku"),
    )
    op.create_table(
        "service_level_rules",
        sa.Column("id", sa.Integer(), nullable=False),
        sa.Column("position", sa.Integer(), nullable=False),
        sa.Column("name", sa.String(length=200), nullable=False),
        sa.Column("method_contains", sa.String(length=200), nullable=False),
        sa.Column("method_equals", sa.String(length=200), nullable=False),
        sa.Column("any_hazardous", sa.Boolean(), nullable=False),
        sa.Column("any_fragile", sa.Boolean(), nullable=False),
        sa.Column("weight_over_grams", sa.Integer(), nullable=True),
        sa.Column("weight_under_grams", sa.Integer(), nullable=True),
        sa.Column("countries", _JSON, nullable=False),
        sa.Column("action", sa.String(length=16), nullable=False),
        sa.Column("carrier_code", sa.String(length=50), nullable=False),
        sa.Column("service_code", sa.String(length=100), nullable=False),
        sa.Column("enabled", sa.Boolean(), nullable=False),
        sa.Column("updated_by", sa.String(length=200), nullable=False),
        sa.Column("created_at", _TIME, nullable=False),
        sa.Column("updated_at", _TIME, nullable=False),
        sa.PrimaryKeyConstraint("id"),
    )
    op.create_index("ix_service_level_rules_position", "service_level_rules", ["position"])
    op.create_table(
        "location_promises",
        sa.Column("location_id", sa.Integer(), nullable=False),
        sa.Column("cutoff", sa.String(length=5), nullable=False),
        sa.Column("working_days", sa.String(length=7), nullable=False),
        sa.Column("updated_by", sa.String(length=200), nullable=False),
        sa.Column("updated_at", _TIME, nullable=False),
        sa.ForeignKeyConstraint(["location_id"], ["locations.id"], ondelete="CASCADE"),
        sa.PrimaryKeyConstraint("location_id"),
    )
    op.create_table(
        "transit_times",
        sa.Column("zone", sa.String(length=8), nullable=False),
        sa.Column("days", sa.Integer(), nullable=False),
        sa.Column("air_days", sa.Integer(), nullable=True),
        sa.Column("updated_by", sa.String(length=200), nullable=False),
        sa.Column("updated_at", _TIME, nullable=False),
        sa.PrimaryKeyConstraint("zone"),
    )
    op.create_table(
        "order_late_marks",
        sa.Column("id", sa.Integer(), nullable=False),
        sa.Column("order_id", sa.Integer(), nullable=False),
        sa.Column("group_key", sa.String(length=100), nullable=False),
        sa.Column("cause", sa.String(length=16), nullable=False),
        sa.Column("promised", sa.Date(), nullable=False),
        sa.Column("noticed_at", _TIME, nullable=False),
        sa.ForeignKeyConstraint(["order_id"], ["orders.id"], ondelete="CASCADE"),
        sa.PrimaryKeyConstraint("id"),
        sa.UniqueConstraint("order_id", "cause", name="uq_order_late_marks_cause"),
    )
    # In place, never batch_alter_table: a copy of ``orders`` on SQLite would lose
    # its expression index (ix_orders_placed).
    op.add_column(
        "orders",
        sa.Column("shipping_method", sa.String(length=200), nullable=False, server_default=""),
    )
    # No foreign key: SQLite cannot add one in place, and the rule's words stay on the group.
    op.add_column("fulfillment_groups", sa.Column("service_rule_id", sa.Integer(), nullable=True))
    for name, length in _GROUP_TEXT:
        op.add_column(
            "fulfillment_groups",
            sa.Column(name, sa.String(length=length), nullable=False, server_default=""),
        )
    op.add_column("fulfillment_groups", sa.Column("ship_by", sa.Date(), nullable=True))
    op.add_column("fulfillment_groups", sa.Column("deliver_by", sa.Date(), nullable=True))


def downgrade() -> None:
    for name in ("deliver_by", "ship_by", *(name for name, _ in reversed(_GROUP_TEXT))):
        op.drop_column("fulfillment_groups", name)
    op.drop_column("fulfillment_groups", "service_rule_id")
    op.drop_column("orders", "shipping_method")
    op.drop_table("order_late_marks")
    op.drop_table("transit_times")
    op.drop_table("location_promises")
    op.drop_index("ix_service_level_rules_position", table_name="service_level_rules")
    op.drop_table("service_level_rules")
    op.drop_table("sku_attributes")
