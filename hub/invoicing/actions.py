"""Issue an invoice, credit it, record what was paid on it.

Each action takes the order's row lock first (:func:`hub.orders.records.get_order`),
so the actions on one order run one after the other, and each document carries
a unique ``source_key`` naming what issued it: the same trigger twice (a job
run again, two workers) issues once. Numbers are taken in the same transaction
(:mod:`hub.invoicing.numbering`). An issued document is never edited: only an
invoice's ``status``, ``amount_paid`` and ``amount_credited`` move.

Credit notes, exactly once each (``source_key``), against the order's invoice:

- a return refunded through the hub: its lines, for what it refunded (``return:<id>``);
- a refund the sales channel made itself: its amount (``channel-refund:<order>:<refund id>``);
- a refund made at the payment gateway that the hub did not ask for (it asks for
  returns' and cancellations' refunds only, which have their own credit notes):
  its amount (``refund:<refund row id>``);
- a cancelled order: whatever of the invoice is not credited yet
  (``cancel:<invoice id>``); an invoice nobody paid is then ``void``.

Only facts after the invoice was issued are credited (what happened before is
in the invoice already), and never more than the invoice's total.
"""

from __future__ import annotations

from collections.abc import Sequence
from dataclasses import dataclass
from datetime import datetime
from typing import Any

from sqlalchemy import select
from sqlalchemy.orm import Session

from hub.core import events as ev
from hub.core import lifecycle
from hub.core.exceptions import Conflict
from hub.core.invoicing import (
    CREDIT_NOTE_ISSUED,
    INVOICE_ISSUED,
    SERIES,
    InvoiceKind,
    InvoiceStatus,
    IssueOn,
    Taxed,
    TaxGroup,
    credited_taxes,
    due_date,
    payment_terms,
    status_for,
    taxes_by_rate,
)
from hub.core.money import Money
from hub.invoicing import document as doc
from hub.invoicing.numbering import take_number
from hub.invoicing.policy import policy_for, terms_days
from hub.orders.records import get_order, record
from hub.queue.kinds import JobKind
from hub.store.config import Settings
from hub.store.models import (
    Customer,
    Invoice,
    Job,
    Order,
    Payment,
    Refund,
    Return,
    utcnow,
)

#: Why an invoice is issued: a policy's trigger, or a person.
MANUAL = "manual"

#: Statuses of an order that is not to be invoiced on its own (still being checked, or cancelled).
_NOT_YET = (lifecycle.PENDING, lifecycle.ON_HOLD, lifecycle.CANCELLED)


# --- reading ------------------------------------------------------------------------------


def order_invoices(session: Session, order_id: int) -> list[Invoice]:
    """Every invoice and credit note of an order, oldest first."""
    return list(
        session.scalars(select(Invoice).where(Invoice.order_id == order_id).order_by(Invoice.id))
    )


def covering(invoices: Sequence[Invoice]) -> list[Invoice]:
    """The invoices that still bill the order: not void, not wholly credited."""
    return [
        i
        for i in invoices
        if i.kind == InvoiceKind.INVOICE
        and i.status != InvoiceStatus.VOID
        and i.amount_credited < i.total
    ]


def amount_due(invoice: Invoice) -> int:
    """What is still owed on an invoice: its total less what was paid and credited."""
    if invoice.kind != InvoiceKind.INVOICE or invoice.status == InvoiceStatus.VOID:
        return 0
    return max(0, invoice.total - invoice.amount_paid - invoice.amount_credited)


def paid_toward(order: Order, total: int, issued_at: datetime) -> int:
    """What the order's payments paid of an invoice of ``total`` issued at ``issued_at``.

    Captured money less the refunds made before the invoice (refunds after it
    are credit notes), up to the total. An order paid on its sales channel,
    of which the hub holds no payment, counts as paid when the channel says so.
    """
    if not order.payments:
        channel_paid = order.channel_financial_status in ("paid", "partially_refunded")
        return total if channel_paid else 0
    captured = sum(p.captured_amount for p in order.payments)
    refunded_before = sum(
        r.amount
        for p in order.payments
        for r in p.refunds
        if r.status == "succeeded" and r.created_at <= issued_at
    )
    return max(0, min(total, captured - refunded_before))


def ready_to_invoice(order: Order, trigger: str) -> bool:
    """Whether a policy's trigger finds the order ready: paid (capture) or shipped (shipment)."""
    if order.status in _NOT_YET or order.total <= 0:
        return False
    if trigger == IssueOn.CAPTURE:
        return paid_toward(order, order.total, utcnow()) >= order.total
    if trigger == IssueOn.SHIPMENT:
        return order.fulfillment_status == "fulfilled"
    return False


# --- issuing --------------------------------------------------------------------------------


def issue_invoice(
    session: Session,
    order_id: int,
    settings: Settings,
    *,
    actor: str,
    trigger: str = MANUAL,
    another: bool = False,
    now: datetime | None = None,
) -> Invoice:
    """Issue the invoice of an order, numbered and frozen now.

    :param trigger: ``capture`` or ``shipment`` (a policy's: born paid, or open on
        the channel's terms) or ``manual`` (a person: paid as far as the payments
        go, else on the channel's terms).
    :param another: issue even though an invoice still bills the order (a person
        who knows why); without it that is a :class:`Conflict`.
    :raises Conflict: an invoice already bills the order, or the order is cancelled.
    :raises ValidationError: no seller is set.
    """
    order = get_order(session, order_id)
    if order.status == lifecycle.CANCELLED:
        raise Conflict(
            f"order {order.label} is cancelled: it is not invoiced",
            details={"order_id": order.id, "status": order.status},
        )
    invoices = order_invoices(session, order.id)
    current = covering(invoices)
    if current and not another:
        raise Conflict(
            f"order {order.label} is invoiced already: {current[0].number} "
            "(credit it first, or ask for another invoice)",
            details={"invoice_id": current[0].id, "number": current[0].number},
        )
    seller = doc.Seller.from_settings(settings)
    issued_at = now or utcnow()
    paid = paid_toward(order, order.total, issued_at) if not current else 0
    customer = session.get(Customer, order.customer_id) if order.customer_id else None
    status = status_for(order.total, paid)
    terms = 0
    if status != InvoiceStatus.PAID:
        terms = terms_days(policy_for(session, order.channel_id), order, customer)
    due_at = due_date(issued_at, terms) if status != InvoiceStatus.PAID else None
    sequence, number = take_number(session, SERIES[InvoiceKind.INVOICE], issued_at.year)
    lines = doc.order_lines(order)
    document = doc.build(
        kind=InvoiceKind.INVOICE,
        number=number,
        issued_at=issued_at,
        due_at=due_at,
        order=order,
        customer=customer,
        seller=seller,
        lines=lines,
        taxes=doc.order_taxes(order, lines),
        amounts=doc.order_amounts(order),
        amount_paid=paid,
        payment_terms=payment_terms(
            paid=status == InvoiceStatus.PAID,
            terms_days=terms,
            due=due_at.date() if due_at else None,
        ),
        status=status,
    )
    source = f"order:{order.id}:{trigger}"
    if trigger == MANUAL or another:
        source = f"order:{order.id}:{trigger}:{len(invoices) + 1}"
    invoice = _add(
        session,
        order,
        document,
        sequence=sequence,
        source_key=source,
        total=order.total,
        amount_paid=paid,
        due_at=due_at,
        terms=terms,
    )
    record(
        session,
        order,
        INVOICE_ISSUED,
        actor=actor,
        data={
            "invoice_id": invoice.id,
            "number": number,
            "total": document["total"],
            "status": status,
            "trigger": trigger,
        },
    )
    return invoice


def _add(
    session: Session,
    order: Order,
    document: dict[str, Any],
    *,
    sequence: int,
    source_key: str,
    total: int,
    amount_paid: int,
    due_at: datetime | None = None,
    terms: int = 0,
    credit_of: Invoice | None = None,
) -> Invoice:
    """Store a document :func:`hub.invoicing.document.build` made; its kind, number, status and
    date are the document's."""
    kind = InvoiceKind(document["kind"])
    issued_at = datetime.fromisoformat(document["issued_at"])
    invoice = Invoice(
        kind=kind,
        series=SERIES[kind],
        year=issued_at.year,
        sequence=sequence,
        number=document["number"],
        status=document["status"],
        order_id=order.id,
        customer_id=order.customer_id,
        credit_of_id=credit_of.id if credit_of is not None else None,
        source_key=source_key,
        currency=order.currency,
        total=total,
        amount_paid=amount_paid,
        amount_credited=0,
        issued_at=issued_at,
        due_at=due_at,
        payment_terms_days=terms,
        document=document,
        updated_at=issued_at,
    )
    session.add(invoice)
    session.flush()
    return invoice


def issue_by_policy(
    session: Session, order_id: int, settings: Settings, trigger: str, *, actor: str
) -> Invoice | None:
    """Issue the invoice a policy's trigger asks for, once; None when nothing is to be issued.

    Nothing is issued when the channel's policy is another trigger, the order
    is not ready (unpaid at capture, not all shipped at shipment, cancelled),
    or an invoice already bills it (one a person issued, say).
    """
    order = get_order(session, order_id)
    if policy_for(session, order.channel_id).issue_on != trigger:
        return None
    if not ready_to_invoice(order, trigger) or covering(order_invoices(session, order.id)):
        return None
    if session.scalar(
        select(Invoice.id).where(Invoice.source_key == f"order:{order.id}:{trigger}")
    ):
        return None  # issued once for this trigger (and since credited): never again
    return issue_invoice(session, order.id, settings, actor=actor, trigger=trigger)


# --- payments -------------------------------------------------------------------------------


def record_payments(session: Session, order_id: int) -> list[Invoice]:
    """Bring the order's invoices' ``amount_paid`` and status up to its payments; the changed ones.

    Payments go to the order's invoices oldest first. A void invoice keeps its status.
    """
    order = get_order(session, order_id)
    changed = []
    left = None
    for invoice in order_invoices(session, order.id):
        if invoice.kind != InvoiceKind.INVOICE or invoice.status == InvoiceStatus.VOID:
            continue
        available = paid_toward(order, invoice.total, invoice.issued_at) if left is None else left
        paid = max(invoice.amount_paid, min(invoice.total - invoice.amount_credited, available))
        left = max(0, available - paid)
        status = status_for(invoice.total - invoice.amount_credited, paid)
        if (paid, status) != (invoice.amount_paid, invoice.status):
            invoice.amount_paid, invoice.status = paid, status
            invoice.updated_at = utcnow()
            changed.append(invoice)
    return changed


# --- credit notes ---------------------------------------------------------------------------


@dataclass(frozen=True)
class CreditFact:
    """Something that gives money back: what issues a credit note, and when it happened."""

    source_key: str
    amount: int
    at: datetime
    reason: str
    lines: list[doc.DocumentLine] | None = None  # None: one line for the amount
    cancel: bool = False


def credit_order(
    session: Session, order_id: int, settings: Settings, *, actor: str
) -> list[Invoice]:
    """Issue every credit note the order's refunds, returns and cancellation call for; the new ones."""
    order = get_order(session, order_id)
    invoices = order_invoices(session, order.id)
    if not any(i.kind == InvoiceKind.INVOICE for i in invoices):
        return []
    done = {i.source_key for i in invoices}
    made: list[Invoice] = []
    for fact in _credit_facts(session, order):
        if fact.source_key in done:
            continue
        target = _target(invoices, fact.at)
        if target is None:
            continue
        note = _credit(session, order, target, fact, settings, actor=actor)
        if note is not None:
            made.append(note)
            invoices.append(note)
            done.add(fact.source_key)
    if order.status == lifecycle.CANCELLED:
        for invoice in covering(invoices):
            fact = CreditFact(
                f"cancel:{invoice.id}",
                invoice.total - invoice.amount_credited,
                utcnow(),
                "Order cancelled",
                cancel=True,
            )
            if fact.source_key not in done:
                note = _credit(session, order, invoice, fact, settings, actor=actor)
                if note is not None:
                    made.append(note)
    return made


def _target(invoices: Sequence[Invoice], at: datetime) -> Invoice | None:
    """The invoice a fact at ``at`` credits: the oldest still billing, issued before it."""
    return next((i for i in covering(invoices) if i.issued_at <= at), None)


def _credit_facts(session: Session, order: Order) -> list[CreditFact]:
    facts: list[CreditFact] = []
    for ret in session.scalars(
        select(Return)
        .where(Return.order_id == order.id, Return.status == "refunded")
        .order_by(Return.id)
    ):
        if ret.refunded_amount > 0 and ret.refunded_at is not None:
            facts.append(
                CreditFact(
                    f"return:{ret.id}",
                    ret.refunded_amount,
                    ret.refunded_at,
                    f"Return {ret.id}" + (f": {ret.reason}" if ret.reason else ""),
                    lines=_return_lines(order, ret),
                )
            )
    for event in order.events:
        if event.name != ev.REFUNDED_ON_CHANNEL:
            continue
        data = event.data or {}
        amount = Money.parse(str(data.get("amount") or "0"), order.currency).amount
        if amount > 0:
            facts.append(
                CreditFact(
                    f"channel-refund:{order.id}:{data.get('refund_id')}",
                    amount,
                    event.created_at,
                    f"Refund {data.get('refund_id')} on the sales channel"
                    + (f": {event.reason}" if event.reason else ""),
                )
            )
    asked = _refunds_the_hub_asked(session, order)
    for payment in order.payments:
        for refund in payment.refunds:
            if refund.status == "succeeded" and (payment.id, refund.external_id) not in asked:
                facts.append(_gateway_refund(payment, refund))
    return sorted(facts, key=lambda f: f.at)


def _gateway_refund(payment: Payment, refund: Refund) -> CreditFact:
    return CreditFact(
        f"refund:{refund.id}",
        refund.amount,
        refund.created_at,
        f"Refund {refund.external_id} of payment {payment.reference}"
        + (f": {refund.reason}" if refund.reason else ""),
    )


def _refunds_the_hub_asked(session: Session, order: Order) -> set[tuple[int, str]]:
    """(payment id, refund id) of the refunds the hub's ``payment.refund`` jobs made.

    The hub asks a gateway for money back for a return or a cancellation only,
    and each of those has its own credit note.
    """
    jobs = session.scalars(
        select(Job).where(Job.order_id == order.id, Job.kind == JobKind.PAYMENT_REFUND)
    )
    return {
        (int(job.payload["payment_id"]), str(job.payload["refund_id"]))
        for job in jobs
        if (job.payload or {}).get("refund_id")
    }


def _return_lines(order: Order, ret: Return) -> list[doc.DocumentLine]:
    """The returned units as credit lines (each its share of its order line), and the shipping
    given back."""
    owed = {line.line_id: line for line in doc.order_lines(order)}
    lines = [
        owed[item.order_line_id].part(item.quantity)
        for item in ret.lines
        if item.order_line_id in owed and item.quantity > 0
    ]
    if ret.shipping_refund and order.shipping > 0:
        taxed = doc.shipping_taxed(order, list(owed.values()))
        lines.append(doc.shipping_line(order, taxed, ret.shipping_refund))
    return lines


def _credit(
    session: Session,
    order: Order,
    invoice: Invoice,
    fact: CreditFact,
    settings: Settings,
    *,
    actor: str,
) -> Invoice | None:
    room = invoice.total - invoice.amount_credited
    amount = min(fact.amount, room)
    if amount <= 0:
        return None
    seller = doc.Seller.from_settings(settings)
    issued_at = utcnow()
    cur = order.currency
    lines: list[doc.DocumentLine] | list[dict[str, Any]]
    if fact.cancel and invoice.amount_credited == 0:
        # The whole invoice, line for line.
        lines, taxes = list(invoice.document["lines"]), doc.taxes_of(invoice.document)
        amounts = doc.amounts_of(invoice.document)
    else:
        lines, taxes = _credit_lines(order, invoice, fact, amount)
        amounts = {
            "subtotal": sum(x.unit_price * x.quantity for x in lines),
            "discount": sum(x.discount for x in lines),
            "shipping": 0,
            "tax": sum(g.amount for g in taxes),
            "total": amount,
        }
    sequence, number = take_number(session, SERIES[InvoiceKind.CREDIT_NOTE], issued_at.year)
    customer = session.get(Customer, order.customer_id) if order.customer_id else None
    document = doc.build(
        kind=InvoiceKind.CREDIT_NOTE,
        number=number,
        issued_at=issued_at,
        due_at=None,
        order=order,
        customer=customer,
        seller=seller,
        lines=lines,
        taxes=taxes,
        amounts=amounts,
        amount_paid=amount,
        payment_terms="Credited",
        status=InvoiceStatus.PAID,
        credit_of=invoice,
        notes=fact.reason,
    )
    note = _add(
        session,
        order,
        document,
        sequence=sequence,
        source_key=fact.source_key,
        total=amount,
        amount_paid=amount,
        credit_of=invoice,
    )
    invoice.amount_credited += amount
    if fact.cancel and invoice.amount_paid == 0:
        invoice.status = InvoiceStatus.VOID
    elif invoice.status != InvoiceStatus.VOID:
        invoice.status = status_for(invoice.total - invoice.amount_credited, invoice.amount_paid)
    invoice.updated_at = issued_at
    session.flush()
    record(
        session,
        order,
        CREDIT_NOTE_ISSUED,
        actor=actor,
        reason=fact.reason,
        data={
            "invoice_id": note.id,
            "number": number,
            "credit_of": invoice.number,
            "total": str(Money(amount, cur)),
            "invoice_status": invoice.status,
        },
    )
    return note


def _credit_lines(
    order: Order, invoice: Invoice, fact: CreditFact, amount: int
) -> tuple[list[doc.DocumentLine], list[TaxGroup]]:
    """A credit's lines and tax per rate.

    The fact's own lines (a return's units) when it names them, and, when they
    do not add up to the amount (a person chose another refund, or the
    invoice's room is smaller), an adjustment line for the difference. A fact
    without lines gets one line for its amount. A line of no units of the order
    is taxed as the invoice is, in proportion.
    """
    taxes_included = order.taxes_included
    lines = list(fact.lines or [])
    difference = amount - sum(x.gross(taxes_included=taxes_included) for x in lines)
    if difference:
        part = credited_taxes(
            doc.taxes_of(invoice.document), difference, invoice.total, order.currency
        )
        tax = sum(g.amount for g in part)
        shown = difference if taxes_included else difference - tax
        name = fact.reason if not lines else "Adjustment"
        lines.append(doc.DocumentLine("", name, 1, shown, 0, tax, shown, difference - tax))
    return lines, taxes_by_rate([Taxed(x.base, x.tax) for x in lines])
