"""Moving an order through its life cycle: confirm, hold, release, cancel and the rest.

:func:`apply_event` is the one way an order's status changes: it applies the
core's transition table (:mod:`hub.core.lifecycle`), does what the move
needs (a confirmation reserves stock, a cancellation gives it back) and
records the move, all in the caller's transaction. Confirming routes the order
through the plugins' ``hub_allocate_order``, so it takes a unit of work
(:class:`~hub.runtime.work.UnitOfWork`): :func:`confirm_order`, and
:func:`process_order`, which runs the checks on a pending order and confirms
or holds it. Every other move needs only the session.
"""

from __future__ import annotations

from typing import Any

from sqlalchemy.orm import Session

from hub.core import events, lifecycle
from hub.core.exceptions import ValidationError
from hub.core.status import blocking_payments
from hub.inventory import backorders, reservations
from hub.orders.lookup import SessionLookup
from hub.orders.records import get_order, record
from hub.orders.serialize import order_detail
from hub.queue.jobs import enqueue
from hub.queue.kinds import JobKind
from hub.routing import audit as routing_audit
from hub.runtime.work import UnitOfWork
from hub.store.models import Order

#: Why an order was put on hold by the hub itself (people may give any reason).
HOLD_PAYMENT = "payment_failed"


def apply_event(
    session: Session,
    order: Order,
    event: str,
    *,
    actor: str,
    reason: str = "",
    data: dict[str, Any] | None = None,
) -> Order:
    """Move ``order`` by ``event`` through the table; the same status again is a no-op.

    ``confirm`` is :func:`confirm_order` (it routes the order through the plugins).
    """
    if event == "confirm":
        raise TypeError(
            "confirming routes the order through the plugins: use confirm_order(work, …)"
        )
    return _move(session, order, event, actor=actor, reason=reason, data=data)


def confirm_order(work: UnitOfWork, order: Order, *, actor: str, reason: str = "") -> Order:
    """Confirm ``order``: reserve every line where the plugins route it, or hold it ``out_of_stock``.

    :raises ValidationError: a payment of the order failed or is disputed.
    """
    session = work.session
    target = lifecycle.next_status(order.label, order.status, "confirm")
    if target == order.status:
        return order
    _check_payment_ok(order)

    decided: dict[str, Any] = {}

    def allocate(order: Order) -> Any:
        plan = work.hooks.hub_allocate_order(
            order=order_detail(order),
            lookup=SessionLookup(
                session, work.settings, plugin_settings=work.plugin_settings, rates=work.rates
            ),
        )
        # Why it was routed so (hub.routing.audit): kept with the confirmation.
        decision = routing_audit.decision_of(plan)
        if decision is not None:
            decided[routing_audit.KEY] = decision
        return plan

    # All lines reserved where they are routed, or none and the order waits on hold.
    missing = reservations.reserve(session, order, actor=actor, allocate=allocate)
    if missing and work.incoming is not None:
        # SKUs that allow backorders may wait for stock on a purchase order instead.
        promises = backorders.promise(session, order, missing, actor=actor, incoming=work.incoming)
        if promises:
            _move(session, order, "confirm", actor=actor, reason=reason)
            expected = backorders.expected_at(promises)
            record(
                session,
                order,
                events.BACKORDERED,
                actor=actor,
                reason="waits for stock on a purchase order",
                data={
                    "lines": [p.to_dict() for p in promises],
                    "expected_at": expected.isoformat() if expected else None,
                },
            )
            return order
    if missing:
        return put_on_hold(
            session, order, reservations.HOLD_OUT_OF_STOCK, actor=actor, data={"skus": missing}
        )
    return _move(session, order, "confirm", actor=actor, reason=reason, data=decided or None)


def _move(
    session: Session,
    order: Order,
    event: str,
    *,
    actor: str,
    reason: str = "",
    data: dict[str, Any] | None = None,
) -> Order:
    target = lifecycle.next_status(order.label, order.status, event)
    if event == "hold":
        return put_on_hold(session, order, reason, actor=actor)
    if target == order.status:
        return order
    if event == "cancel":
        reservations.release(session, order, actor=actor, reason=f"order {order.label} cancelled")
        backorders.cancel(session, order)
    before = order.status
    order.status = target
    if before == lifecycle.ON_HOLD:
        # Released, confirmed or cancelled: the reasons were why it waited, and the
        # trail keeps them; the order no longer carries them.
        order.hold_reasons = []
    audit = record(
        session,
        order,
        lifecycle.EVENT_NAMES[event],
        actor=actor,
        from_status=before,
        to_status=target,
        reason=reason,
        data=data,
    )
    if event == "release":
        # Back to pending: the checks run again.
        enqueue(
            session,
            JobKind.ORDER_PROCESS,
            {},
            order_id=order.id,
            dedupe_key=JobKind.ORDER_PROCESS.key(order.id, audit.id),
        )
    return order


def put_on_hold(
    session: Session, order: Order, reason: str, *, actor: str, data: dict[str, Any] | None = None
) -> Order:
    """Hold ``order`` for ``reason``; holding a held order again only adds the reason."""
    if not reason:
        raise ValidationError("a hold needs a reason", details={"reason": "is required"})
    target = lifecycle.next_status(order.label, order.status, "hold")
    reasons = list(order.hold_reasons or [])
    if reason in reasons and target == order.status:
        return order
    if reason not in reasons:
        reasons.append(reason)
    order.hold_reasons = reasons
    before = order.status
    order.status = target
    record(
        session,
        order,
        lifecycle.EVENT_NAMES["hold"],
        actor=actor,
        from_status=before,
        to_status=target,
        reason=reason,
        data=data,
    )
    return order


def _check_payment_ok(order: Order) -> None:
    bad = blocking_payments(order.payments)
    if bad:
        raise ValidationError(
            f"order {order.label} cannot be confirmed: payment {bad[0].reference} is "
            f"{'disputed' if bad[0].disputed else bad[0].status}",
            details={"payments": [p.reference for p in bad]},
        )


def confirm(work: UnitOfWork, order_id: int, *, actor: str, reason: str = "") -> Order:
    return confirm_order(work, get_order(work.session, order_id), actor=actor, reason=reason)


def hold(session: Session, order_id: int, reason: str, *, actor: str) -> Order:
    return put_on_hold(session, get_order(session, order_id), reason, actor=actor)


def release(session: Session, order_id: int, *, actor: str, reason: str = "") -> Order:
    return apply_event(session, get_order(session, order_id), "release", actor=actor, reason=reason)


def cancel(session: Session, order_id: int, *, actor: str, reason: str = "") -> Order:
    return apply_event(session, get_order(session, order_id), "cancel", actor=actor, reason=reason)


def start_fulfillment(session: Session, order_id: int, *, actor: str) -> Order:
    return apply_event(session, get_order(session, order_id), "start_fulfillment", actor=actor)


def deliver(session: Session, order_id: int, *, actor: str) -> Order:
    return apply_event(session, get_order(session, order_id), "deliver", actor=actor)


def complete(session: Session, order_id: int, *, actor: str) -> Order:
    return apply_event(session, get_order(session, order_id), "complete", actor=actor)


def process_order(
    work: UnitOfWork, order_id: int, *, actor: str, problems: list[str] | None = None
) -> Order:
    """Run the checks on a pending order: hold it with every reason, or confirm it.

    :param problems: reasons found by the validation rules; each becomes a
        hold reason. The payment check is always made.
    """
    session = work.session
    order = get_order(session, order_id)
    if order.status != lifecycle.PENDING:
        return order
    reasons = list(dict.fromkeys(problems or []))
    if blocking_payments(order.payments):
        reasons.append(HOLD_PAYMENT)
    if reasons:
        # Every reason is listed at once, stock included (read only: nothing is reserved).
        missing = reservations.shortage(session, order)
        for reason in reasons:
            put_on_hold(session, order, reason, actor=actor)
        if missing and reservations.HOLD_OUT_OF_STOCK not in reasons:
            put_on_hold(
                session, order, reservations.HOLD_OUT_OF_STOCK, actor=actor, data={"skus": missing}
            )
        return order
    return confirm_order(work, order, actor=actor)
