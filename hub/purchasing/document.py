"""A purchase order as the supplier reads it: the PDF's document, and the CSV of its lines.

Money in the document is the PO currency's decimal strings (what the paper shows);
the CSV has one row per line, ``po_number,sku,supplier_sku,quantity,unit_cost,
line_total,currency,expected_at,ship_to`` (RFC 4180, UTF-8, ``\\r\\n``).
"""

from __future__ import annotations

import csv
import io
from typing import Any

from sqlalchemy import select
from sqlalchemy.orm import Session

from hub.core.money import Money
from hub.invoicing.document import Seller
from hub.store.config import Settings
from hub.store.models import PurchaseOrder, SupplierSku

CSV_COLUMNS = (
    "po_number",
    "sku",
    "supplier_sku",
    "quantity",
    "unit_cost",
    "line_total",
    "currency",
    "expected_at",
    "ship_to",
)


def _money(amount: int, currency: str) -> str:
    return Money.of_minor(amount, currency).format()


def build_document(session: Session, settings: Settings, po: PurchaseOrder) -> dict[str, Any]:
    """The PO as the ``purchase_order.html`` template reads it (``document``)."""
    codes = dict(
        session.execute(
            select(SupplierSku.sku, SupplierSku.supplier_sku).where(
                SupplierSku.supplier_id == po.supplier_id
            )
        ).all()
    )
    lines = [
        {
            "sku": line.sku,
            "supplier_sku": codes.get(line.sku) or "",
            "quantity": line.quantity,
            "unit_cost": _money(line.unit_cost, po.currency),
            "total": _money(line.unit_cost * line.quantity, po.currency),
        }
        for line in po.lines
    ]
    total = sum(line.unit_cost * line.quantity for line in po.lines)
    return {
        "kind": "purchase_order",
        "number": po.number,
        "currency": po.currency,
        "status": po.status,
        "created_at": po.created_at.isoformat() if po.created_at else None,
        "sent_at": po.sent_at.isoformat() if po.sent_at else None,
        "expected_at": po.expected_at.isoformat() if po.expected_at else None,
        "notes": po.notes,
        # The merchant, as its invoices name it (HUB_SELLER_*); blank when not set.
        "buyer": Seller.from_settings(settings).to_dict()
        if settings.seller_legal_name
        else {"legal_name": "", "address_lines": [], "tax_id": "", "email": ""},
        "supplier": {"name": po.supplier.name, "email": po.supplier.email},
        "ship_to": {"code": po.location.code, "name": po.location.name or po.location.code},
        "lines": lines,
        "total": _money(total, po.currency),
    }


def line_rows(document: dict[str, Any]) -> list[tuple[Any, ...]]:
    """The PO's lines as rows of :data:`CSV_COLUMNS`: the email's CSV and the ERP's file."""
    return [
        (
            document["number"],
            line["sku"],
            line["supplier_sku"],
            line["quantity"],
            line["unit_cost"],
            line["total"],
            document["currency"],
            document["expected_at"] or "",
            document["ship_to"]["code"],
        )
        for line in document["lines"]
    ]


def lines_csv(document: dict[str, Any]) -> bytes:
    """The PO's lines as CSV, one row per line (:data:`CSV_COLUMNS`)."""
    out = io.StringIO()
    writer = csv.writer(out, lineterminator="\r\n")
    writer.writerow(CSV_COLUMNS)
    writer.writerows(line_rows(document))
    return out.getvalue().encode("utf-8")
