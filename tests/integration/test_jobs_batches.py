"""A worker claims several quick jobs per round trip; a batch never strands or doubles a job."""

import threading
import time
from datetime import timedelta

import pytest
from sqlalchemy import event

from hub import hookimpl
from hub.queue.jobs import Worker, claim, enqueue, finish, run
from hub.store.models import Job, utcnow


class Runs:
    def __init__(self):
        self.runs: list[tuple[int, int]] = []

    @hookimpl
    def hub_register_job_handlers(self):
        return {"test.quick": self.quick, "test.slow": self.slow}

    def quick(self, ctx):
        self.runs.append((ctx.id, ctx.attempts))

    def slow(self, ctx):
        self.runs.append((ctx.id, ctx.attempts))
        time.sleep(0.3)


@pytest.fixture(params=["sqlite", "postgresql"])
def batch_hub(request, make_hub):
    plugin = Runs()
    if request.param == "postgresql":
        from hub.store.db import Database
        from hub.testing import truncate_all

        url = request.getfixturevalue("pg_url")
        db = Database(url)
        truncate_all(db)
        db.dispose()
        return make_hub(plugins=[plugin], database_url=url), plugin
    return make_hub(plugins=[plugin]), plugin


def _jobs(hub) -> dict[int, Job]:
    with hub.db.read() as session:
        return {job.id: job for job in session.query(Job).all()}


def _enqueue(hub, kind: str, n: int) -> list[int]:
    with hub.db.transaction() as session:
        return [enqueue(session, kind) for _ in range(n)]


def test_a_claimed_batch_whose_worker_died_is_claimed_again_after_its_lease_job_by_job(batch_hub):
    hub, plugin = batch_hub
    ids = _enqueue(hub, "test.quick", 3)
    batch = claim(hub, "worker-that-dies", limit=3)
    assert sorted(ctx.id for ctx in batch) == ids
    # The worker dies with the batch unstarted: nobody else takes any of it while the leases hold.
    assert claim(hub, "other-worker") == []
    with hub.db.transaction() as session:
        for job_id in ids:
            session.get(Job, job_id).locked_until = utcnow() - timedelta(seconds=1)
    taken = []
    for _ in ids:
        (again,) = claim(hub, "other-worker")  # one at a time, each on its own lease
        assert again.attempts == 2
        taken.append(again.id)
        run(hub, again, "other-worker")
    assert sorted(taken) == ids and claim(hub, "other-worker") == []
    assert all(job.status == "succeeded" for job in _jobs(hub).values())
    assert sorted(plugin.runs) == [(job_id, 2) for job_id in ids]


def test_jobs_held_behind_a_slow_one_go_back_to_the_queue_unspent(batch_hub):
    hub, plugin = batch_hub
    slow, *rest = _enqueue(hub, "test.slow", 1) + _enqueue(hub, "test.quick", 2)
    worker = Worker(hub, worker_id="w")
    worker.BATCH_HOLD_SECONDS = 0.1
    batch = claim(hub, "w", limit=3)
    outcomes, released, quick = worker.run_claimed(batch, "w")
    assert [o.job_id for o in outcomes] == [slow] and released == rest and not quick
    finish(hub, outcomes, released=("w", released))
    jobs = _jobs(hub)
    assert jobs[slow].status == "succeeded"
    # Back as they were: queued, unlocked, the attempt they never made not counted.
    assert [(jobs[i].status, jobs[i].attempts, jobs[i].locked_by) for i in rest] == [
        ("queued", 0, None),
        ("queued", 0, None),
    ]
    assert Worker(hub).run_until_idle() == 2
    assert sorted(plugin.runs) == [(slow, 1), *((i, 1) for i in rest)]


def test_a_busy_worker_runs_quick_jobs_in_batches_and_each_once(batch_hub):
    hub, plugin = batch_hub
    ids = _enqueue(hub, "test.quick", 60)
    statements = []

    @event.listens_for(hub.db.engine, "before_cursor_execute")
    def count(conn, cursor, statement, *args):
        if (
            statement.lstrip().upper().startswith("UPDATE JOBS SET STATUS")
            and "RETURNING" in statement
        ):
            statements.append(statement)

    worker = Worker(hub, poll_interval=0.05)
    thread = threading.Thread(target=worker.run_forever)
    thread.start()
    try:
        deadline = time.monotonic() + 30
        while len(plugin.runs) < len(ids) and time.monotonic() < deadline:
            time.sleep(0.02)
    finally:
        worker.stop()
        thread.join(10)
        event.remove(hub.db.engine, "before_cursor_execute", count)
    assert sorted(job_id for job_id, _ in plugin.runs) == ids  # each exactly once
    assert all(job.status == "succeeded" for job in _jobs(hub).values())
    claims = len(statements)
    assert claims <= len(ids) / 4, f"{claims} claims for {len(ids)} jobs"
