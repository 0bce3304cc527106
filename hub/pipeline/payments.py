"""Payment jobs: capture, void and refund at the order's gateway (``payment.*``).

What is asked of the gateway is here; what is recorded of a payment is
:mod:`hub.orders.payments`."""

from __future__ import annotations

from typing import Any

from sqlalchemy.orm import Session

from hub.core import events as ev
from hub.core.exceptions import PaymentDeclined, ValidationError
from hub.core.lifecycle import OrderStatus
from hub.core.order import PaymentUpdate, RefundData
from hub.core.status import PaymentStatus
from hub.integration.connectors import PaymentConnector, PaymentRef
from hub.orders import payments, records
from hub.orders.serialize import money
from hub.pipeline.follow_up import get
from hub.queue.jobs import JobContext, enqueue
from hub.queue.kinds import JobKind
from hub.runtime.hub import as_role
from hub.store.models import Job, Order, Payment, utcnow


def _payment_ref(payment: Payment) -> PaymentRef:
    return PaymentRef(
        reference=payment.reference,
        currency=payment.currency,
        amount=payment.amount,
        captured_amount=payment.captured_amount,
        refunded_amount=payment.refunded_amount,
        status=payment.status,
    )


def capture_payment(ctx: JobContext) -> None:
    hub = ctx.hub
    with hub.db.read() as session:
        payment = session.get(Payment, ctx.payload["payment_id"])
        if payment is None:
            return
        order = payment.order
        order_id, confirmed, status = (
            order.id,
            order.status == OrderStatus.CONFIRMED,
            payment.status,
        )
        if order.status == OrderStatus.CANCELLED:
            return  # cancelled before its capture: the cancellation voids (or refunds) instead
        if status == PaymentStatus.AUTHORIZED:
            amount = min(payment.amount, max(0, order.total - _captured_elsewhere(order, payment)))
            ref = _payment_ref(payment)
    if status != PaymentStatus.AUTHORIZED:
        # Voided or failed since: nothing to do. Captured since (the gateway's
        # webhook told first, or an earlier try got through and then failed):
        # nothing to capture, but the order must still move on to fulfilment.
        if status == PaymentStatus.CAPTURED and confirmed:
            with hub.db.transaction() as session:
                _fulfil_once_captured(session, order_id)
        return
    connector = as_role(ctx.connector(), PaymentConnector)
    actor = f"channel:{connector.channel.slug}"
    try:
        result = connector.capture(ref, amount, idempotency_key=ctx.idempotency_key)
    except PaymentDeclined as exc:
        with hub.db.transaction() as session:
            payments.apply_payment_update(
                session,
                PaymentUpdate(
                    reference=ref.reference,
                    occurred_at=utcnow(),
                    status="failed",
                    failure_reason=exc.message,
                ),
                actor=actor,
                channel_id=ctx.channel_id,
            )
        raise
    with hub.db.transaction() as session:
        updated = payments.apply_payment_update(
            session,
            PaymentUpdate(
                reference=ref.reference,
                occurred_at=result.occurred_at or utcnow(),
                status=result.status,
                captured_amount=result.captured_amount,
            ),
            actor=actor,
            channel_id=ctx.channel_id,
        )
        _note_adjustment(
            session,
            updated,
            result.message,
            actor=actor,
            data={
                "reference": ref.reference,
                "requested": money(amount, ref.currency),
                "captured": money(result.captured_amount, ref.currency),
            },
        )
        if confirmed:
            _fulfil_once_captured(session, order_id)


def _note_adjustment(
    session: Session, order: Order | None, message: str, *, actor: str, data: dict[str, Any]
) -> None:
    """Put on the order's timeline what the gateway changed of an amount (a person must know)."""
    if message and order is not None:
        records.record(session, order, ev.PAYMENT_ADJUSTED, actor=actor, reason=message, data=data)


def _fulfil_once_captured(session: Session, order_id: int) -> None:
    enqueue(
        session,
        JobKind.ORDER_FULFILL,
        {},
        order_id=order_id,
        dedupe_key=JobKind.ORDER_FULFILL.key(order_id, "captured"),
    )


def _captured_elsewhere(order: Order, payment: Payment) -> int:
    return sum(p.captured_amount for p in order.payments if p.id != payment.id)


def void_payment(ctx: JobContext) -> None:
    hub = ctx.hub
    with hub.db.read() as session:
        payment = session.get(Payment, ctx.payload["payment_id"])
        if payment is None:
            return
        if payment.status != PaymentStatus.AUTHORIZED or payment.captured_amount:
            # Captured before this void ran (a capture in flight when the order was
            # cancelled): a cancelled order keeps no money, so it is refunded instead.
            refund = (
                payment.order.status == OrderStatus.CANCELLED
                and payment.captured_amount > payment.refunded_amount
            )
            order_id = payment.order_id
        else:
            refund = None
            ref = _payment_ref(payment)
    if refund is not None:
        if refund:
            with hub.db.transaction() as session:
                payment = get(session, Payment, ctx.payload["payment_id"])
                left = payment.captured_amount - payment.refunded_amount
                if left > 0:
                    payments.request_refund(
                        session, payment, left, key=f"cancel:{order_id}", reason="order cancelled"
                    )
        return
    connector = as_role(ctx.connector(), PaymentConnector)
    result = connector.void(ref, idempotency_key=ctx.idempotency_key)
    with hub.db.transaction() as session:
        order = payments.apply_payment_update(
            session,
            PaymentUpdate(
                reference=ref.reference,
                occurred_at=result.occurred_at or utcnow(),
                status=result.status,
                captured_amount=result.captured_amount,
            ),
            actor=f"channel:{connector.channel.slug}",
            channel_id=ctx.channel_id,
        )
        # Too late to void: the gateway captured it meanwhile (a race with a capture
        # elsewhere). A cancelled order keeps no money: refund what was taken.
        payment = get(session, Payment, ctx.payload["payment_id"])
        if (
            order is not None
            and order.status == OrderStatus.CANCELLED
            and payment.captured_amount > payment.refunded_amount
        ):
            payments.request_refund(
                session,
                payment,
                payment.captured_amount - payment.refunded_amount,
                key=f"cancel:{order.id}",
                reason="order cancelled",
            )


def refund_payment(ctx: JobContext) -> None:
    """Refund once; a refund the gateway refuses is a dead job, never a silent success."""
    hub = ctx.hub
    amount = int(ctx.payload["amount"])
    if ctx.payload.get("refund_id"):
        return  # an earlier run committed this refund, then lost its lease before finishing
    with hub.db.read() as session:
        ref = _payment_ref(get(session, Payment, ctx.payload["payment_id"]))
    connector = as_role(ctx.connector(), PaymentConnector)
    # No local "already refunded" check: after a crash the same key makes the
    # gateway answer with the refund it already made, which is recorded once.
    result = connector.refund(
        ref, amount, idempotency_key=ctx.idempotency_key, reason=ctx.payload.get("reason", "")
    )
    if result.status == "failed":
        raise ValidationError(
            f"refund {result.external_id} of payment {ref.reference} failed at the gateway"
        )
    actor = f"channel:{connector.channel.slug}"
    with hub.db.transaction() as session:
        order = payments.apply_payment_update(
            session,
            PaymentUpdate(
                reference=ref.reference,
                occurred_at=utcnow(),
                refunds=[
                    RefundData(
                        external_id=result.external_id,
                        amount=result.amount,
                        status=result.status,
                        reason=ctx.payload.get("reason", ""),
                    )
                ],
            ),
            actor=actor,
            channel_id=ctx.channel_id,
        )
        _note_adjustment(
            session,
            order,
            result.message,
            actor=actor,
            data={
                "reference": ref.reference,
                "requested": money(amount, ref.currency),
                "refunded": money(result.amount, ref.currency),
                "refund_id": result.external_id,
            },
        )
        # Committed with the refund: a run of this job after a crash sees it and calls no one.
        job = session.get(Job, ctx.id)
        assert job is not None  # the job running now
        job.payload = {**job.payload, "refund_id": result.external_id}
