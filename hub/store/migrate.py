"""Schema migrations with Alembic, run from code so no alembic.ini is needed."""

from __future__ import annotations

from pathlib import Path

from alembic import command
from alembic.config import Config
from alembic.runtime.migration import MigrationContext
from alembic.script import ScriptDirectory

from hub.store.db import Database

MIGRATIONS = Path(__file__).parent / "migrations"


def alembic_config(db: Database) -> Config:
    cfg = Config()
    cfg.set_main_option("script_location", str(MIGRATIONS))
    cfg.set_main_option("sqlalchemy.url", db.url.replace("%", "%%"))
    return cfg


def upgrade(db: Database, revision: str = "heads") -> list[str]:
    """Apply pending migrations; return the revisions that were applied, oldest first.

    ``heads`` rather than ``head``: work on separate branches of the schema (say,
    routing and after-checkout tables made side by side) applies before the
    branches are merged into one line.
    """
    before = _current_heads(db)
    cfg = alembic_config(db)
    with db.engine.begin() as conn:
        cfg.attributes["connection"] = conn
        command.upgrade(cfg, revision)
    script = ScriptDirectory.from_config(cfg)
    applied = [
        rev.revision
        for rev in script.iterate_revisions(_current_heads(db), before or None)
        if rev is not None and rev.revision not in before
    ]
    return list(reversed(applied))


def _current_heads(db: Database) -> tuple[str, ...]:
    with db.engine.connect() as conn:
        return MigrationContext.configure(conn).get_current_heads()


def current_revision(db: Database) -> str | None:
    """The revision the database is at (several joined by commas while branches are open)."""
    heads = _current_heads(db)
    return ",".join(sorted(heads)) if heads else None


def head_revision(db: Database) -> str | None:
    heads = ScriptDirectory.from_config(alembic_config(db)).get_heads()
    return ",".join(sorted(heads)) if heads else None


def is_current(db: Database) -> bool:
    return current_revision(db) == head_revision(db)
