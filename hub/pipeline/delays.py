"""Delay notices: an order that waits tells its customer, once per cause (``order.delayed``).

Four causes are told:

- ``out_of_stock``: the order was held because stock could not be reserved for
  every line (``order.held`` with reason ``out_of_stock``). The notice names the
  missing units and, when purchase orders on their way have enough units not
  yet promised to backorders for every missing SKU, the day the last of them is
  expected; otherwise no date (the merchant has not ordered enough yet).
- ``backordered``: the order was confirmed with lines waiting for stock on a
  purchase order (``order.backordered``); the notice names those lines and the
  purchase orders' expected day;
- ``late_shipping`` and ``late_delivery``: a delivery promise was not kept
  (``order.late`` with cause ``not_shipped`` or ``not_delivered``, found by
  :mod:`hub.pipeline.late`); the notice gives the day that was promised
  (``promised``), no new day (none is known).

It follows the event that starts the wait (:func:`hub.pipeline.follow_up`), in the
same transaction as the jobs that event fans out to, with the order's row locked:
an order's ``order.delayed`` of a cause is recorded once, whatever replays,
holds and releases come after (a second out-of-stock hold tells nothing new). An
order no longer waiting by then (released, filled, cancelled) is told nothing.
The event then goes where every order event goes: the email channel's
``delayed`` template (through the notifications outbox, once per event), the
outbound webhooks, the timeline.
"""

from __future__ import annotations

from datetime import datetime
from typing import Any

from sqlalchemy import select
from sqlalchemy.orm import Session

from hub.aftercare.links import CHOICE_DAYS, Links
from hub.core import events as ev
from hub.core.lifecycle import (
    CONFIRMED,
    EVENT_NAMES,
    ON_HOLD,
    PARTIALLY_SHIPPED,
    PROCESSING,
    SHIPPED,
)
from hub.inventory import backorders
from hub.inventory.reservations import HOLD_OUT_OF_STOCK
from hub.orders import edits, substitutes
from hub.orders.records import get_order, record
from hub.purchasing.queries import incoming, next_arrival
from hub.store.models import Order, OrderAuditEvent

OUT_OF_STOCK = "out_of_stock"
BACKORDERED = "backordered"
LATE_SHIPPING = "late_shipping"
LATE_DELIVERY = "late_delivery"
CAUSES = (OUT_OF_STOCK, BACKORDERED, LATE_SHIPPING, LATE_DELIVERY)

#: What the timeline says was told, per cause.
CAUSE_WORDS = {
    OUT_OF_STOCK: "some items are out of stock",
    BACKORDERED: "some items wait for stock on a purchase order",
    LATE_SHIPPING: "it did not ship by the promised day",
    LATE_DELIVERY: "it was not delivered by the promised day",
}

#: ``order.late``'s causes (hub.routing.late), as delays.
_LATE = {"not_shipped": LATE_SHIPPING, "not_delivered": LATE_DELIVERY}
#: Statuses in which a late order still waits for what was promised, per cause.
_STILL_LATE = {
    LATE_SHIPPING: (CONFIRMED, PROCESSING, PARTIALLY_SHIPPED),
    LATE_DELIVERY: (CONFIRMED, PROCESSING, PARTIALLY_SHIPPED, SHIPPED),
}


def cause_of(audit: OrderAuditEvent) -> str | None:
    """The delay an audit event starts, if any."""
    if audit.name == EVENT_NAMES["hold"] and audit.reason == HOLD_OUT_OF_STOCK:
        return OUT_OF_STOCK
    if audit.name == ev.BACKORDERED:
        return BACKORDERED
    if audit.name == ev.ORDER_LATE:
        return _LATE.get(str((audit.data or {}).get("cause")))
    return None


def told(session: Session, order_id: int) -> set[str]:
    """The causes the order's customer was told of already."""
    data = session.scalars(
        select(OrderAuditEvent.data).where(
            OrderAuditEvent.order_id == order_id, OrderAuditEvent.name == ev.ORDER_DELAYED
        )
    )
    return {str((d or {}).get("cause")) for d in data}


def tell(
    session: Session, audit: OrderAuditEvent, links: Links | None = None
) -> OrderAuditEvent | None:
    """Record ``order.delayed`` for the wait ``audit`` starts, unless told of it before.

    With ``links``, an out-of-stock or backordered notice of an order whose lines are the hub's, where the
    merchant set alternatives for a missing SKU and one is in stock, offers a choice
    (:mod:`hub.orders.substitutes`): the ``substitutes`` for the missing lines, and
    ``choice_url``, the signed link to the tracking page where the customer chooses (it
    works ``choice_days``).

    :return: the event recorded, or None (no delay, told already, or no longer waiting).
    """
    cause = cause_of(audit)
    if cause is None:
        return None
    order = get_order(session, audit.order_id)  # locked: one notice per cause, ever
    if cause in told(session, order.id):
        return None
    if cause == OUT_OF_STOCK:
        notice = _out_of_stock(session, order, audit)
        _offer(session, order, notice, links)
    elif cause == BACKORDERED:
        notice = _backordered(session, order, audit)
        _offer(session, order, notice, links)
    else:
        notice = _late(order, audit, cause)
    if notice is None:
        return None
    expected = notice["expected_at"]
    return record(
        session,
        order,
        ev.ORDER_DELAYED,
        actor="system",
        reason=CAUSE_WORDS[cause] + (f", expected {expected[:10]}" if expected else ""),
        data={"cause": cause, **notice},
    )


def _offer(
    session: Session, order: Order, notice: dict[str, Any] | None, links: Links | None
) -> None:
    """Offer the substitutes in stock for the lines waiting, with the link to choose."""
    if notice is None or links is None or not edits.lines_editable(order):
        return
    offered = substitutes.offers(session, notice["lines"])
    if offered:  # where the merchant set alternatives and one is in stock
        notice["substitutes"] = offered
        notice["choice_url"] = links.choice(order.id)
        notice["choice_days"] = CHOICE_DAYS


def _out_of_stock(session: Session, order: Order, audit: OrderAuditEvent) -> dict[str, Any] | None:
    if order.status != ON_HOLD or HOLD_OUT_OF_STOCK not in (order.hold_reasons or []):
        return None  # released (or cancelled) before the notice went out
    missing = _missing(audit.data or {})
    if not missing:
        return None
    line_of: dict[str, int] = {}
    for line in order.lines:
        line_of.setdefault(line.sku, line.id)
    on_the_way = incoming(session, list(missing))
    promised = backorders.promised(session, list(missing))
    dates: list[datetime | None] = []
    for sku, units in missing.items():
        free = sum(n for (s, _), n in on_the_way.items() if s == sku) - sum(
            n for (s, _), n in promised.items() if s == sku
        )
        dates.append(next_arrival(session, sku, None) if free >= units else None)
    expected = None if not dates or None in dates else max(d for d in dates if d is not None)
    return {
        "lines": [
            {"line_id": line_of.get(sku), "sku": sku, "quantity": units}
            for sku, units in sorted(missing.items())
        ],
        "expected_at": expected.isoformat() if expected else None,
    }


def _backordered(session: Session, order: Order, audit: OrderAuditEvent) -> dict[str, Any] | None:
    if not backorders.waiting(session, order.id):
        return None  # filled or cancelled before the notice went out
    data = audit.data or {}
    return {
        "lines": [
            {"line_id": x.get("line_id"), "sku": x.get("sku"), "quantity": x.get("quantity")}
            for x in data.get("lines") or []
        ],
        "expected_at": data.get("expected_at"),
    }


def _late(order: Order, audit: OrderAuditEvent, cause: str) -> dict[str, Any] | None:
    if order.status not in _STILL_LATE[cause]:
        return None  # shipped, delivered or cancelled before the notice went out
    return {
        "lines": [],
        "expected_at": None,
        "promised": str((audit.data or {}).get("promised") or "")[:10] or None,
    }


def _missing(data: dict[str, Any]) -> dict[str, int]:
    """The units short per SKU, as the out-of-stock hold recorded them."""
    skus = data.get("skus") or {}
    if isinstance(skus, dict):
        return {str(sku): int(units) for sku, units in skus.items() if int(units) > 0}
    return {}


def on_page(session: Session, order: Order) -> dict[str, Any] | None:
    """The delay the customer was told of and that still holds, for their tracking page.

    The latest ``order.delayed`` whose cause still applies (the order is still held
    out of stock, or still waits for backordered units): its ``cause``, the
    ``expected`` day (a date, or None) and the ``lines`` waiting (name, quantity).
    """
    notices = session.scalars(
        select(OrderAuditEvent)
        .where(OrderAuditEvent.order_id == order.id, OrderAuditEvent.name == ev.ORDER_DELAYED)
        .order_by(OrderAuditEvent.id.desc())
    ).all()
    names = {line.id: line.name or line.sku for line in order.lines}
    for notice in notices:
        data = notice.data or {}
        cause = data.get("cause")
        if cause == OUT_OF_STOCK:
            holds = order.status == ON_HOLD and HOLD_OUT_OF_STOCK in (order.hold_reasons or [])
        else:
            holds = cause == BACKORDERED and backorders.waiting(session, order.id)
        if not holds:
            continue
        expected = data.get("expected_at")
        return {
            "cause": cause,
            "expected": datetime.fromisoformat(expected).date() if expected else None,
            "lines": [
                (names.get(x.get("line_id")) or x.get("sku") or "item", x.get("quantity"))
                for x in data.get("lines") or []
            ],
        }
    return None
