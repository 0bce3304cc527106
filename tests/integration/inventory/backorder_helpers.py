"""Set-up for backorder tests: a SKU that allows backorders and a purchase order on its way."""

from __future__ import annotations

from datetime import UTC, datetime

from sqlalchemy import select

from hub.inventory.backorders import set_allow_backorder
from hub.inventory.levels import get_location
from hub.store.models import Backorder, PurchaseOrder, PurchaseOrderLine, Supplier

ARRIVES = datetime(2026, 12, 20, 9, 0, tzinfo=UTC)

_po_numbers = iter(range(1, 1_000_000))


def allow_backorders(hub, *skus: str) -> None:
    with hub.db.transaction() as session:
        for sku in skus:
            set_allow_backorder(session, sku, True, actor="user:ann")


def on_its_way(
    hub, sku: str, quantity: int, location: str = "wh", expected_at: datetime = ARRIVES
) -> int:
    """A sent purchase order of ``quantity`` units of ``sku`` to ``location``; its id."""
    with hub.db.transaction() as session:
        supplier = session.scalar(select(Supplier).where(Supplier.name == "Acme"))
        if supplier is None:
            supplier = Supplier(name="Acme", email="po@acme.example", currency="USD")
            session.add(supplier)
            session.flush()
        po = PurchaseOrder(
            number=f"PO-2026-{next(_po_numbers):06d}",
            supplier_id=supplier.id,
            location_id=get_location(session, location).id,
            status="sent",
            currency="USD",
            expected_at=expected_at,
            sent_at=datetime(2026, 12, 1, tzinfo=UTC),
            lines=[PurchaseOrderLine(sku=sku, quantity=quantity, unit_cost=500)],
        )
        session.add(po)
        session.flush()
        return po.id


def backordered(hub, order_id: int) -> int:
    """Units of the order still waiting for stock on its way."""
    with hub.db.read() as session:
        return sum(
            session.scalars(
                select(Backorder.quantity).where(
                    Backorder.order_id == order_id, Backorder.status == "active"
                )
            )
        )
