"""What a person asks of an order by the life-cycle event's name: the API's, the CLI's and the admin's one way in.

Apart from the rest so that the life cycle (:mod:`hub.orders.transitions`)
and shipments (:mod:`hub.orders.shipments`, which moves orders through it)
do not import each other: a person's ``ship`` records a shipment.
"""

from __future__ import annotations

import secrets

from hub.core import lifecycle
from hub.core.exceptions import ValidationError
from hub.core.order import ShipmentData
from hub.orders.records import get_order
from hub.orders.shipments import ship
from hub.orders.transitions import apply_event, confirm_order
from hub.runtime.work import UnitOfWork
from hub.store.models import Order


def transition(
    work: UnitOfWork, order_id: int, event: str, *, actor: str, reason: str = ""
) -> Order:
    """Apply a life-cycle event by name (``confirm``, ``hold``, ``ship`` …) to an order."""
    session = work.session
    order = get_order(session, order_id)
    target = lifecycle.next_status(
        order.label, order.status, event
    )  # raises, naming the allowed ones
    if event not in lifecycle.PERSON_EVENTS:
        raise ValidationError(f"{event} follows from shipments or returns: record those instead")
    if target == order.status and event != "hold":
        return order
    if event == "ship":
        ship(
            session,
            order.id,
            ShipmentData(external_id=f"manual-{secrets.token_hex(6)}"),
            actor=actor,
            reason=reason,
        )
        return order
    if event == "confirm":
        return confirm_order(work, order, actor=actor, reason=reason)
    return apply_event(session, order, event, actor=actor, reason=reason)
