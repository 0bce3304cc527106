"""What is on its way: units ordered from suppliers and not yet received.

Read by the stock views (``incoming``), backorders (:mod:`hub.inventory.backorders`,
through :class:`hub.runtime.work.IncomingStock`) and replenishment suggestions.
Only sent and partially received purchase orders count: a draft was never
ordered, a cancelled one will not come.
"""

from __future__ import annotations

from collections.abc import Iterable
from datetime import datetime

from sqlalchemy import func, select
from sqlalchemy.orm import Session

from hub.core.purchasing import OPEN_STATUSES
from hub.store.models import Location, PurchaseOrder, PurchaseOrderLine, Supplier, SupplierSku

_OPEN = PurchaseOrderLine.quantity - PurchaseOrderLine.received_quantity


def incoming(session: Session, skus: Iterable[str] | None = None) -> dict[tuple[str, int], int]:
    """Units ordered and not yet received, per (SKU, location id) the POs are received at.

    :param skus: only these SKUs (None: every SKU with units on their way).
    """
    query = (
        select(PurchaseOrderLine.sku, PurchaseOrder.location_id, func.sum(_OPEN))
        .join(PurchaseOrder, PurchaseOrder.id == PurchaseOrderLine.purchase_order_id)
        .where(PurchaseOrder.status.in_(OPEN_STATUSES), _OPEN > 0)
        .group_by(PurchaseOrderLine.sku, PurchaseOrder.location_id)
    )
    if skus is not None:
        wanted = sorted(set(skus))
        if not wanted:
            return {}
        query = query.where(PurchaseOrderLine.sku.in_(wanted))
    return {(sku, location_id): int(units) for sku, location_id, units in session.execute(query)}


def next_arrival(session: Session, sku: str, location_id: int | None) -> datetime | None:
    """When the earliest open purchase order with units of ``sku`` still to come is expected.

    :param location_id: only POs received at this location (None: any location).
    """
    query = (
        select(func.min(PurchaseOrder.expected_at))
        .join(PurchaseOrderLine, PurchaseOrder.id == PurchaseOrderLine.purchase_order_id)
        .where(
            PurchaseOrder.status.in_(OPEN_STATUSES),
            PurchaseOrderLine.sku == sku,
            _OPEN > 0,
        )
    )
    if location_id is not None:
        query = query.where(PurchaseOrder.location_id == location_id)
    return session.scalar(query)


def preferred_supplier(session: Session, sku: str) -> SupplierSku | None:
    """The preferred supplier's offer of ``sku``, if one is set and the supplier is active."""
    return session.scalar(
        select(SupplierSku)
        .join(Supplier, Supplier.id == SupplierSku.supplier_id)
        .where(SupplierSku.sku == sku, SupplierSku.preferred.is_(True), Supplier.active.is_(True))
    )


def with_incoming(session: Session, rows: list[dict], *, sku: str | None = None) -> list[dict]:
    """Stock rows (``sku``, ``location`` code) given their ``incoming`` units, in one query.

    :param sku: the SKU of rows that name none (one SKU's stock per location).
    """
    if not rows:
        return rows
    skus = [str(row.get("sku", sku)) for row in rows]
    units = incoming(session, skus)
    codes = dict(session.execute(select(Location.code, Location.id)).all())
    for row, row_sku in zip(rows, skus, strict=True):
        row["incoming"] = units.get((row_sku, codes.get(row["location"], 0)), 0)
    return rows
