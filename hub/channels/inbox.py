"""The webhook inbox: verify the raw bytes, store, answer; process later in a job.

:func:`receive` is what ``POST /webhooks/<channel-slug>`` calls. Nothing is
parsed before the connector verified the signature on the raw body; a bad
signature stores nothing. The stored event is unique per (channel, provider
event id): the same delivery again answers ``duplicate`` and adds nothing.
"""

from __future__ import annotations

import json
import logging
import threading
from collections.abc import Mapping
from dataclasses import dataclass
from typing import Any

from sqlalchemy import Text, bindparam, cast, column, func, literal, select
from sqlalchemy.dialects import postgresql, sqlite
from sqlalchemy.engine import Connection

from hub.core.exceptions import MalformedPayload, NotFound, SignatureError
from hub.queue.jobs import enqueue, enqueue_many, job_row
from hub.queue.kinds import JobKind
from hub.runtime.hub import Hub
from hub.store.db import Database
from hub.store.models import Job, WebhookEvent, utcnow

log = logging.getLogger(__name__)

#: Headers never stored with an event: they carry credentials or signatures.
_DROP_HEADERS = {"authorization", "cookie", "proxy-authorization"}

#: The job each stored event gets, once: its dedupe key is this and the event's id.
PROCESS_JOB = JobKind.WEBHOOK_PROCESS

# Built once: ingest is the hub's hottest path, and building a statement per
# request cost more than running it (profiled with `make bench`, (a)).
_STATEMENTS: dict[str, Any] = {}


def _store_events(dialect: str):
    """``INSERT INTO webhook_events … ON CONFLICT (channel_id, event_id) DO NOTHING
    RETURNING id, channel_id, event_id``."""
    statement = _STATEMENTS.get(dialect)
    if statement is None:
        table = WebhookEvent.__table__
        insert = postgresql.insert if dialect == "postgresql" else sqlite.insert
        statement = _STATEMENTS[dialect] = (
            insert(table)
            .on_conflict_do_nothing(index_elements=["channel_id", "event_id"])
            .returning(table.c.id, table.c.channel_id, table.c.event_id)
        )
    return statement


def _store_events_and_jobs():
    """PostgreSQL: events and their jobs in one statement whose text never varies.

    ::

        WITH stored AS (INSERT INTO webhook_events (…)
                        SELECT … FROM json_to_recordset(:rows) AS r(…)
                        ON CONFLICT (channel_id, event_id) DO NOTHING RETURNING …),
             queued AS (INSERT INTO jobs (…) SELECT 'webhook.process', … FROM stored
                        ON CONFLICT (dedupe_key) DO NOTHING)
        SELECT id, channel_id, event_id FROM stored

    The batch travels as one JSON parameter. Against an insert of each table
    (multi-row ``VALUES`` whose text grows with the batch, in a transaction of
    its own) it is one round trip instead of four, one statement the server
    keeps prepared and psycopg parses once: about half the CPU per event
    (``make bench`` (a); figures in ``docs/benchmarks.md``).
    """
    statement = _STATEMENTS.get("postgresql+jobs")
    if statement is None:
        events, jobs = WebhookEvent.__table__, Job.__table__
        names = [
            "channel_id",
            "event_id",
            "topic",
            "headers",
            "body",
            "status",
            "attempts",
            "received_at",
        ]
        batch = (
            func.json_to_recordset(cast(bindparam("rows", type_=Text), postgresql.JSON))
            .table_valued(*(column(name, events.c[name].type) for name in names))
            .render_derived(with_types=True)
        )
        stored = (
            postgresql.insert(events)
            .from_select(names, select(*(batch.c[name] for name in names)))
            .on_conflict_do_nothing(index_elements=["channel_id", "event_id"])
            .returning(events.c.id, events.c.channel_id, events.c.event_id)
            .cte("stored")
        )
        now = bindparam("now", type_=jobs.c.created_at.type)
        computed = {
            "payload": func.jsonb_build_object("webhook_event_id", stored.c.id),
            "channel_id": stored.c.channel_id,
            "dedupe_key": literal(f"{PROCESS_JOB}:") + cast(stored.c.id, Text),
            "run_at": now,
            "created_at": now,
            "updated_at": now,
        }
        # Every other column as job_row makes it, so a job's defaults live in one place.
        template = job_row(PROCESS_JOB, {})
        values = [
            computed.get(name, literal(value, jobs.c[name].type))
            for name, value in template.items()
        ]
        queued = (
            postgresql.insert(jobs)
            .from_select(list(template), select(*values).select_from(stored))
            .on_conflict_do_nothing(index_elements=["dedupe_key"])
            .cte("queued")
        )
        statement = _STATEMENTS["postgresql+jobs"] = select(
            stored.c.id, stored.c.channel_id, stored.c.event_id
        ).add_cte(queued)
    return statement


@dataclass(frozen=True)
class Receipt:
    status: str  # accepted | duplicate
    event_id: int | None


def receive(
    hub: Hub, slug: str, headers: Mapping[str, str], body: bytes, query: Mapping[str, str]
) -> Receipt:
    """Verify and store one inbound webhook; enqueue its processing.

    :raises NotFound: unknown or disabled channel (404).
    :raises SignatureError: missing or bad signature (401); nothing is stored.
    :raises MalformedPayload: verified but unreadable, or an event id or topic longer than
        the inbox keeps (400).
    """
    channel_id, connector = hub.webhook_connector(slug)
    try:
        try:
            receipt = connector.verify_webhook(headers, body, query)
        except SignatureError:
            # The secret may have changed in another process since the channel was read.
            fresh_id, fresh = hub.webhook_connector(slug, fresh=True)
            if fresh is connector:
                raise
            channel_id, receipt = fresh_id, fresh.verify_webhook(headers, body, query)
        _fits_the_inbox(receipt.event_id, receipt.topic)
    except SignatureError:
        hub.metrics.webhook(slug, "rejected")
        log.warning("webhook for %s refused: bad or missing signature", slug)
        raise
    except MalformedPayload:
        hub.metrics.webhook(slug, "malformed")
        raise
    kept = {k: v for k, v in headers.items() if k.lower() not in _DROP_HEADERS}
    event_id = _writer(hub).store(
        {
            "channel_id": channel_id,
            "event_id": receipt.event_id,
            "topic": receipt.topic,
            "headers": kept,
            "body": body.decode("utf-8", errors="replace"),
            "status": "received",
            "attempts": 0,
            "received_at": utcnow(),
        }
    )
    if event_id is None:
        hub.metrics.webhook(slug, "duplicate")
        return Receipt("duplicate", None)
    hub.metrics.webhook(slug, "accepted")
    return Receipt("accepted", event_id)


#: The longest event id and topic the inbox keeps (its columns'): a longer one is refused.
EVENT_ID_MAX: int | None = getattr(WebhookEvent.__table__.c.event_id.type, "length", None)
TOPIC_MAX: int | None = getattr(WebhookEvent.__table__.c.topic.type, "length", None)


def _fits_the_inbox(event_id: str, topic: str) -> None:
    """Refuse (400) an event id or topic longer than its column, before anything is stored.

    PostgreSQL would refuse the insert (a 500), SQLite would keep it whole.
    """
    for what, value, most in (("event id", event_id, EVENT_ID_MAX), ("topic", topic, TOPIC_MAX)):
        if most is not None and len(value) > most:
            raise MalformedPayload(
                f"the webhook's {what} is {len(value)} characters long; the inbox keeps at most {most}",
                details={what.replace(" ", "_"): f"at most {most} characters"},
            )


def _store(conn: Connection, rows: list[dict[str, Any]]) -> list[int | None]:
    """Insert events and their ``webhook.process`` jobs, a statement or two for all of them.

    Returns each event's id, or ``None`` for an event stored already (``ON
    CONFLICT DO NOTHING``; also the second of two copies in ``rows``). Any other
    integrity error (a channel deleted a moment ago) is an error.
    """
    first: dict[tuple[int, str], int] = {}
    for i, row in enumerate(rows):
        first.setdefault((row["channel_id"], row["event_id"]), i)
    unique = [rows[i] for i in first.values()]
    # RETURNING the key, not relying on order: skipped conflicts return no row.
    postgres = conn.dialect.name == "postgresql"
    if postgres:  # the jobs go in with the events
        batch = json.dumps(
            [{**row, "received_at": row["received_at"].isoformat()} for row in unique]
        )
        result = conn.execute(_store_events_and_jobs(), {"rows": batch, "now": utcnow()})
    else:
        result = conn.execute(_store_events(conn.dialect.name), unique)
    stored = {(r.channel_id, r.event_id): r.id for r in result}
    ids = [
        stored.get(key) if first[key] == i else None
        for i, key in enumerate((row["channel_id"], row["event_id"]) for row in rows)
    ]
    if postgres:
        return ids
    enqueue_many(
        conn,
        [
            job_row(
                PROCESS_JOB,
                {"webhook_event_id": event_id},
                channel_id=row["channel_id"],
                dedupe_key=f"{PROCESS_JOB}:{event_id}",
            )
            for row, event_id in zip(rows, ids, strict=True)
            if event_id is not None
        ],
    )
    return ids


class _Pending:
    """One event waiting to be stored, and how its thread is woken (once: stored, or to lead)."""

    __slots__ = ("row", "wake", "stored", "result", "error")

    def __init__(self, row: dict[str, Any]):
        self.row = row
        # A plain lock held from the start: its thread waits by acquiring it, and is woken
        # by its release (an Event's condition cost a third of ingest's time under load).
        self.wake = threading.Lock()
        self.wake.acquire()
        self.stored = False  # False when woken: this thread writes the next batch
        self.result: int | None = None
        self.error: BaseException | None = None


class GroupCommit:
    """Store concurrent deliveries in shared transactions (group commit).

    Every request thread of a server storing its own event in its own
    transaction made them queue for the one write lock (SQLite) or one commit
    each (PostgreSQL), and under load a transaction waited far longer for the
    interpreter than it took (ingest p99, ``make bench`` (a)). Here the first thread to arrive writes every event
    waiting at that moment (its own included) in one transaction, and the
    others wait for that commit; whoever arrived while it wrote is woken to
    write the next batch. No thread of its own, nothing held in memory past a
    commit: each sender is answered only once its event is committed.

    A batch that fails is written again one event per transaction, so one bad
    event fails only its own request.
    """

    def __init__(self, db: Database):
        self.db = db
        self._mutex = threading.Lock()
        self._waiting: list[_Pending] = []
        self._writing = False

    def store(self, row: dict[str, Any]) -> int | None:
        pending = _Pending(row)
        with self._mutex:
            self._waiting.append(pending)
            first = not self._writing
            self._writing = True
        if not first:
            pending.wake.acquire()
        if not pending.stored:  # first in, or left the next batch by the previous writer
            self._write_next_batch()
        if pending.error is not None:
            raise pending.error
        return pending.result

    def _write_next_batch(self) -> None:
        with self._mutex:
            batch, self._waiting = self._waiting, []
        try:
            self._write(batch)
        except BaseException as exc:  # interrupted mid-batch: nobody is told "stored"
            for p in batch:
                p.error = exc
            raise
        finally:
            for p in batch:
                p.stored = True
                p.wake.release()
            with self._mutex:
                if self._waiting:
                    # The first who came while this batch was written writes the next.
                    self._waiting[0].wake.release()
                else:
                    self._writing = False

    def _write(self, batch: list[_Pending]) -> None:
        try:
            with self.db.autocommit() as conn:
                results = _store(conn, [p.row for p in batch])
        except Exception as exc:
            if len(batch) == 1:
                batch[0].error = exc
                return
            log.warning(
                "a batch of %d webhooks failed to store (%s); storing each on its own",
                len(batch),
                exc.__class__.__name__,
            )
            for p in batch:
                try:
                    with self.db.autocommit() as conn:
                        p.result = _store(conn, [p.row])[0]
                except Exception as one:  # noqa: BLE001 - it is the request's answer
                    p.error = one
            return
        for p, result in zip(batch, results, strict=True):
            p.result = result


def _writer(hub: Hub) -> GroupCommit:
    writer = hub.extensions.get(GroupCommit)
    if writer is None:
        writer = hub.extensions.setdefault(GroupCommit, GroupCommit(hub.db))
    return writer


def replay(hub: Hub, webhook_event_id: int) -> int:
    """Process a stored event again (after a fix); returns the new job's id."""
    with hub.db.transaction() as session:
        event = session.get(WebhookEvent, webhook_event_id)
        if event is None:
            raise NotFound(f"webhook event {webhook_event_id} does not exist")
        event.status = "received"
        event.error = None
        job_id = enqueue(
            session, PROCESS_JOB, {"webhook_event_id": event.id}, channel_id=event.channel_id
        )
        assert job_id is not None  # no dedupe key: always a new job
        return job_id
