"""jobs: a NOTIFY on PostgreSQL when jobs are added, so idle workers start them at once

Revision ID: 0028
Revises: 0027
Create Date: 2026-12-04 23:00:00

- ``hub_jobs_notify()`` and the statement trigger ``jobs_notify`` (``AFTER INSERT ON
  jobs FOR EACH STATEMENT``): ``NOTIFY hub_jobs``, sent when the transaction that added
  the jobs commits (PostgreSQL folds the same notification in one transaction into one).
  Workers ``LISTEN hub_jobs`` while idle instead of waiting for their next poll.
  SQLite has no notifications: its workers keep polling.
"""

from alembic import op

revision = "0028"
down_revision = "0027"
branch_labels = None
depends_on = None


def upgrade() -> None:
    if op.get_bind().dialect.name != "postgresql":
        return
    op.execute(
        """
        CREATE OR REPLACE FUNCTION hub_jobs_notify() RETURNS trigger AS $$
        BEGIN
            PERFORM pg_notify('hub_jobs', '');
            RETURN NULL;
        END;
        $$ LANGUAGE plpgsql
        """
    )
    op.execute(
        "CREATE TRIGGER jobs_notify AFTER INSERT ON jobs "
        "FOR EACH STATEMENT EXECUTE FUNCTION hub_jobs_notify()"
    )


def downgrade() -> None:
    if op.get_bind().dialect.name != "postgresql":
        return
    op.execute("DROP TRIGGER IF EXISTS jobs_notify ON jobs")
    op.execute("DROP FUNCTION IF EXISTS hub_jobs_notify()")
