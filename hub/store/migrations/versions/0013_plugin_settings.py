"""settings of plugins that are not connectors

Revision ID: 0013
Revises: 0012
Create Date: 2026-12-12 09:00:00

- ``plugin_settings``: one row per plugin that registers a settings schema
  (``hub_register_settings``): its values as the schema loaded them, secret
  fields encrypted, and who saved them when.
"""

import sqlalchemy as sa
from alembic import op
from sqlalchemy.dialects import postgresql

revision = "0013"
down_revision = "0012"
branch_labels = None
depends_on = None


def upgrade() -> None:
    op.create_table(
        "plugin_settings",
        sa.Column("plugin", sa.String(length=100), nullable=False),
        sa.Column(
            "values",
            sa.JSON().with_variant(postgresql.JSONB(astext_type=sa.Text()), "postgresql"),
            nullable=False,
        ),
        sa.Column("updated_at", sa.DateTime(timezone=True), nullable=False),
        sa.Column("updated_by", sa.String(length=320), nullable=False),
        sa.PrimaryKeyConstraint("plugin"),
    )


def downgrade() -> None:
    op.drop_table("plugin_settings")
