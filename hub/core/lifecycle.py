"""The order life cycle as data: which event moves which status where.

``TRANSITIONS[event][from_status] -> to_status`` is the whole state machine;
:func:`next_status` is the one function that applies it. An event whose target
is the order's current status is a no-op (so replayed events are harmless),
everything else not in the table raises :class:`InvalidTransition`.

Shipping and returning come in two flavours each: ``ship_partial`` /
``return_partial`` when some lines are still open, ``ship`` / ``return`` when
all are done. The action that records a shipment or a return picks the one the
order's lines call for; a person (API, CLI, UI) normally uses ``ship``.
"""

from __future__ import annotations

from enum import StrEnum

from hub.core.exceptions import InvalidTransition


class OrderStatus(StrEnum):
    """Where an order is in its life cycle (the table below moves it)."""

    PENDING = "pending"
    ON_HOLD = "on_hold"
    CONFIRMED = "confirmed"
    PROCESSING = "processing"
    PARTIALLY_SHIPPED = "partially_shipped"
    SHIPPED = "shipped"
    DELIVERED = "delivered"
    COMPLETED = "completed"
    CANCELLED = "cancelled"
    PARTIALLY_RETURNED = "partially_returned"
    RETURNED = "returned"


#: Short names for the members, as the transition table reads them.
PENDING = OrderStatus.PENDING
ON_HOLD = OrderStatus.ON_HOLD
CONFIRMED = OrderStatus.CONFIRMED
PROCESSING = OrderStatus.PROCESSING
PARTIALLY_SHIPPED = OrderStatus.PARTIALLY_SHIPPED
SHIPPED = OrderStatus.SHIPPED
DELIVERED = OrderStatus.DELIVERED
COMPLETED = OrderStatus.COMPLETED
CANCELLED = OrderStatus.CANCELLED
PARTIALLY_RETURNED = OrderStatus.PARTIALLY_RETURNED
RETURNED = OrderStatus.RETURNED

STATUSES: tuple[str, ...] = tuple(s.value for s in OrderStatus)

#: Statuses an order never leaves by itself: nothing more is going to happen.
FINAL_STATUSES = frozenset({COMPLETED, CANCELLED, RETURNED})

_SHIPPED_OR_LATER = (SHIPPED, DELIVERED, COMPLETED, PARTIALLY_RETURNED)

TRANSITIONS: dict[str, dict[str, str]] = {
    # valid, stock reserved, payment ok
    "confirm": {PENDING: CONFIRMED, ON_HOLD: CONFIRMED},
    # with a reason; holding a held order again only adds the reason
    "hold": {PENDING: ON_HOLD, CONFIRMED: ON_HOLD, PROCESSING: ON_HOLD},
    # back to pending, where the checks run again
    "release": {ON_HOLD: PENDING},
    # The channel changed a confirmed order's lines before fulfilment started:
    # its stock is given back and it is checked and reserved again.
    "revise": {CONFIRMED: PENDING},
    "start_fulfillment": {CONFIRMED: PROCESSING},
    "ship_partial": {PROCESSING: PARTIALLY_SHIPPED, PARTIALLY_SHIPPED: PARTIALLY_SHIPPED},
    "ship": {PROCESSING: SHIPPED, PARTIALLY_SHIPPED: SHIPPED},
    # a voided label undoes its shipment: back to what is still shipped
    "unship": {SHIPPED: PROCESSING, PARTIALLY_SHIPPED: PROCESSING},
    "unship_partial": {SHIPPED: PARTIALLY_SHIPPED, PARTIALLY_SHIPPED: PARTIALLY_SHIPPED},
    "deliver": {SHIPPED: DELIVERED},
    "complete": {DELIVERED: COMPLETED},
    "cancel": {PENDING: CANCELLED, ON_HOLD: CANCELLED, CONFIRMED: CANCELLED, PROCESSING: CANCELLED},
    "return_partial": {s: PARTIALLY_RETURNED for s in _SHIPPED_OR_LATER},
    "return": {s: RETURNED for s in _SHIPPED_OR_LATER},
}

EVENTS: tuple[str, ...] = tuple(TRANSITIONS)

#: The past-tense name of what happened, as plugins hear it (``hub_order_event``).
EVENT_NAMES: dict[str, str] = {
    "confirm": "order.confirmed",
    "hold": "order.held",
    "release": "order.released",
    "revise": "order.revised",
    "start_fulfillment": "order.fulfillment_started",
    "ship_partial": "order.partially_shipped",
    "ship": "order.shipped",
    "unship": "order.unshipped",
    "unship_partial": "order.partially_unshipped",
    "deliver": "order.delivered",
    "complete": "order.completed",
    "cancel": "order.cancelled",
    "return_partial": "order.partially_returned",
    "return": "order.returned",
}


#: Events a person may ask for by name (API, UI, CLI). The others follow from
#: facts: shipments recorded or voided, returns received.
PERSON_EVENTS = frozenset(
    {"confirm", "hold", "release", "start_fulfillment", "ship", "deliver", "complete", "cancel"}
)


def allowed_events(status: str, *, person: bool = False) -> list[str]:
    """Return the events that move an order out of ``status``, in table order.

    :param person: only those a person may ask for by name (see PERSON_EVENTS).
    """
    return [
        event
        for event, moves in TRANSITIONS.items()
        if status in moves and (not person or event in PERSON_EVENTS)
    ]


def next_status(order: str, status: str, event: str) -> str:
    """Return the status ``event`` moves an order in ``status`` to.

    :param order: how to name the order in an error (its number or id).
    :raises InvalidTransition: the table has no such move; the error names the
        order, its status, the event and the events that are allowed.

    An event whose target is ``status`` itself returns ``status``: callers treat
    that as a no-op, so a replayed event changes nothing.
    """
    moves = TRANSITIONS.get(event)
    if moves is None:
        raise InvalidTransition(order, status, event, allowed_events(status))
    if status in moves:
        return moves[status]
    if status in moves.values():
        return status
    raise InvalidTransition(order, status, event, allowed_events(status))
