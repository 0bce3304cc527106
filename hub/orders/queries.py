"""The orders list, read the same way by the API, the admin UI and the CLI.

One set of filters (:class:`OrderFilters`), one meaning of the search ``q``
(:func:`matches`), one function that reads a slice (:func:`search_orders`);
the surfaces only parse their input into the filters and page as they page.

``q`` is what a merchant types into a search box: case-insensitive, anywhere
in the order number (a leading ``#`` is ignored), the channel's order id, the
customer's email or the customer's name, a line's SKU, a shipment's tracking
number or a payment's reference. An exact number, id or email is found, and so
is a part of one (``2002``, ``ann@example``, ``smith``, ``tshirt``).

Sorting (:data:`SORTS`) is for lists paged by number (the admin, the CLI, the
CSV export); the API pages by a keyset cursor and keeps the one default order,
newest placed first.
"""

from __future__ import annotations

import json
from dataclasses import dataclass
from datetime import UTC, date, datetime, time, timedelta
from typing import Any

from sqlalchemy import ColumnElement, Select, String, and_, cast, func, or_, select
from sqlalchemy.orm import Session

from hub.core.exceptions import ValidationError
from hub.orders import carrier_events
from hub.routing.late import late_filter
from hub.store.models import Channel, Order, OrderLine, Payment, Shipment
from hub.store.queries import Found, channel_id_for_slug, fetch

#: When an order was placed: the channel's time, else when the hub first saw it.
PLACED = func.coalesce(Order.placed_at, Order.created_at)
#: The one order of every list of orders: newest placed first, the higher id first on a tie,
#: so that a page ends where the next begins.
NEWEST_PLACED_FIRST = (PLACED.desc(), Order.id.desc())

#: The columns a list of orders can be sorted by (a leading ``-`` sorts descending).
SORT_COLUMNS = ("number", "placed", "total", "status", "channel")
#: Every sort a list takes: ``placed``, ``-placed`` (the default), ``number`` and so on.
SORTS = tuple(f"{sign}{name}" for name in SORT_COLUMNS for sign in ("", "-"))
DEFAULT_SORT = "-placed"


@dataclass(frozen=True)
class OrderFilters:
    """What a list of orders can be narrowed by; the filters given combine with AND."""

    status: str | None = None
    #: A channel's slug.
    channel: str | None = None
    financial_status: str | None = None
    fulfillment_status: str | None = None
    #: The search: see :func:`matches`.
    q: str | None = None
    #: Only orders changed at or after this time.
    updated_since: datetime | None = None
    #: Only orders placed on or after this day (UTC).
    placed_from: date | None = None
    #: Only orders placed on or before this day (UTC).
    placed_to: date | None = None
    #: Only orders held for this reason (its code, e.g. ``address_incomplete``).
    hold_reason: str | None = None
    #: Only this customer's orders (hub.customers): its history.
    customer_id: int | None = None
    #: Only orders late now: a delivery promise not kept (hub.routing.late).
    late: bool = False
    #: Only orders with a shipment at a carrier problem now (hub.orders.carrier_events).
    carrier_problem: bool = False

    @property
    def any(self) -> bool:
        """Whether any filter is given."""
        return any(
            value not in (None, "")
            for value in (
                self.status,
                self.channel,
                self.financial_status,
                self.fulfillment_status,
                self.q,
                self.updated_since,
                self.placed_from,
                self.placed_to,
                self.hold_reason,
                self.customer_id,
                self.late or None,
                self.carrier_problem or None,
            )
        )


def matches(q: str) -> ColumnElement[bool]:
    """The search condition: ``q`` (any case) within the number, the channel's order id,
    the email, the customer's name, a line's SKU, a shipment's tracking number or a
    payment's reference. ``%`` and ``_`` in ``q`` are plain characters."""
    text = q.strip()
    bare = text.lstrip("#").strip() or text
    return or_(
        Order.number.icontains(bare, autoescape=True),
        Order.external_id.icontains(text, autoescape=True),
        Order.email.icontains(text, autoescape=True),
        Order.customer_name.icontains(text, autoescape=True),
        Order.id.in_(
            select(OrderLine.order_id).where(OrderLine.sku.icontains(text, autoescape=True))
        ),
        Order.id.in_(
            select(Shipment.order_id).where(
                Shipment.tracking_number.icontains(text, autoescape=True)
            )
        ),
        Order.id.in_(
            select(Payment.order_id).where(Payment.reference.icontains(text, autoescape=True))
        ),
    )


def _day_start(day: date) -> datetime:
    return datetime.combine(day, time.min, tzinfo=UTC)


def orders_statement(session: Session, filters: OrderFilters) -> Select[Order]:
    """The orders the filters select, unordered (raises :class:`ValidationError` for an unknown channel)."""
    statement = select(Order)
    if filters.status:
        statement = statement.where(Order.status == filters.status)
    if filters.financial_status:
        statement = statement.where(Order.financial_status == filters.financial_status)
    if filters.fulfillment_status:
        statement = statement.where(Order.fulfillment_status == filters.fulfillment_status)
    if filters.channel:
        statement = statement.where(
            Order.channel_id == channel_id_for_slug(session, filters.channel)
        )
    if filters.q and filters.q.strip():
        statement = statement.where(matches(filters.q))
    if filters.updated_since is not None:
        statement = statement.where(Order.updated_at >= filters.updated_since)
    if filters.placed_from is not None:
        statement = statement.where(PLACED >= _day_start(filters.placed_from))
    if filters.placed_to is not None:  # the whole of that day
        statement = statement.where(PLACED < _day_start(filters.placed_to + timedelta(days=1)))
    if filters.customer_id is not None:
        statement = statement.where(Order.customer_id == filters.customer_id)
    if filters.late:
        statement = statement.where(late_filter())
    if filters.carrier_problem:
        statement = statement.where(carrier_events.problem_filter())
    if filters.hold_reason:  # the JSON list's text holds the code as a JSON string
        statement = statement.where(
            cast(Order.hold_reasons, String).contains(
                json.dumps(filters.hold_reason), autoescape=True
            )
        )
    return statement


def _ordering(sort: str) -> tuple[ColumnElement, ...]:
    """The ORDER BY of a sort in :data:`SORTS`, ending on the id so that pages never overlap."""
    if sort not in SORTS:
        raise ValidationError(
            f"cannot sort by {sort!r}: one of {', '.join(SORTS)}", details={"sort": ["unknown"]}
        )
    name = sort.lstrip("-")
    column: Any = {
        "number": Order.number,
        "placed": PLACED,
        "total": Order.total,
        "status": Order.status,
        "channel": select(Channel.name).where(Channel.id == Order.channel_id).scalar_subquery(),
    }[name]
    if sort.startswith("-"):
        return (column.desc(), Order.id.desc())
    return (column.asc(), Order.id.asc())


def search_orders(
    session: Session,
    filters: OrderFilters = OrderFilters(),
    *,
    limit: int = 50,
    before_id: int | None = None,
    offset: int = 0,
    with_total: bool = False,
    sort: str = DEFAULT_SORT,
) -> Found[Order]:
    """The orders the filters select, newest placed first (:data:`NEWEST_PLACED_FIRST`)
    unless ``sort`` (one of :data:`SORTS`) says otherwise.

    Page with ``before_id`` (the previous slice's :attr:`Found.last_id`: the
    orders after that one in this order) or with ``offset``; ``with_total``
    also counts all of them. An unknown channel slug is a
    :class:`ValidationError` whose ``details`` name ``channel``, a
    ``before_id`` of no order one that names ``cursor``.
    """
    statement = orders_statement(session, filters)
    total = None
    if with_total:  # counted before the keyset narrows it
        total = fetch(session, statement, Order.id, limit=1, with_total=True).total
    if before_id is not None:
        statement = statement.where(_after(session, before_id))
    found = fetch(
        session,
        statement,
        Order.id,
        limit=limit,
        offset=offset,
        order_by=NEWEST_PLACED_FIRST if sort == DEFAULT_SORT else _ordering(sort),
    )
    return Found(found.rows, found.has_more, total)


def _after(session: Session, order_id: int) -> ColumnElement[bool]:
    """The orders that follow order ``order_id`` in :data:`NEWEST_PLACED_FIRST`."""
    placed = session.scalars(select(PLACED).where(Order.id == order_id)).first()
    if placed is None:
        raise ValidationError(
            f"order {order_id}, where this page was to start, is no more: start again",
            details={"cursor": ["its order is gone"]},
        )
    return or_(PLACED < placed, and_(PLACED == placed, Order.id < order_id))
