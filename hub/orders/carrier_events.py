"""Delivery facts from carriers: a shipment's checkpoints stored once, and what they do to its order.

A tracking channel's connector hands a :class:`~hub.integration.connectors.CarrierUpdate`
to the port, which calls :func:`record_carrier_update` in one transaction, with
the order's row locked (two webhooks about one order take turns):

- each checkpoint is stored once per shipment and key (``shipment_tracking_events``);
- the shipment's tracking row keeps its latest canonical event; a change is on
  the order's timeline (``order.carrier_update``); an older update never moves it back;
- the first problem (exception, returned to sender) of an order records
  ``order.delivery_exception``: the admin flags the order and the customer is
  emailed, once per order;
- when every shipment of a ``shipped`` order is delivered, the order is ``delivered``.

:func:`complete_delivered` moves orders delivered some days ago on to ``completed``.
"""

from __future__ import annotations

from collections.abc import Iterable
from datetime import datetime
from typing import Any

from sqlalchemy import ColumnElement, exists, select
from sqlalchemy.orm import Session

from hub.core import lifecycle
from hub.core.exceptions import HubError
from hub.core.tracking import PROBLEMS, all_delivered, carrier_event_words
from hub.integration.connectors import CarrierCheckpoint, CarrierUpdate
from hub.orders.records import get_order, record
from hub.orders.transitions import apply_event
from hub.store.models import (
    Order,
    OrderAuditEvent,
    Shipment,
    ShipmentTracking,
    ShipmentTrackingEvent,
    utcnow,
)

#: A shipment's carrier status changed (``data``: shipment_id, tracking_number, status, message).
CARRIER_UPDATE = "order.carrier_update"
#: The first carrier problem of an order: flagged in the admin, the customer emailed once.
DELIVERY_EXCEPTION = "order.delivery_exception"
#: The ``order.delivered`` event's name (when a carrier delivered every shipment).
DELIVERED = lifecycle.EVENT_NAMES["deliver"]


def register(
    session: Session,
    shipment: Shipment,
    channel_id: int,
    *,
    external_id: str = "",
    registered: bool = False,
) -> ShipmentTracking:
    """The tracking row of ``shipment`` at ``channel_id``, created if missing.

    ``external_id``: the service's id of the tracking, kept once known;
    ``registered``: the service took it (the ``tracking.register`` job is done).
    """
    row = session.scalars(
        select(ShipmentTracking).where(
            ShipmentTracking.shipment_id == shipment.id,
            ShipmentTracking.channel_id == channel_id,
        )
    ).one_or_none()
    if row is None:
        row = ShipmentTracking(
            shipment_id=shipment.id,
            channel_id=channel_id,
            order_id=shipment.order_id,
            tracking_number=shipment.tracking_number,
            external_id="",
            updated_at=utcnow(),
        )
        session.add(row)
    if external_id and row.external_id != external_id[:200]:
        row.external_id = external_id[:200]
        row.updated_at = utcnow()
    if registered and row.registered_at is None:
        row.registered_at = row.updated_at = utcnow()
    session.flush()
    return row


def record_carrier_update(
    session: Session, channel_id: int, update: CarrierUpdate, *, actor: str
) -> int | None:
    """Store a tracking service's news of one shipment; the order's id, None if no shipment matches."""
    shipment = _shipment_of(session, channel_id, update)
    if shipment is None:
        return None
    order = get_order(session, shipment.order_id)  # locked: one order's updates take turns
    tracking = register(session, shipment, channel_id, external_id=update.tracking_ref)
    _store_checkpoints(session, shipment.id, channel_id, update.checkpoints)
    status, status_at, message = _status(session, shipment.id, update)
    newest = max((c.occurred_at for c in update.checkpoints), default=None)
    stale = newest is not None and tracking.status_at is not None and newest < tracking.status_at
    if status is None or stale or status == tracking.status:
        return order.id
    tracking.status, tracking.status_at, tracking.updated_at = status, status_at, utcnow()
    data = {
        "shipment_id": shipment.id,
        "tracking_number": shipment.tracking_number,
        "status": status,
        "message": message,
    }
    record(
        session, order, CARRIER_UPDATE, actor=actor, reason=carrier_event_words(status), data=data
    )
    if shipment.status == "voided":
        return order.id
    if status in PROBLEMS and not _has_event(session, order.id, DELIVERY_EXCEPTION):
        record(
            session,
            order,
            DELIVERY_EXCEPTION,
            actor=actor,
            reason=message or carrier_event_words(status),
            data={**data, "reason": message or carrier_event_words(status)},
        )
    if order.status == lifecycle.SHIPPED and all_delivered(_shipment_statuses(session, order)):
        apply_event(
            session,
            order,
            "deliver",
            actor=actor,
            reason="the carrier delivered every shipment",
            data={"shipment_id": shipment.id},
        )
    return order.id


def _shipment_of(session: Session, channel_id: int, update: CarrierUpdate) -> Shipment | None:
    """The shipment an update is about: registered with the channel, else the one it names."""
    number = update.tracking_number.strip()
    if not number:
        return None
    registered = session.scalars(
        select(Shipment)
        .join(ShipmentTracking, ShipmentTracking.shipment_id == Shipment.id)
        .where(
            ShipmentTracking.channel_id == channel_id,
            ShipmentTracking.tracking_number == number,
        )
        .order_by(Shipment.status == "voided", Shipment.id.desc())
    ).first()
    if registered is not None:
        return registered
    # The webhook came before the registration was written (or the tracking was made
    # at the service): the shipment the connector says, if its tracking number agrees.
    if update.shipment_id is not None:
        named = session.get(Shipment, update.shipment_id)
        if named is not None and named.tracking_number == number:
            return named
    return None


def _store_checkpoints(
    session: Session, shipment_id: int, channel_id: int, checkpoints: Iterable[CarrierCheckpoint]
) -> int:
    known = set(
        session.scalars(
            select(ShipmentTrackingEvent.checkpoint_key).where(
                ShipmentTrackingEvent.shipment_id == shipment_id
            )
        )
    )
    added = 0
    for c in checkpoints:
        key = c.key[:200]
        if key in known:
            continue
        known.add(key)
        session.add(
            ShipmentTrackingEvent(
                shipment_id=shipment_id,
                channel_id=channel_id,
                checkpoint_key=key,
                event=str(c.event) if c.event else None,
                tag=c.tag[:40],
                subtag=c.subtag[:40],
                message=c.message[:500],
                location=c.location[:200],
                occurred_at=c.occurred_at,
                created_at=utcnow(),
            )
        )
        added += 1
    session.flush()
    return added


def _status(
    session: Session, shipment_id: int, update: CarrierUpdate
) -> tuple[str | None, datetime | None, str]:
    """Where the shipment stands: the service's summary, else its latest checkpoint that counts."""
    latest = session.scalars(
        select(ShipmentTrackingEvent)
        .where(
            ShipmentTrackingEvent.shipment_id == shipment_id,
            ShipmentTrackingEvent.event.is_not(None),
        )
        .order_by(ShipmentTrackingEvent.occurred_at.desc(), ShipmentTrackingEvent.id.desc())
    ).first()
    if update.status is not None:
        matching = latest if latest is not None and latest.event == update.status else None
        at = matching.occurred_at if matching else (latest.occurred_at if latest else utcnow())
        return str(update.status), at, matching.message if matching else ""
    if latest is None:
        return None, None, ""
    return latest.event, latest.occurred_at, latest.message


def _has_event(session: Session, order_id: int, name: str) -> bool:
    return bool(
        session.scalar(
            select(
                exists().where(OrderAuditEvent.order_id == order_id, OrderAuditEvent.name == name)
            )
        )
    )


def _shipment_statuses(session: Session, order: Order) -> list[str | None]:
    """The carrier status of each shipment of the order still standing (delivered wins over channels)."""
    rows = session.execute(
        select(ShipmentTracking.shipment_id, ShipmentTracking.status).where(
            ShipmentTracking.order_id == order.id
        )
    ).all()
    by_shipment: dict[int, str | None] = {}
    for shipment_id, status in rows:
        if by_shipment.get(shipment_id) != "delivered":
            by_shipment[shipment_id] = status
    return [by_shipment.get(s.id) for s in order.shipments if s.status != "voided"]


# --- completing delivered orders ------------------------------------------------------------


def complete_delivered(
    session: Session, *, delivered_before: datetime, actor: str, limit: int = 500
) -> list[int]:
    """Complete up to ``limit`` orders ``delivered`` before ``delivered_before``; their ids.

    An order is completed once, whoever delivered it (a carrier, a person);
    one that cannot move (changed meanwhile) is left as it is.
    """
    due = list(
        session.scalars(
            select(Order.id)
            .where(
                Order.status == lifecycle.DELIVERED,
                exists().where(
                    OrderAuditEvent.order_id == Order.id,
                    OrderAuditEvent.name == DELIVERED,
                    OrderAuditEvent.created_at <= delivered_before,
                ),
            )
            .order_by(Order.id)
            .limit(limit)
        )
    )
    done = []
    for order_id in due:
        try:
            with session.begin_nested():
                order = get_order(session, order_id)
                if order.status != lifecycle.DELIVERED:
                    continue
                apply_event(
                    session,
                    order,
                    "complete",
                    actor=actor,
                    reason="delivered long enough ago",
                )
                done.append(order_id)
        except HubError:
            continue
    return done


# --- orders with a carrier problem now ------------------------------------------------------


def problem_filter() -> ColumnElement[bool]:
    """Orders one of whose shipments stands at a carrier problem now (exception, returned)."""
    return exists().where(
        ShipmentTracking.order_id == Order.id,
        ShipmentTracking.status.in_([str(p) for p in PROBLEMS]),
    )


def problem_order_ids(session: Session, order_ids: Iterable[int]) -> set[int]:
    """Which of ``order_ids`` have a shipment at a carrier problem now (for a list's badges)."""
    ids = list(order_ids)
    if not ids:
        return set()
    return set(
        session.scalars(
            select(ShipmentTracking.order_id).where(
                ShipmentTracking.order_id.in_(ids),
                ShipmentTracking.status.in_([str(p) for p in PROBLEMS]),
            )
        )
    )


# --- what pages show ---------------------------------------------------------------------


def carrier_events(session: Session, order_id: int) -> dict[int, dict[str, Any]]:
    """Per shipment of the order: its carrier status and checkpoints (newest first), for pages."""
    trackings = session.scalars(
        select(ShipmentTracking).where(ShipmentTracking.order_id == order_id)
    ).all()
    if not trackings:
        return {}
    shipment_ids = {t.shipment_id for t in trackings}
    events = session.scalars(
        select(ShipmentTrackingEvent)
        .where(ShipmentTrackingEvent.shipment_id.in_(shipment_ids))
        .order_by(ShipmentTrackingEvent.occurred_at.desc(), ShipmentTrackingEvent.id.desc())
    ).all()
    out: dict[int, dict[str, Any]] = {}
    for t in trackings:
        entry = out.setdefault(
            t.shipment_id, {"status": None, "status_words": "", "problem": False, "events": []}
        )
        if t.status and entry["status"] != "delivered":
            entry["status"] = t.status
            entry["status_words"] = carrier_event_words(t.status)
            entry["problem"] = t.status in PROBLEMS
    for e in events:
        out[e.shipment_id]["events"].append(
            {
                "event": e.event,
                "words": carrier_event_words(e.event) if e.event else (e.tag or "Carrier update"),
                "message": e.message,
                "location": e.location,
                "occurred_at": e.occurred_at,
            }
        )
    return out
