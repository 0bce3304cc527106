"""Invoice documents as hub.invoicing builds them (shape: docs/invoices.md), for the PDF tests."""

from __future__ import annotations

import copy
from typing import Any

INVOICE: dict[str, Any] = {
    "kind": "invoice",
    "number": "INV-2026-000001",
    "issued_at": "2026-12-04T19:12:00+00:00",
    "due_at": "2027-01-03T19:12:00+00:00",
    "currency": "EUR",
    "exponent": 2,
    "seller": {
        "legal_name": "Fjord Outfitters GmbH",
        "address_lines": ["Hafenstraße 12", "20457 Hamburg", "Germany"],
        "tax_id": "DE123456789",
        "email": "billing@fjord.example",
    },
    "buyer": {
        "name": "Ana Lima",
        "email": "ana@example.com",
        "phone": "+4915112345678",
        # The order's addresses as stored (hub.core.order.Address's keys).
        "billing_address": {
            "name": "Ana Lima",
            "company": "Lima Design",
            "address1": "Rua Augusta 100",
            "address2": "3º Esq",
            "city": "Lisboa",
            "province": "",
            "province_code": "",
            "zip": "1100-053",
            "country": "Portugal",
            "country_code": "PT",
            "phone": "",
        },
        "shipping_address": {
            "name": "Ana Lima",
            "company": "",
            "address1": "Avenida da Liberdade 200",
            "address2": "",
            "city": "Lisboa",
            "province": "",
            "province_code": "",
            "zip": "1250-147",
            "country": "Portugal",
            "country_code": "PT",
            "phone": "",
        },
    },
    "order": {"id": 12, "number": "#1001", "placed_at": "2026-12-01T10:00:00+00:00"},
    "lines": [
        {
            "sku": "TEE-M",
            "name": "Organic cotton T-shirt, M",
            "quantity": 2,
            "unit_price": "20.00",
            "discount": "0.00",
            "tax": "7.60",
            "tax_rate": "19%",
            "total": "40.00",
        },
        {
            "sku": "BOOK-1",
            "name": "Field guide to Nordic birds",
            "quantity": 1,
            "unit_price": "30.00",
            "discount": "3.00",
            "tax": "1.89",
            "tax_rate": "7%",
            "total": "27.00",
        },
    ],
    "subtotal": "70.00",
    "discount": "3.00",
    "shipping": "5.00",
    "tax": "9.49",
    "total": "81.49",
    "amount_paid": "0.00",
    "amount_due": "81.49",
    "taxes": [
        {"rate": "19%", "base": "40.00", "amount": "7.60"},
        {"rate": "7%", "base": "27.00", "amount": "1.89"},
    ],
    "taxes_included": False,
    "payment_terms": "Net 30 (due 2027-01-03)",
    "status": "open",
    "credit_of": None,
    "notes": "",
}


def tax_inclusive() -> dict[str, Any]:
    """:data:`INVOICE` from a shop whose prices include the tax (lines' totals with tax)."""
    doc = copy.deepcopy(INVOICE)
    doc["lines"][0].update(total="47.60", unit_price="23.80")
    doc["lines"][1].update(total="28.89", unit_price="32.10", discount="3.21")
    doc.update(
        taxes_included=True, subtotal="79.70", discount="3.21", total="81.49", amount_due="81.49"
    )
    return doc


def credit_note() -> dict[str, Any]:
    """A credit note for the T-shirts of :data:`INVOICE` (returned)."""
    doc = copy.deepcopy(INVOICE)
    doc.update(
        kind="credit_note",
        number="CN-2026-000001",
        issued_at="2026-12-20T09:30:00+00:00",
        due_at=None,
        lines=[INVOICE["lines"][0]],
        subtotal="40.00",
        discount="0.00",
        shipping="0.00",
        tax="7.60",
        total="47.60",
        amount_paid="0.00",
        amount_due="0.00",
        taxes=[{"rate": "19%", "base": "40.00", "amount": "7.60"}],
        payment_terms="",
        status="paid",
        credit_of={"number": "INV-2026-000001", "issued_at": "2026-12-04T19:12:00+00:00"},
        notes="Returned: 2 × Organic cotton T-shirt, M",
    )
    return doc
