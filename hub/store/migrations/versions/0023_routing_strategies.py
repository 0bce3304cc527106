"""routing strategies per sales channel, and the rate quote cache

Revision ID: 0023
Revises: 0022
Create Date: 2026-12-04 22:20:00

- ``routing_policies``: per sales channel, how its orders are routed
  (``priority``, ``nearest``, ``cheapest``).
- ``rate_quotes``: the cheapest rate a shipping channel quoted, per origin
  location, destination zone and weight band, until it expires.
"""

import sqlalchemy as sa
from alembic import op

revision = "0023"
down_revision = "0022"
branch_labels = None
depends_on = None

_TIME = sa.DateTime(timezone=True)


def upgrade() -> None:
    op.create_table(
        "routing_policies",
        sa.Column("channel_id", sa.Integer(), nullable=False),
        sa.Column("strategy", sa.String(length=16), nullable=False),
        sa.Column("updated_at", _TIME, nullable=False),
        sa.ForeignKeyConstraint(["channel_id"], ["channels.id"], ondelete="CASCADE"),
        sa.PrimaryKeyConstraint("channel_id"),
    )
    op.create_table(
        "rate_quotes",
        sa.Column("id", sa.Integer(), nullable=False),
        sa.Column("channel_id", sa.Integer(), nullable=False),
        sa.Column("origin", sa.String(length=100), nullable=False),
        sa.Column("zone", sa.String(length=16), nullable=False),
        sa.Column("weight_band", sa.Integer(), nullable=False),
        sa.Column("carrier", sa.String(length=60), nullable=False),
        sa.Column("service_code", sa.String(length=100), nullable=False),
        sa.Column("service_name", sa.String(length=200), nullable=False),
        sa.Column("cost_cents", sa.Integer(), nullable=False),
        sa.Column("quoted_at", _TIME, nullable=False),
        sa.Column("expires_at", _TIME, nullable=False),
        sa.ForeignKeyConstraint(["channel_id"], ["channels.id"], ondelete="CASCADE"),
        sa.PrimaryKeyConstraint("id"),
        sa.UniqueConstraint("channel_id", "origin", "zone", "weight_band"),
    )
    op.create_index("ix_rate_quotes_expires_at", "rate_quotes", ["expires_at"])


def downgrade() -> None:
    op.drop_table("rate_quotes")
    op.drop_table("routing_policies")
