"""Invoices as the outside world sees them: JSON-ready dicts with decimal strings."""

from __future__ import annotations

from datetime import datetime
from typing import Any

from hub.core.invoicing import is_overdue
from hub.core.money import Money
from hub.invoicing.actions import amount_due
from hub.invoicing.queries import Receivables
from hub.store.models import Invoice, utcnow


def _iso(value: datetime | None) -> str | None:
    return value.isoformat() if value is not None else None


def invoice_json(
    invoice: Invoice,
    *,
    order_number: str | None = None,
    detail: bool = False,
    now: datetime | None = None,
) -> dict[str, Any]:
    """An invoice or credit note: its numbers and money now; with ``detail``, its document."""
    cur = invoice.currency
    out: dict[str, Any] = {
        "id": invoice.id,
        "number": invoice.number,
        "kind": invoice.kind,
        "status": invoice.status,
        "overdue": is_overdue(invoice.status, invoice.due_at, now or utcnow()),
        "issued_at": _iso(invoice.issued_at),
        "due_at": _iso(invoice.due_at),
        "payment_terms_days": invoice.payment_terms_days,
        "currency": cur,
        "total": str(Money(invoice.total, cur)),
        "amount_paid": str(Money(invoice.amount_paid, cur)),
        "amount_credited": str(Money(invoice.amount_credited, cur)),
        "amount_due": str(Money(amount_due(invoice), cur)),
        "order_id": invoice.order_id,
        "order_number": order_number,
        "customer_id": invoice.customer_id,
        "credit_of_id": invoice.credit_of_id,
    }
    if detail:
        out["document"] = invoice.document
    return out


def receivables_json(entry: Receivables) -> dict[str, Any]:
    """One currency's receivables, money as decimal strings."""
    cur = entry.currency

    def m(amount: int) -> str:
        return str(Money(amount, cur))

    return {
        "currency": cur,
        "invoices": entry.invoices,
        "open": m(entry.open),
        "overdue": m(entry.overdue),
        "overdue_invoices": entry.overdue_invoices,
        "buckets": {label: m(amount) for label, amount in entry.buckets.items()},
    }
