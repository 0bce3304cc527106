"""substitutes per SKU

Revision ID: 0029
Revises: 0028
Create Date: 2026-12-04 22:55:00

- ``sku_substitutes``: the alternatives a merchant offers for a SKU that is
  missing, best first (``rank``); a delay notice offers those in stock and the
  customer may take one on the tracking page.
"""

import sqlalchemy as sa
from alembic import op

revision = "0029"
down_revision = "0028"
branch_labels = None
depends_on = None


def upgrade() -> None:
    op.create_table(
        "sku_substitutes",
        sa.Column("id", sa.Integer(), nullable=False),
        sa.Column("sku", sa.String(length=100), nullable=False),
        sa.Column("substitute_sku", sa.String(length=100), nullable=False),
        sa.Column("rank", sa.Integer(), nullable=False),
        sa.Column("updated_by", sa.String(length=200), nullable=False),
        sa.Column("updated_at", sa.DateTime(timezone=True), nullable=False),
        sa.PrimaryKeyConstraint("id"),
        sa.UniqueConstraint("sku", "substitute_sku", name="uq_sku_substitutes_pair"),
    )
    op.create_index("ix_sku_substitutes_sku_rank", "sku_substitutes", ["sku", "rank"])


def downgrade() -> None:
    op.drop_index("ix_sku_substitutes_sku_rank", table_name="sku_substitutes")
    op.drop_table("sku_substitutes")
