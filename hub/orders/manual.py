"""Orders people enter (a phone call, the shop counter): the one way one is created.

``POST /api/v1/orders``, ``hub orders create`` and the admin's New order page
all load what was typed through :class:`hub.orders.schemas.ManualOrderSchema`
and call :func:`create_manual_order` with the hub's manual channel, so such an
order is stored, checked, reserved, routed and audited as any channel's
(:func:`hub.orders.intake.upsert_order`: ``order.created`` and its
``order.process`` job). Sending the same ``external_id`` again creates nothing.
"""

from __future__ import annotations

from dataclasses import dataclass

from sqlalchemy import func, select
from sqlalchemy.orm import Session

from hub.core.exceptions import ConcurrencyError, NotFound
from hub.core.order import OrderData
from hub.orders import intake, records
from hub.routing.geocode import Geocoder
from hub.store.models import Channel, Location, Order, StockLevel

#: At most this many SKUs are offered to pick lines from (the most available first).
PICKABLE_SKUS = 1000


@dataclass(frozen=True)
class ManualOrderResult:
    order: Order
    #: False: an order with this ``external_id`` existed already and was left as it was.
    created: bool


def create_manual_order(
    session: Session,
    channel: Channel,
    data: OrderData,
    *,
    actor: str,
    geocoder: Geocoder | None = None,
) -> ManualOrderResult:
    """Store ``data`` as a new order of ``channel`` (the manual one), or find the one it repeats.

    Two requests with the same ``external_id`` at once create it once: the
    loser's insert is undone in its savepoint and it answers the winner's order.
    """
    existing = records.find_order(session, channel.id, data.external_id, lock=False)
    if existing is not None:
        return ManualOrderResult(existing, created=False)
    try:
        return ManualOrderResult(
            intake.upsert_order(session, channel, data, actor=actor, geocoder=geocoder).order,
            created=True,
        )
    except ConcurrencyError:
        # The same order, sent twice at once: the other one won and has committed it.
        found = records.find_order(session, channel.id, data.external_id, lock=False)
        if found is None:
            raise NotFound(f"manual order {data.external_id} does not exist") from None
        return ManualOrderResult(found, created=False)


@dataclass(frozen=True)
class PickableSku:
    sku: str
    #: Units on hand less reserved, over the active locations (never below 0).
    available: int


def pickable_skus(session: Session, *, limit: int = PICKABLE_SKUS) -> list[PickableSku]:
    """The SKUs stock is kept for, with what is available to sell: what a person picks lines from."""
    available = func.sum(StockLevel.on_hand - StockLevel.reserved)
    rows = session.execute(
        select(StockLevel.sku, available)
        .join(Location, Location.id == StockLevel.location_id)
        .where(Location.active.is_(True))
        .group_by(StockLevel.sku)
        .order_by(available.desc(), StockLevel.sku)
        .limit(limit)
    )
    found = [PickableSku(sku, max(0, int(qty or 0))) for sku, qty in rows]
    return sorted(found, key=lambda p: p.sku)
