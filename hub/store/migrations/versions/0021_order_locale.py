"""the customer's language on the order

Revision ID: 0021
Revises: 0020
Create Date: 2026-12-04 22:50:00

- ``orders.locale``: the customer's language as the channel told it (Shopify's
  ``customer_locale``, ``de-DE``); their emails are written in it.
"""

import sqlalchemy as sa
from alembic import op

revision = "0021"
down_revision = "0020"
branch_labels = None
depends_on = None


def upgrade() -> None:
    # In place (never batch_alter orders on SQLite: its expression index).
    op.add_column(
        "orders", sa.Column("locale", sa.String(length=35), nullable=False, server_default="")
    )


def downgrade() -> None:
    op.drop_column("orders", "locale")
