"""The invoice jobs: which order events ask for one, and what each does (:mod:`hub.invoicing`).

Every job is enqueued by the ``order.event`` job of the fact that asks for it
(:func:`enqueue_invoice_jobs`, called from :mod:`hub.pipeline.follow_up`),
and that job was written in the fact's own transaction: a captured payment, a
shipment or a refund recorded is an invoice job to come, durably::

    order.confirmed, order.payment_updated -> invoice.issue (capture policy, once paid)
    order.shipped                          -> invoice.issue (shipment policy)
    order.payment_updated                  -> invoice.settle (amount paid, status)
    order.refunded, order.refunded_on_channel,
    order.return_refunded, order.cancelled -> invoice.credit (credit notes)

``invoice.issue`` has one dedupe key per order and trigger
(``invoice.issue:<order>:capture``): one job per order per trigger, ever. The
others are keyed by the event; they read the order as it stands and do what
is still to do, so a second run changes nothing. The documents' own
``source_key`` makes the issuing exactly once whatever runs.
"""

from __future__ import annotations

from sqlalchemy import select
from sqlalchemy.orm import Session

from hub.core import events as ev
from hub.core.invoicing import IssueOn
from hub.invoicing import actions
from hub.invoicing.policy import policy_for
from hub.queue.jobs import JobContext, enqueue
from hub.queue.kinds import JobKind
from hub.store.models import Invoice, Order, OrderAuditEvent

#: Events after which an order on a capture policy may have been paid.
_PAID_EVENTS = ("order.confirmed", ev.PAYMENT_UPDATED)
#: Events that give money back or cancel: credit notes may be due.
_CREDIT_EVENTS = (
    ev.REFUNDED,
    ev.REFUNDED_ON_CHANNEL,
    "order.return_refunded",
    "order.cancelled",
)

_ACTOR = "hub:invoicing"


def enqueue_invoice_jobs(session: Session, audit: OrderAuditEvent, order: Order) -> None:
    """Enqueue the invoice jobs an order event asks for (none for most events)."""
    name = audit.name
    if name in _PAID_EVENTS or name == "order.shipped":
        trigger = IssueOn.SHIPMENT if name == "order.shipped" else IssueOn.CAPTURE
        policy = policy_for(session, order.channel_id)
        if policy.issue_on == trigger and actions.ready_to_invoice(order, trigger):
            enqueue(
                session,
                JobKind.INVOICE_ISSUE,
                {"trigger": str(trigger)},
                order_id=order.id,
                dedupe_key=JobKind.INVOICE_ISSUE.key(order.id, trigger),
            )
    if name != ev.PAYMENT_UPDATED and name not in _CREDIT_EVENTS:
        return
    invoiced = session.scalar(select(Invoice.id).where(Invoice.order_id == order.id).limit(1))
    if invoiced is None:
        return
    if name == ev.PAYMENT_UPDATED:
        enqueue(
            session,
            JobKind.INVOICE_SETTLE,
            {"event_id": audit.id},
            order_id=order.id,
            dedupe_key=JobKind.INVOICE_SETTLE.key(audit.id),
        )
    elif name in _CREDIT_EVENTS:
        enqueue(
            session,
            JobKind.INVOICE_CREDIT,
            {"event_id": audit.id},
            order_id=order.id,
            dedupe_key=JobKind.INVOICE_CREDIT.key(audit.id),
        )


def issue_invoice(ctx: JobContext) -> None:
    """Issue the invoice the order's channel policy asks for at this trigger, once."""
    with ctx.hub.db.transaction() as session:
        actions.issue_by_policy(
            session,
            ctx.require_order(),
            ctx.hub.settings,
            str(ctx.payload["trigger"]),
            actor=_ACTOR,
        )


def settle_invoices(ctx: JobContext) -> None:
    """Record what the order's payments paid on its invoices."""
    with ctx.hub.db.transaction() as session:
        actions.record_payments(session, ctx.require_order())


def credit_invoices(ctx: JobContext) -> None:
    """Issue the credit notes the order's refunds, returns and cancellation call for."""
    with ctx.hub.db.transaction() as session:
        actions.credit_order(session, ctx.require_order(), ctx.hub.settings, actor=_ACTOR)
