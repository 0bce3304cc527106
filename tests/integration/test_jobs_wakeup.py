"""Idle workers on PostgreSQL start a new job at once (LISTEN/NOTIFY), not at their next poll."""

import threading
import time

import pytest

from hub import hookimpl
from hub.queue.jobs import Worker, enqueue


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
