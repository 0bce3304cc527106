"""Sales figures: aggregate reads over orders and their lines, by placed date and currency.

One function per figure, each a single SQL aggregate, so the admin's dashboard
and (later) the API read the same numbers. What counts as a sale is said once,
in :func:`counted`: an order placed in the period (``placed_at``, UTC), not
cancelled and not a test order. Revenue is the order's total as placed (items,
shipping and tax, less discounts); refunds are not taken off. Amounts stay in
minor units per currency: currencies are never added together.
"""

from __future__ import annotations

from collections import defaultdict
from dataclasses import dataclass
from datetime import UTC, date, datetime, timedelta

from sqlalchemy import ColumnElement, and_, func, select
from sqlalchemy.orm import Session

from hub.core.lifecycle import CANCELLED, CONFIRMED, ON_HOLD, PROCESSING
from hub.core.status import FinancialStatus
from hub.store.models import Order, OrderLine

#: Orders confirmed or at the warehouse, placed more than this many whole days ago, are late.
LATE_DAYS = 2

#: The periods the dashboard shows: a name and its length in days ("today" is since midnight UTC).
PERIODS: tuple[tuple[str, int], ...] = (("today", 1), ("7 days", 7), ("30 days", 30))


def counted(start: datetime, end: datetime) -> ColumnElement[bool]:
    """The orders that are sales of ``[start, end)``: placed then, not cancelled, not tests."""
    return and_(
        Order.placed_at >= start,
        Order.placed_at < end,
        Order.status != CANCELLED,
        Order.is_test.is_(False),
    )


@dataclass(frozen=True)
class Sales:
    """Sales of one currency in one period."""

    orders: int = 0
    revenue: int = 0  # minor units

    @property
    def average(self) -> int:
        """Average order value in minor units (rounded half up), 0 without orders."""
        return (2 * self.revenue + self.orders) // (2 * self.orders) if self.orders else 0


@dataclass(frozen=True)
class PeriodSales:
    """One currency's sales in a period and in the period of the same length before it."""

    currency: str
    current: Sales
    previous: Sales

    @staticmethod
    def change(now: int, before: int) -> float | None:
        """The change in percent, None when there was nothing before to compare with."""
        return round(100 * (now - before) / before, 1) if before else None

    @property
    def revenue_change(self) -> float | None:
        return self.change(self.current.revenue, self.previous.revenue)

    @property
    def orders_change(self) -> float | None:
        return self.change(self.current.orders, self.previous.orders)

    @property
    def average_change(self) -> float | None:
        return self.change(self.current.average, self.previous.average)


def period_start(now: datetime, days: int) -> datetime:
    """Midnight UTC ``days - 1`` days before ``now``: "today" is 1, "7 days" includes today."""
    midnight = datetime.combine(now.astimezone(UTC).date(), datetime.min.time(), tzinfo=UTC)
    return midnight - timedelta(days=days - 1)


def sales_by_currency(session: Session, start: datetime, end: datetime) -> dict[str, Sales]:
    """Orders and revenue of ``[start, end)`` per currency."""
    rows = session.execute(
        select(Order.currency, func.count(Order.id), func.coalesce(func.sum(Order.total), 0))
        .where(counted(start, end))
        .group_by(Order.currency)
    ).all()
    return {currency: Sales(int(n), int(revenue)) for currency, n, revenue in rows}


def period_sales(session: Session, now: datetime, days: int) -> list[PeriodSales]:
    """Each currency's sales from :func:`period_start` to ``now``, beside the same span
    ``days`` days earlier (today so far beside yesterday to the same hour)."""
    start = period_start(now, days)
    shift = timedelta(days=days)
    current = sales_by_currency(session, start, now)
    previous = sales_by_currency(session, start - shift, now - shift)
    return [
        PeriodSales(c, current.get(c, Sales()), previous.get(c, Sales()))
        for c in sorted(current.keys() | previous.keys())
    ]


def revenue_per_day(
    session: Session, start: datetime, end: datetime
) -> dict[str, dict[int, dict[date, int]]]:
    """Revenue per currency, per channel id, per placed day (UTC) in ``[start, end)``."""
    day = func.date(Order.placed_at)
    rows = session.execute(
        select(Order.currency, Order.channel_id, day, func.sum(Order.total))
        .where(counted(start, end))
        .group_by(Order.currency, Order.channel_id, day)
    ).all()
    out: dict[str, dict[int, dict[date, int]]] = defaultdict(lambda: defaultdict(dict))
    for currency, channel_id, d, revenue in rows:
        when = d if isinstance(d, date) else date.fromisoformat(str(d)[:10])
        out[currency][channel_id][when] = int(revenue)
    return {c: dict(per_channel) for c, per_channel in out.items()}


@dataclass(frozen=True)
class SkuSales:
    sku: str
    name: str
    currency: str
    units: int
    revenue: int  # minor units: quantity × unit price less the line's discount


def top_skus(
    session: Session, start: datetime, end: datetime, *, limit: int = 10
) -> list[SkuSales]:
    """The SKUs sold most in ``[start, end)`` by units, then by revenue, per currency."""
    units = func.sum(OrderLine.quantity)
    revenue = func.sum(OrderLine.quantity * OrderLine.unit_price - OrderLine.discount)
    rows = session.execute(
        select(OrderLine.sku, func.max(OrderLine.name), Order.currency, units, revenue)
        .join(Order, Order.id == OrderLine.order_id)
        .where(counted(start, end), OrderLine.quantity > 0)
        .group_by(OrderLine.sku, Order.currency)
        .order_by(units.desc(), revenue.desc(), OrderLine.sku)
        .limit(limit)
    ).all()
    return [SkuSales(s, n or "", c, int(u), int(r)) for s, n, c, u, r in rows]


@dataclass(frozen=True)
class Waiting:
    """Orders waiting on someone, per stage."""

    on_hold: int
    awaiting_payment: int
    at_warehouse: int
    late_confirmed: int  # late, not yet at the warehouse
    late_at_warehouse: int
    #: The last day (UTC) an order may have been placed on to be late: the orders list's
    #: ``placed_to`` filter with this day shows the same orders.
    late_placed_to: date

    @property
    def late(self) -> int:
        return self.late_confirmed + self.late_at_warehouse


def waiting(session: Session, now: datetime, *, late_days: int = LATE_DAYS) -> Waiting:
    """Orders on hold; awaiting payment (nothing paid, not cancelled); at the warehouse
    (processing: fulfilment started, nothing shipped); late (confirmed or processing,
    placed before midnight UTC ``late_days`` days ago: more than ``late_days`` whole days)."""
    cutoff = period_start(now, 1) - timedelta(days=late_days)

    def count(*where: ColumnElement[bool]) -> int:
        return session.scalar(select(func.count(Order.id)).where(*where)) or 0

    placed = func.coalesce(Order.placed_at, Order.created_at)  # as the orders list reads it
    return Waiting(
        on_hold=count(Order.status == ON_HOLD),
        awaiting_payment=count(
            Order.financial_status == FinancialStatus.PENDING, Order.status != CANCELLED
        ),
        at_warehouse=count(Order.status == PROCESSING),
        late_confirmed=count(Order.status == CONFIRMED, placed < cutoff),
        late_at_warehouse=count(Order.status == PROCESSING, placed < cutoff),
        late_placed_to=(cutoff - timedelta(days=1)).date(),
    )
