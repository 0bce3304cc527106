"""partial indexes for claiming jobs

Revision ID: 0009
Revises: 0007
Create Date: 2026-11-22 01:55:00

A claim used to scan ``ix_jobs_claim`` with an OR of two conditions; on
PostgreSQL that is a bitmap scan over every dead entry finished jobs leave
until autovacuum runs (1.3 ms a claim after 15,000 jobs, `docs/benchmarks.md`).
Two partial indexes hold only what can be claimed.
"""

import sqlalchemy as sa
from alembic import op

revision = "0009"
down_revision = "0007"
branch_labels = None
depends_on = None

WAITING = "status IN ('queued', 'failed')"
LEASED = "status = 'running'"


def upgrade() -> None:
    op.create_index(
        "ix_jobs_waiting",
        "jobs",
        ["run_at", "id"],
        unique=False,
        postgresql_where=sa.text(WAITING),
        sqlite_where=sa.text(WAITING),
    )
    op.create_index(
        "ix_jobs_leased",
        "jobs",
        ["locked_until"],
        unique=False,
        postgresql_where=sa.text(LEASED),
        sqlite_where=sa.text(LEASED),
    )


def downgrade() -> None:
    op.drop_index("ix_jobs_leased", table_name="jobs")
    op.drop_index("ix_jobs_waiting", table_name="jobs")
