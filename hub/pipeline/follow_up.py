"""What follows an order event (``order.event``), and the helpers the other steps share.

Every step is a job, so every step is visible, retried and dead-lettered on
its own. The core decides *when* (this module); connectors decide *how*, through
the operations of their role (:mod:`hub.integration.connectors`)::

    order.created            -> order.process   (checks; confirm or hold)
    order.confirmed          -> payment.capture (gateways that capture on confirm)
                                order.fulfill   (once nothing is left to capture first)
    order.fulfillment_started-> shipping.flush  (batched, per shipping channel)
    order.(partially_)shipped-> payment.capture (gateways that capture on ship)
                                sales.push_fulfillment (tracking back to the channel)
    order.cancelled          -> payment.void / payment.refund, shipping.flush (cancel)
    order.lines_reduced      -> shipping.flush  (the groups shrink: sent again, or cancelled)
    order.held (out_of_stock), order.backordered
                             -> order.delayed   (the customer told, once per cause: hub.pipeline.delays)
    order.(partially_)unshipped, order.shipment_voided
                             -> sales.cancel_fulfillment (the channel's fulfilment of the voided label)
    shipping.flush refusals  -> shipping.resubmit (dead, per group, retry to send again)
    shipping.poll refusals   -> shipping.record (dead, per shipment, retry to record again)
    any event                -> notify (each notification channel that wants it)
                                order.event.deliver (each plugin's hub_order_event)

What each job then does lives beside its kind: :mod:`hub.pipeline.order_steps`,
:mod:`~hub.pipeline.payments`, :mod:`~hub.pipeline.shipping`, :mod:`~hub.pipeline.sales`
and :mod:`~hub.pipeline.events` (the registry: :mod:`hub.pipeline.handlers`). The
helpers they share stand here, below them all: :func:`get` (the row a step goes on
with), :func:`shipping_channel_for`, :func:`enqueue_shipping_flush` (batched by
``SHIPPING_BATCH_SECONDS``) and :func:`being_sent`.
"""

from __future__ import annotations

import time
from datetime import UTC, datetime
from typing import TYPE_CHECKING, Any, TypeVar

from sqlalchemy import select
from sqlalchemy.orm import Session

from hub.core import events as ev
from hub.core.exceptions import NotFound
from hub.core.status import PaymentStatus
from hub.integration.connectors import Capability, NotificationConnector, PaymentConnector, can
from hub.integration.manager import implementers
from hub.orders import payments
from hub.pipeline import delays
from hub.pipeline.aftercare import aftercare_links
from hub.pipeline.invoices import enqueue_invoice_jobs
from hub.pipeline.tracking import enqueue_registrations
from hub.queue.jobs import JobContext, enqueue
from hub.queue.kinds import JobKind
from hub.runtime.hub import as_role
from hub.store.models import (
    Channel,
    FulfillmentGroup,
    Job,
    JobStatus,
    Order,
    OrderAuditEvent,
    Payment,
    Shipment,
    WebhookEvent,
)

if TYPE_CHECKING:
    from hub.runtime.hub import Hub

_Row = TypeVar("_Row", Channel, Payment, Shipment, WebhookEvent)

#: Shipping submissions wait this long to be sent together (ShipStation: 40 requests a minute).
SHIPPING_BATCH_SECONDS = 2

#: What a row a step needs is called when it is missing (see :func:`get`).
_ROW_NAMES: dict[type, str] = {
    Channel: "channel",
    Payment: "payment",
    Shipment: "shipment",
    WebhookEvent: "webhook event",
}


def get(session: Session, model: type[_Row], row_id: int) -> _Row:
    """The row of ``model`` a step goes on with (one it found before, or its channel).

    :raises NotFound: it does not exist (any more).
    """
    row = session.get(model, row_id)
    if row is None:
        raise NotFound(f"{_ROW_NAMES[model]} {row_id} does not exist")
    return row


def announce_order_event(ctx: JobContext) -> None:
    """Enqueue every job that follows an audit event, in one transaction."""
    hub = ctx.hub
    event_id = ctx.payload["event_id"]
    listeners = implementers(hub.pm, "hub_order_event")
    with hub.db.transaction() as session:
        audit = session.get(OrderAuditEvent, event_id)
        if audit is None:
            return
        order = audit.order
        for plugin in listeners:
            enqueue(
                session,
                JobKind.ORDER_EVENT_DELIVER,
                {"event_id": event_id, "plugin": plugin},
                order_id=order.id,
                dedupe_key=JobKind.ORDER_EVENT_DELIVER.key(event_id, plugin),
            )
        for channel in _enabled_channels(session, hub, "notification"):
            if as_role(hub.connector_for(channel), NotificationConnector).wants(audit.name):
                enqueue(
                    session,
                    JobKind.NOTIFY,
                    {"event_id": event_id},
                    channel_id=channel.id,
                    order_id=order.id,
                    dedupe_key=f"notify:{channel.id}:{event_id}",
                )
        _follow_up(session, hub, audit, order)
        enqueue_invoice_jobs(session, audit, order)
        # An order that now waits tells its customer, once per cause (with a choice, signed).
        delays.tell(session, audit, aftercare_links(hub))


def _follow_up(session: Session, hub: Hub, audit: OrderAuditEvent, order: Order) -> None:
    name = audit.name
    if name == "order.confirmed":
        if not _enqueue_captures(session, hub, order, name):
            enqueue(
                session,
                JobKind.ORDER_FULFILL,
                {},
                order_id=order.id,
                dedupe_key=JobKind.ORDER_FULFILL.key(order.id, audit.id),
            )
    elif name in ("order.backorder_filled", "order.exchange_released"):
        # What the order waited for arrived (its stock; an exchange's goods coming back):
        # fulfilment goes on as after a confirmation.
        enqueue(
            session,
            JobKind.ORDER_FULFILL,
            {},
            order_id=order.id,
            dedupe_key=JobKind.ORDER_FULFILL.key(order.id, audit.id),
        )
    elif name == "order.fulfillment_started":
        for group in order.fulfillment_groups:
            if group.status == "pending" and group.shipping_channel_id:
                enqueue_shipping_flush(session, group.shipping_channel_id)
    elif name in ("order.shipped", "order.partially_shipped"):
        _enqueue_captures(session, hub, order, name)
        _tell_the_channel(session, hub, order, audit, JobKind.SALES_PUSH_FULFILLMENT)
        enqueue_registrations(session, hub, audit)
    elif name == "order.cancelled":
        for payment in order.payments:
            if payment.channel_id is None:
                continue
            if payment.status == PaymentStatus.AUTHORIZED and payment.captured_amount == 0:
                enqueue(
                    session,
                    JobKind.PAYMENT_VOID,
                    {"payment_id": payment.id},
                    channel_id=payment.channel_id,
                    order_id=order.id,
                    dedupe_key=JobKind.PAYMENT_VOID.key(payment.id),
                )
            elif payment.captured_amount > payment.refunded_amount:
                payments.request_refund(
                    session,
                    payment,
                    payment.captured_amount - payment.refunded_amount,
                    key=f"cancel:{order.id}",
                    reason="order cancelled",
                )
        for group in order.fulfillment_groups:
            _withdraw_group(session, group)
    elif name == ev.LINES_REDUCED:
        _shrink_groups(
            session, order, {int(k): int(v) for k, v in (audit.data or {}).get("lines", {}).items()}
        )
    elif name in ("order.unshipped", "order.partially_unshipped", ev.SHIPMENT_VOIDED):
        _tell_the_channel(session, hub, order, audit, JobKind.SALES_CANCEL_FULFILLMENT)


#: What the sales channel is told of a shipment, and the capability that needs.
_CHANNEL_CAPABILITY = {
    JobKind.SALES_PUSH_FULFILLMENT: Capability.PUSH_FULFILLMENT,
    JobKind.SALES_CANCEL_FULFILLMENT: Capability.CANCEL_FULFILLMENT,
}


def _tell_the_channel(
    session: Session, hub: Any, order: Order, audit: OrderAuditEvent, kind: JobKind
) -> None:
    """Enqueue ``kind`` for the event's shipment if the order's sales channel takes it."""
    shipment_id = (audit.data or {}).get("shipment_id")
    if shipment_id and can(hub.connector_for(order.channel), _CHANNEL_CAPABILITY[kind]):
        enqueue(
            session,
            kind,
            {"shipment_id": shipment_id},
            channel_id=order.channel_id,
            order_id=order.id,
            dedupe_key=kind.key(shipment_id),
        )


def _withdraw_group(session: Session, group: FulfillmentGroup) -> None:
    """Take a fulfilment group back from its warehouse: cancelled there if it may have reached it."""
    if group.status == "submitted" and group.shipping_channel_id:
        group.status = "cancelling"
        enqueue_shipping_flush(session, group.shipping_channel_id)
    elif group.status == "pending":
        if being_sent(session, group):  # it may reach the warehouse: tell it after
            group.status = "cancelling"
            # None: its shipping channel was deleted since the flush claimed it
            # (a flush of no channel would find nothing to send).
            if group.shipping_channel_id is not None:
                enqueue_shipping_flush(session, group.shipping_channel_id)
        else:
            group.status = "cancelled"


def _shrink_groups(session: Session, order: Order, units: dict[int, int]) -> None:
    """Ask the warehouse for ``units`` (line id -> units) less: refunded or removed on the channel.

    The newest groups give first. A group left with nothing is withdrawn; one
    that shrank is sent again (ShipStation's create is an upsert by order key,
    so the warehouse's order is updated, not doubled).
    """
    for group in sorted(order.fulfillment_groups, key=lambda g: -g.id):
        if group.status not in ("pending", "submitted") or not any(units.values()):
            continue
        kept, shrunk = [], False
        for entry in group.lines:
            take = min(units.get(entry["line_id"], 0), int(entry["quantity"]))
            if take:
                units[entry["line_id"]] -= take
                shrunk = True
            if int(entry["quantity"]) - take > 0:
                kept.append({**entry, "quantity": int(entry["quantity"]) - take})
        if not shrunk:
            continue
        group.lines = kept
        if not kept:
            _withdraw_group(session, group)
        elif group.shipping_channel_id:
            group.status = "pending"  # sent again with what is still owed
            enqueue_shipping_flush(session, group.shipping_channel_id)


def _enqueue_captures(session: Session, hub: Hub, order: Order, event_name: str) -> int:
    count = 0
    for payment in order.payments:
        if payment.channel_id is None or payment.status != PaymentStatus.AUTHORIZED:
            continue
        channel = session.get(Channel, payment.channel_id)
        if channel is None or not channel.enabled:
            continue
        if event_name in as_role(hub.connector_for(channel), PaymentConnector).capture_events():
            enqueue(
                session,
                JobKind.PAYMENT_CAPTURE,
                {"payment_id": payment.id},
                channel_id=channel.id,
                order_id=order.id,
                dedupe_key=JobKind.PAYMENT_CAPTURE.key(payment.id),
            )
            count += 1
    return count


def _enabled_channels(session: Session, hub: Hub, role: str) -> list[Channel]:
    channels = session.scalars(
        select(Channel).where(Channel.enabled.is_(True)).order_by(Channel.id)
    )
    return [
        c
        for c in channels
        if c.connector in hub.connectors and role in hub.connectors[c.connector].roles
    ]


def shipping_channel_for(session: Session, hub: Hub, order: Order) -> Channel | None:
    """The sales channel's own shipping channel, else the one enabled shipping channel."""
    sales = order.channel
    if sales.shipping_channel_id:
        channel = session.get(Channel, sales.shipping_channel_id)
        return channel if channel and channel.enabled else None
    candidates = _enabled_channels(session, hub, "shipping")
    return candidates[0] if len(candidates) == 1 else None


def enqueue_shipping_flush(session: Session, channel_id: int) -> None:
    """Send pending groups of this shipping channel together, a moment from now."""
    slot = int(time.time() // SHIPPING_BATCH_SECONDS) + 1
    run_at = datetime.fromtimestamp(slot * SHIPPING_BATCH_SECONDS, UTC)
    enqueue(
        session,
        JobKind.SHIPPING_FLUSH,
        {},
        channel_id=channel_id,
        run_at=run_at,
        dedupe_key=JobKind.SHIPPING_FLUSH.key(channel_id, slot),
    )


def being_sent(session: Session, group: FulfillmentGroup) -> bool:
    """Whether a running ``shipping.flush`` has claimed ``group`` (it may be at the warehouse)."""
    return (
        group.flush_job_id is not None
        and session.scalar(select(Job.status).where(Job.id == group.flush_job_id))
        == JobStatus.RUNNING
    )
