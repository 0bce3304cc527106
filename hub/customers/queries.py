"""Customers as people read them: the list, and one customer's figures from its orders.

The one read side of customers (API, admin UI, CLI). Figures are computed from
the orders each time, never kept as counters that drift. What counts as spent:
every order of the customer's history counts in ``order_count``; "spent"
leaves out cancelled and fully returned orders, orders whose money was
refunded, voided or failed, and test orders, and takes partial refunds off
(``docs/customers.md``).
"""

from __future__ import annotations

from collections.abc import Iterable
from dataclasses import dataclass, field
from datetime import datetime
from typing import Any

from sqlalchemy import ColumnElement, Select, and_, func, not_, or_, select
from sqlalchemy.orm import Session

from hub.core.lifecycle import CANCELLED, RETURNED
from hub.core.status import FinancialStatus
from hub.store.models import Channel, Customer, CustomerEvent, CustomerMerge, Order, Payment
from hub.store.queries import Found, fetch

#: The most of a customer's newest orders whose addresses are read (plenty for a person).
ADDRESS_ORDERS = 500


@dataclass(frozen=True)
class CustomerFilters:
    """What the customers list can be narrowed by."""

    #: Within the email, the name or the phone (any case; ``%`` and ``_`` are plain).
    q: str | None = None
    #: Customers merged into another are left out unless asked for.
    include_merged: bool = False


def matches(q: str) -> ColumnElement[bool]:
    """``q`` within the email, the name or the phone (digits of ``q`` within the phone)."""
    text = q.strip().lower()
    digits = "".join(ch for ch in text if ch.isdigit())
    conditions = [
        func.lower(Customer.email).contains(text, autoescape=True),
        func.lower(Customer.name).contains(text, autoescape=True),
        Customer.phone.contains(text, autoescape=True),
    ]
    if len(digits) >= 3:
        conditions.append(Customer.phone.contains(digits, autoescape=True))
    return or_(*conditions)


def customers_statement(filters: CustomerFilters = CustomerFilters()) -> Select[Customer]:
    statement = select(Customer)
    if not filters.include_merged:
        statement = statement.where(Customer.merged_into_id.is_(None))
    if filters.q and filters.q.strip():
        statement = statement.where(matches(filters.q))
    return statement


def search_customers(
    session: Session,
    filters: CustomerFilters = CustomerFilters(),
    *,
    limit: int = 50,
    before_id: int | None = None,
    offset: int = 0,
    with_total: bool = False,
) -> Found[Customer]:
    """The customers the filters select, newest first (paging as :func:`hub.store.queries.fetch`)."""
    return fetch(
        session,
        customers_statement(filters),
        Customer.id,
        limit=limit,
        before_id=before_id,
        offset=offset,
        with_total=with_total,
    )


# --- figures -------------------------------------------------------------------------------------


@dataclass(frozen=True)
class Spent:
    """Money spent in one currency: minor units, the orders it came from, their average."""

    currency: str
    total: int
    orders: int

    @property
    def average(self) -> int:
        """Average order value in minor units, rounded half up."""
        return (2 * self.total + self.orders) // (2 * self.orders) if self.orders else 0


@dataclass(frozen=True)
class ChannelUse:
    slug: str
    name: str
    orders: int


@dataclass(frozen=True)
class GatewayUse:
    """A payment channel the customer's payments went through (``connector``: stripe ...)."""

    connector: str
    channel: str
    payments: int


@dataclass(frozen=True)
class AddressUse:
    address: dict[str, Any]
    kinds: list[str]  # shipping, billing
    orders: int
    last_used_at: datetime | None


@dataclass(frozen=True)
class CustomerFigures:
    order_count: int
    first_order_at: datetime | None
    last_order_at: datetime | None
    spent: list[Spent] = field(default_factory=list)
    channels: list[ChannelUse] = field(default_factory=list)
    gateways: list[GatewayUse] = field(default_factory=list)
    addresses: list[AddressUse] = field(default_factory=list)


def spends(order: Any = Order) -> ColumnElement[bool]:
    """Whether an order's money counts as spent (see the module's rule)."""
    return and_(
        order.status.not_in((CANCELLED, RETURNED)),
        order.financial_status.not_in(
            (FinancialStatus.REFUNDED, FinancialStatus.VOIDED, FinancialStatus.FAILED)
        ),
        not_(order.is_test),
    )


def figures(session: Session, customer_id: int) -> CustomerFigures:
    """One customer's figures, each an SQL aggregate over its orders."""
    mine = Order.customer_id == customer_id
    count, first, last = session.execute(
        select(func.count(Order.id), func.min(Order.placed_at), func.max(Order.placed_at)).where(
            mine
        )
    ).one()
    totals = dict(
        (cur, (total, n))
        for cur, total, n in session.execute(
            select(Order.currency, func.sum(Order.total), func.count(Order.id))
            .where(mine, spends())
            .group_by(Order.currency)
        )
    )
    refunded = dict(
        session.execute(
            select(Order.currency, func.sum(Payment.refunded_amount))
            .join(Payment, Payment.order_id == Order.id)
            .where(mine, spends())
            .group_by(Order.currency)
        ).all()
    )
    spent = [
        Spent(cur, int(total or 0) - int(refunded.get(cur) or 0), int(n))
        for cur, (total, n) in sorted(totals.items())
    ]
    channels = [
        ChannelUse(slug, name, int(n))
        for slug, name, n in session.execute(
            select(Channel.slug, Channel.name, func.count(Order.id))
            .join(Order, Order.channel_id == Channel.id)
            .where(mine)
            .group_by(Channel.slug, Channel.name)
            .order_by(func.count(Order.id).desc(), Channel.slug)
        )
    ]
    gateways = [
        GatewayUse(connector, name, int(n))
        for connector, name, n in session.execute(
            select(Channel.connector, Channel.name, func.count(Payment.id))
            .join(Payment, Payment.channel_id == Channel.id)
            .join(Order, Order.id == Payment.order_id)
            .where(mine)
            .group_by(Channel.connector, Channel.name)
            .order_by(func.count(Payment.id).desc(), Channel.name)
        )
    ]
    return CustomerFigures(
        order_count=int(count),
        first_order_at=first,
        last_order_at=last,
        spent=spent,
        channels=channels,
        gateways=gateways,
        addresses=addresses_used(session, customer_id),
    )


def addresses_used(session: Session, customer_id: int) -> list[AddressUse]:
    """The distinct addresses of the customer's newest orders, most used first."""
    seen: dict[tuple, dict[str, Any]] = {}
    rows = session.execute(
        select(Order.shipping_address, Order.billing_address, Order.placed_at)
        .where(Order.customer_id == customer_id)
        .order_by(Order.placed_at.desc(), Order.id.desc())
        .limit(ADDRESS_ORDERS)
    )
    for shipping, billing, placed in rows:
        in_this_order = set()
        for kind, address in (("shipping", shipping), ("billing", billing)):
            if not address or not any(str(v).strip() for v in address.values()):
                continue
            key = _address_key(address)
            entry = seen.setdefault(
                key, {"address": address, "kinds": [], "orders": 0, "last": placed}
            )
            if kind not in entry["kinds"]:
                entry["kinds"].append(kind)
            if key not in in_this_order:
                in_this_order.add(key)
                entry["orders"] += 1
    found = [
        AddressUse(e["address"], sorted(e["kinds"], reverse=True), e["orders"], e["last"])
        for e in seen.values()
    ]
    return sorted(found, key=lambda a: -a.orders)


def _address_key(address: dict[str, Any]) -> tuple:
    parts = ("name", "company", "address1", "address2", "city", "zip", "country_code")
    return tuple(" ".join(str(address.get(p) or "").lower().split()) for p in parts)


def order_counts(
    session: Session, customer_ids: Iterable[int]
) -> dict[int, tuple[int, datetime | None]]:
    """(orders, last placed) of several customers in one query (a page of the list)."""
    ids = list(customer_ids)
    if not ids:
        return {}
    rows = session.execute(
        select(Order.customer_id, func.count(Order.id), func.max(Order.placed_at))
        .where(Order.customer_id.in_(ids))
        .group_by(Order.customer_id)
    )
    return {cid: (int(n), last) for cid, n, last in rows if cid is not None}


def merges(session: Session, customer_id: int) -> list[CustomerMerge]:
    """Merges into or out of this customer, newest first (the ones a split can undo among them)."""
    return list(
        session.scalars(
            select(CustomerMerge)
            .where(or_(CustomerMerge.into_id == customer_id, CustomerMerge.from_id == customer_id))
            .order_by(CustomerMerge.id.desc())
        )
    )


def events(session: Session, customer_id: int, *, limit: int = 100) -> list[CustomerEvent]:
    """The customer's audit trail, newest first."""
    return list(
        session.scalars(
            select(CustomerEvent)
            .where(CustomerEvent.customer_id == customer_id)
            .order_by(CustomerEvent.id.desc())
            .limit(limit)
        )
    )
