"""AfterShip's shapes (Tracking API v4) to and from the hub's: trackings, checkpoints, tags.

The hub's canonical carrier events (:class:`hub.core.tracking.CarrierEvent`)
from AfterShip's delivery statuses (``tag``; ``TagV1`` in its Python SDK) and
sub-statuses (``subtag``):

============================  =====================================================
AfterShip tag                 hub event
============================  =====================================================
``Pending``                   none (AfterShip has no news from the carrier yet)
``InfoReceived``              none (the carrier has the label's data, not the parcel)
``InTransit``                 ``in_transit``
``OutForDelivery``            ``out_for_delivery``
``AvailableForPickup``        ``out_for_delivery`` (the last leg: at a pickup point)
``AttemptFail``               ``exception`` (the customer missed it: they should know)
``Delivered``                 ``delivered``
``Exception``                 ``exception``; ``returned_to_sender`` for the subtags
                              ``Exception_010`` (returning) and ``Exception_011``
                              (returned to sender)
``Expired``                   ``exception`` (no news for weeks: the parcel may be lost)
============================  =====================================================

A tracking whose ``return_to_sender`` is true stands at ``returned_to_sender``
whatever its tag says.
"""

from __future__ import annotations

import hashlib
import re
from collections.abc import Mapping
from datetime import datetime
from typing import Any

from hub.core.exceptions import MalformedPayload, ValidationError
from hub.core.tracking import CarrierEvent
from hub.integration.connectors import CarrierCheckpoint, CarrierUpdate, TrackedShipment
from hub.integration.fields import utc_timestamp

#: AfterShip's tags (delivery statuses) as the hub reads them; tags not here map to none.
TAG_EVENTS: dict[str, CarrierEvent | None] = {
    "Pending": None,
    "InfoReceived": None,
    "InTransit": CarrierEvent.IN_TRANSIT,
    "OutForDelivery": CarrierEvent.OUT_FOR_DELIVERY,
    "AvailableForPickup": CarrierEvent.OUT_FOR_DELIVERY,
    "AttemptFail": CarrierEvent.EXCEPTION,
    "Delivered": CarrierEvent.DELIVERED,
    "Exception": CarrierEvent.EXCEPTION,
    "Expired": CarrierEvent.EXCEPTION,
}

#: Sub-statuses of ``Exception`` that mean the parcel goes (or went) back to the merchant.
RETURN_SUBTAGS = frozenset({"Exception_010", "Exception_011"})

#: Hub carrier codes (as shipping services send them, lowercased) to AfterShip courier slugs;
#: a channel's ``slug_mapping`` adds to and overrides these.
DEFAULT_SLUGS: dict[str, str] = {
    "ups": "ups",
    "usps": "usps",
    "stamps_com": "usps",
    "fedex": "fedex",
    "dhl": "dhl",
    "dhl_express": "dhl",
    "dhl_express_worldwide": "dhl",
    "canada_post": "canada-post",
    "royal_mail": "royal-mail",
    "dpd": "dpd",
    "gls": "gls",
}

#: The custom field that carries the hub's shipment id to AfterShip and back in webhooks.
SHIPMENT_FIELD = "hub_shipment_id"

_SLUG = re.compile(r"[a-z0-9][a-z0-9-]{0,63}")


def parse_slug_mapping(text: str) -> dict[str, str]:
    """``"ups=ups, colissimo=la-poste-colissimo"`` as a dict; a bad pair raises ValidationError."""
    out: dict[str, str] = {}
    for pair in (p.strip() for p in (text or "").replace("\n", ",").split(",")):
        if not pair:
            continue
        carrier, sep, slug = (x.strip() for x in pair.partition("="))
        if not sep or not carrier or not _SLUG.fullmatch(slug):
            raise ValidationError(
                f"{pair!r} is not carrier=aftership-slug (ups=ups, royal_mail=royal-mail)"
            )
        out[carrier.lower()] = slug
    return out


def courier_slug(carrier: str, mapping: Mapping[str, str]) -> str | None:
    """AfterShip's slug for a hub carrier code; None lets AfterShip detect the courier."""
    code = (carrier or "").strip().lower().replace(" ", "_")
    if not code:
        return None
    return mapping.get(code) or DEFAULT_SLUGS.get(code)


def create_request(shipment: TrackedShipment, mapping: Mapping[str, str]) -> dict[str, Any]:
    """The body of ``POST /v4/trackings`` for a shipment.

    No customer email or phone is sent: the hub tells the customer itself.
    """
    tracking: dict[str, Any] = {
        "tracking_number": shipment.tracking_number,
        "title": f"Order {shipment.order_number}",
        "order_id": shipment.order_number,
        "custom_fields": {SHIPMENT_FIELD: str(shipment.shipment_id)},
    }
    slug = courier_slug(shipment.carrier, mapping)
    if slug:
        tracking["slug"] = slug
    if shipment.order_page_url:
        tracking["order_id_path"] = shipment.order_page_url
    return {"tracking": tracking}


def tracking_event(tracking: Mapping[str, Any]) -> CarrierEvent | None:
    """Where a tracking stands, from its tag, subtag and ``return_to_sender``."""
    if tracking.get("return_to_sender") is True:
        return CarrierEvent.RETURNED_TO_SENDER
    return checkpoint_event(str(tracking.get("tag") or ""), str(tracking.get("subtag") or ""))


def checkpoint_event(tag: str, subtag: str) -> CarrierEvent | None:
    """A tag and subtag as the hub's carrier event (see the table above)."""
    if tag == "Exception" and subtag in RETURN_SUBTAGS:
        return CarrierEvent.RETURNED_TO_SENDER
    return TAG_EVENTS.get(tag)


def checkpoint_key(checkpoint: Mapping[str, Any]) -> str:
    """A checkpoint's identity: AfterShip gives none, so a digest of what it says.

    The same checkpoint comes in every later webhook of its tracking (AfterShip
    sends the whole list each time), with the same time, tag, message and place.
    """
    parts = [
        str(checkpoint.get(name) or "")
        for name in ("checkpoint_time", "tag", "subtag", "message", "location", "city", "zip")
    ]
    return "as:" + hashlib.sha256("\x1f".join(parts).encode()).hexdigest()[:40]


def location_text(checkpoint: Mapping[str, Any]) -> str:
    """Where a checkpoint happened, in words: its location, else city, state and country."""
    if checkpoint.get("location"):
        return str(checkpoint["location"])
    parts = [checkpoint.get(k) for k in ("city", "state", "country_name")]
    return ", ".join(str(p) for p in parts if p)


def checkpoint(data: Mapping[str, Any]) -> CarrierCheckpoint | None:
    """One AfterShip checkpoint; None when it has no time (nothing to place it by)."""
    when: datetime | None = utc_timestamp(
        data.get("checkpoint_time") or data.get("created_at"), "AfterShip"
    )
    if when is None:
        return None
    tag, subtag = str(data.get("tag") or ""), str(data.get("subtag") or "")
    return CarrierCheckpoint(
        key=checkpoint_key(data),
        occurred_at=when,
        event=checkpoint_event(tag, subtag),
        tag=tag,
        subtag=subtag,
        message=str(data.get("message") or data.get("subtag_message") or ""),
        location=location_text(data),
    )


def carrier_update(tracking: Mapping[str, Any]) -> CarrierUpdate:
    """An AfterShip tracking object (a webhook's ``msg``, ``GET /trackings/:id``'s) for the hub.

    :raises MalformedPayload: it has no tracking number, or a checkpoint's time is unreadable.
    """
    number = str(tracking.get("tracking_number") or "").strip()
    if not number:
        raise MalformedPayload("AfterShip tracking without a tracking_number")
    points = []
    try:
        for raw in tracking.get("checkpoints") or []:
            if isinstance(raw, Mapping):
                point = checkpoint(raw)
                if point is not None:
                    points.append(point)
    except ValidationError as exc:
        raise MalformedPayload(f"AfterShip tracking {number}: {exc.message}") from exc
    custom = tracking.get("custom_fields") or {}
    shipment_id = None
    if isinstance(custom, Mapping) and str(custom.get(SHIPMENT_FIELD) or "").isdigit():
        shipment_id = int(custom[SHIPMENT_FIELD])
    return CarrierUpdate(
        tracking_number=number,
        checkpoints=points,
        status=tracking_event(tracking),
        carrier=str(tracking.get("slug") or ""),
        tracking_ref=str(tracking.get("id") or ""),
        shipment_id=shipment_id,
    )


def tracking_of(body: Any) -> Mapping[str, Any]:
    """The tracking object of an API answer (``{meta, data: {tracking}}``) or a webhook (``{msg}``).

    :raises MalformedPayload: neither shape.
    """
    if isinstance(body, Mapping):
        if isinstance(body.get("msg"), Mapping):
            return body["msg"]
        data = body.get("data")
        if isinstance(data, Mapping) and isinstance(data.get("tracking"), Mapping):
            return data["tracking"]
    raise MalformedPayload("not an AfterShip tracking (no msg, no data.tracking)")
