"""The holds queue's reads and its one resolution of its own: orders on hold, oldest first,
counted per reason; the order a possible duplicate repeats; a fixed shipping address.

The other resolutions are the life cycle's own actions (release, confirm, cancel),
called by the admin as the order page calls them.
"""

from __future__ import annotations

from collections import Counter
from collections.abc import Mapping
from datetime import timedelta
from typing import Any

from sqlalchemy import func, select
from sqlalchemy.orm import Session

from hub.core import events as ev
from hub.core import lifecycle
from hub.core.exceptions import ValidationError
from hub.orders import records, validation
from hub.orders.schemas import AddressSchema
from hub.routing import geocode
from hub.store.models import Order

#: Address fields the queue's inline form may fill (those an incomplete address can lack).
ADDRESS_FORM_FIELDS = ("name", "address1", "city", "zip", "country_code")


def held_orders(session: Session, *, reason: str | None = None) -> list[Order]:
    """Orders on hold, oldest placed first (the one waiting longest); with ``reason``, those held for it."""
    placed = func.coalesce(Order.placed_at, Order.created_at)
    query = (
        records.order_query()
        .where(Order.status == lifecycle.ON_HOLD)
        .order_by(placed.asc(), Order.id.asc())
    )
    held = list(session.scalars(query))
    if reason is not None:
        # hold_reasons is a JSON list: filtered here, the same on SQLite and PostgreSQL.
        held = [o for o in held if reason in (o.hold_reasons or [])]
    return held


def reason_counts(session: Session) -> Counter[str]:
    """How many orders on hold each reason holds (an order held for two counts under both)."""
    counts: Counter[str] = Counter()
    query = select(Order.hold_reasons).where(Order.status == lifecycle.ON_HOLD)
    for reasons in session.scalars(query):
        counts.update(set(reasons or []) or {""})
    return counts


def duplicated_order(session: Session, order: Order, window: timedelta) -> Order | None:
    """The earlier order that ``order`` (held as a possible duplicate) repeats, if it is still there.

    The same rule as :func:`hub.orders.validation.check_duplicate`: one email, the
    same SKUs and quantities, placed within ``window`` before it, not cancelled.
    """
    if not order.email or order.placed_at is None:
        return None
    wanted = Counter((line.sku, line.quantity) for line in order.lines)
    candidates = session.scalars(
        records.order_query()
        .where(
            Order.email == order.email,
            Order.id != order.id,
            Order.placed_at >= order.placed_at - window,
            Order.placed_at <= order.placed_at,
            Order.status != lifecycle.CANCELLED,
        )
        .order_by(Order.placed_at.desc(), Order.id.desc())
    )
    for other in candidates:
        if Counter((line.sku, line.quantity) for line in other.lines) == wanted:
            return other
    return None


def fix_shipping_address(
    session: Session,
    order_id: int,
    given: Mapping[str, Any],
    *,
    actor: str,
    geocoder: geocode.Geocoder | None = None,
) -> Order:
    """Fill in a held order's shipping address with ``given`` fields and record who did it.

    Validated as the API validates an address (:class:`hub.orders.schemas.AddressSchema`),
    then checked as the hold's rule checks it: what is still missing is refused,
    naming the fields. The order stays on hold; the caller releases it so the checks run.
    """
    order = records.get_order(session, order_id)
    if order.status != lifecycle.ON_HOLD:
        raise ValidationError(f"order {order.label} is not on hold: edit it on its own page")
    typed = {k: str(v).strip() for k, v in given.items() if k in ADDRESS_FORM_FIELDS}
    typed = {k: v for k, v in typed.items() if v}
    if "country_code" in typed:
        typed["country_code"] = typed["country_code"].upper()
    country = typed.get("country_code")
    if country is not None and not (len(country) == 2 and country.isalpha()):
        raise ValidationError(
            "a country is its two-letter code (US, DE, GB)",
            details={"country_code": "is not a two-letter country code"},
        )
    merged = {**AddressSchema().load(order.shipping_address or {}), **typed}
    address = AddressSchema().load(merged)
    missing = validation.missing_address_fields(address)
    if missing:
        raise ValidationError(
            f"the address of order {order.label} still lacks {', '.join(missing)}",
            details=dict.fromkeys(missing, "is required"),
        )
    before = order.shipping_address or {}
    changed = sorted(k for k in typed if before.get(k) != address.get(k))
    order.shipping_address = address
    geocode.move_order(order, before, geocoder)  # placed where it is now
    records.record(
        session,
        order,
        ev.ORDER_UPDATED,
        actor=actor,
        reason="shipping address completed from the holds queue",
        data={"fields": ["shipping_address"], "address_fields": changed},
    )
    return order
