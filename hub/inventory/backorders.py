"""Backorders: an order that waits for stock on its way instead of being held.

A SKU may allow backorders (:func:`set_allow_backorder`, ``sku_settings``).
When an order cannot be reserved in full (:func:`hub.inventory.reservations.reserve`
found units missing) and every SKU it lacks allows backorders, :func:`promise`
plans it line by line with every level of its SKUs locked: units available at
the locations first (reserved there, highest priority first), then units
**incoming** on purchase orders and not already promised to another backorder
(a :class:`Backorder` row per line and location, with the purchase order's
expected date). If that still leaves a unit short, nothing is written and the
order is held ``out_of_stock`` as before. Incoming stock is promised once:
the promised units of a (SKU, location) are read after its level is locked,
and every writer of backorders locks it first.

When stock arrives (the ``stock.received`` job after a receipt), :func:`fill`
gives it to the active backorders of that SKU and location first, oldest order
first: each filled part becomes a reservation. An order whose backorders are
all filled is ready for fulfilment again (:func:`waiting` is what fulfilment
checks). Cancelling an order cancels its backorders (:func:`cancel`); units
refunded or removed from a line cancel that many of its backordered units first
(:func:`reduce`), and only the rest give reserved stock back.

Routing: an order that is backordered is planned by this rule, not by the
``hub_allocate_order`` hook (a plugin's strategy decides for stock on hand only).
"""

from __future__ import annotations

from collections import defaultdict
from collections.abc import Iterable
from dataclasses import dataclass
from datetime import datetime
from typing import Any

from sqlalchemy import func, select
from sqlalchemy.orm import Session

from hub.core.exceptions import ValidationError
from hub.inventory import levels as inventory
from hub.inventory import reservations
from hub.runtime.work import IncomingStock
from hub.store.models import Backorder, Order, SkuSetting, StockLevel, utcnow


@dataclass(frozen=True)
class Promise:
    """Units of one line promised from incoming stock at one location, and when they come."""

    line_id: int
    sku: str
    location_code: str
    quantity: int
    expected_at: datetime | None

    def to_dict(self) -> dict[str, Any]:
        return {
            "line_id": self.line_id,
            "sku": self.sku,
            "location": self.location_code,
            "quantity": self.quantity,
            "expected_at": self.expected_at.isoformat() if self.expected_at else None,
        }


# --- the per-SKU setting ---------------------------------------------------------------------


def allows_backorder(session: Session, skus: Iterable[str]) -> set[str]:
    """The SKUs among ``skus`` whose orders may wait for incoming stock."""
    skus = set(skus)
    if not skus:
        return set()
    return set(
        session.scalars(
            select(SkuSetting.sku).where(
                SkuSetting.sku.in_(skus), SkuSetting.allow_backorder.is_(True)
            )
        )
    )


def set_allow_backorder(session: Session, sku: str, allow: bool, *, actor: str) -> SkuSetting:
    """Let orders for ``sku`` wait for incoming stock (or stop it; existing backorders stay)."""
    if not isinstance(sku, str) or not sku.strip() or len(sku) > 100:
        raise ValidationError(
            f"SKU {sku!r} must be 1 to 100 characters", details={"sku": ["invalid"]}
        )
    setting = session.get(SkuSetting, sku)
    if setting is None:
        setting = SkuSetting(sku=sku)
        session.add(setting)
    setting.allow_backorder = bool(allow)
    setting.updated_by = actor
    setting.updated_at = utcnow()
    session.flush()
    return setting


# --- what is promised -------------------------------------------------------------------------


def promised(session: Session, skus: Iterable[str] | None = None) -> dict[tuple[str, int], int]:
    """Units promised to active backorders, per (SKU, location id)."""
    query = (
        select(Backorder.sku, Backorder.location_id, func.sum(Backorder.quantity))
        .where(Backorder.status == "active")
        .group_by(Backorder.sku, Backorder.location_id)
    )
    if skus is not None:
        query = query.where(Backorder.sku.in_(set(skus)))
    return {(sku, loc): int(n) for sku, loc, n in session.execute(query).all()}


def unpromised(
    incoming: dict[tuple[str, int], int], promised: dict[tuple[str, int], int]
) -> dict[tuple[str, int], int]:
    """Incoming units no backorder has been promised yet (never below zero)."""
    keys = set(incoming) | set(promised)
    return {k: max(0, incoming.get(k, 0) - promised.get(k, 0)) for k in keys}


def active(session: Session, order_id: int) -> list[Backorder]:
    return list(
        session.scalars(
            select(Backorder)
            .where(Backorder.order_id == order_id, Backorder.status == "active")
            .order_by(Backorder.id)
        )
    )


def waiting(session: Session, order_id: int) -> bool:
    """Whether the order still waits for stock on its way (fulfilment waits with it)."""
    return bool(
        session.scalar(
            select(func.count(Backorder.id)).where(
                Backorder.order_id == order_id, Backorder.status == "active"
            )
        )
    )


@dataclass(frozen=True)
class Waiting:
    """What one line of an order still waits for: units, and when the last of them comes."""

    units: int
    expected_at: datetime | None


def backordered_by_line(session: Session, order_id: int) -> dict[int, Waiting]:
    """What each line of the order still waits for (line id -> units and expected date)."""
    rows: dict[int, list[Backorder]] = defaultdict(list)
    for row in active(session, order_id):
        rows[row.order_line_id].append(row)
    out = {}
    for line_id, parts in rows.items():
        dates = [p.expected_at for p in parts]
        out[line_id] = Waiting(
            units=sum(p.quantity for p in parts),
            expected_at=None if None in dates else max(d for d in dates if d is not None),
        )
    return out


# --- promising -------------------------------------------------------------------------------


def promise(
    session: Session,
    order: Order,
    missing: dict[str, int],
    *,
    actor: str,
    incoming: IncomingStock,
) -> list[Promise]:
    """Reserve what is there and backorder the rest from incoming stock, or nothing.

    ``missing`` is what :func:`~hub.inventory.reservations.reserve` found short.
    :return: the backordered parts (empty: the order cannot wait, nothing was written).
    """
    if not missing or set(missing) - allows_backorder(session, missing):
        return []
    needs = reservations.line_needs(order.lines)
    skus = {x.sku for x in needs}
    sites = [loc for loc in inventory.list_locations(session) if loc.active]
    on_way = incoming.incoming(session, skus)
    # Lock every level stock may come from, in (SKU, location) order, before
    # reading what other backorders promised: racing orders then queue here.
    wanted = sorted(
        {(x.sku, loc.id) for x in needs for loc in sites}
        & ({(lv.sku, lv.location_id) for lv in inventory.lock_skus(session, skus)} | set(on_way))
    )
    locked: dict[tuple[str, int], StockLevel] = {
        key: inventory.lock_level(session, *key) for key in wanted
    }
    for row in active(session, order.id):
        # Confirmed again (held, released, revised): its earlier promise is made afresh.
        row.status, row.updated_at = "cancelled", utcnow()
    session.flush()
    free = {key: lv.on_hand - lv.reserved for key, lv in locked.items()}
    open_units = unpromised(on_way, promised(session, skus))
    takes: list[tuple[int, tuple[str, int], int, bool]] = []  # line, level key, units, backordered
    for need in needs:
        want = need.quantity
        for source, backordered in ((free, False), (open_units, True)):
            for loc in sites:
                key = (need.sku, loc.id)
                take = min(want, max(0, source.get(key, 0)))
                if take and key in locked:
                    takes.append((need.line_id, key, take, backordered))
                    source[key] -= take
                    want -= take
        if want:
            return []  # not even incoming covers it: held out of stock, nothing written
    if not any(backordered for *_, backordered in takes):
        return []  # stock moved since the reservation was tried: the caller holds it
    codes = {loc.id: loc.code for loc in sites}
    out = []
    arrivals: dict[tuple[str, int], datetime | None] = {}
    for line_id, key, qty, backordered in takes:
        if not backordered:
            reservations.set_aside(session, order, line_id, locked[key], qty, actor=actor)
            continue
        if key not in arrivals:
            arrivals[key] = incoming.next_arrival(session, key[0], key[1])
        session.add(
            Backorder(
                order_id=order.id,
                order_line_id=line_id,
                location_id=key[1],
                sku=key[0],
                quantity=qty,
                status="active",
                expected_at=arrivals[key],
                created_at=utcnow(),
                updated_at=utcnow(),
            )
        )
        out.append(Promise(line_id, key[0], codes[key[1]], qty, arrivals[key]))
    session.flush()
    return out


def expected_at(promises: list[Promise]) -> datetime | None:
    """When the whole order can ship: the latest expected date (None if any is unknown)."""
    dates = [p.expected_at for p in promises]
    if not dates or any(d is None for d in dates):
        return None
    return max(d for d in dates if d is not None)


# --- filling and cancelling ------------------------------------------------------------------


def fill(session: Session, sku: str, location_id: int, *, actor: str) -> list[int]:
    """Give the free stock of (``sku``, location) to its active backorders, oldest order first.

    Each filled part becomes a reservation of the order's line there.
    :return: ids of the orders whose backorders are now all filled.
    """
    level = inventory.lock_level(session, sku, location_id)
    free = level.on_hand - level.reserved
    if free <= 0:
        return []
    rows = list(
        session.scalars(
            select(Backorder)
            .join(Order, Order.id == Backorder.order_id)
            .where(
                Backorder.sku == sku,
                Backorder.location_id == location_id,
                Backorder.status == "active",
            )
            .order_by(func.coalesce(Order.placed_at, Order.created_at), Order.id, Backorder.id)
        )
    )
    touched: list[int] = []
    for row in rows:
        if free <= 0:
            break
        take = min(free, row.quantity)
        order = session.get(Order, row.order_id)
        assert order is not None  # the foreign key cascades
        reservations.set_aside(session, order, row.order_line_id, level, take, actor=actor)
        _settle(session, row, take, "released")
        free -= take
        if row.order_id not in touched:
            touched.append(row.order_id)
    session.flush()
    return [order_id for order_id in touched if not waiting(session, order_id)]


def _settle(session: Session, row: Backorder, qty: int, status: str) -> None:
    if qty == row.quantity:
        row.status = status
    else:
        row.quantity -= qty
        session.add(
            Backorder(
                order_id=row.order_id,
                order_line_id=row.order_line_id,
                location_id=row.location_id,
                sku=row.sku,
                quantity=qty,
                status=status,
                expected_at=row.expected_at,
                created_at=row.created_at,
                updated_at=utcnow(),
            )
        )
    row.updated_at = utcnow()


def cancel(session: Session, order: Order) -> int:
    """Cancel the order's active backorders (its incoming units are free again); return units."""
    units = 0
    for row in active(session, order.id):
        # Lock like every backorder writer does, so a racing promise reads this.
        inventory.lock_level(session, row.sku, row.location_id)
        row.status = "cancelled"
        row.updated_at = utcnow()
        units += row.quantity
    session.flush()
    return units


def reduce(session: Session, order: Order, units: dict[int, int]) -> tuple[dict[int, int], int]:
    """Take ``units`` (line id -> units no longer owed) off the lines' active backorders first.

    Units refunded or removed from a line come off what it still waits for (the
    part due last first), so incoming stock is free for other orders; what the
    backorders do not cover is returned for the reservations to give back.

    :return: (line id -> units left to release from reservations, units cancelled here).
    """
    rows: dict[int, list[Backorder]] = defaultdict(list)
    for row in active(session, order.id):
        if units.get(row.order_line_id):
            rows[row.order_line_id].append(row)
    if not rows:
        return dict(units), 0
    # Every level this reduction and the release after it touch, locked in (SKU, location)
    # order first, as every stock writer does: the two steps never lock out of order.
    keys = {(r.sku, r.location_id) for parts in rows.values() for r in parts}
    keys |= {
        (r.sku, r.location_id)
        for r in reservations.active(session, order.id)
        if units.get(r.order_line_id)
    }
    for sku, location_id in sorted(keys):
        inventory.lock_level(session, sku, location_id)
    left = dict(units)
    cancelled = 0
    for line_id, parts in rows.items():
        parts.sort(key=lambda r: (r.expected_at is None, r.expected_at, r.id), reverse=True)
        for row in parts:
            take = min(left[line_id], row.quantity)
            if not take:
                break
            _settle(session, row, take, "cancelled")
            left[line_id] -= take
            cancelled += take
    session.flush()
    return {line_id: n for line_id, n in left.items() if n}, cancelled
