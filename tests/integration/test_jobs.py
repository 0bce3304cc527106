"""Durable jobs: enqueued with the caller's transaction, run once, retried, dead-lettered."""

from datetime import timedelta

import pytest
from sqlalchemy import func, select

from hub import hookimpl
from hub.core.exceptions import ExternalError, ValidationError
from hub.queue.jobs import Worker, backoff_seconds, claim, enqueue, retry, run
from hub.store.models import Job, utcnow


class JobPlugin:
    """Job kinds whose behaviour the payload decides; records every run."""

    def __init__(self):
        self.runs: list[tuple[int, int]] = []

    @hookimpl
    def hub_register_job_handlers(self):
        return {
            "test.ok": self.ok,
            "test.flaky": self.flaky,
            "test.broken": self.broken,
            "test.crash": self.crash,
        }

    def ok(self, ctx):
        self.runs.append((ctx.id, ctx.attempts))

    def flaky(self, ctx):
        self.runs.append((ctx.id, ctx.attempts))
        if ctx.attempts < ctx.payload["succeed_on"]:
            raise ExternalError(
                "service unavailable", retryable=True, retry_after=ctx.payload.get("retry_after")
            )

    def broken(self, ctx):
        self.runs.append((ctx.id, ctx.attempts))
        raise ValidationError("this order has no lines")

    def crash(self, ctx):
        self.runs.append((ctx.id, ctx.attempts))
        raise RuntimeError("unexpected")


@pytest.fixture
def jobs_hub(request, make_hub):
    plugin = JobPlugin()
    if request.param == "postgresql":
        request.getfixturevalue("pg_url")
        from hub.store.db import Database
        from hub.testing import truncate_all

        db = Database(request.getfixturevalue("pg_url"))
        truncate_all(db)
        db.dispose()
        hub = make_hub(plugins=[plugin], database_url=request.getfixturevalue("pg_url"))
    else:
        hub = make_hub(plugins=[plugin])
    return hub, plugin


pytestmark = pytest.mark.parametrize("jobs_hub", ["sqlite", "postgresql"], indirect=True)


def _job(hub, job_id) -> Job:
    with hub.db.read() as session:
        return session.get(Job, job_id)


def _make_due(hub, job_id):
    with hub.db.transaction() as session:
        session.get(Job, job_id).run_at = utcnow() - timedelta(seconds=1)


def test_a_job_exists_only_if_its_transaction_committed(jobs_hub):
    hub, _ = jobs_hub
    with pytest.raises(RuntimeError):
        with hub.db.transaction() as session:
            enqueue(session, "test.ok")
            raise RuntimeError("the action failed after enqueueing")
    with hub.db.read() as session:
        assert (
            session.scalar(select(func.count()).select_from(Job).where(Job.kind == "test.ok")) == 0
        )


def test_a_job_runs_once_and_succeeds(jobs_hub):
    hub, plugin = jobs_hub
    with hub.db.transaction() as session:
        job_id = enqueue(session, "test.ok", {"n": 1})
    assert Worker(hub).run_until_idle() == 1
    assert Worker(hub).run_until_idle() == 0
    assert plugin.runs == [(job_id, 1)]
    job = _job(hub, job_id)
    assert (job.status, job.attempts, job.locked_by, job.finished_at is not None) == (
        "succeeded",
        1,
        None,
        True,
    )


def test_the_same_dedupe_key_enqueues_one_job_and_keeps_the_transaction_usable(jobs_hub):
    hub, _ = jobs_hub
    with hub.db.transaction() as session:
        first = enqueue(session, "test.ok", dedupe_key="slot:1")
        second = enqueue(session, "test.ok", dedupe_key="slot:1")
        third = enqueue(session, "test.ok", dedupe_key="slot:2")
    assert first is not None and second is None and third is not None
    with hub.db.read() as session:
        assert session.scalar(select(func.count()).select_from(Job)) == 2


def test_a_transient_failure_is_retried_later_with_backoff(jobs_hub):
    hub, plugin = jobs_hub
    with hub.db.transaction() as session:
        job_id = enqueue(session, "test.flaky", {"succeed_on": 2, "retry_after": 30})
    Worker(hub).run_until_idle()
    job = _job(hub, job_id)
    assert job.status == "failed"
    assert "service unavailable" in job.last_error
    # Retry-After is a floor for the next attempt.
    assert job.run_at >= utcnow() + timedelta(seconds=25)
    assert Worker(hub).run_until_idle() == 0  # not due yet
    _make_due(hub, job_id)
    Worker(hub).run_until_idle()
    assert _job(hub, job_id).status == "succeeded"
    assert [a for _, a in plugin.runs] == [1, 2]


def test_an_error_retrying_cannot_fix_goes_dead_at_once_and_can_be_retried_by_a_person(jobs_hub):
    hub, plugin = jobs_hub
    with hub.db.transaction() as session:
        job_id = enqueue(session, "test.broken")
    Worker(hub).run_until_idle()
    job = _job(hub, job_id)
    assert job.status == "dead" and job.attempts == 1
    assert "this order has no lines" in job.last_error
    with hub.db.transaction() as session:
        retry(session, job_id)
    assert _job(hub, job_id).status == "queued"
    Worker(hub).run_until_idle()
    assert len(plugin.runs) == 2


def test_running_out_of_attempts_goes_dead_with_the_last_error(jobs_hub):
    hub, _ = jobs_hub
    with hub.db.transaction() as session:
        job_id = enqueue(session, "test.crash", max_attempts=2)
    Worker(hub).run_until_idle()
    _make_due(hub, job_id)
    Worker(hub).run_until_idle()
    job = _job(hub, job_id)
    assert job.status == "dead"
    assert "gave up after 2 attempts" in job.last_error and "unexpected" in job.last_error


def test_only_failed_or_dead_jobs_can_be_retried(jobs_hub):
    hub, _ = jobs_hub
    with hub.db.transaction() as session:
        job_id = enqueue(session, "test.ok")
    with pytest.raises(ValidationError, match="only failed or dead"):
        with hub.db.transaction() as session:
            retry(session, job_id)


def test_a_job_whose_worker_died_runs_again_after_its_lease(jobs_hub):
    hub, plugin = jobs_hub
    with hub.db.transaction() as session:
        job_id = enqueue(session, "test.ok")
    (ctx,) = claim(hub, "worker-that-dies")
    # The worker dies here: nothing else claims the job while the lease holds.
    assert claim(hub, "other-worker") == []
    with hub.db.transaction() as session:
        session.get(Job, job_id).locked_until = utcnow() - timedelta(seconds=1)
    (again,) = claim(hub, "other-worker")
    assert again.id == ctx.id and again.attempts == 2
    run(hub, again, "other-worker")
    # The dead worker coming back cannot overwrite the outcome.
    assert run(hub, ctx, "worker-that-dies") == "succeeded"
    job = _job(hub, job_id)
    assert job.status == "succeeded" and job.attempts == 2
    assert len(plugin.runs) == 2


def test_a_job_with_no_handler_goes_dead_saying_so(jobs_hub):
    hub, _ = jobs_hub
    with hub.db.transaction() as session:
        job_id = enqueue(session, "nobody.handles.this")
    Worker(hub).run_until_idle()
    job = _job(hub, job_id)
    assert job.status == "dead" and "no handler" in job.last_error


def test_backoff_grows_exponentially_within_jitter_and_respects_retry_after(jobs_hub):
    for attempt in range(1, 8):
        delay = backoff_seconds(attempt)
        exp = min(3600, 2 * 2 ** (attempt - 1))
        assert exp / 2 <= delay <= exp
    assert backoff_seconds(1, retry_after=120) >= 120


def test_a_periodic_job_still_waiting_takes_the_next_slots_work_too(jobs_hub):
    from hub.integration.jobs import PeriodicJob
    from hub.queue.scheduler import fire

    hub, plugin = jobs_hub
    pull = PeriodicJob(kind="test.ok", every_seconds=10, channel_id=None)
    other = PeriodicJob(kind="test.flaky", every_seconds=10, payload={"succeed_on": 2})

    first = fire(hub, pull, now=1000.0)
    assert first is not None
    # The workers are behind: the next slots add nothing while the first waits.
    assert fire(hub, pull, now=1010.0) is None
    assert fire(hub, pull, now=1020.0) is None
    # Another periodic job is not held back by it.
    flaky = fire(hub, other, now=1010.0)
    assert flaky is not None

    Worker(hub).run_until_idle()
    assert [job_id for job_id, _ in plugin.runs if job_id == first] == [first]
    # The flaky one failed and waits for its retry: its next slots are coalesced too.
    assert _job(hub, flaky).status == "failed"
    assert fire(hub, other, now=1030.0) is None
    # Once the first ran, the next slot is queued as usual.
    assert fire(hub, pull, now=1030.0) is not None
