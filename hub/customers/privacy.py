"""A customer's personal data erased on request (GDPR art. 17) or handed over (art. 15 and 20).

Erasure replaces what names, reaches or locates the person: the customer's
email, phone, name, note and tags, its channel references; on its orders the
email, name, phone, channel customer id and addresses (the country stays: the
books need it for tax) and where the address was placed (now its country's
centre); in the orders' audit events, returns' notes and
notification ledgers every occurrence of those values; and the notification
jobs still queued for those orders are dropped (nobody left to write to).
Order numbers, lines, money, payments, shipments and stock movements stay for
the books. Customers merged into the erased one are erased with it (they are
the same person). An erased customer is never matched again
(:mod:`hub.customers.linking`), and its orders take no personal data from
their channel again (:mod:`hub.orders.intake`).
"""

from __future__ import annotations

import re
from typing import Any

from sqlalchemy import delete, select
from sqlalchemy.orm import Session

from hub.core.exceptions import Conflict
from hub.customers import queries
from hub.customers.actions import get_customer, record
from hub.customers.serialize import figures_json, iso, money
from hub.queue.kinds import JobKind
from hub.routing import geocode
from hub.store.models import (
    Case,
    Channel,
    Customer,
    CustomerEvent,
    CustomerRef,
    Job,
    JobStatus,
    NotificationAttempt,
    NotificationSent,
    Order,
    OrderAuditEvent,
    Return,
    utcnow,
)

#: What replaces a personal value where a value must remain (audit payloads, ledgers).
ERASED = "[erased]"
#: Address parts kept after erasure: where the goods went, for tax, names nobody.
KEPT_ADDRESS_PARTS = ("country", "country_code")
#: Keys whose values are personal wherever they appear in an audit payload.
PERSONAL_KEYS = frozenset(
    {
        "email",
        "name",
        "phone",
        "customer_name",
        "customer_phone",
        "recipient",
        "address1",
        "address2",
        "company",
        "city",
        "zip",
        "province",
    }
)
#: Values shorter than this are not searched for in free text (too many false hits).
MIN_VALUE = 3


def erase_customer(session: Session, customer_id: int, *, actor: str) -> dict[str, int]:
    """Erase a customer's personal data (see the module); return how much was touched.

    Erasing an erased customer again does nothing. A customer merged into
    another is erased through that one (:class:`Conflict` names it).
    """
    customer = get_customer(session, customer_id, lock=True)
    if customer.erased_at is not None:
        return {"customers": 0, "orders": 0}
    if customer.merged_into_id is not None:
        raise Conflict(
            f"customer {customer.id} was merged into customer {customer.merged_into_id}: "
            "erase that one (it erases both)",
            details={"merged_into": customer.merged_into_id},
        )
    group = _merged_group(session, customer.id)
    members = list(session.scalars(select(Customer).where(Customer.id.in_(group))))
    orders = list(session.scalars(select(Order).where(Order.customer_id.in_(group))))
    order_ids = [o.id for o in orders]
    pattern = _pattern(_personal_values(members, orders))

    now = utcnow()
    for order in orders:
        order.email = ""
        order.customer_name = ""
        order.customer_phone = ""
        order.customer_external_id = ""
        order.shipping_address = _kept_address(order.shipping_address)
        # Where the address was placed goes with it: a street's coordinates name a home.
        # Placed again from what is kept, the order is at its country's centre.
        geocode.place_order(order)
        order.billing_address = _kept_address(order.billing_address)
        order.notes = scrub(order.notes, pattern)
    touched = {"customers": len(group), "orders": len(orders), "events": 0, "notifications": 0}
    if order_ids:
        for event in session.scalars(
            select(OrderAuditEvent).where(OrderAuditEvent.order_id.in_(order_ids))
        ):
            data, reason = scrub(event.data, pattern), scrub(event.reason, pattern)
            if data != event.data or reason != event.reason:
                event.data, event.reason = data, reason
                touched["events"] += 1
        for ret in session.scalars(select(Return).where(Return.order_id.in_(order_ids))):
            ret.reason, ret.note = scrub(ret.reason, pattern), scrub(ret.note, pattern)
        # Cases: the customer's own words and pictures go whole (hub.purge removes the
        # photos' files once no case records them); the staff's notes are scrubbed.
        for case in session.scalars(select(Case).where(Case.order_id.in_(order_ids))):
            case.description = ERASED if case.description else ""
            case.photos = []
            for note in case.notes:
                note.body = scrub(note.body, pattern)
            touched["cases"] = touched.get("cases", 0) + 1
        ledgers: list[NotificationSent | NotificationAttempt] = [
            *session.scalars(
                select(NotificationSent).where(NotificationSent.order_id.in_(order_ids))
            ),
            *session.scalars(
                select(NotificationAttempt).where(NotificationAttempt.order_id.in_(order_ids))
            ),
        ]
        for row in ledgers:
            if not row.recipient.startswith(("http://", "https://")):  # a webhook's URL is no one's
                row.recipient = ERASED
                touched["notifications"] += 1
            if isinstance(row, NotificationAttempt) and row.error:
                row.error = scrub(row.error, pattern)
        dropped = session.execute(
            delete(Job).where(
                Job.order_id.in_(order_ids),
                Job.kind == JobKind.NOTIFY,
                Job.status.in_((JobStatus.QUEUED, JobStatus.FAILED)),
            )
        )
        touched["queued_emails"] = int(dropped.rowcount or 0)  # type: ignore[attr-defined]
    for trail in session.scalars(select(CustomerEvent).where(CustomerEvent.customer_id.in_(group))):
        trail.data = scrub(trail.data, pattern)
    session.execute(delete(CustomerRef).where(CustomerRef.customer_id.in_(group)))
    for member in members:
        member.email = member.phone = member.name = member.note = ""
        member.tags = []
        member.erased_at = now
    session.flush()
    record(session, customer.id, "customer.erased", actor=actor, data=dict(touched))
    return touched


def scrub(value: Any, pattern: re.Pattern[str] | None) -> Any:
    """``value`` (text, or JSON of dicts and lists) with every personal value replaced by ``[erased]``."""
    if isinstance(value, str):
        return pattern.sub(ERASED, value) if pattern is not None else value
    if isinstance(value, list):
        return [scrub(v, pattern) for v in value]
    if isinstance(value, dict):
        return {
            k: (ERASED if k in PERSONAL_KEYS and isinstance(v, str) and v else scrub(v, pattern))
            for k, v in value.items()
        }
    return value


def _merged_group(session: Session, customer_id: int) -> list[int]:
    """The customer and every customer merged into it, however deep."""
    group, frontier = [customer_id], [customer_id]
    while frontier:
        frontier = list(
            session.scalars(select(Customer.id).where(Customer.merged_into_id.in_(frontier)))
        )
        group.extend(i for i in frontier if i not in group)
    return group


def _personal_values(members: list[Customer], orders: list[Order]) -> set[str]:
    """Every value that names, reaches or locates the person, to find it in free text."""
    values: set[str] = set()
    for member in members:
        values.update((member.email, member.phone, member.name))
    for order in orders:
        values.update(
            (order.email, order.customer_name, order.customer_phone, order.customer_external_id)
        )
        for address in (order.shipping_address, order.billing_address):
            for key, part in (address or {}).items():
                if key in PERSONAL_KEYS:
                    values.add(str(part or ""))
    return {v.strip() for v in values if v and len(v.strip()) >= MIN_VALUE}


def _pattern(values: set[str]) -> re.Pattern[str] | None:
    if not values:
        return None
    ordered = sorted(values, key=len, reverse=True)  # the longest first: "Ana Lima" before "Ana"
    return re.compile("|".join(re.escape(v) for v in ordered), re.IGNORECASE)


def _kept_address(address: dict[str, Any] | None) -> dict[str, Any] | None:
    if not address:
        return address
    return {k: address[k] for k in KEPT_ADDRESS_PARTS if address.get(k)}


# --- export (art. 15 and 20) ------------------------------------------------------------------------


def export_customer(session: Session, customer_id: int, *, actor: str) -> dict[str, Any]:
    """Everything the hub keeps about a customer, as JSON-ready data; the export is audited.

    A customer merged into another is exported with it: ask for the one it was merged into.
    """
    customer = get_customer(session, customer_id)
    figures = queries.figures(session, customer.id)
    channels = dict(session.execute(select(Channel.id, Channel.slug)).all())
    refs = session.scalars(
        select(CustomerRef).where(CustomerRef.customer_id == customer.id).order_by(CustomerRef.id)
    )
    orders = session.scalars(
        select(Order).where(Order.customer_id == customer.id).order_by(Order.placed_at, Order.id)
    )
    merged = list(
        session.scalars(
            select(Customer).where(
                Customer.merged_into_id == customer.id, Customer.erased_at.is_(None)
            )
        )
    )
    exported_orders = [_order_export(o, channels) for o in orders]
    out = {
        "exported_at": iso(utcnow()),
        "customer": {
            "id": customer.id,
            "email": customer.email,
            "phone": customer.phone,
            "name": customer.name,
            "tags": list(customer.tags or []),
            "note": customer.note,
            "created_at": iso(customer.created_at),
            "erased_at": iso(customer.erased_at),
            "merged_into_id": customer.merged_into_id,
        },
        "merged_customers": [
            {"id": m.id, "email": m.email, "phone": m.phone, "name": m.name} for m in merged
        ],
        "channel_references": [
            {"channel": channels.get(r.channel_id), "external_id": r.external_id} for r in refs
        ],
        "figures": {
            "order_count": figures.order_count,
            "first_order_at": iso(figures.first_order_at),
            "last_order_at": iso(figures.last_order_at),
            "spent": figures_json(figures)["spent"],
        },
        "orders": exported_orders,
        # What the customer told about their orders (the satisfaction check's "no").
        "cases": [
            {
                "id": c.id,
                "order_id": c.order_id,
                "status": c.status,
                "reason": c.reason,
                "description": c.description,
                "photos": [p.get("name", "") for p in c.photos or []],
                "created_at": iso(c.created_at),
            }
            for c in session.scalars(
                select(Case)
                .join(Order, Order.id == Case.order_id)
                .where(Order.customer_id == customer.id)
                .order_by(Case.id)
            )
        ],
    }
    record(
        session,
        customer.id,
        "customer.exported",
        actor=actor,
        data={"orders": len(exported_orders)},
    )
    return out


def _order_export(order: Order, channels: dict[int, str]) -> dict[str, Any]:
    cur = order.currency
    return {
        "number": order.number,
        "channel": channels.get(order.channel_id),
        "placed_at": iso(order.placed_at),
        "status": order.status,
        "email": order.email,
        "name": order.customer_name,
        "phone": order.customer_phone,
        "shipping_address": order.shipping_address,
        "billing_address": order.billing_address,
        "currency": cur,
        "total": money(order.total, cur),
        "lines": [
            {
                "sku": line.sku,
                "name": line.name,
                "quantity": line.quantity,
                "unit_price": money(line.unit_price, cur),
            }
            for line in order.lines
        ],
        "payments": [
            {
                "status": p.status,
                "amount": money(p.amount, cur),
                "refunded": money(p.refunded_amount, cur),
            }
            for p in order.payments
        ],
    }
