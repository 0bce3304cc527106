"""The satisfaction check: found when due, sent once, answered "yes" (a review request) or
"no" (a case), and the customer's opt-out.

An order is due ``check_days`` after its ``order.delivered`` event (its channel's
:class:`hub.aftercare.policy.Policy`), for :data:`GRACE_DAYS` more: an order
delivered long before the check was turned on is never asked about. Each order
is looked at once, ever: a :class:`~hub.store.models.SatisfactionCheck` row
(unique per order) says it was sent, or skipped and why (no email, opted out,
a return or a case). Sending is recording the ``order.satisfaction_check``
event with its links: the ``notify`` job hands it to the notification channels
(the email plugin's template), through the outbox, once.

A review request (``order.review_requested``) follows a "yes" only when the
order has no case and no return, its customer has not opted out, and its
channel has a review link.
"""

from __future__ import annotations

import hashlib
from dataclasses import dataclass
from datetime import datetime, timedelta
from typing import Any

from sqlalchemy import exists, func, select
from sqlalchemy.exc import IntegrityError
from sqlalchemy.orm import Session

from hub.aftercare import policy as policies
from hub.aftercare.links import Links
from hub.cases import actions as cases
from hub.core.exceptions import Conflict, NotFound
from hub.core.lifecycle import EVENT_NAMES, OrderStatus
from hub.customers.identity import normalise_email
from hub.orders import records
from hub.orders.serialize import order_detail
from hub.store.models import (
    AftercarePolicy,
    Case,
    MessageOptOut,
    Order,
    OrderAuditEvent,
    Return,
    SatisfactionCheck,
    utcnow,
)

#: Events on the order's timeline (words in hub.orders.timeline_words; emails in plugins/email).
SATISFACTION_CHECK = "order.satisfaction_check"
SATISFACTION_ANSWERED = "order.satisfaction_answered"
REVIEW_REQUESTED = "order.review_requested"
OPTED_OUT = "order.customer_opted_out"

ORDER_DELIVERED = EVENT_NAMES["deliver"]

#: Days after an order became due that it is still asked about.
GRACE_DAYS = 14
#: Orders read per query by the job.
BATCH = 200
#: Order statuses a check is sent in: delivered, and nothing went back.
ASKABLE = (OrderStatus.DELIVERED, OrderStatus.COMPLETED)


def enabled_policies(session: Session) -> list[policies.Policy]:
    rows = session.scalars(
        select(AftercarePolicy.channel_id).where(AftercarePolicy.enabled.is_(True))
    ).all()
    return [policies.read(session, channel_id) for channel_id in rows]


def due_orders(
    session: Session, policy: policies.Policy, now: datetime, *, limit: int = BATCH
) -> list[int]:
    """Ids of the channel's orders delivered in the window and never looked at, oldest
    delivery first.

    Read by ``ix_order_events_name_created`` in its own order (the delivered events
    of the window, by time), joined to the order's channel, less orders that have a
    check row: a batch reads about ``limit`` index entries, however many orders the
    hub holds (see docs/benchmarks.md).
    """
    newest = now - timedelta(days=policy.check_days)
    oldest = newest - timedelta(days=GRACE_DAYS)
    checked = exists().where(SatisfactionCheck.order_id == OrderAuditEvent.order_id)
    rows = session.scalars(
        select(OrderAuditEvent.order_id)
        .join(Order, Order.id == OrderAuditEvent.order_id)
        .where(
            OrderAuditEvent.name == ORDER_DELIVERED,
            OrderAuditEvent.created_at > oldest,
            OrderAuditEvent.created_at <= newest,
            Order.channel_id == policy.channel_id,
            ~checked,
        )
        .order_by(OrderAuditEvent.created_at, OrderAuditEvent.id)
        .limit(limit)
    )
    # An order delivered twice (unshipped, shipped again) is one order.
    return list(dict.fromkeys(rows))


def email_key(email: str) -> str:
    """How an opt-out names a customer: the SHA-256 of the normalised email (no address kept)."""
    return hashlib.sha256(normalise_email(email).encode()).hexdigest()


def opted_out(session: Session, email: str) -> bool:
    return bool(normalise_email(email)) and session.get(MessageOptOut, email_key(email)) is not None


def _has_case(session: Session, order_id: int) -> bool:
    return session.scalar(select(exists().where(Case.order_id == order_id))) or False


def _has_return(session: Session, order_id: int) -> bool:
    return session.scalar(select(exists().where(Return.order_id == order_id))) or False


def why_not(session: Session, order: Order) -> str:
    """Why no satisfaction check or review request goes to this order's customer ("" if none)."""
    if order.status not in ASKABLE:
        return f"the order is {order.status.replace('_', ' ')}"
    if not normalise_email(order.email):
        return "the order has no customer email"
    if opted_out(session, order.email):
        return "the customer opted out"
    if _has_return(session, order.id):
        return "a return was opened"
    if _has_case(session, order.id):
        return "a case was opened"
    return ""


def send_check(session: Session, order_id: int, links: Links) -> SatisfactionCheck | None:
    """Look at one due order once: record its check (sent or skipped). None if another
    worker looked at it first."""
    order = records.get_order(session, order_id)
    reason = why_not(session, order)
    check = SatisfactionCheck(
        order_id=order.id,
        outcome="skipped" if reason else "sent",
        skipped_reason=reason,
        answer="",
        created_at=utcnow(),
    )
    try:
        with session.begin_nested():
            session.add(check)
            session.flush()
    except IntegrityError:
        return None
    if not reason:
        records.record(
            session,
            order,
            SATISFACTION_CHECK,
            actor="system",
            data={
                "yes_url": links.answer(order.id, "yes"),
                "no_url": links.answer(order.id, "no"),
                "unsubscribe_url": links.unsubscribe(order.id),
            },
        )
    return check


def _sent_check(session: Session, order_id: int) -> SatisfactionCheck:
    check = session.scalars(
        select(SatisfactionCheck).where(SatisfactionCheck.order_id == order_id).with_for_update()
    ).one_or_none()
    if check is None or check.outcome != "sent":
        raise NotFound("this link is not valid")
    return check


@dataclass(frozen=True)
class YesAnswer:
    order_label: str
    #: The review links offered (also emailed); empty when none are asked for.
    review_links: list[policies.ReviewLink]
    #: False: the customer had answered before; nothing new was recorded.
    recorded: bool


def answer_yes(session: Session, order_id: int, links: Links) -> YesAnswer:
    """All arrived well: record it and, when nothing speaks against it, request a review."""
    check = _sent_check(session, order_id)
    order = records.get_order(session, order_id)
    if check.answer:
        return YesAnswer(order.label, [], recorded=False)
    check.answer, check.answered_at = "yes", utcnow()
    records.record(
        session, order, SATISFACTION_ANSWERED, actor="customer", reason="All arrived well"
    )
    review: list[policies.ReviewLink] = []
    if not why_not(session, order) and check.review_requested_at is None:
        review = policies.review_links(
            policies.read(session, order.channel_id), order_detail(order)
        )
    if review:
        check.review_requested_at = utcnow()
        records.record(
            session,
            order,
            REVIEW_REQUESTED,
            actor="system",
            data={
                "review_links": [{"product": r.product, "url": r.url} for r in review],
                "unsubscribe_url": links.unsubscribe(order.id),
            },
        )
    session.flush()
    return YesAnswer(order.label, review, recorded=True)


def answerable_order(session: Session, order_id: int) -> Order:
    """The order a check's links open: a check was sent, and its answer was not "no" (a case)."""
    check = _sent_check(session, order_id)
    if check.answer == "no":
        raise Conflict("you told us already: we are looking into it and will be in touch")
    return records.get_order(session, order_id, lock=False)


def answer_no(
    session: Session,
    order_id: int,
    *,
    reason: str,
    description: str = "",
    photos: list[dict[str, Any]] | None = None,
) -> Case:
    """Something was wrong: record it and open a case (the customer's own words and photos)."""
    check = _sent_check(session, order_id)
    if check.answer == "no":
        raise Conflict("you told us already: we are looking into it and will be in touch")
    case = cases.open_case(
        session,
        order_id,
        reason=reason,
        description=description,
        photos=photos,
        actor="customer",
    )
    check.answer, check.answered_at = "no", utcnow()
    return case


def unsubscribe(session: Session, order_id: int) -> bool:
    """The order's customer wants no more checks or review requests; False if they had said so."""
    order = records.get_order(session, order_id, lock=False)
    if not normalise_email(order.email):
        raise NotFound("this link is not valid")
    key = email_key(order.email)
    if session.get(MessageOptOut, key) is not None:
        return False
    try:
        with session.begin_nested():
            session.add(
                MessageOptOut(email_hash=key, customer_id=order.customer_id, created_at=utcnow())
            )
            session.flush()
    except IntegrityError:  # the same click twice at once
        return False
    records.record(session, order, OPTED_OUT, actor="customer")
    return True


def counts(session: Session) -> dict[str, int]:
    """Checks sent and skipped, answers, review requests: for the admin and the demo."""
    out: dict[str, int] = {"sent": 0, "skipped": 0, "yes": 0, "no": 0, "review_requests": 0}
    rows = session.execute(
        select(
            SatisfactionCheck.outcome,
            SatisfactionCheck.answer,
            SatisfactionCheck.review_requested_at.is_not(None),
            func.count(),
        ).group_by(
            SatisfactionCheck.outcome,
            SatisfactionCheck.answer,
            SatisfactionCheck.review_requested_at.is_not(None),
        )
    )
    for outcome, answer, reviewed, n in rows:
        out[outcome] = out.get(outcome, 0) + n
        if answer:
            out[answer] = out.get(answer, 0) + n
        if reviewed:
            out["review_requests"] += n
    return out
