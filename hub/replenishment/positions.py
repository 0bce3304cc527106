"""Where each SKU stands at each location against its reorder policy, and what to buy.

One read (:func:`positions`) serves the low-stock alerts (:mod:`hub.replenishment.low_stock`),
the suggestions API (``GET /api/v1/replenishment``) and the admin's replenishment page.

- **available**: on hand minus reserved minus the units promised to backorders there
  (they are covered by incoming stock, so they count once: below zero means owed);
- **incoming**: units on purchase orders not yet received (the caller reads them from
  :mod:`hub.purchasing`, which sits above this package);
- **reorder point** and **order-up-to**: the policy of the SKU at that location
  applied to its forecast there (:func:`hub.replenishment.policies.apply`); None
  when a computed policy has no forecast yet.

A SKU is **low** when available + incoming is below its reorder point; the
suggested quantity is then order-up-to − available − incoming, rounded up to
the supplier's minimum order quantity and pack size (:func:`round_to_supplier`).
"""

from __future__ import annotations

import math
from collections.abc import Iterable
from dataclasses import dataclass
from typing import Any

from sqlalchemy import select
from sqlalchemy.orm import Session

from hub.inventory import backorders
from hub.inventory import levels as inventory
from hub.replenishment import policies
from hub.store.models import DemandForecast, ReorderPolicy, StockLevel


@dataclass(frozen=True)
class Position:
    sku: str
    location_id: int
    location: str
    available: int
    incoming: int
    reorder_point: int | None
    order_up_to: int | None

    @property
    def low(self) -> bool:
        """Available + incoming below the reorder point."""
        return (
            self.reorder_point is not None and self.available + self.incoming < self.reorder_point
        )

    @property
    def shortfall(self) -> int:
        """Units up to the order-up-to level, before any supplier's rounding (0 if not low)."""
        if not self.low or self.order_up_to is None:
            return 0
        return max(0, self.order_up_to - self.available - self.incoming)


def round_to_supplier(quantity: int, *, minimum: int = 1, pack_size: int = 1) -> int:
    """``quantity`` raised to the supplier's minimum order and then to whole packs (0 stays 0).

    >>> round_to_supplier(7, minimum=10, pack_size=6)
    12
    """
    if quantity <= 0:
        return 0
    pack_size = max(1, pack_size)
    return math.ceil(max(quantity, minimum, 1) / pack_size) * pack_size


def positions(
    session: Session,
    incoming: dict[tuple[str, int], int],
    *,
    skus: Iterable[str] | None = None,
) -> list[Position]:
    """Every SKU at every active location it is stocked, incoming or has a policy; by SKU."""
    sku_filter = None if skus is None else set(skus)
    locations = {loc.id: loc for loc in inventory.list_locations(session) if loc.active}
    level_query = select(StockLevel)
    policy_query = select(ReorderPolicy)
    forecast_query = select(DemandForecast).where(DemandForecast.location_id.is_not(None))
    if sku_filter is not None:
        level_query = level_query.where(StockLevel.sku.in_(sku_filter))
        policy_query = policy_query.where(ReorderPolicy.sku.in_(sku_filter))
        forecast_query = forecast_query.where(DemandForecast.sku.in_(sku_filter))
    free = {
        (lv.sku, lv.location_id): lv.on_hand - lv.reserved for lv in session.scalars(level_query)
    }
    stored = {(p.sku, p.location_id): p for p in session.scalars(policy_query)}
    forecasts = {(f.sku, f.location_id): f for f in session.scalars(forecast_query)}
    owed = backorders.promised(session, sku_filter)
    keys: set[tuple[str, int]] = set(free) | set(incoming)
    keys |= {(sku, loc) for sku, loc in stored if loc is not None}
    if sku_filter is not None:
        keys = {k for k in keys if k[0] in sku_filter}
    out = []
    for sku, location_id in sorted(k for k in keys if k[1] in locations):
        row = stored.get((sku, location_id))
        policy = policies.DEFAULT if row is None else policies.from_row(row)
        figures = policies.apply(policy, forecasts.get((sku, location_id)))
        out.append(
            Position(
                sku=sku,
                location_id=location_id,
                location=locations[location_id].code,
                available=free.get((sku, location_id), 0) - owed.get((sku, location_id), 0),
                incoming=incoming.get((sku, location_id), 0),
                reorder_point=figures["reorder_point"],
                order_up_to=figures["order_up_to"],
            )
        )
    return out


@dataclass(frozen=True)
class Supply:
    """What a SKU's preferred supplier asks: its id, minimum order and pack size."""

    supplier_id: int
    minimum_order_quantity: int
    pack_size: int


def suggestions(found: list[Position], supply: dict[str, Supply | None]) -> list[dict[str, Any]]:
    """The low positions as rows to buy: the shortfall rounded to the preferred supplier's
    minimum order and pack size (as it is when the SKU has no supplier)."""
    rows = []
    for p in found:
        if not p.shortfall:
            continue
        s = supply.get(p.sku)
        quantity = (
            round_to_supplier(p.shortfall, minimum=s.minimum_order_quantity, pack_size=s.pack_size)
            if s
            else p.shortfall
        )
        rows.append(
            {
                "sku": p.sku,
                "location": p.location,
                "location_id": p.location_id,
                "available": p.available,
                "incoming": p.incoming,
                "reorder_point": p.reorder_point,
                "order_up_to": p.order_up_to,
                "suggested_quantity": quantity,
                "supplier_id": s.supplier_id if s else None,
            }
        )
    return rows
