"""Late orders: a promise not kept, found once per order and cause.

Two causes (:data:`NOT_SHIPPED`, :data:`NOT_DELIVERED`): a fulfilment group whose
ship-by day has passed while units of it are still unshipped, and an order not
delivered once a group's deliver-by day has passed. :func:`overdue` finds them
(orders already marked for that cause are left out); the ``order.late_check`` job
(:mod:`hub.pipeline.late`) marks them (:class:`~hub.store.models.OrderLateMark`,
unique per order and cause) and records ``order.late``. An order stays late in the
admin until it is delivered, completed, cancelled or returned.
"""

from __future__ import annotations

from collections.abc import Iterable, Iterator
from dataclasses import dataclass
from datetime import date
from typing import Any

from sqlalchemy import ColumnElement, Select, and_, exists, select
from sqlalchemy.orm import Session

from hub.core.lifecycle import OrderStatus
from hub.core.status import units_open, units_shipped
from hub.store.models import FulfillmentGroup, Order, OrderLateMark, utcnow

NOT_SHIPPED = "not_shipped"
NOT_DELIVERED = "not_delivered"
CAUSES = (NOT_SHIPPED, NOT_DELIVERED)

CAUSE_WORDS = {
    NOT_SHIPPED: "not shipped by the promised day",
    NOT_DELIVERED: "not delivered by the promised day",
}

#: Orders that may still have to ship.
SHIPPING = (OrderStatus.CONFIRMED, OrderStatus.PROCESSING, OrderStatus.PARTIALLY_SHIPPED)
#: Orders on their way or not yet (not delivered, not given up).
UNDELIVERED = (*SHIPPING, OrderStatus.SHIPPED)
#: An order in one of these is no longer shown late.
SETTLED = (
    OrderStatus.DELIVERED,
    OrderStatus.COMPLETED,
    OrderStatus.CANCELLED,
    OrderStatus.RETURNED,
    OrderStatus.PARTIALLY_RETURNED,
)

#: Candidate rows read at a time.
BATCH = 500


@dataclass(frozen=True)
class Overdue:
    order_id: int
    group_key: str
    cause: str
    promised: date


def _unmarked(cause: str) -> ColumnElement[bool]:
    return ~exists().where(and_(OrderLateMark.order_id == Order.id, OrderLateMark.cause == cause))


def _candidates(cause: str, column, statuses, today: date, after: int) -> Select:
    return (
        select(Order, FulfillmentGroup)
        .join(FulfillmentGroup, FulfillmentGroup.order_id == Order.id)
        .where(
            column.is_not(None),
            column < today,
            FulfillmentGroup.status != "cancelled",
            Order.status.in_([str(s) for s in statuses]),
            _unmarked(cause),
            Order.id > after,
        )
        .order_by(Order.id, column)
        .limit(BATCH)
    )


def _pages(session: Session, cause: str, column, statuses, today: date) -> Iterator[Any]:
    """Every candidate row, a batch at a time (a partly shipped order whose overdue group did
    ship stays a candidate, and must not crowd out the orders behind it)."""
    after = 0
    while True:
        rows = session.execute(_candidates(cause, column, statuses, today, after)).all()
        yield from rows
        if len(rows) < BATCH:
            return
        after = rows[-1][0].id


def overdue(session: Session, today: date) -> list[Overdue]:
    """Orders whose promise passed before ``today`` (the shop's day), one per order and cause."""
    found: dict[tuple[int, str], Overdue] = {}
    for order, group in _pages(session, NOT_SHIPPED, FulfillmentGroup.ship_by, SHIPPING, today):
        if (order.id, NOT_SHIPPED) in found or group.ship_by is None:
            continue
        still_open = units_open(order.lines, units_shipped(order.shipments))
        if any(still_open.get(int(x["line_id"]), 0) > 0 for x in group.lines):
            found[(order.id, NOT_SHIPPED)] = Overdue(
                order.id, group.key, NOT_SHIPPED, group.ship_by
            )
    for order, group in _pages(
        session, NOT_DELIVERED, FulfillmentGroup.deliver_by, UNDELIVERED, today
    ):
        if (order.id, NOT_DELIVERED) not in found and group.deliver_by is not None:
            found[(order.id, NOT_DELIVERED)] = Overdue(
                order.id, group.key, NOT_DELIVERED, group.deliver_by
            )
    return list(found.values())


def mark(session: Session, late: Overdue) -> bool:
    """Mark an order late for one cause; False when it was marked already (nothing written)."""
    already = session.scalar(
        select(OrderLateMark.id).where(
            OrderLateMark.order_id == late.order_id, OrderLateMark.cause == late.cause
        )
    )
    if already is not None:
        return False
    session.add(
        OrderLateMark(
            order_id=late.order_id,
            group_key=late.group_key,
            cause=late.cause,
            promised=late.promised,
            noticed_at=utcnow(),
        )
    )
    session.flush()
    return True


def marks_of(session: Session, order_id: int) -> list[OrderLateMark]:
    """An order's late marks, oldest first."""
    return list(
        session.scalars(
            select(OrderLateMark)
            .where(OrderLateMark.order_id == order_id)
            .order_by(OrderLateMark.id)
        )
    )


def is_late(order: Order, marks: Iterable[OrderLateMark]) -> bool:
    """Whether the admin shows the order late: marked, and not settled yet."""
    return order.status not in SETTLED and any(True for _ in marks)


def late_order_ids(session: Session, order_ids: Iterable[int]) -> set[int]:
    """Which of these orders are late now (for a list's badges)."""
    ids = list(order_ids)
    if not ids:
        return set()
    return set(
        session.scalars(
            select(OrderLateMark.order_id)
            .join(Order, Order.id == OrderLateMark.order_id)
            .where(
                OrderLateMark.order_id.in_(ids),
                Order.status.not_in([str(s) for s in SETTLED]),
            )
        )
    )


def late_filter() -> ColumnElement[bool]:
    """A WHERE clause on :class:`Order`: late now (for the orders list's filter)."""
    return and_(
        exists().where(OrderLateMark.order_id == Order.id),
        Order.status.not_in([str(s) for s in SETTLED]),
    )
