"""Notification deliveries, read the same way by the API and the admin UI.

The ledger is :mod:`hub.notifications.outbox`'s: one row per attempt an email
or outbound-webhook channel made to deliver an order event.
"""

from __future__ import annotations

from dataclasses import dataclass

from sqlalchemy import Select, func, select
from sqlalchemy.orm import Session

# The outcomes an attempt is stored with, as the outbox writes them (the API's and the admin's
# filters and the API's enum read them here): ``sending`` while the connector delivers, and
# for good when the process died meanwhile (its outcome unknown); then sent, failed or skipped.
from hub.notifications.outbox import OUTCOMES as OUTCOMES
from hub.queue.queries import job_states
from hub.store.models import NotificationAttempt
from hub.store.queries import Found, channel_id_for_slug, fetch


@dataclass(frozen=True)
class DeliveryFilters:
    """What the delivery attempts can be narrowed by; the filters given combine with AND."""

    #: A channel's slug.
    channel: str | None = None
    order_id: int | None = None
    #: The order event's name (``order.confirmed`` …).
    event: str | None = None
    outcome: str | None = None


def attempts_statement(
    session: Session, filters: DeliveryFilters = DeliveryFilters()
) -> Select[NotificationAttempt]:
    """The attempts the filters select, unordered."""
    statement = select(NotificationAttempt)
    if filters.channel:
        statement = statement.where(
            NotificationAttempt.channel_id == channel_id_for_slug(session, filters.channel)
        )
    if filters.order_id is not None:
        statement = statement.where(NotificationAttempt.order_id == filters.order_id)
    if filters.event:
        statement = statement.where(NotificationAttempt.event_name == filters.event)
    if filters.outcome:
        statement = statement.where(NotificationAttempt.outcome == filters.outcome)
    return statement


def search_attempts(
    session: Session,
    filters: DeliveryFilters = DeliveryFilters(),
    *,
    limit: int = 50,
    before_id: int | None = None,
    offset: int = 0,
    with_total: bool = False,
) -> Found[NotificationAttempt]:
    """Delivery attempts, newest first (paging as :func:`hub.store.queries.fetch`)."""
    return fetch(
        session,
        attempts_statement(session, filters),
        NotificationAttempt.id,
        limit=limit,
        before_id=before_id,
        offset=offset,
        with_total=with_total,
    )


def outcome_counts(session: Session) -> dict[str, int]:
    """How many attempts ended in each outcome."""
    return dict(
        session.execute(
            select(NotificationAttempt.outcome, func.count()).group_by(NotificationAttempt.outcome)
        ).all()
    )


def event_names(session: Session) -> list[str]:
    """Every order event some attempt delivered, by name."""
    return list(
        session.scalars(
            select(NotificationAttempt.event_name)
            .distinct()
            .order_by(NotificationAttempt.event_name)
        )
    )


def notify_jobs(
    session: Session, attempts: list[NotificationAttempt]
) -> dict[str, tuple[int, str]]:
    """``{idempotency key: (job id, status)}``: the ``notify`` job behind each attempt."""
    return job_states(session, {a.idempotency_key for a in attempts})
