"""The customer's tracking page: ``/track/<token>``, no sign-in.

The token is the order's ``tracking_token`` (random, 32 characters): knowing it
is the only key. The page shows what the customer may know — the order number,
its status in plain words, the items and the shipments with carrier links —
and nothing internal: no notes, no hold reasons, no payment references, no
other person's data.
"""

from __future__ import annotations

import re
from urllib.parse import quote

from flask import Blueprint, render_template
from sqlalchemy import select
from sqlalchemy.orm import selectinload

from hub.core.lifecycle import OrderStatus
from hub.orders import carrier_events
from hub.orders.serialize import money
from hub.pipeline import delays
from hub.routing import promise
from hub.store.models import Order, Shipment
from hub.web import get_hub
from hub.web.security import page_headers

bp = Blueprint("track", __name__, url_prefix="/track")

_TOKEN = re.compile(r"[A-Za-z0-9_-]{16,64}")

#: What each life-cycle status means to the customer.
PLAIN_STATUS: dict[str, tuple[str, str]] = {
    "pending": ("Received", "We have your order and are checking it."),
    "on_hold": (
        "Being reviewed",
        "We are looking at your order; we will contact you if we need anything.",
    ),
    "confirmed": ("Confirmed", "Your order is confirmed and will be packed soon."),
    "processing": ("Being packed", "Your order is being prepared for shipping."),
    "partially_shipped": ("Partly shipped", "Part of your order is on its way; the rest follows."),
    "shipped": ("Shipped", "Your order is on its way."),
    "delivered": ("Delivered", "Your order was delivered."),
    "completed": ("Delivered", "Your order was delivered. Thank you!"),
    "cancelled": ("Cancelled", "This order was cancelled."),
    "partially_returned": ("Partly returned", "We received part of your order back."),
    "returned": ("Returned", "We received your order back."),
}

#: The steps shown as a progress line, and the statuses that have reached each.
STEPS = ("Received", "Confirmed", "Shipped", "Delivered")
_REACHED = {
    "pending": 1,
    "on_hold": 1,
    "confirmed": 2,
    "processing": 2,
    "partially_shipped": 2,
    "shipped": 3,
    "delivered": 4,
    "completed": 4,
    "partially_returned": 4,
    "returned": 4,
}

#: Carrier tracking pages, for shipments that came without a tracking URL.
CARRIER_URLS: dict[str, str] = {
    "ups": "https://www.ups.com/track?tracknum={}",
    "usps": "https://tools.usps.com/go/TrackConfirmAction?tLabels={}",
    "fedex": "https://www.fedex.com/fedextrack/?trknbr={}",
    "dhl": "https://www.dhl.com/global-en/home/tracking/tracking-express.html?tracking-id={}",
    "dhl express": "https://www.dhl.com/global-en/home/tracking/tracking-express.html?tracking-id={}",
    "canada post": "https://www.canadapost-postescanada.ca/track-reperage/en#/search?searchFor={}",
    "royal mail": "https://www.royalmail.com/track-your-item#/tracking-results/{}",
}


#: Carriers by the name people know them by (the codes shipping channels send, lowercased).
CARRIER_NAMES: dict[str, str] = {
    "ups": "UPS",
    "usps": "USPS",
    "fedex": "FedEx",
    "dhl": "DHL",
    "dhl_express": "DHL Express",
    "dhl express": "DHL Express",
    "canada_post": "Canada Post",
    "canada post": "Canada Post",
    "royal_mail": "Royal Mail",
    "royal mail": "Royal Mail",
    "dpd": "DPD",
    "gls": "GLS",
}

#: Words of a service code that are written in capitals.
_SERVICE_CAPITALS = frozenset({"ups", "usps", "dhl", "dpd", "gls", "us", "uk", "eu", "ddp", "ddu"})


def shipping_service_name(carrier: str | None, service: str | None) -> str:
    """The carrier and its service in words, as a customer reads them: ``ups`` + ``ups_ground`` -> "UPS Ground".

    A code is split at ``_`` and ``-``, the carrier's own prefix dropped, each word capitalised;
    a service already in words ("Priority Mail") is kept as it is. Empty when neither is known.
    """
    carrier_code = (carrier or "").strip()
    name = CARRIER_NAMES.get(carrier_code.lower(), carrier_code)
    service = (service or "").strip()
    if not service:
        return name
    if " " in service or service != service.lower():
        words = service
    else:
        parts = [p for p in re.split(r"[_\-]+", service) if p]
        prefix = re.split(r"[_\s\-]+", carrier_code.lower()) if carrier_code else []
        if prefix and parts[: len(prefix)] == prefix:
            parts = parts[len(prefix) :]
        words = " ".join(p.upper() if p in _SERVICE_CAPITALS else p.capitalize() for p in parts)
    if not name:
        return words
    if words.lower().startswith(name.lower()):
        return words
    return f"{name} {words}".strip()


def tracking_link(carrier: str, number: str, url: str) -> str | None:
    """The carrier's page for a shipment: its own URL if it has a web one, else a known carrier's."""
    if url and url.lower().startswith(("https://", "http://")):
        return url
    template = CARRIER_URLS.get((carrier or "").strip().lower())
    if template and number:
        return template.format(quote(number, safe=""))
    return None


@bp.after_request
def _headers(response):
    page_headers(response)
    # The token is in the URL: never send it on to a carrier's site, never index it.
    response.headers["Referrer-Policy"] = "no-referrer"
    response.headers["X-Robots-Tag"] = "noindex, nofollow"
    response.headers.setdefault("Cache-Control", "no-store")
    return response


@bp.get("/<token>")
def order_status(token: str):
    order = None
    if _TOKEN.fullmatch(token):
        with get_hub().db.read() as db:
            order = db.scalars(
                select(Order)
                .options(
                    selectinload(Order.lines),
                    selectinload(Order.shipments).selectinload(Shipment.lines),
                )
                .where(Order.tracking_token == token)
            ).one_or_none()
            if order is not None:
                page = full_page(db, order)
    if order is None:
        return render_template("track/not_found.html"), 404
    return render_template("track/order.html", **page)


def full_page(db, order: Order) -> dict:
    """Everything the page shows of ``order`` (its sections' own modules add their parts)."""
    page = _page(order)
    page["carrier"] = carrier_events.carrier_events(db, order.id)
    page["promise"] = promise.customer_promise(order)  # track/_promise.html
    page["delay"] = delays.on_page(db, order)  # track/_delay.html
    # Returns and exchanges, the delay choice: their own sections and modules (they import this one).
    from hub.web import track_choices, track_returns

    page["self_service"] = track_returns.section(db, order)
    page["choice"] = track_choices.section(db, order)  # track/_delay_choice.html
    return page


def _page(order: Order) -> dict:
    names = {line.id: line.name or line.sku for line in order.lines}
    shipments = []
    for s in order.shipments:
        if s.status == "voided":
            continue
        shipments.append(
            {
                "id": s.id,
                "service": shipping_service_name(s.carrier, s.service),
                "tracking_number": s.tracking_number,
                "link": tracking_link(s.carrier, s.tracking_number, s.tracking_url),
                "shipped_at": s.shipped_at,
                "contents": [(names.get(sl.order_line_id, "item"), sl.quantity) for sl in s.lines],
            }
        )
    title, sentence = PLAIN_STATUS.get(
        order.status, (order.status.replace("_", " ").capitalize(), "")
    )
    return {
        "number": order.label,
        "title": title,
        "sentence": sentence,
        "cancelled": order.status == OrderStatus.CANCELLED,
        "steps": STEPS,
        "reached": _REACHED.get(order.status, 0),
        "placed_at": order.placed_at or order.created_at,
        "items": [
            {"name": line.name or line.sku, "quantity": line.quantity} for line in order.lines
        ],
        "total": money(order.total, order.currency),
        "currency": order.currency,
        "shipments": shipments,
    }
