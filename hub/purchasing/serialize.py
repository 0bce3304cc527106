"""Suppliers, purchase orders and receipts as the API (and the admin) show them.

Money is the currency's decimal string; times are ISO 8601 UTC.
"""

from __future__ import annotations

from typing import Any

from sqlalchemy import select
from sqlalchemy.orm import Session

from hub.core.money import Money
from hub.core.purchasing import allowed_events
from hub.orders.serialize import iso
from hub.store.models import (
    Location,
    PurchaseOrder,
    PurchaseReceipt,
    Supplier,
    SupplierSku,
)


def money(amount: int, currency: str) -> str:
    return Money.of_minor(amount, currency).format()


def supplier_dict(supplier: Supplier) -> dict[str, Any]:
    return {
        "id": supplier.id,
        "name": supplier.name,
        "email": supplier.email,
        "currency": supplier.currency,
        "lead_time_days": supplier.lead_time_days,
        "minimum_order_quantity": supplier.minimum_order_quantity,
        "pack_size": supplier.pack_size,
        "notes": supplier.notes,
        "active": supplier.active,
        "created_at": iso(supplier.created_at),
        "updated_at": iso(supplier.updated_at),
    }


def supplier_sku_dict(row: SupplierSku, currency: str) -> dict[str, Any]:
    return {
        "sku": row.sku,
        "cost_price": money(row.cost_price, currency),
        "currency": currency,
        "supplier_sku": row.supplier_sku,
        "preferred": row.preferred,
        "updated_at": iso(row.updated_at),
    }


def receipt_dict(receipt: PurchaseReceipt, location_code: str) -> dict[str, Any]:
    return {
        "id": receipt.id,
        "location": location_code,
        "received_by": receipt.received_by,
        "received_at": iso(receipt.received_at),
        "source": receipt.source,
        "forced": receipt.forced,
        "lines": [{"sku": line.sku, "quantity": line.quantity} for line in receipt.lines],
    }


def po_summary(po: PurchaseOrder) -> dict[str, Any]:
    total = sum(line.unit_cost * line.quantity for line in po.lines)
    return {
        "id": po.id,
        "number": po.number,
        "status": po.status,
        "supplier_id": po.supplier_id,
        "supplier": po.supplier.name,
        "location": po.location.code,
        "currency": po.currency,
        "total": money(total, po.currency),
        "ordered": sum(line.quantity for line in po.lines),
        "received": sum(line.received_quantity for line in po.lines),
        "send_via": po.send_via,
        "expected_at": iso(po.expected_at),
        "sent_at": iso(po.sent_at),
        "created_by": po.created_by,
        "created_at": iso(po.created_at),
        "updated_at": iso(po.updated_at),
        "version": po.version,
    }


def po_detail(session: Session, po: PurchaseOrder) -> dict[str, Any]:
    """A PO with its lines, receipts and the moves its status allows."""
    receipts = session.scalars(
        select(PurchaseReceipt)
        .where(PurchaseReceipt.purchase_order_id == po.id)
        .order_by(PurchaseReceipt.id)
    ).all()
    codes = dict(session.execute(select(Location.id, Location.code)).all())
    return {
        **po_summary(po),
        "notes": po.notes,
        "allowed": allowed_events(po.status),
        "lines": [
            {
                "sku": line.sku,
                "quantity": line.quantity,
                "received_quantity": line.received_quantity,
                "open_quantity": line.open_quantity,
                "unit_cost": money(line.unit_cost, po.currency),
                "total": money(line.unit_cost * line.quantity, po.currency),
            }
            for line in po.lines
        ],
        "receipts": [receipt_dict(r, codes.get(r.location_id, "")) for r in receipts],
    }
