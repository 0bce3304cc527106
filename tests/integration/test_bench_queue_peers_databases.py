"""`make bench` (j) leaves no database of the peers behind, also when the run fails."""

import psycopg
import pytest
from sqlalchemy.engine import make_url


def _databases(url: str) -> set[str]:
    from bench.queue_peers import dsn

    base = make_url(url).database
    with psycopg.connect(dsn(url), autocommit=True) as conn:
        rows = conn.execute(
            "SELECT datname FROM pg_database WHERE datname IN (%s, %s)",
            (f"{base}_procrastinate", f"{base}_pgqueuer"),
        ).fetchall()
    return {name for (name,) in rows}


def test_the_peers_databases_are_dropped_when_the_run_fails(pg_url, monkeypatch):
    pytest.importorskip("procrastinate")
    pytest.importorskip("pgqueuer")
    from bench import queue_peers

    there_while_running: list[set[str]] = []

    def workers_that_never_start(system, new=None):
        there_while_running.append(_databases(pg_url))
        raise RuntimeError("the workers did not start")

    monkeypatch.setattr(queue_peers.System, "start_workers", lambda self, n: [])
    monkeypatch.setattr(queue_peers, "warm_up", workers_that_never_start)
    with pytest.raises(RuntimeError, match="did not start"):
        queue_peers.run(pg_url, quick=True)
    base = make_url(pg_url).database
    assert there_while_running == [{f"{base}_procrastinate", f"{base}_pgqueuer"}]
    assert _databases(pg_url) == set()
    # Nor a table of the bench's in the hub's database.
    with psycopg.connect(queue_peers.dsn(pg_url), autocommit=True) as conn:
        assert conn.execute("SELECT to_regclass('bench_rows')").fetchone() == (None,)
