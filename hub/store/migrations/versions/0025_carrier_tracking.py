"""delivery facts from carriers: shipments followed by a tracking channel, and their checkpoints

Revision ID: 0025
Revises: 0024
Create Date: 2026-12-04 22:10:00

- ``shipment_trackings``: a shipment a tracking channel (AfterShip …) follows,
  once per shipment and channel, with the service's id of the tracking and the
  latest canonical carrier event.
- ``shipment_tracking_events``: each checkpoint the carrier reported, once per
  shipment and checkpoint key, so a replayed webhook doubles nothing.
"""

import sqlalchemy as sa
from alembic import op

revision = "0025"
down_revision = "0024"
branch_labels = None
depends_on = None

_TIME = sa.DateTime(timezone=True)


def upgrade() -> None:
    op.create_table(
        "shipment_trackings",
        sa.Column("id", sa.Integer(), nullable=False),
        sa.Column("shipment_id", sa.Integer(), nullable=False),
        sa.Column("channel_id", sa.Integer(), nullable=False),
        sa.Column("order_id", sa.Integer(), nullable=False),
        sa.Column("tracking_number", sa.String(length=200), nullable=False),
        sa.Column("external_id", sa.String(length=200), nullable=False),
        sa.Column("status", sa.String(length=32), nullable=True),
        sa.Column("status_at", _TIME, nullable=True),
        sa.Column("registered_at", _TIME, nullable=True),
        sa.Column("updated_at", _TIME, nullable=False),
        sa.ForeignKeyConstraint(["shipment_id"], ["shipments.id"], ondelete="CASCADE"),
        sa.ForeignKeyConstraint(["channel_id"], ["channels.id"], ondelete="CASCADE"),
        sa.ForeignKeyConstraint(["order_id"], ["orders.id"], ondelete="CASCADE"),
        sa.PrimaryKeyConstraint("id"),
        sa.UniqueConstraint("shipment_id", "channel_id", name="uq_shipment_trackings_shipment"),
    )
    op.create_index(
        "ix_shipment_trackings_number", "shipment_trackings", ["channel_id", "tracking_number"]
    )
    op.create_index("ix_shipment_trackings_order_id", "shipment_trackings", ["order_id"])
    op.create_table(
        "shipment_tracking_events",
        sa.Column("id", sa.Integer(), nullable=False),
        sa.Column("shipment_id", sa.Integer(), nullable=False),
        sa.Column("channel_id", sa.Integer(), nullable=True),
        sa.Column("checkpoint_key", sa.String(length=200), nullable=False),
        sa.Column("event", sa.String(length=32), nullable=True),
        sa.Column("tag", sa.String(length=40), nullable=False),
        sa.Column("subtag", sa.String(length=40), nullable=False),
        sa.Column("message", sa.String(length=500), nullable=False),
        sa.Column("location", sa.String(length=200), nullable=False),
        sa.Column("occurred_at", _TIME, nullable=False),
        sa.Column("created_at", _TIME, nullable=False),
        sa.ForeignKeyConstraint(["shipment_id"], ["shipments.id"], ondelete="CASCADE"),
        sa.ForeignKeyConstraint(["channel_id"], ["channels.id"], ondelete="SET NULL"),
        sa.PrimaryKeyConstraint("id"),
        sa.UniqueConstraint(
            "shipment_id", "checkpoint_key", name="uq_shipment_tracking_events_checkpoint"
        ),
    )


def downgrade() -> None:
    op.drop_table("shipment_tracking_events")
    op.drop_index("ix_shipment_trackings_order_id", table_name="shipment_trackings")
    op.drop_index("ix_shipment_trackings_number", table_name="shipment_trackings")
    op.drop_table("shipment_trackings")
