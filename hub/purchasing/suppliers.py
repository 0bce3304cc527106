"""Suppliers and the SKUs they sell: terms, cost prices, one preferred supplier per SKU.

Fields arrive as :class:`hub.purchasing.schemas.SupplierInSchema` loads them
(the API and the admin's form); a name is unique, a supplier that has purchase
orders is deactivated rather than deleted (its orders keep naming it).
"""

from __future__ import annotations

from collections.abc import Mapping
from typing import Any

from sqlalchemy import exists, select, update
from sqlalchemy.exc import IntegrityError
from sqlalchemy.orm import Session

from hub.core.exceptions import Conflict, NotFound
from hub.store.models import PurchaseOrder, Supplier, SupplierSku, utcnow

FIELDS = (
    "name",
    "email",
    "currency",
    "lead_time_days",
    "minimum_order_quantity",
    "pack_size",
    "notes",
    "active",
)


def get_supplier(session: Session, supplier_id: int) -> Supplier:
    supplier = session.get(Supplier, supplier_id)
    if supplier is None:
        raise NotFound(f"supplier {supplier_id} does not exist")
    return supplier


def list_suppliers(session: Session, *, active: bool | None = None) -> list[Supplier]:
    """Suppliers by name (``active``: only active or only inactive ones)."""
    query = select(Supplier).order_by(Supplier.name)
    if active is not None:
        query = query.where(Supplier.active.is_(active))
    return list(session.scalars(query))


def _name_taken(session: Session, name: str, but: int | None = None) -> None:
    query = select(Supplier.id).where(Supplier.name == name)
    if but is not None:
        query = query.where(Supplier.id != but)
    if session.scalar(query) is not None:
        raise Conflict(
            f"a supplier named {name!r} exists already", details={"name": ["already used"]}
        )


def create_supplier(session: Session, data: Mapping[str, Any]) -> Supplier:
    """A new supplier from loaded fields; :class:`Conflict` if its name is taken."""
    _name_taken(session, data["name"])
    supplier = Supplier(**{k: data[k] for k in FIELDS if k in data})
    session.add(supplier)
    try:
        with session.begin_nested():
            session.flush()
    except IntegrityError as exc:  # another request took the name between check and insert
        raise Conflict(
            f"a supplier named {data['name']!r} exists already", details={"name": ["already used"]}
        ) from exc
    return supplier


def update_supplier(session: Session, supplier_id: int, data: Mapping[str, Any]) -> Supplier:
    """Change the given fields of a supplier (its open POs keep their currency and dates)."""
    supplier = get_supplier(session, supplier_id)
    if "name" in data and data["name"] != supplier.name:
        _name_taken(session, data["name"], but=supplier.id)
    for key in FIELDS:
        if key in data:
            setattr(supplier, key, data[key])
    supplier.updated_at = utcnow()
    session.flush()
    return supplier


def delete_supplier(session: Session, supplier_id: int) -> None:
    """Delete a supplier that has no purchase orders; :class:`Conflict` otherwise."""
    supplier = get_supplier(session, supplier_id)
    if session.scalar(select(exists().where(PurchaseOrder.supplier_id == supplier.id))):
        raise Conflict(
            f"supplier {supplier.name} has purchase orders: deactivate it instead",
            details={"active": ["set to false"]},
        )
    session.delete(supplier)
    session.flush()


def supplier_skus(session: Session, supplier_id: int) -> list[SupplierSku]:
    get_supplier(session, supplier_id)
    return list(
        session.scalars(
            select(SupplierSku)
            .where(SupplierSku.supplier_id == supplier_id)
            .order_by(SupplierSku.sku)
        )
    )


def set_supplier_sku(
    session: Session,
    supplier_id: int,
    sku: str,
    *,
    cost_price: int,
    supplier_sku: str = "",
    preferred: bool = False,
) -> SupplierSku:
    """Set what ``supplier_id`` charges for ``sku`` (minor units of its currency).

    ``preferred`` makes it the SKU's one preferred supplier: another supplier's
    preference for the SKU is taken off in the same transaction.
    """
    get_supplier(session, supplier_id)
    row = session.scalar(
        select(SupplierSku)
        .where(SupplierSku.supplier_id == supplier_id, SupplierSku.sku == sku)
        .with_for_update()
    )
    if preferred:
        session.execute(
            update(SupplierSku)
            .where(SupplierSku.sku == sku, SupplierSku.supplier_id != supplier_id)
            .where(SupplierSku.preferred.is_(True))
            .values(preferred=False, updated_at=utcnow())
        )
    if row is None:
        row = SupplierSku(supplier_id=supplier_id, sku=sku)
        session.add(row)
    row.cost_price, row.supplier_sku, row.preferred = cost_price, supplier_sku, preferred
    row.updated_at = utcnow()
    session.flush()
    return row


def remove_supplier_sku(session: Session, supplier_id: int, sku: str) -> None:
    row = session.scalar(
        select(SupplierSku).where(SupplierSku.supplier_id == supplier_id, SupplierSku.sku == sku)
    )
    if row is None:
        raise NotFound(f"supplier {supplier_id} has no price for {sku}")
    session.delete(row)
    session.flush()
