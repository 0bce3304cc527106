"""Domain events: what happened to an order, named in the past tense.

An action records them; the outside world (plugins, notification channels)
hears of them only after the transaction that made them commits, through jobs
written in that same transaction.
"""

from __future__ import annotations

from dataclasses import dataclass, field
from datetime import UTC, datetime
from typing import Any

#: Events that are not transitions of the life cycle.
ORDER_CREATED = "order.created"
ORDER_UPDATED = "order.updated"
PAYMENT_UPDATED = "order.payment_updated"
SHIPMENT_VOIDED = "order.shipment_voided"
REFUNDED = "order.refunded"
#: Units refunded or removed on the channel before they shipped; ``data["lines"]``
#: maps line id to the units no longer to ship.
LINES_REDUCED = "order.lines_reduced"
#: A refund the channel made itself (``data``: refund id, amount, lines, reason).
REFUNDED_ON_CHANNEL = "order.refunded_on_channel"
#: The gateway took a payment amount other than asked (rounded to its steps); ``reason`` says how.
PAYMENT_ADJUSTED = "order.payment_adjusted"
#: A dispute was decided for the merchant: the funds came back.
DISPUTE_WON = "order.dispute_won"
#: A voided shipment's fulfilment was cancelled on the sales channel.
CHANNEL_FULFILLMENT_CANCELLED = "order.channel_fulfillment_cancelled"
#: Confirmed with lines waiting for stock on a purchase order (``data``: the lines, each
#: with its units, location and expected date, and ``expected_at`` for the whole order).
BACKORDERED = "order.backordered"
#: Every backordered unit of the order arrived and is reserved: fulfilment goes on.
BACKORDER_FILLED = "order.backorder_filled"
#: The customer is told their order waits (``data``: ``cause`` ``out_of_stock``, ``backordered``,
#: ``late_shipping`` or ``late_delivery``, the ``lines`` waiting, ``expected_at`` when known,
#: ``promised`` for a late order); once per order and cause.
ORDER_DELAYED = "order.delayed"
#: A delivery promise was not kept (``data``: ``cause`` ``not_shipped`` or ``not_delivered``,
#: the ``group`` key, the ``promised`` day); recorded once per order and cause.
ORDER_LATE = "order.late"


@dataclass(frozen=True, slots=True)
class OrderEvent:
    """Something that happened to one order.

    :ivar name: past-tense dotted name, e.g. ``order.confirmed``.
    :ivar order_id: the hub's id of the order.
    :ivar data: small JSON-able facts (from/to status, reason, shipment id …).
    :ivar id: the audit event's id once stored; unique, used for dedupe keys.
    """

    name: str
    order_id: int
    data: dict[str, Any] = field(default_factory=dict)
    id: int | None = None
    occurred_at: datetime = field(default_factory=lambda: datetime.now(UTC))

    def to_dict(self) -> dict[str, Any]:
        """JSON-ready form (a job payload, an outbound webhook's ``event``)."""
        return {
            "id": self.id,
            "name": self.name,
            "order_id": self.order_id,
            "data": self.data,
            "occurred_at": self.occurred_at.isoformat(),
        }

    @classmethod
    def from_dict(cls, d: dict[str, Any]) -> OrderEvent:
        """The event :meth:`to_dict` wrote."""
        return cls(
            name=d["name"],
            order_id=d["order_id"],
            data=d.get("data") or {},
            id=d.get("id"),
            occurred_at=datetime.fromisoformat(d["occurred_at"]),
        )
