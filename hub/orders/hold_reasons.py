"""Hold reasons in words: the one sentence a person reads for each code the hub holds an order for.

The codes are defined where the hub decides to hold (:mod:`hub.orders.validation`,
:mod:`hub.inventory.reservations`, :mod:`hub.orders.transitions`,
:mod:`hub.orders.intake`); this is their one translation for people, read by
the order page and the orders list. A reason a person typed, or a plugin's own
code, is shown as it is.
"""

from __future__ import annotations

from collections.abc import Mapping
from typing import Any

from hub.inventory.reservations import HOLD_OUT_OF_STOCK
from hub.orders import validation
from hub.orders.intake import HOLD_CHANGED, HOLD_NOTHING_TO_SHIP
from hub.orders.transitions import HOLD_PAYMENT

#: A held payment's dispute (hub.orders.payments holds for it under this code).
HOLD_DISPUTE = "dispute"

HOLD_REASON_WORDS: dict[str, str] = {
    validation.ADDRESS_INCOMPLETE: "The shipping address is incomplete",
    validation.UNKNOWN_SKU: "A line has a SKU the hub keeps no stock of",
    validation.INVALID_QUANTITY: "A line has a quantity of zero or less",
    validation.TOTALS_MISMATCH: "The lines, shipping, tax and discount do not add up to the total",
    validation.CURRENCY_NOT_SUPPORTED: "The order's currency is not one this shop takes",
    validation.POSSIBLE_DUPLICATE: (
        "It may be a duplicate: the same customer ordered the same items minutes before"
    ),
    HOLD_OUT_OF_STOCK: "Not enough stock to reserve every line",
    HOLD_PAYMENT: "The payment failed",
    HOLD_DISPUTE: "The customer disputes the payment",
    HOLD_CHANGED: "The order changed on its sales channel after it was confirmed",
    HOLD_NOTHING_TO_SHIP: "Nothing is left to ship: every unit was refunded or removed",
}

#: Address fields by the name a person knows them by.
_ADDRESS_FIELDS = {
    "name": "name",
    "address1": "street",
    "city": "city",
    "country_code": "country",
    "zip": "postal code",
}


def hold_reason_words(reason: str, order: Mapping[str, Any] | None = None) -> str:
    """``reason`` as a sentence for people; with the order (as the API shows it), its details.

    An incomplete address names what it lacks ("The shipping address has no postal code").
    """
    if reason == validation.ADDRESS_INCOMPLETE and order is not None:
        missing = validation.missing_address_fields(order.get("shipping_address"))
        if missing:
            names = [_ADDRESS_FIELDS.get(name, name) for name in missing]
            listed = names[0] if len(names) == 1 else ", ".join(names[:-1]) + " or " + names[-1]
            return f"The shipping address has no {listed}"
    return HOLD_REASON_WORDS.get(reason, reason)


#: What a person does about each reason, in words (the holds queue shows it beside the reason).
HOLD_REASON_ACTIONS: dict[str, str] = {
    validation.ADDRESS_INCOMPLETE: (
        "Fill in what the address lacks (ask the customer if you must); saving releases "
        "the hold and runs the checks again."
    ),
    validation.UNKNOWN_SKU: (
        "Add the SKU on the Stock page (or correct the product's SKU on the sales channel), "
        "then release the hold; or cancel the order."
    ),
    validation.INVALID_QUANTITY: (
        "Correct the line on the sales channel, then release the hold; or cancel the order."
    ),
    validation.TOTALS_MISMATCH: (
        "Compare the order with the sales channel: if the total charged is right, confirm "
        "it anyway; if not, cancel it."
    ),
    validation.CURRENCY_NOT_SUPPORTED: (
        "Take the currency (add it to the HUB_CURRENCIES setting) and release the hold, "
        "or cancel the order."
    ),
    validation.POSSIBLE_DUPLICATE: (
        "Open the other order and compare: if the customer meant both, accept this one; "
        "if not, cancel it."
    ),
    HOLD_OUT_OF_STOCK: (
        "Receive or move stock (Stock page), then try again: the hub reserves the lines if it can."
    ),
    HOLD_PAYMENT: (
        "Check the payment with the gateway or ask the customer to pay again; once it is "
        "paid, confirm anyway; otherwise cancel the order."
    ),
    HOLD_DISPUTE: (
        "Answer the dispute with the payment gateway; ship nothing until it is decided."
    ),
    HOLD_CHANGED: (
        "Read the order's timeline to see what changed, then release the hold so the "
        "checks run on the new order."
    ),
    HOLD_NOTHING_TO_SHIP: "Nothing is left to send: cancel the order or complete it.",
}

#: For a reason a person typed or a plugin's own code.
DEFAULT_ACTION = "Read the reason and the order's timeline; release the hold when it is dealt with."


def hold_reason_action(reason: str) -> str:
    """What a person does about ``reason``, in words."""
    return HOLD_REASON_ACTIONS.get(reason, DEFAULT_ACTION)
