"""what the real channels say: tax-inclusive prices, lines not shipped, units refunded, fulfilments cancelled

Revision ID: 0011
Revises: 0010
Create Date: 2026-12-04 12:00:00

- ``orders.taxes_included``: line prices already contain the tax (Shopify's
  ``taxes_included``); the totals check and the ERP export follow it.
- ``order_lines.requires_shipping``: false for gift cards and digital goods,
  which never go to a warehouse.
- ``order_lines.removed_quantity``: units refunded or removed on the channel;
  ``quantity`` is what is still owed.
- ``shipments.channel_fulfillment_cancelled_at``: when the channel's
  fulfilment of a voided shipment was cancelled there.
- ``ix_fulfillment_groups_external``: a shipment that names only the shipping
  service's id of its group (ShipStation's ``orderId``) finds it.
"""

import sqlalchemy as sa
from alembic import op

revision = "0011"
down_revision = "0010"
branch_labels = None
depends_on = None


def upgrade() -> None:
    op.add_column(
        "orders",
        sa.Column("taxes_included", sa.Boolean(), nullable=False, server_default=sa.false()),
    )
    op.add_column(
        "order_lines",
        sa.Column("requires_shipping", sa.Boolean(), nullable=False, server_default=sa.true()),
    )
    op.add_column(
        "order_lines",
        sa.Column("removed_quantity", sa.Integer(), nullable=False, server_default="0"),
    )
    op.add_column(
        "shipments",
        sa.Column("channel_fulfillment_cancelled_at", sa.DateTime(timezone=True), nullable=True),
    )
    op.create_index(
        "ix_fulfillment_groups_external",
        "fulfillment_groups",
        ["shipping_channel_id", "external_id"],
        unique=False,
    )


def downgrade() -> None:
    op.drop_index("ix_fulfillment_groups_external", table_name="fulfillment_groups")
    with op.batch_alter_table("shipments") as batch:
        batch.drop_column("channel_fulfillment_cancelled_at")
    with op.batch_alter_table("order_lines") as batch:
        batch.drop_column("removed_quantity")
        batch.drop_column("requires_shipping")
    with op.batch_alter_table("orders") as batch:
        batch.drop_column("taxes_included")
