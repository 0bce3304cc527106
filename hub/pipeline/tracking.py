"""Delivery facts from carriers, as jobs: shipments to the tracking channels, delivered orders completed.

Its handlers are in :data:`hub.pipeline.handlers.HANDLERS`; its periodic job and
its settings come from this module as one of the hub's own plugins
(:data:`hub.integration.manager.DEFAULT_PLUGINS`):

- ``tracking.register``: a shipment recorded with a tracking number is handed
  to every enabled tracking channel (AfterShip …), once per shipment and
  channel (the job's dedupe key); enqueued by :func:`enqueue_registrations`
  when ``order.shipped`` / ``order.partially_shipped`` is announced. The
  carrier's news then comes back as webhooks (``webhook.process`` →
  :mod:`hub.orders.carrier_events`).
- ``order.complete_delivered``, hourly: orders ``delivered`` more than
  ``complete_after_days`` ago (the ``delivery`` settings; 0 turns it off)
  become ``completed``, 500 a run.
"""

from __future__ import annotations

from datetime import timedelta
from typing import TYPE_CHECKING

from marshmallow import Schema, fields, validate
from sqlalchemy import exists, select
from sqlalchemy.orm import Session

from hub import hookimpl
from hub.core import lifecycle
from hub.integration.connectors import TrackedShipment, TrackingConnector
from hub.integration.jobs import PeriodicJob
from hub.orders import carrier_events
from hub.queue.jobs import JobContext, enqueue
from hub.queue.kinds import JobKind
from hub.runtime.hub import as_role
from hub.store.models import Channel, Order, Shipment, ShipmentTracking, utcnow

if TYPE_CHECKING:
    from hub.runtime.hub import Hub
    from hub.store.models import OrderAuditEvent

#: The settings' name (Settings page of the admin; ``ctx.plugin_settings("delivery")``).
SETTINGS = "delivery"
#: How often delivered orders are looked at; how many a run completes at most.
COMPLETE_EVERY_SECONDS = 3600
COMPLETE_BATCH = 500


class DeliverySettings(Schema):
    """When delivered orders become completed (by themselves, some days after delivery)."""

    complete_after_days = fields.Integer(
        load_default=14,
        validate=validate.Range(min=0, max=365),
        metadata={
            "label": "Complete orders this many days after delivery",
            "help": "A delivered order (by the carrier's word or a person's) becomes completed "
            "after this many days; 0 leaves completing to people.",
        },
    )


def enqueue_registrations(session: Session, hub: Hub, audit: OrderAuditEvent) -> None:
    """Hand the event's shipment to every enabled tracking channel, once each."""
    data = audit.data or {}
    shipment_id = data.get("shipment_id")
    if not shipment_id or not data.get("tracking_number"):
        return
    for channel in session.scalars(
        select(Channel).where(Channel.enabled.is_(True)).order_by(Channel.id)
    ):
        known = hub.connectors.get(channel.connector)
        if known is None or "tracking" not in known.roles:
            continue
        enqueue(
            session,
            JobKind.TRACKING_REGISTER,
            {"shipment_id": shipment_id},
            channel_id=channel.id,
            order_id=audit.order_id,
            dedupe_key=JobKind.TRACKING_REGISTER.key(channel.id, shipment_id),
        )


def register_open_shipments(session: Session, channel_id: int) -> int:
    """Hand a tracking channel the shipments still on their way (a channel added after they shipped).

    Every shipment with a tracking number, not voided, of an order ``shipped``
    or ``partially_shipped``, that the channel does not follow yet: a
    ``tracking.register`` job each, with the same dedupe key as at shipping
    time, so nothing is registered twice. Returns how many were enqueued.
    """
    followed = exists().where(
        ShipmentTracking.shipment_id == Shipment.id, ShipmentTracking.channel_id == channel_id
    )
    rows = session.execute(
        select(Shipment.id, Shipment.order_id)
        .join(Order, Order.id == Shipment.order_id)
        .where(
            Order.status.in_((lifecycle.SHIPPED, lifecycle.PARTIALLY_SHIPPED)),
            Shipment.status != "voided",
            Shipment.tracking_number != "",
            ~followed,
        )
        .order_by(Shipment.id)
    ).all()
    enqueued = 0
    for shipment_id, order_id in rows:
        enqueued += (
            enqueue(
                session,
                JobKind.TRACKING_REGISTER,
                {"shipment_id": shipment_id},
                channel_id=channel_id,
                order_id=order_id,
                dedupe_key=JobKind.TRACKING_REGISTER.key(channel_id, shipment_id),
            )
            is not None
        )
    return enqueued


def register_shipment(ctx: JobContext) -> None:
    """Ask the job's tracking channel to follow the shipment; keep the service's id for it."""
    hub = ctx.hub
    with hub.db.read() as session:
        shipment = session.get(Shipment, ctx.payload["shipment_id"])
        if shipment is None or shipment.status == "voided" or not shipment.tracking_number:
            return
        done = session.scalar(
            select(ShipmentTracking.registered_at).where(
                ShipmentTracking.shipment_id == shipment.id,
                ShipmentTracking.channel_id == ctx.channel_id,
            )
        )
        if done is not None:
            return
        order = shipment.order
        public = (hub.settings.public_url or "").rstrip("/")
        tracked = TrackedShipment(
            shipment_id=shipment.id,
            order_id=order.id,
            order_number=order.label,
            tracking_number=shipment.tracking_number,
            carrier=shipment.carrier,
            service=shipment.service,
            order_page_url=f"{public}/track/{order.tracking_token}"
            if public and order.tracking_token
            else "",
        )
    connector = as_role(ctx.connector(), TrackingConnector)
    external_id = connector.register_shipment(tracked, idempotency_key=ctx.idempotency_key)
    with hub.db.transaction() as session:
        shipment = session.get(Shipment, tracked.shipment_id)
        if shipment is None or ctx.channel_id is None:  # deleted meanwhile: nothing to keep
            return
        carrier_events.register(
            session, shipment, ctx.channel_id, external_id=external_id, registered=True
        )


def complete_delivered_orders(ctx: JobContext) -> None:
    """Complete the orders delivered more than the set number of days ago."""
    days = int(ctx.plugin_settings(SETTINGS).get("complete_after_days") or 0)
    if days <= 0:
        return
    with ctx.hub.db.transaction() as session:
        carrier_events.complete_delivered(
            session,
            delivered_before=utcnow() - timedelta(days=days),
            actor="system",
            limit=COMPLETE_BATCH,
        )


@hookimpl
def hub_register_periodic_jobs():
    return [
        PeriodicJob(kind=JobKind.ORDER_COMPLETE_DELIVERED, every_seconds=COMPLETE_EVERY_SECONDS)
    ]


@hookimpl
def hub_register_settings():
    return {SETTINGS: DeliverySettings}
