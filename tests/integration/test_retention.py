"""Bounded data: finished work past its retention is purged; history and dead letters stay."""

from __future__ import annotations

from datetime import timedelta

from sqlalchemy import select

from hub.channels.manage import ensure_manual_channel
from hub.orders import records
from hub.pipeline import retention
from hub.queue.jobs import Worker, enqueue
from hub.queue.kinds import JobKind
from hub.store.models import (
    Job,
    NotificationAttempt,
    NotificationSent,
    OrderAuditEvent,
    WebhookEvent,
    utcnow,
)

OLD = timedelta(days=31)  # past the default 30 days
RECENT = timedelta(days=1)


def _seed(hub, make_order) -> int:
    """Finished and unfinished work, old and recent; the id of an order placed long ago."""
    now = utcnow()
    order_id = make_order(hub)
    with hub.db.transaction() as session:
        channel = ensure_manual_channel(hub, session)
        for audit in session.scalars(select(OrderAuditEvent)):
            audit.created_at = now - OLD  # an old order's history
        for name, status, age in [
            ("old-done", "succeeded", OLD),
            ("new-done", "succeeded", RECENT),
            ("old-dead", "dead", OLD),
            ("old-waiting", "failed", OLD),
        ]:
            session.add(
                Job(
                    kind="test.kind",
                    status=status,
                    payload={"name": name},
                    created_at=now - age,
                    run_at=now + timedelta(hours=1),
                    finished_at=now - age if status in ("succeeded", "dead") else None,
                )
            )
        for event_id, status, age in [
            ("old-processed", "processed", OLD),
            ("old-ignored", "ignored", OLD),
            ("new-processed", "processed", RECENT),
            ("old-failed", "failed", OLD),
            ("old-rejected", "rejected", OLD),
        ]:
            session.add(
                WebhookEvent(
                    channel_id=channel.id,
                    event_id=event_id,
                    topic="orders/create",
                    body="{}",
                    status=status,
                    received_at=now - age,
                    processed_at=now - age,
                )
            )
        session.add(NotificationSent(idempotency_key="delivered"))
        for key, outcome, age in [
            ("delivered", "failed", OLD),  # failed, then delivered: both attempts go
            ("delivered", "sent", OLD),
            ("never-delivered", "failed", OLD),  # a dead letter's evidence stays
            ("skipped", "skipped", OLD),
            ("recent", "failed", RECENT),
        ]:
            session.add(
                NotificationAttempt(
                    idempotency_key=key, outcome=outcome, created_at=now - age, event_name="x"
                )
            )
    return order_id


def _left(hub) -> dict[str, list[str]]:
    with hub.db.read() as session:
        return {
            "jobs": sorted(
                j.payload["name"]
                for j in session.scalars(select(Job).where(Job.kind == "test.kind"))
            ),
            "events": sorted(session.scalars(select(WebhookEvent.event_id))),
            "attempts": sorted(
                f"{a.idempotency_key}/{a.outcome}"
                for a in session.scalars(select(NotificationAttempt))
            ),
        }


def test_the_hourly_purge_removes_finished_work_and_keeps_history_and_dead_letters(
    any_hub, make_order
):
    hub = any_hub
    order_id = _seed(hub, make_order)
    with hub.db.read() as session:
        history = {e.id for e in records.get_order(session, order_id).events}

    with hub.db.transaction() as session:
        enqueue(session, JobKind.PURGE, {})
    Worker(hub).run_until_idle()

    assert _left(hub) == {
        "jobs": ["new-done", "old-dead", "old-waiting"],
        "events": ["new-processed", "old-failed", "old-rejected"],
        "attempts": ["never-delivered/failed", "recent/failed"],
    }
    with hub.db.read() as session:
        # The order's history, old as it is, stays whole (the order went on: confirmed).
        assert history and history < {e.id for e in records.get_order(session, order_id).events}
        assert session.scalar(select(NotificationSent.idempotency_key)) == "delivered"


def test_a_purge_goes_in_small_batches_until_nothing_is_due(make_hub, make_order):
    hub = make_hub(retention_days=30)
    _seed(hub, make_order)
    with hub.db.transaction() as session:
        for n in range(7):
            session.add(
                Job(
                    kind="test.kind",
                    status="succeeded",
                    payload={"name": f"bulk{n}"},
                    finished_at=utcnow() - OLD,
                )
            )

    removed = retention.purge(hub, utcnow() - timedelta(days=30), batch=2)

    assert removed == {
        "succeeded jobs": 8,
        "processed webhook events": 2,
        "delivery attempts": 3,
        "expired rate quotes": 0,
    }
    assert retention.purge(hub, utcnow() - timedelta(days=30), batch=2) == dict.fromkeys(removed, 0)


def test_purge_from_the_command_line_says_what_went(hub, make_order, cli):
    _seed(hub, make_order)
    out = cli("purge").output
    assert out.splitlines() == [
        "succeeded jobs: 1 removed",
        "processed webhook events: 2 removed",
        "delivery attempts: 3 removed",
        "expired rate quotes: 0 removed",
    ]
    assert "new-done" in _left(hub)["jobs"]
    everything = cli("purge", "--older-than-days", "0").output
    assert "succeeded jobs: 1 removed" in everything
