"""self-service returns and exchanges

Revision ID: 0027
Revises: 0026
Create Date: 2026-12-04 22:20:00

- ``return_policies``: per sales channel, the return window, final-sale SKUs,
  the rule that approves a customer's request alone, and when an exchange ships.
- ``returns.resolution`` (refund | exchange), ``returns.exchange_order_id`` (the
  zero-price replacement order) and ``returns.exchange_waits``.
- ``return_lines.exchange_sku``: the variant sent in place of the line.
- ``order_lines.product_id``: the channel's product a line's SKU is a variant of.

Columns are added in place (never a batch copy of ``orders``' neighbours on SQLite).
"""

import sqlalchemy as sa
from alembic import op
from sqlalchemy.dialects import postgresql

revision = "0027"
down_revision = "0026"
branch_labels = None
depends_on = None

_TIME = sa.DateTime(timezone=True)
_JSON = sa.JSON().with_variant(postgresql.JSONB(astext_type=sa.Text()), "postgresql")


def upgrade() -> None:
    op.create_table(
        "return_policies",
        sa.Column("channel_id", sa.Integer(), nullable=False),
        sa.Column("window_days", sa.Integer(), nullable=False),
        sa.Column("final_sale_skus", _JSON, nullable=False),
        sa.Column("auto_approve", sa.Boolean(), nullable=False),
        sa.Column("auto_approve_days", sa.Integer(), nullable=False),
        sa.Column("auto_approve_max", sa.String(length=32), nullable=True),
        sa.Column("exchange_ships", sa.String(length=16), nullable=False),
        sa.Column("updated_at", _TIME, nullable=False),
        sa.ForeignKeyConstraint(["channel_id"], ["channels.id"], ondelete="CASCADE"),
        sa.PrimaryKeyConstraint("channel_id"),
    )
    op.add_column(
        "order_lines",
        sa.Column("product_id", sa.String(length=100), server_default="", nullable=False),
    )
    op.add_column(
        "return_lines",
        sa.Column("exchange_sku", sa.String(length=100), server_default="", nullable=False),
    )
    op.add_column(
        "returns",
        sa.Column("resolution", sa.String(length=16), server_default="refund", nullable=False),
    )
    op.add_column(
        "returns",
        sa.Column("exchange_waits", sa.Boolean(), server_default=sa.false(), nullable=False),
    )
    if op.get_bind().dialect.name == "sqlite":
        # SQLite adds a column with its REFERENCES clause in place (no batch copy).
        op.execute(
            "ALTER TABLE returns ADD COLUMN exchange_order_id INTEGER REFERENCES orders (id)"
        )
    else:
        op.add_column("returns", sa.Column("exchange_order_id", sa.Integer(), nullable=True))
        op.create_foreign_key(
            "fk_returns_exchange_order_id", "returns", "orders", ["exchange_order_id"], ["id"]
        )


def downgrade() -> None:
    with op.batch_alter_table("returns") as batch:
        batch.drop_column("exchange_order_id")
        batch.drop_column("exchange_waits")
        batch.drop_column("resolution")
    with op.batch_alter_table("return_lines") as batch:
        batch.drop_column("exchange_sku")
    op.drop_column("order_lines", "product_id")
    op.drop_table("return_policies")
