"""An order's record: load it, keep its derived statuses, write its audit trail.

Every action loads the order it changes here (:func:`get_order` locks its
row), recomputes what follows from its payments and shipments
(:func:`refresh_derived`) and records what happened with :func:`record`: the
audit event (who, when, from, to, why) and, in the same transaction, the
``order.event`` job that announces it. Plugins hear of it only after the
commit, when that job fans the event out (see :mod:`hub.pipeline.builtin`)::

    with hub.db.transaction() as session:
        transitions.confirm(session, order_id, actor="user:ann@example.com")
"""

from __future__ import annotations

from collections.abc import Hashable, Iterable, Mapping
from typing import Any, TypeVar

from sqlalchemy import Select, select
from sqlalchemy.orm import Session, selectinload

from hub.core.exceptions import NotFound
from hub.core.status import PaymentLike, financial_status, fulfillment_status, units_shipped
from hub.queue.jobs import enqueue_row, job_row
from hub.queue.kinds import JobKind
from hub.store.models import Order, OrderAuditEvent, Return, ReturnLine, Shipment, utcnow

# --- loading ---------------------------------------------------------------------


def get_order(session: Session, order_id: int, *, lock: bool = True) -> Order:
    """Load an order; with ``lock`` its row is locked until the transaction ends."""
    query = select(Order).where(Order.id == order_id)
    if lock:
        query = query.with_for_update(of=Order)
    order = session.scalars(query).one_or_none()
    if order is None:
        raise NotFound(f"order {order_id} does not exist")
    return order


def find_order(
    session: Session, channel_id: int, external_id: str, *, lock: bool = True
) -> Order | None:
    """The order a channel knows by ``external_id``, if the hub has it."""
    query = select(Order).where(
        Order.channel_id == channel_id, Order.external_id == str(external_id)
    )
    if lock:
        query = query.with_for_update(of=Order)
    return session.scalars(query).one_or_none()


def order_query() -> Select[Order]:
    """A query for orders with everything the API shows loaded up front."""
    return select(Order).options(
        selectinload(Order.lines),
        selectinload(Order.payments),
        selectinload(Order.shipments).selectinload(Shipment.lines),
        selectinload(Order.events),
        selectinload(Order.returns).selectinload(Return.lines).selectinload(ReturnLine.location),
    )


# --- the derived statuses --------------------------------------------------------


def refresh_derived(order: Order) -> None:
    """Recompute the order's financial and fulfilment status from its payments and shipments."""
    # Lines no warehouse ships (gift cards, digital goods) do not count towards "fulfilled".
    ordered = {line.id or id(line): line.quantity for line in order.lines if line.requires_shipping}
    shipped = units_shipped(order.shipments)
    order.financial_status, order.fulfillment_status = derived_statuses(
        order.payments, order.total, order.channel_financial_status, ordered, shipped
    )


_Line = TypeVar("_Line", bound=Hashable)


def derived_statuses(
    payments: Iterable[PaymentLike],
    total: int,
    channel_financial_status: str,
    ordered: Mapping[_Line, int],
    shipped: Mapping[_Line, int],
) -> tuple[str, str]:
    """(financial status, fulfilment status) of an order with these payments, lines and shipments."""
    return (
        financial_status(payments, total, fallback=channel_financial_status or "pending"),
        fulfillment_status(ordered, shipped),
    )


# --- the audit trail and the outbox ------------------------------------------------


def record(
    session: Session,
    order: Order,
    name: str,
    *,
    actor: str,
    from_status: str | None = None,
    to_status: str | None = None,
    reason: str = "",
    data: dict[str, Any] | None = None,
) -> OrderAuditEvent:
    """Write an audit event and, in the same transaction, the job that announces it."""
    event = OrderAuditEvent(
        order=order,
        name=name,
        actor=actor,
        from_status=from_status,
        to_status=to_status,
        reason=reason or "",
        data=data or {},
        created_at=utcnow(),
    )
    session.add(event)
    session.flush()
    announce(session, order, event)
    return event


def announce(session: Session, order: Order, event: OrderAuditEvent) -> None:
    """Enqueue the ``order.event`` job of a flushed audit event."""
    enqueue_row(session, announcement(order.id, event.id))


def announcement(order_id: int, event_id: int) -> dict[str, Any]:
    """The ``order.event`` job of an audit event: it fans the event out to plugins and notifications."""
    return job_row(
        JobKind.ORDER_EVENT,
        {"event_id": event_id},
        order_id=order_id,
        dedupe_key=JobKind.ORDER_EVENT.key(event_id),
    )
