"""Daily demand per SKU and location, from the hub's own order lines (all channels).

What counts, said once here:

- a line of an order placed on a UTC day (placed = ``coalesce(placed_at, created_at)``,
  as the orders list reads it) counts its ``quantity`` on that day, unless the order
  is cancelled or a test order;
- a returned quantity is taken off on the day the return was received (returns
  requested, approved or rejected have not come back: they do not count);
- the location of a sale is where its stock was reserved (active or shipped
  reservations); a line not reserved yet (pending, on hold) has no location and
  counts only in the SKU's total. A return counts at the location it was
  restocked to (none when written off).

One query (a ``UNION ALL`` of sales and returns, summed per SKU, location and day).
"""

from __future__ import annotations

from collections import defaultdict
from collections.abc import Iterable
from dataclasses import dataclass, field
from datetime import UTC, date, datetime, timedelta
from typing import Any

from sqlalchemy import Date, and_, cast, func, literal, select, union_all
from sqlalchemy.orm import Session
from sqlalchemy.sql.elements import ColumnElement

from hub.core.lifecycle import CANCELLED
from hub.orders.queries import PLACED
from hub.store.models import Order, OrderLine, Return, ReturnLine, StockReservation

#: Reservations that stand for a sale at their location (released ones were given back).
SOLD_RESERVATIONS = ("active", "consumed")
#: Returns whose goods came back.
RECEIVED_RETURNS = ("received", "refunded")


def utc_day(session: Session, column: Any) -> ColumnElement[Any]:
    """The UTC calendar day of a timestamp column, on SQLite (stored UTC) and PostgreSQL
    (``timestamptz``, whose ``date()`` would follow the session's time zone)."""
    if session.get_bind().dialect.name == "postgresql":
        return cast(func.timezone("UTC", column), Date)
    return func.date(column)


@dataclass
class SkuHistory:
    """One SKU's daily net demand: in total and per location id (None: not yet reserved)."""

    sku: str
    total: dict[date, int] = field(default_factory=dict)
    by_location: dict[int | None, dict[date, int]] = field(default_factory=dict)


def demand_history(
    session: Session, skus: Iterable[str] | None, start: date, end: date
) -> dict[str, SkuHistory]:
    """Net demand per SKU, day and location for the UTC days ``[start, end)``.

    :param skus: the SKUs to read, or None for all.
    :returns: SKUs with any sale or return in the period; days without either are absent.
    """
    start_at = datetime.combine(start, datetime.min.time(), tzinfo=UTC)
    end_at = datetime.combine(end, datetime.min.time(), tzinfo=UTC)
    wanted = None if skus is None else sorted(set(skus))
    placed_day = utc_day(session, PLACED)
    sales = (
        select(
            OrderLine.sku.label("sku"),
            StockReservation.location_id.label("location_id"),
            placed_day.label("day"),
            func.coalesce(StockReservation.quantity, OrderLine.quantity).label("quantity"),
        )
        .join(Order, Order.id == OrderLine.order_id)
        .outerjoin(
            StockReservation,
            and_(
                StockReservation.order_line_id == OrderLine.id,
                StockReservation.status.in_(SOLD_RESERVATIONS),
            ),
        )
        .where(
            PLACED >= start_at,
            PLACED < end_at,
            Order.status != CANCELLED,
            Order.is_test.is_(False),
        )
    )
    returned_day = utc_day(session, Return.received_at)
    returns = (
        select(
            OrderLine.sku.label("sku"),
            ReturnLine.location_id.label("location_id"),
            returned_day.label("day"),
            (literal(0) - ReturnLine.quantity).label("quantity"),
        )
        .join(Return, Return.id == ReturnLine.return_id)
        .join(OrderLine, OrderLine.id == ReturnLine.order_line_id)
        .join(Order, Order.id == Return.order_id)
        .where(
            Return.status.in_(RECEIVED_RETURNS),
            Return.received_at >= start_at,
            Return.received_at < end_at,
            Order.is_test.is_(False),
            # A cancelled order's sales never counted, so neither do its returns.
            Order.status != CANCELLED,
        )
    )
    if wanted is not None:
        sales = sales.where(OrderLine.sku.in_(wanted))
        returns = returns.where(OrderLine.sku.in_(wanted))
    moves = union_all(sales, returns).subquery()
    rows = session.execute(
        select(moves.c.sku, moves.c.location_id, moves.c.day, func.sum(moves.c.quantity))
        .group_by(moves.c.sku, moves.c.location_id, moves.c.day)
        .having(func.sum(moves.c.quantity) != 0)
    ).all()
    out: dict[str, SkuHistory] = {}
    totals: dict[str, dict[date, int]] = defaultdict(lambda: defaultdict(int))
    for sku, location_id, day, quantity in rows:
        d = day if isinstance(day, date) else date.fromisoformat(str(day))
        history = out.setdefault(sku, SkuHistory(sku))
        history.by_location.setdefault(location_id, {})[d] = int(quantity)
        totals[sku][d] += int(quantity)
    for sku, days in totals.items():
        out[sku].total = {d: q for d, q in sorted(days.items()) if q}
    return out


def daily_series(days: dict[date, int], start: date, end: date) -> list[int]:
    """``days`` as one value per day of ``[start, end)``, zero where nothing happened."""
    return [days.get(start + timedelta(n), 0) for n in range((end - start).days)]
