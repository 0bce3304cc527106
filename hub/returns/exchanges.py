"""Exchanges: another variant of the same product, sent on a replacement order.

"The same product" is what the canonical order line says: lines carry the
channel's ``product_id`` (Shopify's ``line_items[].product_id``), so the
variants of a product are the SKUs the hub has seen sold under that product id.
One is offered in exchange while stock of it is available (on hand less
reserved, over active locations).

At approval the replacement becomes an order of its own: a zero-price order of
the hub's manual channel (:func:`hub.orders.replacements.create_replacement`, external
id ``exchange-<return id>``), checked, confirmed and reserved like any other, so
stock, the jobs list and the shipping channel all see it. With the policy's
``on_receipt`` it waits (``Return.exchange_waits``: fulfilment does not start,
see :func:`waiting`) until the goods are received, then ``order.exchange_released``
starts its fulfilment; with ``at_once`` it ships as soon as it is confirmed. A
rejected return cancels its replacement (its reservation goes back).
"""

from __future__ import annotations

from dataclasses import dataclass

from sqlalchemy import func, select
from sqlalchemy.orm import Session

from hub.core import lifecycle
from hub.core.exceptions import Conflict
from hub.core.order import Line
from hub.orders import records, transitions
from hub.orders.replacements import create_replacement
from hub.store.models import (
    Channel,
    Location,
    Order,
    OrderLine,
    Return,
    StockLevel,
)

#: The hub's channel for orders people enter (``hub.channels.manage.MANUAL_SLUG``;
#: a layer above this one, so named here again).
MANUAL_SLUG = "manual"


@dataclass(frozen=True)
class Variant:
    sku: str
    name: str
    available: int


def available(session: Session, skus: set[str]) -> dict[str, int]:
    """Units of each SKU on hand less reserved over active locations (never below 0)."""
    if not skus:
        return {}
    rows = session.execute(
        select(StockLevel.sku, func.sum(StockLevel.on_hand - StockLevel.reserved))
        .join(Location, Location.id == StockLevel.location_id)
        .where(Location.active.is_(True), StockLevel.sku.in_(skus))
        .group_by(StockLevel.sku)
    )
    return {sku: max(0, int(qty or 0)) for sku, qty in rows}


def variants_in_stock(session: Session, line: OrderLine, *, at_least: int = 1) -> list[Variant]:
    """The other variants of the line's product with ``at_least`` units available, by SKU."""
    if not line.product_id:
        return []
    names: dict[str, str] = {}
    for sku, name in session.execute(
        select(OrderLine.sku, OrderLine.name)
        .join(Order, Order.id == OrderLine.order_id)
        .where(
            OrderLine.product_id == line.product_id,
            Order.channel_id == line.order.channel_id,
            OrderLine.sku != line.sku,
        )
        .order_by(OrderLine.id)
    ):
        names[sku] = name or sku  # the latest name a channel gave it
    stock = available(session, set(names))
    return [
        Variant(sku, names[sku], stock[sku])
        for sku in sorted(names)
        if stock.get(sku, 0) >= at_least
    ]


def waiting(session: Session, order_id: int) -> bool:
    """Whether ``order_id`` is an exchange's replacement waiting for the goods to come back."""
    return bool(
        session.scalar(
            select(func.count(Return.id)).where(
                Return.exchange_order_id == order_id, Return.exchange_waits.is_(True)
            )
        )
    )


def reserve_replacement(session: Session, ret: Return, *, wait: bool, actor: str) -> Order:
    """Create the exchange's replacement order (zero price) for an approved return.

    :param wait: hold its fulfilment until the return is received.
    :raises Conflict: a chosen variant is no longer in stock, or the hub has no manual channel.
    """
    order = ret.order
    wanted: dict[str, int] = {}
    for rl in ret.lines:
        if rl.exchange_sku:
            wanted[rl.exchange_sku] = wanted.get(rl.exchange_sku, 0) + rl.quantity
    stock = available(session, set(wanted))
    short = [sku for sku, qty in wanted.items() if stock.get(sku, 0) < qty]
    if short:
        raise Conflict(
            f"return {ret.id}: {', '.join(sorted(short))} is no longer in stock for the exchange; "
            f"reject the return or change it to a refund",
            details={"exchange_skus": sorted(short)},
        )
    channel = session.scalars(select(Channel).where(Channel.slug == MANUAL_SLUG)).one_or_none()
    if channel is None:
        raise Conflict(
            "exchanges are sent on an order of the manual channel, which does not exist yet "
            "(`hub init` or one order entered in the admin creates it)"
        )
    names = {line.sku: line.name for line in order.lines}
    for rl in ret.lines:
        if rl.exchange_sku:
            found = session.scalar(
                select(OrderLine.name)
                .where(OrderLine.sku == rl.exchange_sku, OrderLine.name != "")
                .order_by(OrderLine.id.desc())
                .limit(1)
            )
            names[rl.exchange_sku] = found or rl.exchange_sku
    lines = [
        Line(
            sku=sku,
            name=names.get(sku) or sku,
            quantity=qty,
            unit_price=0,
            product_id=next(
                (rl.order_line.product_id for rl in ret.lines if rl.exchange_sku == sku), ""
            ),
        )
        for sku, qty in sorted(wanted.items())
    ]
    # Waiting is set before the order exists: its confirmation must find it waiting.
    ret.exchange_waits = wait
    replacement = create_replacement(
        session,
        order,
        channel,
        lines,
        external_id=f"exchange-{ret.id}",
        suffix=f"-X{ret.id}",
        tags=["exchange", f"return:{ret.id}"],
        notes=f"Exchange for return {ret.id} of order {order.label}",
        actor=actor,
    )
    ret.exchange_order_id = replacement.id
    session.flush()
    return replacement


def release_replacement(session: Session, ret: Return, *, actor: str) -> None:
    """The goods are back: a waiting replacement starts its fulfilment (``order.exchange_released``)."""
    if ret.exchange_order_id is None or not ret.exchange_waits:
        return
    ret.exchange_waits = False
    session.flush()
    replacement = records.get_order(session, ret.exchange_order_id)
    records.record(
        session,
        replacement,
        "order.exchange_released",
        actor=actor,
        reason=f"return {ret.id} of order {ret.order.label} was received",
        data={"return_id": ret.id},
    )


def cancel_replacement(session: Session, ret: Return, *, actor: str, reason: str) -> None:
    """A rejected exchange: its replacement order is cancelled (its stock goes back)."""
    if ret.exchange_order_id is None:
        return
    ret.exchange_waits = False
    replacement = records.get_order(session, ret.exchange_order_id)
    if "cancel" in lifecycle.allowed_events(replacement.status):
        transitions.apply_event(session, replacement, "cancel", actor=actor, reason=reason)
