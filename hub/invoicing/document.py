"""The frozen content of an invoice or credit note: what the PDF, the email and the ERP show.

Built once, when the document is issued, from the order as it stands and the
seller's settings; never rebuilt. Its shape is docs/invoices.md's ("The
document"). Money is a decimal string in the order's currency.
"""

from __future__ import annotations

import re
from collections.abc import Sequence
from dataclasses import dataclass
from datetime import datetime
from typing import Any

from hub.core.exceptions import ValidationError
from hub.core.invoicing import (
    InvoiceKind,
    Taxed,
    TaxGroup,
    format_rate,
    net_base,
    tax_rate,
    taxes_by_rate,
)
from hub.core.money import Money, exponent
from hub.store.config import Settings
from hub.store.models import Customer, Invoice, Order, OrderLine


@dataclass(frozen=True)
class Seller:
    """Who issues the documents (the hub's ``HUB_SELLER_*`` settings)."""

    legal_name: str
    address_lines: tuple[str, ...]
    tax_id: str
    email: str

    @classmethod
    def from_settings(cls, settings: Settings) -> Seller:
        """The seller the settings name.

        :raises ValidationError: no legal name is set: an invoice must name its seller.
        """
        if not settings.seller_legal_name:
            raise ValidationError(
                "the hub issues no invoice without a seller: set HUB_SELLER_LEGAL_NAME "
                "(and HUB_SELLER_ADDRESS, HUB_SELLER_TAX_ID, HUB_SELLER_EMAIL)",
                details={"seller_legal_name": ["not set"]},
            )
        lines = [x.strip() for x in re.split(r"[\n|]", settings.seller_address)]
        return cls(
            legal_name=settings.seller_legal_name,
            address_lines=tuple(x for x in lines if x),
            tax_id=settings.seller_tax_id,
            email=settings.seller_email,
        )

    def to_dict(self) -> dict[str, Any]:
        return {
            "legal_name": self.legal_name,
            "address_lines": list(self.address_lines),
            "tax_id": self.tax_id,
            "email": self.email,
        }


@dataclass(frozen=True)
class DocumentLine:
    """One line of a document before it is written: amounts in minor units."""

    sku: str
    name: str
    quantity: int
    unit_price: int
    discount: int
    tax: int
    total: int  # as the order shows it: tax inside when the shop's prices include it
    base: int  # net of tax, for the tax per rate
    line_id: int | None = None  # the order line it bills

    def part(self, quantity: int) -> DocumentLine:
        """``quantity`` of this line's units: its amounts in proportion (rounded down)."""
        q = self.quantity

        def share(amount: int) -> int:
            return amount * quantity // q

        return DocumentLine(
            sku=self.sku,
            name=self.name,
            quantity=quantity,
            unit_price=self.unit_price,
            discount=share(self.discount),
            tax=share(self.tax),
            total=share(self.total),
            base=share(self.base),
            line_id=self.line_id,
        )

    def gross(self, *, taxes_included: bool) -> int:
        """What the line costs the buyer: its total, with its tax unless the total contains it."""
        return self.total + (0 if taxes_included else self.tax)

    def to_dict(self, currency: str) -> dict[str, Any]:
        return {
            "sku": self.sku,
            "name": self.name,
            "quantity": self.quantity,
            "unit_price": _money(self.unit_price, currency),
            "discount": _money(self.discount, currency),
            "tax": _money(self.tax, currency),
            "tax_rate": format_rate(tax_rate(self.base, self.tax)),
            "total": _money(self.total, currency),
        }


def _money(amount: int, currency: str) -> str:
    return str(Money(amount, currency))


def _iso(value: datetime | None) -> str | None:
    return value.isoformat() if value is not None else None


# --- what an order is worth, line by line ----------------------------------------------------


def order_lines(order: Order) -> list[DocumentLine]:
    """The order's lines still owed (refunded or removed units left out), with their net bases.

    A discount the order has beyond its lines' own (an order-level discount a
    channel did not spread on the lines) is spread on the lines by value for
    the tax bases, so the bases add up to what was really charged.
    """
    owed = [line for line in order.lines if line.quantity > 0]
    gross = [line.unit_price * line.quantity - line.discount for line in owed]
    unspread = max(0, order.discount - sum(line.discount for line in owed))
    spread = (
        [m.amount for m in Money(unspread, order.currency).allocate([max(0, g) for g in gross])]
        if unspread and any(g > 0 for g in gross)
        else [0] * len(owed)
    )
    return [
        _line(line, amount, extra, taxes_included=order.taxes_included)
        for line, amount, extra in zip(owed, gross, spread, strict=True)
    ]


def _line(line: OrderLine, gross: int, extra: int, *, taxes_included: bool) -> DocumentLine:
    return DocumentLine(
        sku=line.sku,
        name=line.name,
        quantity=line.quantity,
        unit_price=line.unit_price,
        discount=line.discount,
        tax=line.tax,
        total=gross,
        base=net_base(gross - extra, line.tax, taxes_included=taxes_included),
        line_id=line.id,
    )


def shipping_taxed(order: Order, lines: Sequence[DocumentLine]) -> Taxed:
    """The shipping's base and tax: the order's tax beyond its lines' is the shipping's."""
    tax = order.tax - sum(line.tax for line in lines)
    return Taxed(net_base(order.shipping, tax, taxes_included=order.taxes_included), tax)


def shipping_line(order: Order, taxed: Taxed, amount: int) -> DocumentLine:
    """A line for ``amount`` of the order's shipping (tax included), its tax in proportion."""
    gross = order.shipping + (0 if order.taxes_included else taxed.tax)
    tax = taxed.tax * amount // gross if gross > 0 else 0
    shown = amount if order.taxes_included else amount - tax
    return DocumentLine("", "Shipping", 1, shown, 0, tax, shown, amount - tax)


def order_taxes(order: Order, lines: Sequence[DocumentLine]) -> list[TaxGroup]:
    """The order's tax per rate: its lines' and its shipping's."""
    return taxes_by_rate(
        [*(Taxed(line.base, line.tax) for line in lines), shipping_taxed(order, lines)]
    )


# --- the document ---------------------------------------------------------------------------


def buyer(order: Order, customer: Customer | None) -> dict[str, Any]:
    """Who the document is for: the order's customer as the order names them."""
    return {
        "name": order.customer_name or (customer.name if customer else ""),
        "email": order.email or (customer.email if customer else ""),
        "phone": order.customer_phone or (customer.phone if customer else ""),
        "billing_address": dict(order.billing_address) if order.billing_address else None,
        "shipping_address": dict(order.shipping_address) if order.shipping_address else None,
    }


def build(
    *,
    kind: InvoiceKind,
    number: str,
    issued_at: datetime,
    due_at: datetime | None,
    order: Order,
    customer: Customer | None,
    seller: Seller,
    lines: Sequence[DocumentLine] | Sequence[dict[str, Any]],
    taxes: Sequence[TaxGroup],
    amounts: dict[str, int],
    amount_paid: int,
    payment_terms: str,
    status: str,
    credit_of: Invoice | None = None,
    notes: str = "",
) -> dict[str, Any]:
    """The document, JSON-ready. ``amounts``: subtotal, discount, shipping, tax, total."""
    cur = order.currency
    total = amounts["total"]
    return {
        "kind": str(kind),
        "number": number,
        "issued_at": _iso(issued_at),
        "due_at": _iso(due_at),
        "currency": cur,
        "exponent": exponent(cur),
        "seller": seller.to_dict(),
        "buyer": buyer(order, customer),
        "order": {"id": order.id, "number": order.label, "placed_at": _iso(order.placed_at)},
        "lines": [line.to_dict(cur) if isinstance(line, DocumentLine) else line for line in lines],
        **{
            name: _money(amounts[name], cur)
            for name in ("subtotal", "discount", "shipping", "tax", "total")
        },
        "amount_paid": _money(amount_paid, cur),
        "amount_due": _money(max(0, total - amount_paid), cur),
        "taxes": taxes_json(taxes, cur),
        "taxes_included": order.taxes_included,
        "payment_terms": payment_terms,
        "status": status,
        "credit_of": (
            {"number": credit_of.number, "issued_at": _iso(credit_of.issued_at)}
            if credit_of is not None
            else None
        ),
        "notes": notes,
    }


def taxes_json(taxes: Sequence[TaxGroup], currency: str) -> list[dict[str, str]]:
    """The ``taxes`` of a document: rate, base, amount."""
    return [
        {"rate": g.rate, "base": _money(g.base, currency), "amount": _money(g.amount, currency)}
        for g in taxes
    ]


def taxes_of(document: dict[str, Any]) -> list[TaxGroup]:
    """A document's ``taxes`` read back into minor units."""
    cur = document["currency"]
    return [
        TaxGroup(
            g["rate"], Money.parse(g["base"], cur).amount, Money.parse(g["amount"], cur).amount
        )
        for g in document.get("taxes", [])
    ]


def amounts_of(document: dict[str, Any]) -> dict[str, int]:
    """A document's totals read back into minor units."""
    cur = document["currency"]
    return {
        name: Money.parse(document[name], cur).amount
        for name in ("subtotal", "discount", "shipping", "tax", "total")
    }


def order_amounts(order: Order) -> dict[str, int]:
    """The order's totals, as the invoice states them (they are the order's, unchanged)."""
    return {
        "subtotal": order.subtotal,
        "discount": order.discount,
        "shipping": order.shipping,
        "tax": order.tax,
        "total": order.total,
    }
