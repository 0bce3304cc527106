"""An order's payments: what the gateway reports, refunds asked of it, disputes.

:func:`apply_payment_update` applies a gateway's facts so that a stale or
replayed one changes nothing (the rules are :mod:`hub.core.status`'), keeps
the order's financial status in step and holds the order when its money is in
doubt; :func:`request_refund` asks the gateway for money back, once per key.
"""

from __future__ import annotations

from sqlalchemy import select
from sqlalchemy.orm import Session

from hub.core import events as ev
from hub.core import lifecycle
from hub.core.exceptions import ValidationError
from hub.core.order import PaymentUpdate, RefundData
from hub.core.status import PaymentStatus, next_payment_status
from hub.orders.records import get_order, record, refresh_derived
from hub.orders.serialize import money
from hub.orders.transitions import HOLD_PAYMENT, put_on_hold, release
from hub.queue.jobs import enqueue
from hub.queue.kinds import JobKind
from hub.store.models import Order, Payment, Refund, utcnow


def find_payment(session: Session, reference: str, channel_id: int | None = None) -> Payment | None:
    """The payment a gateway knows by ``reference`` (on ``channel_id``, when given)."""
    query = select(Payment).where(Payment.reference == reference)
    if channel_id is not None:
        query = query.where(Payment.channel_id == channel_id)
    return session.scalars(query.order_by(Payment.id)).first()


def apply_payment_update(
    session: Session, update: PaymentUpdate, *, actor: str, channel_id: int | None = None
) -> Order | None:
    """Apply what the gateway says about a payment; return its order, or None if unknown.

    Facts older than the newest applied one are ignored, amounts never go down
    and a payment's status never moves back (captured stays captured), so a
    stale or replayed event changes nothing. Refunds are recorded once each.
    A new dispute puts the order on hold (reason ``dispute``).
    """
    payment = find_payment(session, update.reference, channel_id)
    if payment is None:
        return None
    order = get_order(session, payment.order_id)
    before = (payment.status, payment.captured_amount, payment.refunded_amount, payment.disputed)
    fin_before = order.financial_status
    stale = payment.last_event_at is not None and update.occurred_at < payment.last_event_at
    if not stale:
        payment.status = next_payment_status(payment.status, update.status)
        if update.amount is not None and payment.captured_amount == 0:
            payment.amount = update.amount
        if update.captured_amount is not None:
            payment.captured_amount = max(payment.captured_amount, update.captured_amount)
        if update.failure_reason:
            payment.failure_reason = update.failure_reason
        elif payment.status != before[0] and payment.status in (
            PaymentStatus.AUTHORIZED,
            PaymentStatus.CAPTURED,
        ):
            payment.failure_reason = ""  # what held it up (awaiting authentication) is over
        payment.last_event_at = update.occurred_at
    for refund in update.refunds:
        _record_refund(payment, refund)
    refunded = sum(r.amount for r in payment.refunds if r.status == "succeeded")
    if update.refunded_amount is not None and not stale:
        refunded = max(refunded, update.refunded_amount)
    payment.refunded_amount = max(payment.refunded_amount, refunded)
    if update.disputed:
        payment.disputed = True
    elif update.disputed is False and not stale:
        payment.disputed = False  # the dispute was won: the funds came back
    after = (payment.status, payment.captured_amount, payment.refunded_amount, payment.disputed)
    if after == before:
        return order
    refresh_derived(order)
    record(
        session,
        order,
        ev.PAYMENT_UPDATED,
        actor=actor,
        data={
            "reference": payment.reference,
            "payment_status": payment.status,
            "financial_from": fin_before,
            "financial_to": order.financial_status,
        },
    )
    if payment.refunded_amount > before[2]:
        record(
            session,
            order,
            ev.REFUNDED,
            actor=actor,
            data={
                "reference": payment.reference,
                "amount": payment.refunded_amount - before[2],
                "refunded_total": payment.refunded_amount,
            },
        )
    if payment.disputed and not before[3]:
        _hold_if_possible(session, order, "dispute", actor=actor)
    elif before[3] and not payment.disputed:
        _dispute_won(session, order, payment, actor=actor)
    elif payment.status == PaymentStatus.FAILED and before[0] != "failed":
        _hold_if_possible(session, order, HOLD_PAYMENT, actor=actor)
    elif (
        payment.status == PaymentStatus.VOIDED
        and before[0] != PaymentStatus.VOIDED
        and order.status != lifecycle.CANCELLED
    ):
        # Voided behind the hub's back (an authorisation that expired, the gateway's
        # dashboard): nothing is left to capture, so a person must look before it ships.
        _hold_if_possible(session, order, HOLD_PAYMENT, actor=actor)
    return order


def request_refund(
    session: Session, payment: Payment, amount: int, *, key: str, reason: str = ""
) -> int | None:
    """Enqueue a refund of ``amount`` on ``payment``, once per ``key`` (a return, a cancellation)."""
    refundable = payment.captured_amount - payment.refunded_amount
    if amount <= 0 or amount > refundable:
        raise ValidationError(
            f"cannot refund {money(amount, payment.currency)} {payment.currency}: "
            f"{money(refundable, payment.currency)} of payment {payment.reference} is refundable",
            details={"amount": f"at most {money(refundable, payment.currency)}"},
        )
    return enqueue(
        session,
        JobKind.PAYMENT_REFUND,
        {"payment_id": payment.id, "amount": amount, "reason": reason},
        channel_id=payment.channel_id,
        order_id=payment.order_id,
        dedupe_key=JobKind.PAYMENT_REFUND.key(payment.id, key),
    )


def _dispute_won(session: Session, order: Order, payment: Payment, *, actor: str) -> None:
    """Record a won dispute; an order held for it alone is released (its checks run again)."""
    record(
        session,
        order,
        ev.DISPUTE_WON,
        actor=actor,
        reason=payment.failure_reason,
        data={"reference": payment.reference},
    )
    if order.status == lifecycle.ON_HOLD and "dispute" in (order.hold_reasons or []):
        order.hold_reasons = [r for r in order.hold_reasons if r != "dispute"]
        if not order.hold_reasons and not any(p.disputed for p in order.payments):
            release(session, order.id, actor=actor, reason="the dispute was won")


def _record_refund(payment: Payment, refund: RefundData) -> None:
    existing = next((r for r in payment.refunds if r.external_id == refund.external_id), None)
    if existing is None:
        payment.refunds.append(
            Refund(
                external_id=refund.external_id,
                amount=refund.amount,
                status=refund.status,
                reason=refund.reason,
                created_at=utcnow(),
            )
        )
    elif existing.status != refund.status:
        existing.status = refund.status


def _hold_if_possible(session: Session, order: Order, reason: str, *, actor: str) -> None:
    if order.status in lifecycle.TRANSITIONS["hold"] or order.status == lifecycle.ON_HOLD:
        put_on_hold(session, order, reason, actor=actor)
    else:
        record(
            session,
            order,
            "order.attention",
            actor=actor,
            reason=reason,
            data={"status": order.status},
        )
