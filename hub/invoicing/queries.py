"""Invoices as people list them, and receivables by age: one read side for the API and the admin."""

from __future__ import annotations

from dataclasses import dataclass, field
from datetime import UTC, date, datetime, time, timedelta

from sqlalchemy import Select, select
from sqlalchemy.orm import Session

from hub.core.invoicing import AGE_BUCKETS, InvoiceKind, InvoiceStatus, age_bucket, is_overdue
from hub.store.models import Invoice, Order, utcnow
from hub.store.queries import Found, fetch

#: The statuses of an invoice that still waits for money.
UNPAID = (InvoiceStatus.OPEN, InvoiceStatus.PARTIALLY_PAID)


@dataclass(frozen=True)
class InvoiceFilters:
    """What a list of invoices can be narrowed by; the filters given combine with AND.

    ``issued_from`` and ``issued_to`` are whole days (UTC), both included;
    ``overdue`` keeps unpaid invoices past their due date.
    """

    status: str | None = None
    kind: str | None = None
    customer_id: int | None = None
    order_id: int | None = None
    issued_from: date | None = None
    issued_to: date | None = None
    overdue: bool = False
    q: str | None = None


def _day_start(day: date) -> datetime:
    return datetime.combine(day, time.min, tzinfo=UTC)


def invoices_statement(filters: InvoiceFilters, *, now: datetime | None = None) -> Select[Invoice]:
    """The invoices the filters select, unordered."""
    statement = select(Invoice)
    if filters.status:
        statement = statement.where(Invoice.status == filters.status)
    if filters.kind:
        statement = statement.where(Invoice.kind == filters.kind)
    if filters.customer_id is not None:
        statement = statement.where(Invoice.customer_id == filters.customer_id)
    if filters.order_id is not None:
        statement = statement.where(Invoice.order_id == filters.order_id)
    if filters.issued_from is not None:
        statement = statement.where(Invoice.issued_at >= _day_start(filters.issued_from))
    if filters.issued_to is not None:
        statement = statement.where(
            Invoice.issued_at < _day_start(filters.issued_to + timedelta(days=1))
        )
    if filters.overdue:
        # Overdue after the due day: due before today began (UTC), as is_overdue says.
        today = _day_start((now or utcnow()).date())
        statement = statement.where(Invoice.status.in_(UNPAID), Invoice.due_at < today)
    if filters.q:
        text = filters.q.strip()
        orders = select(Order.id).where(Order.number == text)
        statement = statement.where((Invoice.number == text.upper()) | Invoice.order_id.in_(orders))
    return statement


def search_invoices(
    session: Session,
    filters: InvoiceFilters = InvoiceFilters(),
    *,
    limit: int = 50,
    before_id: int | None = None,
    offset: int = 0,
    with_total: bool = False,
) -> Found[Invoice]:
    """The invoices the filters select, newest first (paging as :func:`hub.store.queries.fetch`)."""
    return fetch(
        session,
        invoices_statement(filters),
        Invoice.id,
        limit=limit,
        before_id=before_id,
        offset=offset,
        with_total=with_total,
    )


def order_labels(session: Session, order_ids: set[int]) -> dict[int, str]:
    """The numbers of the orders of a page of invoices."""
    if not order_ids:
        return {}
    rows = session.execute(select(Order.id, Order.number).where(Order.id.in_(order_ids)))
    return {order_id: number or f"#{order_id}" for order_id, number in rows}


# --- receivables ------------------------------------------------------------------------------


@dataclass
class Receivables:
    """What one currency's unpaid invoices owe: in all, overdue, and by age past issue."""

    currency: str
    invoices: int = 0
    open: int = 0
    overdue: int = 0
    overdue_invoices: int = 0
    buckets: dict[str, int] = field(default_factory=lambda: {b[0]: 0 for b in AGE_BUCKETS})


def receivables(session: Session, *, now: datetime | None = None) -> list[Receivables]:
    """Unpaid invoices' amounts due per currency, overdue, and by days since issue.

    One query reads the unpaid invoices' amounts and dates (not their
    documents); the sums are made here, as the buckets' day arithmetic differs
    between SQLite and PostgreSQL. Currencies sorted by code.
    """
    now = now or utcnow()
    rows = session.execute(
        select(
            Invoice.currency,
            Invoice.total - Invoice.amount_paid - Invoice.amount_credited,
            Invoice.issued_at,
            Invoice.due_at,
        ).where(Invoice.kind == InvoiceKind.INVOICE, Invoice.status.in_(UNPAID))
    )
    out: dict[str, Receivables] = {}
    for currency, due, issued_at, due_at in rows:
        if due <= 0:
            continue
        entry = out.setdefault(currency, Receivables(currency))
        entry.invoices += 1
        entry.open += due
        entry.buckets[age_bucket((now - issued_at).days)] += due
        if is_overdue(InvoiceStatus.OPEN, due_at, now):
            entry.overdue += due
            entry.overdue_invoices += 1
    return [out[c] for c in sorted(out)]
