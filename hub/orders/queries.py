"""The orders list, read the same way by the API, the admin UI and the CLI.

One set of filters (:class:`OrderFilters`), one meaning of the search ``q``
(:func:`matches`), one function that reads a slice (:func:`search_orders`);
the surfaces only parse their input into the filters and page as they page.

``q`` is what a merchant types into a search box: case-insensitive, anywhere
in the order number (a leading ``#`` is ignored), the channel's order id, the
customer's email or the customer's name. An exact number, id or email is
found, and so is a part of one (``2002``, ``ann@example``, ``smith``).
"""

from __future__ import annotations

from dataclasses import dataclass
from datetime import datetime

from sqlalchemy import ColumnElement, Select, and_, func, or_, select
from sqlalchemy.orm import Session

from hub.core.exceptions import ValidationError
from hub.store.models import Order
from hub.store.queries import Found, channel_id_for_slug, fetch

#: When an order was placed: the channel's time, else when the hub first saw it.
PLACED = func.coalesce(Order.placed_at, Order.created_at)
#: The one order of every list of orders: newest placed first, the higher id first on a tie,
#: so that a page ends where the next begins.
NEWEST_PLACED_FIRST = (PLACED.desc(), Order.id.desc())


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
            )
        )


def matches(q: str) -> ColumnElement[bool]:
    """The search condition: ``q`` (any case) within the number, the channel's order id,
    the email or the customer's name. ``%`` and ``_`` in ``q`` are plain characters."""
    text = q.strip()
    bare = text.lstrip("#").strip() or text
    return or_(
        Order.number.icontains(bare, autoescape=True),
        Order.external_id.icontains(text, autoescape=True),
        Order.email.icontains(text, autoescape=True),
        Order.customer_name.icontains(text, autoescape=True),
    )


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
    return statement


def search_orders(
    session: Session,
    filters: OrderFilters = OrderFilters(),
    *,
    limit: int = 50,
    before_id: int | None = None,
    offset: int = 0,
    with_total: bool = False,
) -> Found[Order]:
    """The orders the filters select, newest placed first (:data:`NEWEST_PLACED_FIRST`).

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
        order_by=NEWEST_PLACED_FIRST,
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
