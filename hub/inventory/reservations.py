"""Reservations: stock set aside for confirmed orders, at the locations that will ship them.

- **Reserve** when an order is confirmed: the order is routed (the
  ``hub_allocate_order`` hook, default :func:`route_order`) with every level of
  its SKUs locked, then all its lines are reserved where they were routed, or
  none is. The reservations are the routing plan: fulfilment groups are made
  from them (:func:`planned_groups`), so the hub ships from where it reserved.
- **Release** when an order is cancelled or its lines change: reserved goes
  down, on hand stays.
- **Consume** when a shipment is recorded: on hand and reserved both go down
  by what shipped, at the location that shipped it; a voided shipment puts
  back exactly what it consumed (:func:`restore`).

Every change goes through :func:`hub.inventory.levels.move`, so each one is a stock
movement with who, why and from where. A level's ``reserved`` is always the
sum of its active reservations.

Stock is tracked once any location exists (:func:`hub.inventory.levels.tracking_enabled`);
before that, orders are neither reserved nor held for stock.
"""

from __future__ import annotations

from collections import defaultdict
from collections.abc import Callable, Iterable
from typing import Any

from sqlalchemy import select
from sqlalchemy.orm import Session

from hub.core import lifecycle
from hub.core.allocation import LineNeed, Plan, Site, route, shortages
from hub.core.exceptions import ValidationError
from hub.integration.lookup import OrderLookup
from hub.inventory import levels as inventory
from hub.store.models import Order, Shipment, StockLevel, StockReservation, utcnow

#: The hold reason of an order whose stock cannot be reserved.
HOLD_OUT_OF_STOCK = "out_of_stock"

#: Statuses in which a shipment voided after the fact does not reserve its goods again.
_DONE = frozenset(
    {
        lifecycle.DELIVERED,
        lifecycle.COMPLETED,
        lifecycle.CANCELLED,
        lifecycle.PARTIALLY_RETURNED,
        lifecycle.RETURNED,
    }
)


# --- routing ----------------------------------------------------------------------------


def line_needs(lines: list[dict[str, Any]] | list) -> list[LineNeed]:
    """What the lines need from a warehouse: lines that ship, with units owed."""
    out = []
    for line in lines:
        if isinstance(line, dict):
            if line.get("requires_shipping", True):
                out.append(LineNeed(int(line["id"]), str(line["sku"]), int(line["quantity"])))
        elif line.requires_shipping:
            out.append(LineNeed(line.id, line.sku, line.quantity))
    return [x for x in out if x.quantity > 0]


def _sites_and_stock(
    session: Session, skus: set[str]
) -> tuple[list[Site], dict[tuple[str, str], int]]:
    sites = [
        Site(loc.code, loc.priority) for loc in inventory.list_locations(session) if loc.active
    ]
    return sites, inventory.available_at(session, skus)


def route_order(lookup: OrderLookup, order: dict[str, Any]) -> Plan | None:
    """The hub's default routing of an order (as the API shows it); None if it cannot be shipped.

    See :mod:`hub.core.allocation` for the rule. None also when stock is not
    tracked (no location exists).
    """
    needs = line_needs(order["lines"])
    if not lookup.tracks_stock():
        return None
    sites = [Site(loc.code, loc.priority) for loc in lookup.locations()]
    return route(needs, sites, lookup.available({x.sku for x in needs}))


def shortage(session: Session, order: Order) -> dict[str, int]:
    """Units missing per SKU to ship ``order`` from all active locations together (read only)."""
    if not inventory.tracking_enabled(session):
        return {}
    needs = line_needs(order.lines)
    sites, available = _sites_and_stock(session, {x.sku for x in needs})
    return shortages(needs, sites, available)


def _normalise(order: Order, plan: Any) -> Plan:
    """Check a plan (perhaps a plugin's) covers every line exactly; return it with clean types."""
    try:
        clean = [
            (str(code), {int(k): int(v) for k, v in dict(lines).items()}) for code, lines in plan
        ]
    except (TypeError, ValueError) as exc:
        raise ValidationError(
            f"the allocation of order {order.label} is not "
            f"[(location, {{line_id: quantity}})]: {plan!r}"
        ) from exc
    got: dict[int, int] = defaultdict(int)
    for _code, lines in clean:
        for line_id, qty in lines.items():
            if qty < 0:
                raise ValidationError(
                    f"the allocation of order {order.label} has a negative quantity"
                )
            got[line_id] += qty
    wanted = {x.line_id: x.quantity for x in line_needs(order.lines)}
    if {k: v for k, v in got.items() if v} != wanted:
        raise ValidationError(
            f"the allocation of order {order.label} does not cover its lines exactly",
            details={"allocated": dict(got), "ordered": wanted},
        )
    return clean


# --- reserving and releasing ------------------------------------------------------------------


def active(session: Session, order_id: int) -> list[StockReservation]:
    return list(
        session.scalars(
            select(StockReservation)
            .where(StockReservation.order_id == order_id, StockReservation.status == "active")
            .order_by(StockReservation.id)
        )
    )


def _covers(reservations: list[StockReservation], order: Order) -> bool:
    got: dict[int, int] = defaultdict(int)
    for r in reservations:
        got[r.order_line_id] += r.quantity
    return dict(got) == {x.line_id: x.quantity for x in line_needs(order.lines)}


#: Routes an order: ``[(location code, {line id: units})]``, or None when it cannot be shipped.
Allocator = Callable[[Order], Any]


def reserve(
    session: Session, order: Order, *, actor: str, allocate: Allocator
) -> dict[str, int] | None:
    """Reserve every line of ``order`` where ``allocate`` routes it, or nothing.

    ``allocate`` is the orders' (the ``hub_allocate_order`` hook); its plan is
    checked here to cover every line exactly.

    :return: None when reserved (or when stock is not tracked); otherwise the
        units missing per SKU, and nothing was reserved.
    """
    if not inventory.tracking_enabled(session):
        return None
    current = active(session, order.id)
    if current and _covers(current, order):
        return None  # reserved before (confirmed, held, confirmed again): keep it
    skus = {line.sku for line in order.lines} | {r.sku for r in current}
    # Lock first, then route: the routing then reads stock no one else can take.
    locked = {(lv.sku, lv.location_id): lv for lv in inventory.lock_skus(session, skus)}
    if current:
        release(session, order, actor=actor, reason="routed again on confirmation")
    found = allocate(order)
    plan = None if found is None else _normalise(order, found)
    if plan is None:
        return shortage(session, order) or {x.sku: x.quantity for x in line_needs(order.lines)}
    lines = {line.id: line for line in order.lines}
    locations = {loc.code: loc for loc in inventory.list_locations(session)}
    wanted: dict[tuple[str, int], int] = defaultdict(int)
    for code, group in plan:
        location = locations.get(code)
        if location is None or not location.active:
            raise ValidationError(
                f"order {order.label} was routed to {code!r}, which is not an active location"
            )
        for line_id, qty in group.items():
            wanted[(lines[line_id].sku, location.id)] += qty
    missing: dict[str, int] = defaultdict(int)
    for (sku, location_id), qty in wanted.items():
        level = locked.get((sku, location_id))
        have = level.on_hand - level.reserved if level else 0
        if have < qty:
            missing[sku] += qty - have
    if missing:
        return dict(missing)
    for code, group in plan:
        location = locations[code]
        for line_id, qty in group.items():
            if not qty:
                continue
            line = lines[line_id]
            set_aside(session, order, line.id, locked[(line.sku, location.id)], qty, actor=actor)
    session.flush()
    return None


def set_aside(
    session: Session, order: Order, line_id: int, level: StockLevel, qty: int, *, actor: str
) -> StockReservation:
    """Reserve ``qty`` units of ``level`` (locked by the caller) for one line of ``order``."""
    inventory.move(
        session,
        level,
        reserved=qty,
        actor=actor,
        source=f"order:{order.id}",
        reason=f"reserved for order {order.label}",
    )
    row = StockReservation(
        order_id=order.id,
        order_line_id=line_id,
        location_id=level.location_id,
        sku=level.sku,
        quantity=qty,
        status="active",
        created_at=utcnow(),
        updated_at=utcnow(),
    )
    session.add(row)
    return row


def release(session: Session, order: Order, *, actor: str, reason: str = "") -> int:
    """Give back every active reservation of ``order``; return the units released."""
    current = active(session, order.id)
    released = 0
    for r in _in_lock_order(current):
        level = inventory.lock_level(session, r.sku, r.location_id)
        inventory.move(
            session,
            level,
            reserved=-r.quantity,
            actor=actor,
            source=f"order:{order.id}",
            reason=reason or f"released by order {order.label}",
        )
        r.status = "released"
        r.updated_at = utcnow()
        released += r.quantity
    return released


def release_units(
    session: Session, order: Order, units: dict[int, int], *, actor: str, reason: str
) -> int:
    """Give back ``units`` (line id -> units) of the order's active reservations; return the units released.

    For units no longer owed (refunded or removed on the channel): each line
    gives back from its lowest-priority location first, so what stays
    reserved is where the order would have been routed.
    """
    locations = {loc.id: loc for loc in inventory.list_locations(session)}
    takes = _take(
        _by_line(session, order),
        units.items(),
        key=lambda r: (locations[r.location_id].priority, -r.id),
    )
    released = 0
    for r, qty in takes:
        level = inventory.lock_level(session, r.sku, r.location_id)
        inventory.move(
            session,
            level,
            reserved=-qty,
            actor=actor,
            source=f"order:{order.id}",
            reason=f"{reason} (order {order.label})",
        )
        _settle(session, r, qty, "released")
        released += qty
    session.flush()
    return released


def _by_line(session: Session, order: Order) -> dict[int, list[StockReservation]]:
    by_line: dict[int, list[StockReservation]] = defaultdict(list)
    for r in active(session, order.id):
        by_line[r.order_line_id].append(r)
    return by_line


def _take(
    by_line: dict[int, list[StockReservation]],
    wanted: Iterable[tuple[int, int]],
    *,
    key: Callable[[StockReservation], Any],
) -> list[tuple[StockReservation, int]]:
    """Which reservations give how many units for ``wanted`` (line id, units), each line's in ``key`` order.

    Returned in lock order (SKU, location), the order every writer locks levels in.
    """
    takes: list[tuple[StockReservation, int]] = []
    for line_id, want in wanted:
        for r in sorted(by_line.get(line_id, []), key=key):
            take = min(want, r.quantity)
            if take:
                takes.append((r, take))
                want -= take
            if not want:
                break
    return sorted(takes, key=lambda t: (t[0].sku, t[0].location_id, t[0].id))


def _settle(
    session: Session, r: StockReservation, qty: int, status: str, shipment_id: int | None = None
) -> None:
    """Move ``qty`` units of reservation ``r`` to ``status``: the whole row, or a split-off part."""
    if qty == r.quantity:
        r.status, r.shipment_id = status, shipment_id if shipment_id is not None else r.shipment_id
    else:
        r.quantity -= qty
        session.add(
            StockReservation(
                order_id=r.order_id,
                order_line_id=r.order_line_id,
                location_id=r.location_id,
                sku=r.sku,
                quantity=qty,
                status=status,
                shipment_id=shipment_id,
                created_at=utcnow(),
                updated_at=utcnow(),
            )
        )
    r.updated_at = utcnow()


def consume(
    session: Session,
    order: Order,
    shipment: Shipment,
    *,
    actor: str,
    location_code: str | None = None,
) -> int:
    """Take what ``shipment`` carries out of stock; return the units consumed.

    Each shipped line consumes its active reservations, those at
    ``location_code`` (the shipping group's location) first, then by location
    priority. Units shipped beyond what was reserved (stock not tracked for
    them) change no level.
    """
    by_line = _by_line(session, order)
    if not by_line:
        return 0
    locations = {loc.id: loc for loc in inventory.list_locations(session)}
    preferred = next((i for i, loc in locations.items() if loc.code == location_code), None)
    takes = _take(
        by_line,
        ((sl.order_line_id, sl.quantity) for sl in shipment.lines),
        key=lambda r: (r.location_id != preferred, -locations[r.location_id].priority, r.id),
    )
    source = f"order:{order.id} shipment:{shipment.id}"
    consumed = 0
    for r, qty in takes:
        level = inventory.lock_level(session, r.sku, r.location_id)
        inventory.move(
            session,
            level,
            on_hand=-qty,
            reserved=-qty,
            actor=actor,
            source=source,
            reason=f"shipped for order {order.label}",
        )
        _settle(session, r, qty, "consumed", shipment.id)
        consumed += qty
    session.flush()
    return consumed


def restore(session: Session, order: Order, shipment: Shipment, *, actor: str) -> int:
    """Undo what a voided ``shipment`` consumed; return the units put back.

    The goods are back on hand, and reserved for the order again while it
    still has to ship them (an order already delivered, returned or
    cancelled gets them back on hand only).
    """
    rows = list(
        session.scalars(
            select(StockReservation).where(
                StockReservation.shipment_id == shipment.id, StockReservation.status == "consumed"
            )
        )
    )
    again = order.status not in _DONE
    source = f"order:{order.id} shipment:{shipment.id}"
    restored = 0
    for r in _in_lock_order(rows):
        level = inventory.lock_level(session, r.sku, r.location_id)
        inventory.move(
            session,
            level,
            on_hand=r.quantity,
            reserved=r.quantity if again else 0,
            actor=actor,
            source=source,
            reason=f"shipment voided for order {order.label}",
        )
        r.status = "active" if again else "released"
        r.shipment_id = None
        r.updated_at = utcnow()
        restored += r.quantity
    session.flush()
    return restored


def _in_lock_order(rows: list[StockReservation]) -> list[StockReservation]:
    return sorted(rows, key=lambda r: (r.sku, r.location_id, r.id))


# --- what fulfilment uses ----------------------------------------------------------------------


def planned_groups(session: Session, order: Order) -> Plan:
    """The order's fulfilment groups as reserved: one per location, in routing preference."""
    groups: dict[int, dict[int, int]] = defaultdict(lambda: defaultdict(int))
    for r in active(session, order.id):
        groups[r.location_id][r.order_line_id] += r.quantity
    out = []
    for location in inventory.list_locations(session):
        if location.id in groups:
            out.append((location.code, dict(groups[location.id])))
    return out
