"""Customers as the API and the export show them: JSON-ready dicts, money as decimal strings."""

from __future__ import annotations

from datetime import datetime
from typing import Any

from hub.core.money import Money
from hub.customers.queries import CustomerFigures
from hub.store.models import Customer, CustomerMerge


def iso(value: datetime | None) -> str | None:
    return value.isoformat() if value is not None else None


def money(amount: int, currency: str) -> str:
    return str(Money(amount, currency))


def customer_summary(
    customer: Customer, counts: tuple[int, datetime | None] | None = None
) -> dict[str, Any]:
    """One row of the list: who, tags, how many orders and the last one's date."""
    orders, last = counts or (0, None)
    return {
        "id": customer.id,
        "email": customer.email,
        "name": customer.name,
        "phone": customer.phone,
        "tags": list(customer.tags or []),
        "order_count": orders,
        "last_order_at": iso(last),
        "merged_into_id": customer.merged_into_id,
        "erased": customer.erased_at is not None,
        "created_at": iso(customer.created_at),
    }


def figures_json(figures: CustomerFigures) -> dict[str, Any]:
    return {
        "order_count": figures.order_count,
        "first_order_at": iso(figures.first_order_at),
        "last_order_at": iso(figures.last_order_at),
        "spent": [
            {
                "currency": s.currency,
                "total": money(s.total, s.currency),
                "orders": s.orders,
                "average_order_value": money(s.average, s.currency),
            }
            for s in figures.spent
        ],
        "channels": [
            {"slug": c.slug, "name": c.name, "orders": c.orders} for c in figures.channels
        ],
        "payment_gateways": [
            {"connector": g.connector, "channel": g.channel, "payments": g.payments}
            for g in figures.gateways
        ],
        "addresses": [
            {
                "address": a.address,
                "kinds": a.kinds,
                "orders": a.orders,
                "last_used_at": iso(a.last_used_at),
            }
            for a in figures.addresses
        ],
    }


def customer_detail(customer: Customer, figures: CustomerFigures) -> dict[str, Any]:
    """The customer with its note and every figure (the caller adds recent orders and merges)."""
    last = (figures.order_count, figures.last_order_at)
    return {
        **customer_summary(customer, last),
        "note": customer.note,
        "erased_at": iso(customer.erased_at),
        "figures": figures_json(figures),
    }


def merge_json(row: CustomerMerge) -> dict[str, Any]:
    return {
        "id": row.id,
        "into_id": row.into_id,
        "from_id": row.from_id,
        "order_ids": list(row.order_ids or []),
        "orders": len(row.order_ids or []),
        "references": len(row.ref_ids or []),
        "actor": row.actor,
        "created_at": iso(row.created_at),
        "undone_at": iso(row.undone_at),
        "undone_by": row.undone_by or None,
    }
