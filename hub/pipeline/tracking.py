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
- ``tracking.poll``, per tracking channel that declares ``Capability.POLL_TRACKING``
  (its ``scheduled_jobs``): trackings still on their way with no news for
  12 hours are read again, 200 a run: the safety net for webhooks that never came.
"""

from __future__ import annotations

import logging
from datetime import timedelta
from typing import TYPE_CHECKING

from marshmallow import Schema, fields, validate
from sqlalchemy import exists, or_, select
from sqlalchemy.orm import Session

from hub import hookimpl
from hub.channels.port import ChannelPort
from hub.core import lifecycle
from hub.core.exceptions import ExternalError
from hub.core.tracking import CarrierEvent
from hub.integration.connectors import Capability, TrackedShipment, TrackingConnector, can
from hub.integration.jobs import PeriodicJob
from hub.orders import carrier_events
from hub.queue.jobs import JobContext, enqueue
from hub.queue.kinds import JobKind
from hub.runtime.hub import as_role
from hub.store.models import Channel, Order, Shipment, ShipmentTracking, utcnow

if TYPE_CHECKING:
    from hub.runtime.hub import Hub
    from hub.store.models import OrderAuditEvent

log = logging.getLogger(__name__)

#: The settings' name (Settings page of the admin; ``ctx.plugin_settings("delivery")``).
SETTINGS = "delivery"
#: How often delivered orders are looked at; how many a run completes at most.
COMPLETE_EVERY_SECONDS = 3600
COMPLETE_BATCH = 500
#: A tracking with no news for this long is read again by ``tracking.poll``; how many a run.
QUIET_SECONDS = 12 * 3600
POLL_BATCH = 200
#: Carrier statuses after which nothing more is expected.
ARRIVED = (CarrierEvent.DELIVERED, CarrierEvent.RETURNED_TO_SENDER)


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


def poll_trackings(ctx: JobContext) -> None:
    """The safety net for carrier webhooks: read again what had no news for hours.

    The channel's trackings of orders still on their way (not delivered, not
    returned to sender), quietest first, :data:`POLL_BATCH` a run: each is read
    from the service and stored as a webhook's news would be. A tracking the
    service no longer has (a non-retryable error) is skipped; a retryable error
    fails the job, which is retried.
    """
    channel_id = ctx.require_channel()
    connector = as_role(ctx.connector(), TrackingConnector)
    if not can(connector, Capability.POLL_TRACKING):
        return
    quiet_since = utcnow() - timedelta(seconds=QUIET_SECONDS)
    with ctx.hub.db.read() as session:
        due = session.execute(
            select(ShipmentTracking.id, ShipmentTracking.external_id)
            .join(Order, Order.id == ShipmentTracking.order_id)
            .where(
                ShipmentTracking.channel_id == channel_id,
                ShipmentTracking.external_id != "",
                or_(
                    ShipmentTracking.status.is_(None),
                    ShipmentTracking.status.not_in(ARRIVED),
                ),
                ShipmentTracking.updated_at < quiet_since,
                Order.status.in_((lifecycle.SHIPPED, lifecycle.PARTIALLY_SHIPPED)),
            )
            .order_by(ShipmentTracking.updated_at, ShipmentTracking.id)
            .limit(POLL_BATCH)
        ).all()
    port = ChannelPort(ctx.hub, channel_id)
    for tracking_id, ref in due:
        try:
            port.record_carrier_update(connector.fetch_tracking(ref))
        except ExternalError as exc:
            if exc.retryable:
                raise
            log.warning("channel %s: tracking %s not read: %s", port.slug, ref, exc)
        with ctx.hub.db.transaction() as session:
            row = session.get(ShipmentTracking, tracking_id)
            if row is not None:  # read now: the next run takes the quieter ones first
                row.updated_at = utcnow()


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
