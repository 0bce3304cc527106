"""The database connection pool: a connection the server dropped is never handed to the hub."""

from __future__ import annotations

import pytest
from sqlalchemy import text

from hub.store import db as hub_db
from hub.store.db import Database

pytestmark = pytest.mark.postgres


@pytest.mark.parametrize("idle_after", [0.0, 1e9], ids=["idle", "busy"])
def test_a_pooled_connection_dropped_by_the_server(pg_url, monkeypatch, idle_after):
    """Idle for a while: checked and replaced unseen. In steady use: not checked (no
    round trip per transaction), so a drop shows once, and the pool starts afresh."""
    database = Database(pg_url)
    try:
        with database.engine.connect() as conn:
            before = conn.execute(text("SELECT pg_backend_pid()")).scalar()
        # The server ends that connection (a restart, an idle timeout, a failover).
        other = Database(pg_url)
        with other.engine.begin() as conn:
            assert conn.execute(text("SELECT pg_terminate_backend(:pid)"), {"pid": before}).scalar()
        other.dispose()
        monkeypatch.setattr(hub_db, "PING_AFTER_IDLE_SECONDS", idle_after)

        if idle_after == 0.0:
            with database.write() as conn:
                after = conn.execute(text("SELECT pg_backend_pid()")).scalar()
            assert after != before
        else:
            with (
                pytest.raises(Exception, match="terminat|closed|connection"),
                database.write() as conn,
            ):
                conn.execute(text("SELECT 1"))
            with database.write() as conn:
                assert conn.execute(text("SELECT pg_backend_pid()")).scalar() != before
    finally:
        database.dispose()
