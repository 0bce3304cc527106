"""Replenishment suggestions and the draft purchase orders made from them.

:func:`suggestions` is the one read behind ``GET /api/v1/replenishment`` and the
admin's Replenishment page: every (SKU, location) whose available + incoming is
below its reorder point, with the quantity to buy (order-up-to − available −
incoming, rounded up to the preferred supplier's minimum order and pack size;
:mod:`hub.replenishment.positions`) and that supplier.

:func:`draft_orders` turns the rows a person ticked into draft purchase orders,
one per supplier and location, through :func:`hub.purchasing.orders.create_draft`
(numbered, at the supplier's cost prices), in one transaction: all or none.
"""

from __future__ import annotations

from collections import defaultdict
from collections.abc import Iterable
from typing import Any

from sqlalchemy import select
from sqlalchemy.orm import Session

from hub.core.exceptions import ValidationError
from hub.purchasing.orders import DraftLine, create_draft
from hub.purchasing.queries import incoming
from hub.replenishment.positions import Supply, positions
from hub.replenishment.positions import suggestions as rows_to_buy
from hub.store.models import PurchaseOrder, Supplier, SupplierSku


def preferred_supply(session: Session, skus: Iterable[str]) -> dict[str, Supply | None]:
    """Each SKU's preferred active supplier's id, minimum order and pack size (None: none)."""
    skus = set(skus)
    found: dict[str, Supply | None] = dict.fromkeys(skus)
    if not skus:
        return found
    rows = session.execute(
        select(
            SupplierSku.sku,
            Supplier.id,
            Supplier.minimum_order_quantity,
            Supplier.pack_size,
        )
        .join(Supplier, Supplier.id == SupplierSku.supplier_id)
        .where(SupplierSku.sku.in_(skus), SupplierSku.preferred.is_(True), Supplier.active)
    )
    for sku, supplier_id, minimum, pack in rows:
        found[sku] = Supply(supplier_id, minimum, pack)
    return found


def suggestions(session: Session, *, skus: Iterable[str] | None = None) -> list[dict[str, Any]]:
    """What to buy now, per SKU and location, by SKU (see the module's docstring)."""
    low = [p for p in positions(session, incoming(session, skus), skus=skus) if p.shortfall]
    return rows_to_buy(low, preferred_supply(session, {p.sku for p in low}))


#: A ticked row: (SKU, location id, quantity), the quantity perhaps changed by a person.
Pick = tuple[str, int, int]


def draft_orders(session: Session, picks: Iterable[Pick], *, actor: str) -> list[PurchaseOrder]:
    """Draft purchase orders of the picked rows, one per (preferred supplier, location).

    :raises ValidationError: a SKU without a preferred supplier, a SKU picked twice
        at one location, a quantity below 1, or a line the supplier refuses (named);
        nothing is written then.
    """
    picked = list(picks)
    if not picked:
        raise ValidationError("tick at least one row", details={"rows": ["empty"]})
    supply = preferred_supply(session, {sku for sku, _, _ in picked})
    groups: dict[tuple[int, int], list[DraftLine]] = defaultdict(list)
    errors: dict[str, list[str]] = {}
    seen: set[tuple[str, int]] = set()
    for sku, location_id, quantity in picked:
        s = supply.get(sku)
        if s is None:
            errors[sku] = ["no preferred supplier: set one on the supplier's SKUs"]
        elif (sku, location_id) in seen:
            errors[sku] = ["picked twice for one location"]
        elif not isinstance(quantity, int) or isinstance(quantity, bool) or quantity < 1:
            errors[sku] = ["quantity must be a whole number of 1 or more"]
        else:
            seen.add((sku, location_id))
            groups[(s.supplier_id, location_id)].append(DraftLine(sku, quantity))
    if errors:
        names = ", ".join(f"{sku}: {reasons[0]}" for sku, reasons in errors.items())
        raise ValidationError(f"rows refused: {names}", details={"rows": errors})
    return [
        create_draft(
            session,
            supplier_id=supplier_id,
            location_id=location_id,
            lines=lines,
            actor=actor,
            notes="from replenishment suggestions",
        )
        for (supplier_id, location_id), lines in sorted(groups.items())
    ]
