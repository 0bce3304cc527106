"""Outbound notifications: sent once per key, ever, and every attempt on record.

The ``notify`` job (:func:`hub.pipeline.events.notify`) wraps every notification
connector (email, webhook, any third-party one) in the same mechanics:

1. the *sent ledger* (:class:`hub.store.models.NotificationSent`, unique on the
   idempotency key ``notify:<channel id>:<event id>``) is checked before the
   connector is called: a key already sent is never sent again, whatever the
   retries, replays or manual job retries;
2. the connector delivers once (no retry loop of its own: the job layer
   retries with backoff, so each try is one attempt on record);
3. right after, in its own transaction, the delivery is written to the sent
   ledger and the attempt to :class:`hub.store.models.NotificationAttempt`; a failed
   attempt is recorded with its status code, duration and error before the job
   fails or goes dead.

The one window left: the process dies after the outside system accepted the
message and before step 3 commits. The job then runs again and delivers a
second time; connectors make that second copy recognisable (the same email
``Message-ID``, the same webhook delivery id) so the receiver can drop it.

That window is also visible in the hub: each attempt is written as
``sending`` (committed) *before* the connector is called and completed to
``sent``, ``failed`` or ``skipped`` after. An attempt left ``sending`` is one
the process died in, its outcome unknown; the next attempt is marked as a
resend after it (:func:`in_doubt`). So every copy a receiver may see twice
is accounted for: at most one per attempt left ``sending``.
"""

from __future__ import annotations

from typing import Any

from sqlalchemy import func, select
from sqlalchemy.exc import IntegrityError
from sqlalchemy.orm import Session

from hub.core.exceptions import NotFound
from hub.orders.serialize import iso
from hub.store.models import NotificationAttempt, NotificationSent, utcnow

OUTCOMES = ("sending", "sent", "failed", "skipped")
#: The note on an attempt made after one whose outcome is unknown.
RESEND_NOTE = "resent: an earlier attempt stopped mid-delivery (its outcome is unknown)"


def already_sent(session: Session, key: str) -> NotificationSent | None:
    """The ledger entry of ``key`` if it was delivered before, else None."""
    return session.scalars(
        select(NotificationSent).where(NotificationSent.idempotency_key == key)
    ).first()


def next_attempt(session: Session, key: str) -> int:
    """The number the next attempt for ``key`` gets (1 for the first)."""
    count = session.scalar(
        select(func.count())
        .select_from(NotificationAttempt)
        .where(NotificationAttempt.idempotency_key == key)
    )
    return int(count or 0) + 1


def record_attempt(
    session: Session,
    key: str,
    *,
    outcome: str,
    channel_id: int | None,
    order_id: int | None,
    event_id: int | None,
    event_name: str = "",
    recipient: str = "",
    status_code: int | None = None,
    duration_ms: int = 0,
    error: str | None = None,
) -> NotificationAttempt:
    """Write one delivery attempt (``outcome``: sent, failed or skipped)."""
    if outcome not in OUTCOMES:
        raise ValueError(f"unknown outcome {outcome!r}")
    attempt = NotificationAttempt(
        idempotency_key=key,
        channel_id=channel_id,
        order_id=order_id,
        event_id=event_id,
        event_name=event_name,
        recipient=recipient[:500],
        attempt=next_attempt(session, key),
        outcome=outcome,
        status_code=status_code,
        duration_ms=max(0, int(duration_ms)),
        error=error,
        created_at=utcnow(),
    )
    session.add(attempt)
    session.flush()
    return attempt


def in_doubt(session: Session, key: str) -> int:
    """How many attempts for ``key`` were left ``sending``: the process died during them."""
    return int(
        session.scalar(
            select(func.count())
            .select_from(NotificationAttempt)
            .where(
                NotificationAttempt.idempotency_key == key, NotificationAttempt.outcome == "sending"
            )
        )
        or 0
    )


def begin_attempt(session: Session, key: str, *, resend: bool = False, **facts: Any) -> int:
    """Write an attempt as ``sending`` before delivering (commit it first); return its id."""
    return record_attempt(
        session, key, outcome="sending", error=RESEND_NOTE if resend else None, **facts
    ).id


def finish_attempt(
    session: Session,
    attempt_id: int,
    *,
    outcome: str,
    status_code: int | None = None,
    duration_ms: int = 0,
    error: str | None = None,
    recipient: str = "",
) -> None:
    """Complete an attempt begun with :func:`begin_attempt` with how it ended."""
    if outcome not in OUTCOMES or outcome == "sending":
        raise ValueError(f"an attempt ends sent, failed or skipped, not {outcome!r}")
    attempt = session.get(NotificationAttempt, attempt_id)
    if attempt is None:
        raise NotFound(f"notification attempt {attempt_id} does not exist")
    attempt.outcome = outcome
    attempt.status_code = status_code
    attempt.duration_ms = max(0, int(duration_ms))
    attempt.error = "; ".join(filter(None, (attempt.error, error))) or None
    if recipient:
        attempt.recipient = recipient[:500]


def record_sent(
    session: Session,
    key: str,
    *,
    channel_id: int | None,
    order_id: int | None,
    event_id: int | None,
    event_name: str = "",
    recipient: str = "",
    message_id: str = "",
) -> bool:
    """Write ``key`` to the sent ledger; False when it was there already (a race: both sent)."""
    try:
        with session.begin_nested():
            session.add(
                NotificationSent(
                    idempotency_key=key,
                    channel_id=channel_id,
                    order_id=order_id,
                    event_id=event_id,
                    event_name=event_name,
                    recipient=recipient[:500],
                    message_id=message_id[:300],
                    sent_at=utcnow(),
                )
            )
            session.flush()
    except IntegrityError:
        return False
    return True


# --- reading: what the API and the admin UI show -------------------------------------------------


def attempt_dict(a: NotificationAttempt) -> dict[str, Any]:
    return {
        "id": a.id,
        "idempotency_key": a.idempotency_key,
        "channel_id": a.channel_id,
        "order_id": a.order_id,
        "event_id": a.event_id,
        "event": a.event_name,
        "recipient": a.recipient,
        "attempt": a.attempt,
        "outcome": a.outcome,
        "status_code": a.status_code,
        "duration_ms": a.duration_ms,
        "error": a.error,
        "at": iso(a.created_at),
    }


def list_sent(
    session: Session,
    *,
    channel_id: int | None = None,
    order_id: int | None = None,
    limit: int = 100,
) -> list[dict[str, Any]]:
    """What was delivered, newest first."""
    query = select(NotificationSent)
    if channel_id is not None:
        query = query.where(NotificationSent.channel_id == channel_id)
    if order_id is not None:
        query = query.where(NotificationSent.order_id == order_id)
    rows = session.scalars(
        query.order_by(NotificationSent.id.desc()).limit(max(1, min(limit, 1000)))
    )
    return [
        {
            "id": s.id,
            "idempotency_key": s.idempotency_key,
            "channel_id": s.channel_id,
            "order_id": s.order_id,
            "event_id": s.event_id,
            "event": s.event_name,
            "recipient": s.recipient,
            "message_id": s.message_id,
            "sent_at": iso(s.sent_at),
        }
        for s in rows
    ]
