"""An order's history in words: each audit event as a sentence, each actor as a person knows it.

The audit trail names events as developers do (``order.fulfillment_started``) and
actors as the code does (``channel:shipstation``, ``user:ann@example.com``,
``system``); this is their one translation for the admin's pages, next to
:mod:`hub.orders.hold_reasons`. An event no sentence is written for yet (a
plugin's own) still reads as words: ``acme.label_printed`` → "Acme: label printed".
"""

from __future__ import annotations

from collections.abc import Mapping
from typing import NamedTuple

from hub.core import events as ev
from hub.core.lifecycle import EVENT_NAMES
from hub.core.names import name_in_words
from hub.orders.edits import ORDER_EDITED

#: Events that are not in hub.core.events, recorded where they happen.
ATTENTION = "order.attention"
CANCEL_REQUESTED = "order.cancel_requested"
EXTRA_PACKAGE = "order.extra_package"
NOTHING_TO_SHIP = "order.nothing_to_ship"

EVENT_WORDS: dict[str, str] = {
    ev.ORDER_CREATED: "Order received",
    ev.ORDER_UPDATED: "Updated from the sales channel",
    ORDER_EDITED: "Edited",
    ev.PAYMENT_UPDATED: "Payment updated by the payment provider",
    ev.SHIPMENT_VOIDED: "A shipping label was voided",
    ev.REFUNDED: "Money refunded to the customer",
    ev.LINES_REDUCED: "Items refunded or removed on the sales channel before shipping",
    ev.REFUNDED_ON_CHANNEL: "Refunded on the sales channel",
    ev.PAYMENT_ADJUSTED: "The payment provider took a different amount than asked",
    ev.DISPUTE_WON: "Payment dispute won: the money came back",
    ev.CHANNEL_FULFILLMENT_CANCELLED: "Shipment cancelled on the sales channel",
    ev.BACKORDERED: "Backordered: waits for stock on a purchase order",
    ev.BACKORDER_FILLED: "The backordered stock arrived: on to the warehouse",
    ev.ORDER_DELAYED: "The customer was told of the delay",
    ev.ORDER_LATE: "Late: a delivery promise was not kept",
    EVENT_NAMES["confirm"]: "Confirmed: the checks passed",
    EVENT_NAMES["hold"]: "Put on hold",
    EVENT_NAMES["release"]: "Hold released: the checks run again",
    EVENT_NAMES["revise"]: "Changed on the sales channel: checked and reserved again",
    EVENT_NAMES["start_fulfillment"]: "Sent to the warehouse",
    EVENT_NAMES["ship_partial"]: "Part of the order shipped",
    EVENT_NAMES["ship"]: "Shipped",
    EVENT_NAMES["unship"]: "Shipment undone: its label was voided",
    EVENT_NAMES["unship_partial"]: "Part of the shipment undone: its label was voided",
    EVENT_NAMES["deliver"]: "Delivered",
    EVENT_NAMES["complete"]: "Completed",
    EVENT_NAMES["cancel"]: "Cancelled",
    EVENT_NAMES["return_partial"]: "Part of the order returned",
    EVENT_NAMES["return"]: "Returned",
    ATTENTION: "Needs a person: a payment problem came too late to hold the order",
    CANCEL_REQUESTED: "Cancelled on the sales channel, too late to cancel here",
    EXTRA_PACKAGE: "Another package shipped",
    NOTHING_TO_SHIP: "Nothing to send to the warehouse: no item needs shipping",
    "order.return_requested": "Return opened",
    "order.return_approved": "Return approved",
    "order.return_rejected": "Return rejected",
    "order.return_received": "Returned goods received",
    "order.return_refunded": "Return refunded",
    "order.exchange_released": "The exchanged goods came back: the replacement ships",
    "order.carrier_update": "The carrier reported news of a shipment",
    "order.delivery_exception": "The carrier reported a delivery problem: the customer was told",
    "order.invoice_issued": "Invoice issued",
    "order.credit_note_issued": "Credit note issued",
    # After delivery (hub.aftercare, hub.cases).
    "order.satisfaction_check": "Asked the customer whether all arrived well",
    "order.satisfaction_answered": "The customer answered: all arrived well",
    "order.review_requested": "Asked the customer for a review",
    "order.customer_opted_out": "The customer asked for no more satisfaction checks or review requests",
    "order.case_opened": "Case opened",
    "order.case_resolved": "Case resolved",
    "order.replacement_created": "Replacement order created for a case",
    # The customer's answer to a delay notice on the tracking page (hub.orders.substitutes).
    "order.delay_answered": "The customer chose what happens to the missing items",
}


def event_words(name: str) -> str:
    """The event ``name`` as a sentence for people; an unknown one as its name in words."""
    known = EVENT_WORDS.get(name)
    return known if known is not None else name_in_words(name, home="order")


class ChannelName(NamedTuple):
    """What a channel is called: its own name and its connector's (``"ShipStation"``)."""

    name: str
    connector: str


#: Actors without a prefix, as the code writes them.
_PLAIN_ACTORS = {
    "system": "The hub",
    "cli": "The command line",
    "demo": "The demo",
    # Self-service: the customer on their tracking page (hub.returns.selfservice).
    "customer": "The customer",
}


def actor_words(actor: str | None, channels: Mapping[str, ChannelName] | None = None) -> str:
    """Who did it, as a person knows them.

    ``channel:<slug>`` → "ShipStation (channel Main warehouse)" (with ``channels`` by
    slug; a channel deleted since is named by its slug), ``user:<email>`` → the email,
    ``api:<token>`` → "API token <name>", ``rule:<name>`` → "The <name> rule",
    ``system`` → "The hub", ``customer`` → "The customer". Anything else as it is.
    """
    if not actor:
        return "The hub"
    kind, sep, who = actor.partition(":")
    if not sep:
        return _PLAIN_ACTORS.get(actor, actor)
    if kind == "user":
        return who
    if kind == "api":
        return f"API token {who}"
    if kind == "rule":  # a setting that acts alone, e.g. rule:returns (approval of returns)
        return f"The {who} rule"
    if kind == "channel":
        channel = (channels or {}).get(who)
        if channel is None:
            return f"channel {who}"
        if not channel.connector or channel.connector.casefold() == channel.name.casefold():
            return channel.name
        return f"{channel.connector} (channel {channel.name})"
    return actor
