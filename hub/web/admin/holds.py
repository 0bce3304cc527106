"""The holds queue: every order on hold, oldest first, each reason in words with what to do
about it, and the one-click resolutions that exist (fix the address, accept a duplicate,
try the stock again). Cancel and "Confirm anyway" are the order page's own transition forms.
"""

from __future__ import annotations

from datetime import timedelta
from typing import Any

from flask import flash, g, redirect, render_template, request, url_for

from hub.core.lifecycle import OrderStatus
from hub.inventory import levels
from hub.inventory.reservations import HOLD_OUT_OF_STOCK, shortage
from hub.orders import holds, transitions, validation
from hub.orders.hold_reasons import HOLD_PAYMENT, hold_reason_action, hold_reason_words
from hub.orders.serialize import order_detail
from hub.routing.geocode import geocoder_for
from hub.store.models import Order
from hub.web import get_hub
from hub.web.admin import bp
from hub.web.admin.helpers import flash_error
from hub.web.admin.orders import button_events, check_released

#: The reasons that get a count at the top even when nothing is held for them.
COMMON_REASONS = (
    validation.ADDRESS_INCOMPLETE,
    validation.POSSIBLE_DUPLICATE,
    HOLD_OUT_OF_STOCK,
    HOLD_PAYMENT,
    validation.TOTALS_MISMATCH,
    validation.UNKNOWN_SKU,
)

#: The counts' short names (the cards give the whole sentence).
TILE_LABELS = {
    validation.ADDRESS_INCOMPLETE: "address incomplete",
    validation.POSSIBLE_DUPLICATE: "possible duplicate",
    HOLD_OUT_OF_STOCK: "out of stock",
    HOLD_PAYMENT: "payment failed",
    validation.TOTALS_MISMATCH: "totals do not add up",
    validation.UNKNOWN_SKU: "unknown SKU",
    validation.CURRENCY_NOT_SUPPORTED: "currency not taken",
    validation.INVALID_QUANTITY: "bad quantity",
}

#: Address fields of the inline form, by the name a person knows them by.
ADDRESS_LABELS = {
    "name": "Name",
    "address1": "Street",
    "city": "City",
    "zip": "Postal code",
    "country_code": "Country (2 letters)",
}

#: Why "pick another location" is not a button: the router chooses among every active location.
NO_LOCATION_CHOICE = (
    "The hub already looks in every active location and splits the order between them; "
    "picking one by hand is not supported. Receive or move stock, then try again."
)


@bp.get("/holds")
def holds_queue():
    reason = request.args.get("reason") or None
    hub = get_hub()
    window = timedelta(minutes=hub.settings.duplicate_window_minutes)
    with hub.db.read() as db:
        counts = holds.reason_counts(db)
        held = holds.held_orders(db, reason=reason)
        total = sum(1 for _ in holds.held_orders(db)) if reason else len(held)
        cards = [_card(db, order, window) for order in held]
    tiles = [
        {
            "reason": r,
            "label": TILE_LABELS.get(r) or hold_reason_words(r) or "no reason given",
            "count": counts[r],
        }
        for r in dict.fromkeys([*COMMON_REASONS, *sorted(counts)])
    ]
    return render_template(
        "admin/holds.html",
        cards=cards,
        tiles=tiles,
        reason=reason or "",
        reason_words=hold_reason_words(reason) if reason else "",
        total=total,
        address_labels=ADDRESS_LABELS,
        no_location_choice=NO_LOCATION_CHOICE,
        here=request.full_path.rstrip("?"),
    )


def _card(db, order: Order, window: timedelta) -> dict[str, Any]:
    """One held order as the queue shows it: reasons in words, what to do, what can be pressed."""
    detail = order_detail(order)
    reasons = list(order.hold_reasons or [])
    card: dict[str, Any] = {
        "order": detail,
        "channel": order.channel.name,
        "reasons": [
            {"code": r, "words": hold_reason_words(r, detail), "action": hold_reason_action(r)}
            for r in reasons
        ],
        "events": button_events(order.status),
        "missing": [],
        "duplicate_of": None,
        "stock": [],
    }
    if validation.ADDRESS_INCOMPLETE in reasons:
        card["missing"] = validation.missing_address_fields(order.shipping_address)
    if validation.POSSIBLE_DUPLICATE in reasons:
        other = holds.duplicated_order(db, order, window)
        card["duplicate_of"] = {"id": other.id, "label": other.label} if other else None
    if HOLD_OUT_OF_STOCK in reasons:
        short = shortage(db, order)
        skus = sorted(short) or sorted({line.sku for line in order.lines})
        at = levels.available_at(db, skus)
        wanted: dict[str, int] = {}
        for line in order.lines:
            wanted[line.sku] = wanted.get(line.sku, 0) + line.quantity
        card["stock"] = [
            {
                "sku": sku,
                "wanted": wanted.get(sku, 0),
                "missing": short.get(sku, 0),
                "locations": [
                    {
                        "code": loc.code,
                        "name": loc.name or loc.code,
                        "available": at[(sku, loc.code)],
                    }
                    for loc in levels.list_locations(db)
                    if loc.active and (sku, loc.code) in at
                ],
            }
            for sku in skus
        ]
    return card


def _back() -> str:
    return url_for("admin.holds_queue", reason=request.form.get("reason") or None)


@bp.post("/holds/<int:order_id>/address")
def holds_fix_address(order_id: int):
    """Complete the address, release the hold and run the checks at once."""
    actor = g.user.actor
    hub = get_hub()
    try:
        with hub.unit_of_work() as work:
            order = holds.fix_shipping_address(
                work.session, order_id, request.form, actor=actor, geocoder=geocoder_for(hub)
            )
            label = order.label
            transitions.release(
                work.session, order_id, actor=actor, reason="shipping address completed"
            )
    except Exception as exc:  # noqa: BLE001  (shown to the person, logged when unexpected)
        flash_error(exc)
        return redirect(_back())
    flash(f"Order {label}: the shipping address is saved.", "success")
    check_released(order_id, label)
    return redirect(_back())


@bp.post("/holds/<int:order_id>/accept-duplicate")
def holds_accept_duplicate(order_id: int):
    """Confirm an order held as a possible duplicate as it is: the customer meant both."""
    try:
        with get_hub().unit_of_work() as work:
            order = transitions.confirm(
                work, order_id, actor=g.user.actor, reason="not a duplicate (holds queue)"
            )
            label, status = order.label, order.status
    except Exception as exc:  # noqa: BLE001
        flash_error(exc)
    else:
        if status == OrderStatus.CONFIRMED:
            flash(f"Order {label}: accepted as not a duplicate — it is now confirmed.", "success")
        else:
            flash(f"Order {label}: accepted — it is now {status.replace('_', ' ')}.", "error")
    return redirect(_back())


@bp.post("/holds/<int:order_id>/retry")
def holds_try_again(order_id: int):
    """Release the hold and run the checks now (for stock: reserve again)."""
    try:
        with get_hub().unit_of_work() as work:
            order = transitions.release(
                work.session, order_id, actor=g.user.actor, reason="tried again (holds queue)"
            )
            label = order.label
    except Exception as exc:  # noqa: BLE001
        flash_error(exc)
        return redirect(_back())
    check_released(order_id, label)
    return redirect(_back())
