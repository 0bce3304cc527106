"""Durable jobs: one table that is both the transactional outbox and the queue.

- :func:`enqueue` writes a job inside the caller's transaction, so a job exists
  if and only if the change that asked for it committed.
- Workers :func:`claim` jobs (``FOR UPDATE SKIP LOCKED`` on PostgreSQL; SQLite
  has one writer) and hold a *lease*: a job whose worker died is claimed again
  once its lease runs out.
- A failure is retried with exponential backoff and jitter, honouring a
  service's ``Retry-After``; an error that retrying cannot fix (its
  ``retryable`` is false) sends the job to ``dead`` at once, and so does
  running out of attempts. Dead jobs are listed and can be retried by a person.
"""

from __future__ import annotations

import logging
import os
import random
import socket
import threading
import time
import traceback
from collections.abc import Callable
from dataclasses import dataclass
from datetime import datetime, timedelta
from typing import TYPE_CHECKING, Any

from sqlalchemy import BindParameter, bindparam, func, select, text, update
from sqlalchemy.dialects import postgresql, sqlite
from sqlalchemy.engine import Connection
from sqlalchemy.orm import Session

from hub.core.exceptions import ConfigError, HubError, NotFound, ValidationError
from hub.store.models import Job, JobStatus, utcnow

if TYPE_CHECKING:
    from hub.integration.connectors import Connector
    from hub.integration.erp import ErpExchange
    from hub.runtime.hub import Hub
    from hub.store.db import Database

log = logging.getLogger(__name__)

STATUSES: tuple[str, ...] = tuple(s.value for s in JobStatus)
DEFAULT_MAX_ATTEMPTS = 10
BACKOFF_BASE_SECONDS = 2.0
BACKOFF_CAP_SECONDS = 3600.0


@dataclass
class JobContext:
    """What a job handler gets: the job's facts and the hub to act through.

    Implements :class:`hub.integration.jobs.JobContext`, the part plugins rely on.
    """

    hub: Hub
    id: int
    kind: str
    payload: dict[str, Any]
    attempts: int
    max_attempts: int
    channel_id: int | None = None
    order_id: int | None = None
    dedupe_key: str | None = None

    @property
    def idempotency_key(self) -> str:
        """A key for outbound calls, identical on every retry of this job."""
        return f"hub-job-{self.id}"

    @property
    def db(self) -> Database:
        return self.hub.db

    def require_channel(self) -> int:
        """This job's channel id, for a kind of job that always has one.

        :raises NotFound: the job has no channel.
        """
        if self.channel_id is None:
            raise NotFound(f"job {self.id} ({self.kind}) has no channel")
        return self.channel_id

    def require_order(self) -> int:
        """This job's order id, for a kind of job that always has one.

        :raises NotFound: the job has no order.
        """
        if self.order_id is None:
            raise NotFound(f"job {self.id} ({self.kind}) has no order")
        return self.order_id

    def connector(self) -> Connector:
        """The connector of this job's channel."""
        return self.hub.connector_for_id(self.require_channel())

    def erp(self) -> ErpExchange:
        """The hub's side of the ERP exchange for this job's channel (service ``erp``)."""
        channel_id = self.require_channel()
        factory = self.hub.services.get("erp")
        if factory is None:
            raise ConfigError(
                "no plugin provides the hub service 'erp' (hub.pipeline.builtin does)"
            )
        return factory(self.hub, channel_id)

    def plugin_settings(self, name: str) -> dict[str, Any]:
        """A plugin's settings as saved in the admin UI (``hub_register_settings``), read now."""
        return self.hub.read_plugin_settings(name)


def enqueue(
    session: Session,
    kind: str,
    payload: dict[str, Any] | None = None,
    *,
    channel_id: int | None = None,
    order_id: int | None = None,
    dedupe_key: str | None = None,
    run_at: datetime | None = None,
    max_attempts: int = DEFAULT_MAX_ATTEMPTS,
) -> int | None:
    """Add a job in the caller's transaction; return its id.

    With a ``dedupe_key`` a second enqueue of the same key adds nothing and
    returns ``None`` (``INSERT … ON CONFLICT DO NOTHING``), without spoiling
    the caller's transaction.
    """
    return enqueue_row(
        session,
        job_row(
            kind,
            payload,
            channel_id=channel_id,
            order_id=order_id,
            dedupe_key=dedupe_key,
            run_at=run_at,
            max_attempts=max_attempts,
        ),
    )


def enqueue_row(session: Session, row: dict[str, Any]) -> int | None:
    """:func:`enqueue` a row made by :func:`job_row`; return its id (None: its dedupe key was taken)."""
    dialect = session.get_bind().dialect.name
    if dialect not in ("postgresql", "sqlite"):
        job = Job(**row)
        session.add(job)
        session.flush()
        return job.id
    # A Core statement built once and given the values as parameters: building an
    # ORM insert with .values() for every job cost more than the insert itself
    # (profiled in `make bench`). The job's order and channel have ids, so they
    # are in the database already; other pending changes flush at commit.
    return session.execute(_insert_statement(dialect, row["dedupe_key"] is not None), row).scalar()


def job_row(
    kind: str,
    payload: dict[str, Any] | None = None,
    *,
    channel_id: int | None = None,
    order_id: int | None = None,
    dedupe_key: str | None = None,
    run_at: datetime | None = None,
    max_attempts: int = DEFAULT_MAX_ATTEMPTS,
) -> dict[str, Any]:
    """The row of a new queued job (what :func:`enqueue` and :func:`enqueue_many` insert)."""
    now = utcnow()
    return dict(
        kind=kind,
        payload=payload or {},
        channel_id=channel_id,
        order_id=order_id,
        dedupe_key=dedupe_key,
        status=JobStatus.QUEUED,
        attempts=0,
        max_attempts=max_attempts,
        run_at=run_at or now,
        created_at=now,
        updated_at=now,
    )


def enqueue_many(conn: Connection, rows: list[dict[str, Any]]) -> None:
    """Add jobs (rows from :func:`job_row`, each with a ``dedupe_key``) in one ``executemany``.

    A key enqueued before adds nothing. For hot paths that write many jobs in one
    transaction and need none of their ids (the webhook inbox's group commit).
    """
    if not rows:
        return
    if any(row["dedupe_key"] is None for row in rows):
        raise ValueError("enqueue_many needs a dedupe_key on every job")
    conn.execute(_insert_statement(conn.dialect.name, True, returning=False), rows)


_INSERTS: dict[tuple[str, bool, bool], Any] = {}


def _insert_statement(dialect: str, dedupe: bool, returning: bool = True):
    """``INSERT INTO jobs … RETURNING id``; with ``dedupe``, ``ON CONFLICT (dedupe_key) DO NOTHING``."""
    statement = _INSERTS.get((dialect, dedupe, returning))
    if statement is None:
        table = Job.__table__
        if dedupe:
            insert = postgresql.insert if dialect == "postgresql" else sqlite.insert
            statement = insert(table).on_conflict_do_nothing(index_elements=["dedupe_key"])
        else:
            statement = table.insert()
        if returning:
            statement = statement.returning(table.c.id)
        _INSERTS[(dialect, dedupe, returning)] = statement
    return statement


def dead_letter(
    session: Session,
    kind: str,
    payload: dict[str, Any],
    *,
    error: str,
    channel_id: int | None = None,
    order_id: int | None = None,
    unique_by: str | tuple[str, ...] | None = None,
) -> int:
    """Record work that failed before it could become a job: a dead job a person can retry.

    With ``unique_by`` (a payload key, or a path of keys), the same failure seen again adds
    nothing while the first one is not done: a dead job of this kind and
    channel whose payload has the same value there gets the newer ``error``
    (one queued or running, a retry a person asked for, is left alone).
    Once that job has succeeded, the next failure is a new dead job.
    """
    now = utcnow()
    if unique_by is not None:
        value: Any = payload
        for key in (unique_by,) if isinstance(unique_by, str) else unique_by:
            value = value[key]
        earlier = session.scalars(
            select(Job)
            .where(
                Job.kind == kind,
                Job.channel_id == channel_id,
                Job.status != JobStatus.SUCCEEDED,
                Job.payload[unique_by].as_string() == str(value),
            )
            .order_by(Job.id)
            .limit(1)
        ).first()
        if earlier is not None:
            if earlier.status == JobStatus.DEAD:
                earlier.last_error, earlier.updated_at, earlier.finished_at = error, now, now
            return earlier.id
    job = Job(
        kind=kind,
        payload=payload,
        channel_id=channel_id,
        order_id=order_id,
        status=JobStatus.DEAD,
        attempts=0,
        max_attempts=DEFAULT_MAX_ATTEMPTS,
        run_at=now,
        last_error=error,
        created_at=now,
        updated_at=now,
        finished_at=now,
    )
    session.add(job)
    session.flush()
    return job.id


def backoff_seconds(attempts: int, retry_after: float | None = None) -> float:
    """Delay before the next attempt: exponential with jitter, never below ``retry_after``."""
    exp = min(BACKOFF_CAP_SECONDS, BACKOFF_BASE_SECONDS * 2 ** max(0, attempts - 1))
    delay = exp / 2 + random.uniform(0, exp / 2)
    if retry_after is not None:
        delay = max(delay, float(retry_after))
    return delay


@dataclass(frozen=True)
class Outcome:
    """How a job's run ended, to be written by its lease holder."""

    job_id: int
    worker_id: str
    status: str  # succeeded | failed | dead
    error: str | None = None
    run_at: datetime | None = None


def claim(
    hub: Hub,
    worker_id: str,
    *,
    limit: int = 1,
    kinds: tuple[str, ...] | None = None,
    finished: tuple[Outcome, ...] | list[Outcome] = (),
    leases: bool = True,
    now: datetime | None = None,
) -> list[JobContext]:
    """Take up to ``limit`` due jobs for ``worker_id`` and lease them.

    ``finished`` outcomes of the previous jobs are written in the same
    transaction: a busy worker commits once per job, not twice; a claim that carries
    none does not wait for its WAL flush on PostgreSQL (``_NO_FLUSH_WAIT``). With
    ``leases`` (the default), jobs whose lease ran out (their worker died) are
    taken first; a busy worker asks for those about once a second rather than
    with every claim (see :class:`Worker`). ``now`` is the time jobs are due by
    (a test moves it forward to run what is scheduled later: ``hub.testing``).
    """
    now = now or utcnow()
    params: dict[str, Any] = {
        "now": now,
        "worker_id": worker_id,
        "until": now + timedelta(seconds=hub.settings.job_lease_seconds),
    }
    if kinds:
        params["kinds"] = list(kinds)
    claimed: list[JobContext] = []
    # Core statements built once on a plain connection, rows instead of ORM objects:
    # the queue's own bookkeeping is per job, and an ORM session cost more than the
    # queries (`make bench`, (e)).
    with hub.db.write() as session:
        for outcome in finished:
            _write_outcome(session, outcome)
        if not finished and session.dialect.name == "postgresql":
            session.execute(_NO_FLUSH_WAIT)
        if leases:
            # Expired leases first (few, and a worker's death must not wait behind a busy queue).
            for job in session.execute(_due_statement("leased", limit, bool(kinds)), params).all():
                if job.attempts >= job.max_attempts:
                    session.execute(
                        _BURY,
                        {
                            "job_id": job.id,
                            "now": now,
                            "error": f"lease expired after {job.attempts} attempts (worker {job.locked_by} died?)",
                        },
                    )
                    continue
                log.warning("job %s: lease of %s expired, running it again", job.id, job.locked_by)
                attempts = session.execute(_TAKE, {**params, "job_id": job.id}).scalar_one()
                claimed.append(_context(hub, job, attempts))
        if len(claimed) < limit:
            # Waiting jobs are found, locked and leased by one statement (one round trip).
            taken = session.execute(
                _take_waiting(session.dialect.name, limit - len(claimed), bool(kinds)), params
            ).all()
            claimed += [_context(hub, job) for job in sorted(taken, key=lambda job: job.id)]
    return claimed


def _context(hub: Hub, job, attempts: int | None = None) -> JobContext:
    """The context of a job just leased (``attempts``, else ``job.attempts``, counts this run)."""
    return JobContext(
        hub=hub,
        id=job.id,
        kind=job.kind,
        payload=dict(job.payload or {}),
        attempts=job.attempts if attempts is None else attempts,
        max_attempts=job.max_attempts,
        channel_id=job.channel_id,
        order_id=job.order_id,
        dedupe_key=job.dedupe_key,
    )


_jobs = Job.__table__
#: A claim that writes no outcome commits without waiting for its WAL flush: an idle
#: worker's claim of a new job is on the path from enqueue to start, and the flush
#: (fsync) cost ~1.5 ms at the median and up to ~60 ms on a busy disk (bench (j)).
#: Safe: WAL is written in order, so any later flushed commit (the job's own writes, its
#: outcome) makes the claim durable too; only a crash of PostgreSQL itself before any
#: such flush loses the lease, and then the job is queued and runs again, as after a
#: worker's SIGKILL (jobs run at least once). Outcomes of finished jobs are never
#: written without waiting: a claim that carries them waits for its flush.
_NO_FLUSH_WAIT = text("SET LOCAL synchronous_commit TO off")
_DUE: dict[tuple[str, int, bool], Any] = {}
_LEASE = dict(
    status=JobStatus.RUNNING,
    attempts=_jobs.c.attempts + 1,
    locked_by=bindparam("worker_id"),
    locked_until=bindparam("until"),
    updated_at=bindparam("now"),
)
_TAKE = (
    update(_jobs)
    .where(_jobs.c.id == bindparam("job_id"))
    .values(**_LEASE)
    .returning(_jobs.c.attempts)
)
_BURY = (
    update(_jobs)
    .where(_jobs.c.id == bindparam("job_id"))
    .values(
        status=JobStatus.DEAD,
        last_error=bindparam("error"),
        locked_by=None,
        locked_until=None,
        finished_at=bindparam("now"),
        updated_at=bindparam("now"),
    )
)
_CONTEXT_COLUMNS = (
    _jobs.c.id,
    _jobs.c.kind,
    _jobs.c.payload,
    _jobs.c.attempts,
    _jobs.c.max_attempts,
    _jobs.c.channel_id,
    _jobs.c.order_id,
    _jobs.c.dedupe_key,
)


def _due_statement(which: str, limit: int, by_kind: bool):
    """Due jobs, locked with ``SKIP LOCKED`` (workers never wait for each other).

    ``leased``: running jobs whose lease ran out, by expiry (``ix_jobs_leased``);
    ``waiting``: queued or failed jobs whose time came, oldest first (``ix_jobs_waiting``).
    """
    statement = _DUE.get((which, limit, by_kind))
    if statement is None:
        c = _jobs.c
        now: BindParameter[datetime] = bindparam("now")
        statement = select(*_CONTEXT_COLUMNS, c.locked_by)
        # The status tests are literal SQL, as in the partial indexes' WHERE:
        # with bound parameters a prepared (generic) plan could not use them.
        if which == "leased":
            statement = statement.where(text("status = 'running'"), c.locked_until < now).order_by(
                c.locked_until
            )
        else:
            statement = statement.where(
                text("status IN ('queued', 'failed')"), c.run_at <= now
            ).order_by(c.run_at, c.id)
        if by_kind:
            statement = statement.where(c.kind.in_(bindparam("kinds", expanding=True)))
        statement = _DUE[(which, limit, by_kind)] = statement.limit(limit).with_for_update(
            skip_locked=True
        )
    return statement


_TAKE_WAITING: dict[tuple[str, int, bool], Any] = {}


def _take_waiting(dialect: str, limit: int, by_kind: bool):
    """``UPDATE jobs SET <leased> WHERE id IN (<waiting jobs, SKIP LOCKED>) RETURNING …``."""
    key = (dialect, limit, by_kind)
    statement = _TAKE_WAITING.get(key)
    if statement is None:
        waiting = _due_statement("waiting", limit, by_kind).with_only_columns(_jobs.c.id)
        statement = _TAKE_WAITING[key] = (
            update(_jobs)
            .where(_jobs.c.id.in_(waiting))
            .values(**_LEASE)
            .returning(*_CONTEXT_COLUMNS)
        )
    return statement


def execute(hub: Hub, ctx: JobContext, worker_id: str) -> Outcome:
    """Run one claimed job's handler and decide its next status (not yet written)."""
    handler = hub.job_handlers.get(ctx.kind)
    started = time.perf_counter()
    if handler is None:
        return Outcome(ctx.id, worker_id, JobStatus.DEAD, f"no handler for job kind {ctx.kind!r}")
    try:
        with _Heartbeat(hub, ctx, worker_id):
            handler(ctx)
    except Exception as exc:  # every failure is recorded on the job, never lost
        retryable = getattr(exc, "retryable", True)
        message = _describe(exc)
        if not retryable:
            status, run_at = JobStatus.DEAD, None
        elif ctx.attempts >= ctx.max_attempts:
            status, run_at = JobStatus.DEAD, None
            message = f"gave up after {ctx.attempts} attempts: {message}"
        else:
            delay = backoff_seconds(ctx.attempts, getattr(exc, "retry_after", None))
            status, run_at = JobStatus.FAILED, utcnow() + timedelta(seconds=delay)
        level = logging.ERROR if status == JobStatus.DEAD else logging.WARNING
        log.log(
            level, "job %s %s attempt %s: %s -> %s", ctx.id, ctx.kind, ctx.attempts, message, status
        )
        if not isinstance(exc, HubError):
            # Not raised on purpose: keep the traceback for whoever debugs it.
            log.info("job %s traceback:\n%s", ctx.id, traceback.format_exc())
        outcome = Outcome(ctx.id, worker_id, status, message, run_at)
    else:
        outcome = Outcome(ctx.id, worker_id, JobStatus.SUCCEEDED)
    hub.metrics.job_finished(ctx.kind, outcome.status, time.perf_counter() - started)
    return outcome


def run(hub: Hub, ctx: JobContext, worker_id: str) -> str:
    """Run one claimed job, write its outcome, and return its new status."""
    outcome = execute(hub, ctx, worker_id)
    finish(hub, [outcome])
    return outcome.status


def finish(
    hub: Hub, outcomes: list[Outcome], *, released: tuple[str, list[int]] | None = None
) -> None:
    """Write outcomes in their own transaction (when no claim follows to carry them).

    ``released``: a worker id and jobs it claimed but did not start, put back in the
    queue as they were (their attempt not counted) for any worker to take.
    """
    if outcomes or (released and released[1]):
        with hub.db.write() as conn:
            for outcome in outcomes:
                _write_outcome(conn, outcome)
            if released and released[1]:
                worker_id, job_ids = released
                conn.execute(
                    _RELEASE, {"worker_id": worker_id, "job_ids": job_ids, "now": utcnow()}
                )


_RELEASE = (
    update(_jobs)
    .where(
        _jobs.c.id.in_(bindparam("job_ids", expanding=True)),
        _jobs.c.locked_by == bindparam("worker_id"),
        _jobs.c.status == JobStatus.RUNNING,
    )
    .values(
        status=JobStatus.QUEUED,
        attempts=_jobs.c.attempts - 1,
        locked_by=None,
        locked_until=None,
        updated_at=bindparam("now"),
    )
)


def _describe(exc: BaseException) -> str:
    text = str(exc) or exc.__class__.__name__
    return f"{exc.__class__.__name__}: {text}"


def _write_outcome(conn: Connection, outcome: Outcome) -> None:
    finished = outcome.status in (JobStatus.SUCCEEDED, JobStatus.DEAD)
    params = {
        "job_id": outcome.job_id,
        "worker_id": outcome.worker_id,
        "new_status": outcome.status,
        "error": outcome.error,
        "now": utcnow(),
    }
    if outcome.run_at is not None:
        params["next_run"] = outcome.run_at
    # Only the lease holder may finish a job: if our lease ran out and another
    # worker took the job over, its outcome is the one that counts.
    done = conn.execute(_outcome_statement(finished, outcome.run_at is not None), params).rowcount
    if not done:
        log.warning("job %s: lease lost before it finished; its new holder decides", outcome.job_id)


_OUTCOMES: dict[tuple[bool, bool], Any] = {}


def _outcome_statement(finished: bool, rescheduled: bool):
    statement = _OUTCOMES.get((finished, rescheduled))
    if statement is None:
        c = _jobs.c
        values: dict[str, Any] = dict(
            status=bindparam("new_status"),
            locked_by=None,
            locked_until=None,
            last_error=bindparam("error"),
            updated_at=bindparam("now"),
        )
        if finished:
            values["finished_at"] = bindparam("now")
        if rescheduled:
            values["run_at"] = bindparam("next_run")
        statement = _OUTCOMES[(finished, rescheduled)] = (
            update(_jobs)
            .where(
                c.id == bindparam("job_id"),
                c.locked_by == bindparam("worker_id"),
                c.status == JobStatus.RUNNING,
            )
            .values(**values)
        )
    return statement


class _Heartbeat:
    """Keep a running job's lease alive while its handler works.

    One keeper thread per hub extends the leases of every job that has run for
    longer than a third of the lease; short jobs (nearly all) cost a dict update.
    """

    def __init__(self, hub: Hub, ctx: JobContext, worker_id: str):
        self.keeper = _LeaseKeeper.of(hub)
        self.key = (ctx.id, worker_id)

    def __enter__(self):
        self.keeper.running[self.key] = time.monotonic()
        return self

    def __exit__(self, *exc):
        self.keeper.running.pop(self.key, None)


class _LeaseKeeper:
    _lock = threading.Lock()

    def __init__(self, hub: Hub):
        self.hub = hub
        self.running: dict[tuple[int, str], float] = {}
        self.interval = max(0.5, hub.settings.job_lease_seconds / 3)
        self._stop = threading.Event()
        self._thread = threading.Thread(target=self._beat, daemon=True, name="lease-keeper")
        self._thread.start()
        hub.on_close(self.stop)

    def stop(self) -> None:
        """End the thread (``Hub.close`` calls this)."""
        self._stop.set()
        self._thread.join(timeout=self.interval)

    @classmethod
    def of(cls, hub: Hub) -> _LeaseKeeper:
        keeper = hub.extensions.get(cls)
        if keeper is None:
            with cls._lock:
                keeper = hub.extensions.get(cls)
                if keeper is None:
                    keeper = hub.extensions[cls] = cls(hub)
        return keeper

    def _beat(self) -> None:
        lease = timedelta(seconds=self.hub.settings.job_lease_seconds)
        while not self._stop.wait(self.interval / 2):
            now = time.monotonic()
            due = [key for key, since in list(self.running.items()) if now - since >= self.interval]
            for job_id, worker_id in due:
                try:
                    with self.hub.db.transaction() as session:
                        session.execute(
                            update(Job)
                            .where(
                                Job.id == job_id,
                                Job.locked_by == worker_id,
                                Job.status == JobStatus.RUNNING,
                            )
                            .values(locked_until=utcnow() + lease)
                        )
                    if (job_id, worker_id) in self.running:
                        self.running[(job_id, worker_id)] = now
                except Exception:  # a missed beat only shortens the lease
                    log.exception("job %s: could not extend its lease", job_id)


class _Wakeup:
    """``LISTEN hub_jobs`` on a connection of its own and wake a worker's idle threads.

    The ``jobs_notify`` trigger (migration 0028) notifies when a transaction that added
    jobs commits. Idle threads still poll (every ``poll_interval`` at most) for jobs due
    later (a retry's backoff) and whenever the listening connection is down; it is
    opened again after a pause.
    """

    CHANNEL = "hub_jobs"

    def __init__(self, db: Database, stop_event: threading.Event, pause: float):
        self.db = db
        self.stop_event = stop_event
        self.pause = pause
        #: Counts notifications (and reconnections, after which one may have been missed).
        self.generation = 0
        self.condition = threading.Condition()
        self.listening = threading.Event()
        self._thread = threading.Thread(target=self._listen, daemon=True, name="jobs-listen")
        self._thread.start()

    def wait(self, seen: int, timeout: float) -> None:
        """Until a notification newer than ``seen`` (a :attr:`generation`), a stop, or ``timeout``."""
        with self.condition:
            self.condition.wait_for(
                lambda: self.generation != seen or self.stop_event.is_set(), timeout
            )

    def stop(self) -> None:
        self._wake()

    def _wake(self) -> None:
        with self.condition:
            self.generation += 1
            self.condition.notify_all()

    def _listen(self) -> None:
        while not self.stop_event.is_set():
            raw = None
            try:
                raw = self.db.engine.raw_connection()
                conn: Any = raw.driver_connection
                if conn is None or not hasattr(conn, "notifies"):  # not psycopg 3: polling only
                    return
                conn.rollback()
                conn.autocommit = True
                conn.execute(f"LISTEN {self.CHANNEL}")
                self.listening.set()
                self._wake()  # a job added while nobody listened is looked for now
                while not self.stop_event.is_set():
                    for _ in conn.notifies(timeout=0.5):  # each as it arrives
                        self._wake()
            except Exception:
                log.warning("jobs: not listening for new jobs (polling meanwhile)", exc_info=True)
                self.stop_event.wait(self.pause)
            finally:
                self.listening.clear()
                if raw is not None:
                    raw.invalidate()  # a LISTENing, autocommit connection goes back to no pool


def retry(session: Session, job_id: int) -> Job:
    """Queue a failed or dead job to run now, with a fresh set of attempts."""
    job = session.get(Job, job_id)
    if job is None:
        raise NotFound(f"job {job_id} does not exist")
    if job.status not in (JobStatus.FAILED, JobStatus.DEAD):
        raise ValidationError(
            f"job {job_id} is {job.status}: only failed or dead jobs can be retried"
        )
    job.status = JobStatus.QUEUED
    job.run_at = utcnow()
    job.attempts = 0
    job.finished_at = None
    return job


def dead_count(session: Session, kind: str, channel_id: int | None = None) -> int:
    """How many dead jobs of ``kind`` (and of one channel, if given) :func:`retry_dead` would queue."""
    query = select(func.count()).select_from(Job).where(*_dead_of(kind, channel_id))
    return session.scalar(query) or 0


def retry_dead(session: Session, kind: str, channel_id: int | None = None) -> int:
    """Queue every dead job of ``kind`` (of one channel, if given) to run now, as :func:`retry` does.

    Returns how many were queued. Only dead jobs: failed ones still retry by themselves.
    """
    if not kind:
        raise ValidationError("a kind is needed to retry dead jobs in bulk")
    result = session.execute(
        update(Job)
        .where(*_dead_of(kind, channel_id))
        .values(status=JobStatus.QUEUED.value, run_at=utcnow(), attempts=0, finished_at=None)
        .execution_options(synchronize_session=False)
    )
    return int(getattr(result, "rowcount", 0) or 0)


def _dead_of(kind: str, channel_id: int | None) -> list[Any]:
    clauses: list[Any] = [Job.status == JobStatus.DEAD.value, Job.kind == kind]
    if channel_id is not None:
        clauses.append(Job.channel_id == channel_id)
    return clauses


class Worker:
    """Claims and runs jobs until told to stop.

    ``concurrency`` threads each claim jobs, several per round trip while
    they are quick (:attr:`MAX_BATCH`). A stop request never strands a
    claimed-but-unstarted job: running jobs finish, the rest of a claim goes
    back to the queue, then the threads exit. On PostgreSQL idle threads wake
    when jobs are added (``LISTEN hub_jobs``); they poll as well.
    """

    def __init__(
        self,
        hub: Hub,
        *,
        concurrency: int = 1,
        poll_interval: float = 0.5,
        kinds: tuple[str, ...] | None = None,
        worker_id: str | None = None,
        clock: Callable[[], datetime] | None = None,
    ):
        self.hub = hub
        #: The time jobs are due by (default: now); tests move it to run later work early.
        self.clock = clock or utcnow
        self.concurrency = concurrency
        self.poll_interval = poll_interval
        self.kinds = kinds
        self.name = worker_id or f"{socket.gethostname()}:{os.getpid()}"
        self.stop_event = threading.Event()
        #: Wakes idle threads when jobs are added (PostgreSQL, while running forever).
        self.wakeup: _Wakeup | None = None

    def run_forever(self) -> None:
        if self.hub.db.dialect == "postgresql":
            self.wakeup = _Wakeup(self.hub.db, self.stop_event, self.poll_interval)
        threads = [
            threading.Thread(target=self._loop, args=(f"{self.name}:{i}",), name=f"worker-{i}")
            for i in range(self.concurrency)
        ]
        for t in threads:
            t.start()
        for t in threads:
            t.join()

    def stop(self) -> None:
        self.stop_event.set()
        if self.wakeup is not None:
            self.wakeup.stop()

    #: How often a busy worker looks for jobs whose lease ran out (an idle one, at every poll).
    LEASE_CHECK_SECONDS = 1.0
    #: The most jobs a thread claims in one round trip. It claims one at a time while its
    #: jobs are slow, and doubles its claim (up to this) while every job of a full claim
    #: took under QUICK_JOB_SECONDS: a busy queue of quick jobs pays one transaction per
    #: claim instead of one per job, a queue of slow jobs is shared out job by job.
    MAX_BATCH = 8
    QUICK_JOB_SECONDS = 0.02
    #: Claimed jobs not started this long after their claim go back to the queue (so
    #: another worker takes them), well inside their lease.
    BATCH_HOLD_SECONDS = 0.5

    def _loop(self, worker_id: str) -> None:
        idle = self.poll_interval / 4
        pending: list[Outcome] = []
        leases_due = 0.0
        batch = 1
        while not self.stop_event.is_set():
            now = time.monotonic()
            leases = now >= leases_due
            # Read before claiming: a job added after this wakes the wait below at once.
            seen = self.wakeup.generation if self.wakeup is not None else 0
            try:
                jobs = claim(
                    self.hub,
                    worker_id,
                    limit=batch,
                    kinds=self.kinds,
                    finished=pending,
                    leases=leases,
                    now=self.clock(),
                )
                if leases:
                    leases_due = now + self.LEASE_CHECK_SECONDS
            except Exception:
                log.exception("worker %s: could not claim jobs; trying again", worker_id)
                self.stop_event.wait(self.poll_interval)
                continue
            pending = []
            if not jobs:
                leases_due = 0.0
                batch = 1
                if self.wakeup is not None:
                    self.wakeup.wait(seen, idle)
                else:
                    self.stop_event.wait(idle)
                idle = min(self.poll_interval, idle * 2)
                continue
            idle = self.poll_interval / 4
            pending, released, quick = self.run_claimed(jobs, worker_id)
            if released:
                self._flush(pending, (worker_id, released))
                pending = []
            if not quick:
                batch = 1
            elif len(jobs) == batch:
                batch = min(self.MAX_BATCH, batch * 2)
        self._flush(pending)

    def run_claimed(
        self, jobs: list[JobContext], worker_id: str
    ) -> tuple[list[Outcome], list[int], bool]:
        """Run claimed jobs in order: their outcomes, the ids of those not started (a stop
        request, or held past :attr:`BATCH_HOLD_SECONDS`), and whether every job was quick."""
        claimed = time.monotonic()
        hold = min(self.BATCH_HOLD_SECONDS, self.hub.settings.job_lease_seconds / 4)
        outcomes: list[Outcome] = []
        quick = True
        for i, ctx in enumerate(jobs):
            if i and (self.stop_event.is_set() or time.monotonic() - claimed > hold):
                return outcomes, [later.id for later in jobs[i:]], False
            started = time.monotonic()
            outcomes.append(execute(self.hub, ctx, worker_id))
            quick = quick and time.monotonic() - started < self.QUICK_JOB_SECONDS
        return outcomes, [], quick

    def _flush(self, pending: list[Outcome], released: tuple[str, list[int]] | None = None) -> None:
        for attempt in range(5):
            try:
                finish(self.hub, pending, released=released)
                return
            except Exception:
                log.exception(
                    "worker %s: could not record job outcomes (try %s)", self.name, attempt + 1
                )
                time.sleep(1)

    def run_until_idle(self, *, max_jobs: int | None = None, timeout: float | None = None) -> int:
        """Run due jobs in this thread until none is due; return how many ran.

        For tests, the demo and one-off commands. Jobs scheduled in the future
        (a retry's backoff) are not waited for.
        """
        ran = 0
        pending: list[Outcome] = []
        deadline = None if timeout is None else time.monotonic() + timeout
        while max_jobs is None or ran < max_jobs:
            if deadline is not None and time.monotonic() > deadline:
                break
            jobs = claim(self.hub, self.name, kinds=self.kinds, finished=pending, now=self.clock())
            pending = []
            if not jobs:
                break
            pending = [execute(self.hub, ctx, self.name) for ctx in jobs]
            ran += len(jobs)
        self._flush(pending)
        return ran
