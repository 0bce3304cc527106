"""who may do what: API token scopes, admin sessions kept by the hub

Revision ID: 0012
Revises: 0011
Create Date: 2026-12-05 09:00:00

- ``api_tokens.scope``: ``read``, ``write`` or ``admin``. Every token made
  before is ``admin``, so what it did it still does; the column then has no
  default, since the hub names the scope of every token it makes.
- ``admin_sessions``: one row per signed-in browser (the SHA-256 of its
  cookie's random value, the person, when made, when last seen). Signing out
  deletes it, so a copied cookie is worthless afterwards. Sessions signed in
  before this revision carried no such row: their people sign in again.
"""

import sqlalchemy as sa
from alembic import op

revision = "0012"
down_revision = "0011"
branch_labels = None
depends_on = None


def upgrade() -> None:
    with op.batch_alter_table("api_tokens") as batch:
        batch.add_column(
            sa.Column("scope", sa.String(length=16), nullable=False, server_default="admin")
        )
    with op.batch_alter_table("api_tokens") as batch:
        batch.alter_column("scope", server_default=None)
    op.create_table(
        "admin_sessions",
        sa.Column("id", sa.Integer(), nullable=False),
        sa.Column("token_hash", sa.String(length=64), nullable=False),
        sa.Column("user_id", sa.Integer(), nullable=False),
        sa.Column("created_at", sa.DateTime(timezone=True), nullable=False),
        sa.Column("last_seen_at", sa.DateTime(timezone=True), nullable=False),
        sa.ForeignKeyConstraint(["user_id"], ["users.id"], ondelete="CASCADE"),
        sa.PrimaryKeyConstraint("id"),
        sa.UniqueConstraint("token_hash"),
    )
    op.create_index("ix_admin_sessions_user_id", "admin_sessions", ["user_id"], unique=False)


def downgrade() -> None:
    op.drop_index("ix_admin_sessions_user_id", table_name="admin_sessions")
    op.drop_table("admin_sessions")
    with op.batch_alter_table("api_tokens") as batch:
        batch.drop_column("scope")
