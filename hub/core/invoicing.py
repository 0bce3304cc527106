"""Invoices and credit notes, the rules alone: numbers, statuses, tax per rate, terms, ageing.

Plain Python: :mod:`hub.invoicing` keeps the documents; what an invoice is
numbered, which status its amounts give it, how its tax splits by rate and
which age bucket an unpaid one falls in are decided here and tested alone.
"""

from __future__ import annotations

from collections.abc import Iterable, Sequence
from dataclasses import dataclass
from datetime import date, datetime, timedelta
from decimal import ROUND_HALF_UP, Decimal
from enum import StrEnum

from hub.core.money import Money


class InvoiceKind(StrEnum):
    """What a document is: an invoice, or a credit note correcting one."""

    INVOICE = "invoice"
    CREDIT_NOTE = "credit_note"


class InvoiceStatus(StrEnum):
    """Where an invoice's money stands; a credit note is ``paid`` (nothing is owed on it).

    ``overdue`` is not a status: an ``open`` or ``partially_paid`` invoice past its
    due date is overdue (:func:`is_overdue`), and stays ``open`` for the books.
    """

    OPEN = "open"
    PARTIALLY_PAID = "partially_paid"
    PAID = "paid"
    VOID = "void"


class IssueOn(StrEnum):
    """When a sales channel's orders are invoiced (its invoicing policy)."""

    CAPTURE = "capture"  # a cash sale: the invoice is born paid
    SHIPMENT = "shipment"  # accounts receivable: open, with payment terms
    NEVER = "never"


#: The order events an invoice and a credit note leave on the order's timeline (``data``:
#: ``invoice_id``, ``number``, ``total``; a credit note's also ``credit_of``). Notifications
#: and plugins hear of a document through them, like every order event.
INVOICE_ISSUED = "order.invoice_issued"
CREDIT_NOTE_ISSUED = "order.credit_note_issued"

#: The number series of each kind: ``INV-2026-000001``, ``CN-2026-000001``.
SERIES: dict[InvoiceKind, str] = {InvoiceKind.INVOICE: "INV", InvoiceKind.CREDIT_NOTE: "CN"}

#: Unpaid amounts by days past issue: (label, first day, last day or None).
AGE_BUCKETS: tuple[tuple[str, int, int | None], ...] = (
    ("0-30", 0, 30),
    ("31-60", 31, 60),
    ("61-90", 61, 90),
    ("90+", 91, None),
)


def invoice_number(series: str, year: int, sequence: int) -> str:
    """``INV-2026-000001``: series, year, and the sequence in six digits (more when it grows)."""
    if sequence < 1:
        raise ValueError(f"an invoice sequence starts at 1, not {sequence}")
    return f"{series}-{year}-{sequence:06d}"


def status_for(total: int, paid: int) -> InvoiceStatus:
    """The status an invoice of ``total`` with ``paid`` received has (never ``void``)."""
    if paid >= total:
        return InvoiceStatus.PAID
    if paid > 0:
        return InvoiceStatus.PARTIALLY_PAID
    return InvoiceStatus.OPEN


def is_overdue(status: str, due_at: datetime | None, now: datetime) -> bool:
    """Whether an invoice is unpaid after its due day (UTC): due on the 3rd, overdue on the 4th."""
    unpaid = status in (InvoiceStatus.OPEN, InvoiceStatus.PARTIALLY_PAID)
    return unpaid and due_at is not None and now.date() > due_at.date()


def due_date(issued_at: datetime, terms_days: int) -> datetime:
    """When an invoice issued at ``issued_at`` on net ``terms_days`` falls due."""
    return issued_at + timedelta(days=terms_days)


def payment_terms(*, paid: bool, terms_days: int, due: date | None) -> str:
    """The terms as the document prints them: ``Paid``, ``Due on receipt``, ``Net 30 (due …)``."""
    if paid:
        return "Paid"
    if terms_days <= 0 or due is None:
        return "Due on receipt"
    return f"Net {terms_days} (due {due.isoformat()})"


def terms_for(tags: Iterable[str], default_days: int, by_tag: dict[str, int]) -> int:
    """The payment terms in days: the longest a tag earns (``{"b2b": 30}``), else the default."""
    wanted = {str(t).strip().lower() for t in tags}
    earned = [int(days) for tag, days in by_tag.items() if tag.strip().lower() in wanted]
    return max(earned) if earned else default_days


def age_bucket(days: int) -> str:
    """The bucket of an amount ``days`` past its date: ``0-30``, ``31-60``, ``61-90`` or ``90+``."""
    for label, first, last in AGE_BUCKETS:
        if days >= first and (last is None or days <= last):
            return label
    return AGE_BUCKETS[0][0]  # a date in the future counts as current


# --- tax per rate ------------------------------------------------------------------------


@dataclass(frozen=True, slots=True)
class Taxed:
    """One taxed amount of a document: its net base (tax excluded) and its tax, minor units."""

    base: int
    tax: int


@dataclass(frozen=True, slots=True)
class TaxGroup:
    """The tax of one rate: the rate as printed (``19%``; ``""`` when none can be told)."""

    rate: str
    base: int
    amount: int


def net_base(gross: int, tax: int, *, taxes_included: bool) -> int:
    """The net amount of a line whose price is ``gross`` (after discounts) and tax ``tax``.

    In a tax-inclusive shop the price contains the tax, so the base is the rest;
    otherwise the price is the base.
    """
    return gross - tax if taxes_included else gross


def tax_rate(base: int, tax: int) -> Decimal | None:
    """The rate ``tax`` is of ``base``, in percent to 0.01 (None when the base is nothing).

    Orders keep each line's tax amount, not its rate: the rate is read back
    from the amounts, rounded half up to 0.01 %, which tells 19 % from 7 % and
    7.5 % even on a line of a few cents' tax.
    """
    if base <= 0:
        return None
    return (Decimal(tax) * 100 / Decimal(base)).quantize(Decimal("0.01"), rounding=ROUND_HALF_UP)


def format_rate(rate: Decimal | None) -> str:
    """``19%``, ``7.5%``, ``8.25%``; ``""`` when unknown."""
    if rate is None:
        return ""
    text = format(rate.normalize(), "f")
    return f"{text}%"


def taxes_by_rate(items: Sequence[Taxed]) -> list[TaxGroup]:
    """The document's tax per rate: items grouped by their rate, highest rate first.

    Items without tax and without a base are left out; an untaxed base shows
    as ``0%``. Sums are exact: the groups' amounts add up to the items' tax.
    """
    groups: dict[str, list[int]] = {}
    order: list[tuple[Decimal, str]] = []
    for item in items:
        if item.base == 0 and item.tax == 0:
            continue
        rate = tax_rate(item.base, item.tax)
        label = format_rate(rate)
        if label not in groups:
            groups[label] = [0, 0]
            order.append((rate if rate is not None else Decimal(-1), label))
        groups[label][0] += item.base
        groups[label][1] += item.tax
    return [
        TaxGroup(label, groups[label][0], groups[label][1])
        for _, label in sorted(order, key=lambda x: x[0], reverse=True)
    ]


def credited_taxes(
    groups: Sequence[TaxGroup], credited: int, invoice_total: int, currency: str
) -> list[TaxGroup]:
    """The part of an invoice's tax groups a credit of ``credited`` (of ``invoice_total``) takes.

    Split in proportion to the invoice: each rate's base and tax shrink by the
    same fraction, the shares exact to the minor unit (largest remainder).
    """
    if invoice_total <= 0 or not groups:
        return []
    fraction_tax = _share(sum(g.amount for g in groups), credited, invoice_total)
    fraction_base = _share(sum(g.base for g in groups), credited, invoice_total)
    taxes = _spread(fraction_tax, [g.amount for g in groups], currency)
    bases = _spread(fraction_base, [g.base for g in groups], currency)
    return [TaxGroup(g.rate, base, tax) for g, base, tax in zip(groups, bases, taxes, strict=True)]


def _share(amount: int, part: int, whole: int) -> int:
    return (amount * part + whole // 2) // whole


def _spread(amount: int, weights: list[int], currency: str) -> list[int]:
    if not any(w > 0 for w in weights):
        return [0] * len(weights)
    shares = Money(amount, currency).allocate([max(0, w) for w in weights])
    return [share.amount for share in shares]
