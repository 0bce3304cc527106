"""The migrations build exactly the schema the models describe, on each database."""

import warnings

import pytest
from alembic.autogenerate import compare_metadata
from alembic.runtime.migration import MigrationContext

from hub.store import migrate
from hub.store.db import Database
from hub.store.models import Base


def _diff(db: Database):
    with db.engine.connect() as conn, warnings.catch_warnings():
        # SQLAlchemy cannot read expression indexes back from SQLite (ix_orders_placed);
        # PostgreSQL's run compares them.
        warnings.filterwarnings("ignore", "Skipped unsupported reflection of expression-based")
        warnings.filterwarnings("ignore", "autogenerate skipping metadata-specified expression")
        return compare_metadata(
            MigrationContext.configure(conn, opts={"compare_type": True}), Base.metadata
        )


def test_migrations_match_the_models_on_sqlite(tmp_path):
    db = Database(f"sqlite:///{tmp_path / 'hub.db'}")
    applied = migrate.upgrade(db)
    assert applied and migrate.is_current(db)
    assert _diff(db) == []
    assert migrate.upgrade(db) == []  # a second upgrade has nothing to do
    db.dispose()


@pytest.mark.postgres
def test_migrations_match_the_models_on_postgresql(pg_url):
    db = Database(pg_url)
    assert migrate.is_current(db)
    assert _diff(db) == []
    db.dispose()


def test_sqlite_runs_in_wal_mode_with_foreign_keys_and_a_busy_timeout(hub):
    with hub.db.engine.connect() as conn:
        assert conn.exec_driver_sql("PRAGMA journal_mode").scalar() == "wal"
        assert conn.exec_driver_sql("PRAGMA foreign_keys").scalar() == 1
        assert conn.exec_driver_sql("PRAGMA busy_timeout").scalar() == 30000


def test_the_migrations_form_one_line(tmp_path):
    """Schema work made side by side branches from one revision; it lands joined into one line.

    ``migrate.upgrade`` applies every head so branches work while they are open, but a release
    with two heads would leave each database's history depending on the order it met them.
    """
    db = Database(f"sqlite:///{tmp_path / 'hub.db'}")
    assert "," not in (migrate.head_revision(db) or "")
    db.dispose()
