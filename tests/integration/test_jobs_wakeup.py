"""Idle workers on PostgreSQL start a new job at once (LISTEN/NOTIFY), not at their next poll."""

import threading
import time

import pytest
from sqlalchemy import event, text

from hub import hookimpl
from hub.queue.jobs import Worker, claim, enqueue, execute
from hub.store.models import Job


class Started:
    def __init__(self):
        self.at: dict[int, float] = {}

    @hookimpl
    def hub_register_job_handlers(self):
        return {"test.started": lambda ctx: self.at.setdefault(ctx.id, time.monotonic())}


@pytest.fixture
def pg_hub(make_hub, pg_url):
    from hub.store.db import Database
    from hub.testing import truncate_all

    db = Database(pg_url)
    truncate_all(db)
    db.dispose()
    plugin = Started()
    return make_hub(plugins=[plugin], database_url=pg_url), plugin


def _running(worker: Worker) -> threading.Thread:
    thread = threading.Thread(target=worker.run_forever, daemon=True)
    thread.start()
    return thread


def test_an_idle_worker_starts_a_new_job_at_once_though_it_polls_every_ten_seconds(pg_hub):
    hub, plugin = pg_hub
    worker = Worker(hub, concurrency=2, poll_interval=10.0)
    thread = _running(worker)
    try:
        deadline = time.monotonic() + 10
        while worker.wakeup is None and time.monotonic() < deadline:
            time.sleep(0.01)
        assert worker.wakeup is not None and worker.wakeup.listening.wait(10)
        time.sleep(0.5)  # both threads found nothing and wait (a poll would be 2.5-10 s away)
        waits = []
        for _ in range(3):
            with hub.db.transaction() as session:
                job_id = enqueue(session, "test.started")
            committed = time.monotonic()
            deadline = committed + 5
            while job_id not in plugin.at and time.monotonic() < deadline:
                time.sleep(0.005)
            assert job_id in plugin.at, "the job did not start within 5 s"
            waits.append(plugin.at[job_id] - committed)
            time.sleep(0.3)
        assert max(waits) < 1.0, waits
    finally:
        worker.stop()
        thread.join(10)
    assert not thread.is_alive(), "a stopped worker's idle threads exit without waiting a poll"


def test_jobs_added_while_the_worker_was_not_listening_are_found(pg_hub):
    hub, plugin = pg_hub
    with hub.db.transaction() as session:
        job_id = enqueue(session, "test.started")
    worker = Worker(hub, poll_interval=10.0)
    thread = _running(worker)
    try:
        deadline = time.monotonic() + 5
        while job_id not in plugin.at and time.monotonic() < deadline:
            time.sleep(0.01)
        assert job_id in plugin.at
    finally:
        worker.stop()
        thread.join(10)


def test_a_claim_waits_for_its_wal_flush_only_when_it_writes_finished_jobs(pg_hub):
    """An idle worker's claim of a new job is on the path from enqueue to start: it does not
    wait for the disk. The claim that records a finished job does."""
    hub, plugin = pg_hub
    with hub.db.transaction() as session:
        first, second = (enqueue(session, "test.started") for _ in range(2))
    during_claim: list[str] = []

    @event.listens_for(hub.db.engine, "after_cursor_execute")
    def setting(conn, cursor, statement, *args):
        if statement.lstrip().upper().startswith("UPDATE JOBS SET STATUS") and (
            "RETURNING" in statement
        ):
            during_claim.append(cursor.connection.execute("SHOW synchronous_commit").fetchone()[0])

    try:
        [ctx] = claim(hub, "w1", limit=1)
        outcome = execute(hub, ctx, "w1")
        [again] = claim(hub, "w1", limit=1, finished=[outcome])
    finally:
        event.remove(hub.db.engine, "after_cursor_execute", setting)
    assert (ctx.id, again.id) == (first, second)
    assert during_claim == ["off", "on"]
    with hub.db.read() as session:
        assert session.get(Job, first).status == "succeeded"
        assert session.get(Job, second).status == "running"
        # The setting was the claim's own: the pool's connections keep the server's.
        assert session.execute(text("SHOW synchronous_commit")).scalar() == "on"
