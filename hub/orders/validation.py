"""The checks a pending order passes before it is confirmed.

Each rule looks at the order as the API shows it and returns the hold
reasons it finds. The hub runs them all through its default
``hub_validate_order`` implementation (:mod:`hub.pipeline.defaults`); plugins
add rules by implementing the same hook. An order that fails any goes on
hold with every reason listed; releasing it runs the checks again, and a
person who accepts an order as it is confirms it from on hold instead.

Reasons (``Order.hold_reasons``):

- ``address_incomplete`` — the shipping address lacks a name, street
  (``address1``), city, country code, or a postal code where the country uses one;
- ``unknown_sku`` — a line that ships has a SKU with no stock level at any
  location (only while stock is tracked, i.e. once a location exists);
- ``invalid_quantity`` — a line's quantity is negative, or zero without
  units refunded or removed on the channel;
- ``totals_mismatch`` — lines + shipping + tax − discount differs from the
  total, to the currency's minor unit (without + tax when the order's
  ``taxes_included``: the tax is inside the prices);
- ``currency_not_supported`` — the currency is not in ``HUB_CURRENCIES``
  (when set; by default any ISO 4217 currency is supported);
- ``possible_duplicate`` — the same customer email placed an order with the
  same lines within ``HUB_DUPLICATE_WINDOW_MINUTES`` before this one, and
  that order is not cancelled.
"""

from __future__ import annotations

from collections import Counter
from collections.abc import Callable
from datetime import datetime, timedelta
from typing import Any

from hub.core import lifecycle
from hub.core.money import Money, MoneyError
from hub.core.order import expected_total
from hub.integration.lookup import OrderLookup

ADDRESS_INCOMPLETE = "address_incomplete"
UNKNOWN_SKU = "unknown_sku"
INVALID_QUANTITY = "invalid_quantity"
TOTALS_MISMATCH = "totals_mismatch"
CURRENCY_NOT_SUPPORTED = "currency_not_supported"
POSSIBLE_DUPLICATE = "possible_duplicate"

#: Countries whose addresses carry no postal code (or only an optional one), by
#: ISO 3166-1 alpha-2 code: an address there is complete without one.
NO_POSTAL_CODE = frozenset(
    {
        "AE",
        "AG",
        "AN",
        "AO",
        "AW",
        "BF",
        "BI",
        "BJ",
        "BO",
        "BS",
        "BW",
        "BZ",
        "CD",
        "CF",
        "CG",
        "CI",
        "CK",
        "CM",
        "CW",
        "DJ",
        "DM",
        "ER",
        "FJ",
        "GD",
        "GH",
        "GM",
        "GQ",
        "GY",
        "HK",
        "IE",
        "JM",
        "KI",
        "KM",
        "KN",
        "KP",
        "LC",
        "ML",
        "MO",
        "MR",
        "MS",
        "MW",
        "NR",
        "NU",
        "QA",
        "RW",
        "SB",
        "SC",
        "SL",
        "SO",
        "SR",
        "SS",
        "ST",
        "SY",
        "TD",
        "TF",
        "TG",
        "TK",
        "TL",
        "TO",
        "TT",
        "TV",
        "UG",
        "VU",
        "YE",
        "ZW",
    }
)

Rule = Callable[[dict[str, Any], OrderLookup], list[str]]


def missing_address_fields(address: dict[str, Any] | None) -> list[str]:
    """The fields an address needs to be shipped to and lacks."""
    address = address or {}

    def blank(name: str) -> bool:
        return not str(address.get(name) or "").strip()

    missing = [name for name in ("name", "address1", "city", "country_code") if blank(name)]
    country = str(address.get("country_code") or "").strip().upper()
    if blank("zip") and country not in NO_POSTAL_CODE:
        missing.append("zip")
    return missing


def check_address(order: dict[str, Any], lookup: OrderLookup) -> list[str]:
    return [ADDRESS_INCOMPLETE] if missing_address_fields(order.get("shipping_address")) else []


def check_skus(order: dict[str, Any], lookup: OrderLookup) -> list[str]:
    if not lookup.tracks_stock():
        return []
    skus = {line["sku"] for line in order["lines"] if line.get("requires_shipping", True)}
    return [UNKNOWN_SKU] if skus - lookup.known_skus(skus) else []


def check_quantities(order: dict[str, Any], lookup: OrderLookup) -> list[str]:
    # A line at 0 is fine when its units were refunded or removed on the channel.
    return (
        [INVALID_QUANTITY]
        if any(
            int(line["quantity"]) < 0
            or (int(line["quantity"]) == 0 and not line.get("removed_quantity"))
            for line in order["lines"]
        )
        else []
    )


def check_totals(order: dict[str, Any], lookup: OrderLookup) -> list[str]:
    currency = order["currency"]
    try:

        def m(text: str) -> int:
            return Money.parse(text, currency).amount

        lines = sum(m(line["unit_price"]) * int(line["quantity"]) for line in order["lines"])
        expected = expected_total(
            lines,
            m(order["shipping"]),
            m(order["tax"]),
            m(order["discount"]),
            taxes_included=bool(order.get("taxes_included")),
        )
        total = m(order["total"])
    except (MoneyError, KeyError, TypeError, ValueError):
        return [TOTALS_MISMATCH]
    return [] if expected == total else [TOTALS_MISMATCH]


def check_currency(order: dict[str, Any], lookup: OrderLookup) -> list[str]:
    supported = lookup.currencies
    return (
        [CURRENCY_NOT_SUPPORTED] if supported and order["currency"].upper() not in supported else []
    )


def check_duplicate(order: dict[str, Any], lookup: OrderLookup) -> list[str]:
    """Hold the later of two orders from one email with the same lines, placed close together."""
    email = (order.get("email") or "").strip().lower()
    placed = order.get("placed_at")
    window = lookup.duplicate_window
    if not email or not placed or window <= timedelta(0):
        return []
    placed_at = datetime.fromisoformat(placed)
    lines = Counter((x["sku"], int(x["quantity"])) for x in order["lines"])
    for other in lookup.recent_orders(email, since=placed_at - window, until=placed_at):
        if other.id == order["id"] or other.status == lifecycle.CANCELLED:
            continue
        # Same instant: the one stored first is the original.
        if other.placed_at == placed_at and other.id > order["id"]:
            continue
        if Counter(other.lines) == lines:
            return [POSSIBLE_DUPLICATE]
    return []


#: The hub's own rules, in the order their reasons are listed.
RULES: tuple[Rule, ...] = (
    check_address,
    check_skus,
    check_quantities,
    check_totals,
    check_currency,
    check_duplicate,
)


def check_order(order: dict[str, Any], lookup: OrderLookup) -> list[str]:
    """Every hold reason the hub's own rules find for ``order`` (the API shape)."""
    reasons: list[str] = []
    for rule in RULES:
        for reason in rule(order, lookup):
            if reason not in reasons:
                reasons.append(reason)
    return reasons
