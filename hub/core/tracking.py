"""Delivery facts from carriers: the canonical events of a shipment, and what they mean for its order.

A tracking service (AfterShip …) reports a parcel's checkpoints in its own
words; its connector maps each to one of :class:`CarrierEvent` (or to none,
for what says nothing of the parcel's way yet: a label created, a tracking
number not found yet). The hub acts on these alone:

- ``delivered`` on every shipment of an order → the order is ``delivered``;
- a :data:`PROBLEMS` event (``exception``, ``returned_to_sender``) flags the
  order and the customer hears of it, once per order.
"""

from __future__ import annotations

from collections.abc import Iterable
from enum import StrEnum


class CarrierEvent(StrEnum):
    """Where a parcel is, as the hub knows carriers' news: one word per kind of news."""

    IN_TRANSIT = "in_transit"
    OUT_FOR_DELIVERY = "out_for_delivery"
    DELIVERED = "delivered"
    EXCEPTION = "exception"
    RETURNED_TO_SENDER = "returned_to_sender"


#: The events that mean the parcel may not reach the customer as planned.
PROBLEMS = frozenset({CarrierEvent.EXCEPTION, CarrierEvent.RETURNED_TO_SENDER})

#: Each event as a customer and a merchant read it.
EVENT_WORDS: dict[str, str] = {
    CarrierEvent.IN_TRANSIT: "In transit",
    CarrierEvent.OUT_FOR_DELIVERY: "Out for delivery",
    CarrierEvent.DELIVERED: "Delivered",
    CarrierEvent.EXCEPTION: "Delivery problem",
    CarrierEvent.RETURNED_TO_SENDER: "Returned to sender",
}


def carrier_event_words(event: str | None) -> str:
    """A canonical event in words; an unmapped checkpoint (None) reads as "Carrier update"."""
    if not event:
        return "Carrier update"
    return EVENT_WORDS.get(event, event.replace("_", " ").capitalize())


def all_delivered(statuses: Iterable[str | None]) -> bool:
    """Whether every shipment is delivered, given each one's latest carrier event.

    A shipment the carrier said nothing of (None) is not delivered: an order is
    delivered on the carrier's word for every parcel, or by a person. No
    shipment at all is not delivered either.
    """
    seen = list(statuses)
    return bool(seen) and all(s == CarrierEvent.DELIVERED for s in seen)
