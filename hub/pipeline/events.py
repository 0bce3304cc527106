"""Events in and out: stored webhooks handed to their connector (``webhook.process``),
notifications sent once (``notify``) and each plugin's ``hub_order_event`` called
(``order.event.deliver``)."""

from __future__ import annotations

import logging
import time
from typing import Any, cast

from sqlalchemy.orm import Session

from hub.channels.port import ChannelPort
from hub.core.events import OrderEvent
from hub.integration.connectors import (
    Capability,
    Delivery,
    NotificationConnector,
    NotifiesWithAttachments,
    WebhookOutcome,
    WebhookStatus,
    can,
)
from hub.integration.manager import call_one, implementers
from hub.invoicing.pdf import attachments, event_documents
from hub.notifications import outbox as notifications
from hub.orders import records
from hub.orders.serialize import order_detail
from hub.pipeline.follow_up import get
from hub.queue.jobs import JobContext
from hub.runtime.hub import as_role
from hub.store.models import Order, OrderAuditEvent, WebhookEvent, utcnow

log = logging.getLogger(__name__)


def process_webhook(ctx: JobContext) -> None:
    """Hand a stored webhook to its connector; a failure stays on the event, visible and replayable."""
    hub = ctx.hub
    with hub.db.read() as session:
        event = session.get(WebhookEvent, ctx.payload["webhook_event_id"])
        if event is None or event.status == "processed":
            return
        topic, body, headers, channel_id = (
            event.topic,
            event.body.encode(),
            dict(event.headers),
            event.channel_id,
        )
    try:
        outcome = ctx.connector().handle_webhook(ChannelPort(hub, channel_id), topic, body, headers)
    except Exception as exc:
        with hub.db.transaction() as session:
            event = session.get(WebhookEvent, ctx.payload["webhook_event_id"])
            if event is not None:  # deleted meanwhile (with its channel): the error still counts
                event.status, event.error = "failed", f"{exc.__class__.__name__}: {exc}"
                event.attempts += 1
        raise
    if not isinstance(outcome, WebhookOutcome):
        raise TypeError(
            f"{type(ctx.connector()).__name__}.handle_webhook returned {outcome!r}, "
            "not a hub.integration.connectors.WebhookOutcome"
        )
    with hub.db.transaction() as session:
        event = get(session, WebhookEvent, ctx.payload["webhook_event_id"])
        event.status = outcome.status.value
        event.error = None if outcome.status is WebhookStatus.PROCESSED else str(outcome)
        event.attempts += 1
        event.processed_at = utcnow()


def load_event(session: Session, event_id: int) -> tuple[OrderEvent, dict[str, Any]] | None:
    """The audit event as plugins see it, with the order as the API shows it now."""
    audit = session.get(OrderAuditEvent, event_id)
    if audit is None:
        return None
    order = session.scalars(records.order_query().where(Order.id == audit.order_id)).one()
    event = OrderEvent(
        name=audit.name,
        order_id=audit.order_id,
        id=audit.id,
        occurred_at=audit.created_at,
        data={
            **(audit.data or {}),
            "from": audit.from_status,
            "to": audit.to_status,
            "reason": audit.reason,
            "actor": audit.actor,
        },
    )
    return event, order_detail(order)


def notify(ctx: JobContext) -> None:
    """Deliver one notification once, ever: sent ledger first, every attempt recorded.

    The attempt is committed as ``sending`` before the connector is called, so
    a crash mid-delivery (the one case that can deliver twice) stays visible
    (see :mod:`hub.notifications.outbox`).
    """
    key = f"notify:{ctx.channel_id}:{ctx.payload['event_id']}"
    with ctx.hub.db.read() as session:
        if notifications.already_sent(session, key):
            return
        resend = notifications.in_doubt(session, key) > 0
        loaded = load_event(session, ctx.payload["event_id"])
    if loaded is None:
        return
    event, order = loaded
    facts = dict(
        channel_id=ctx.channel_id, order_id=event.order_id, event_id=event.id, event_name=event.name
    )
    with ctx.hub.db.transaction() as session:
        attempt_id = notifications.begin_attempt(session, key, resend=resend, **facts)
    started = time.perf_counter()
    try:
        connector = as_role(ctx.connector(), NotificationConnector)
        if can(connector, Capability.ATTACHMENTS):  # an invoice's email carries its PDF
            with ctx.hub.db.read() as session:
                documents = event_documents(session, event)
            files = attachments(ctx.hub.settings, documents)  # no transaction open meanwhile
            delivery = cast(NotifiesWithAttachments, connector).notify(
                event, order, idempotency_key=key, attachments=files
            )
        else:
            delivery = connector.notify(event, order, idempotency_key=key)
    except Exception as exc:
        with ctx.hub.db.transaction() as session:
            notifications.finish_attempt(
                session,
                attempt_id,
                outcome="failed",
                status_code=getattr(exc, "status", None),
                duration_ms=int((time.perf_counter() - started) * 1000),
                error=f"{exc.__class__.__name__}: {exc}",
                recipient=str((getattr(exc, "details", None) or {}).get("recipient", "")),
            )
        raise
    delivery = delivery or Delivery()
    with ctx.hub.db.transaction() as session:
        notifications.finish_attempt(
            session,
            attempt_id,
            outcome="skipped" if delivery.skipped else "sent",
            status_code=delivery.status_code,
            duration_ms=int((time.perf_counter() - started) * 1000),
            error=delivery.skipped or None,
            recipient=delivery.recipient,
        )
        if not delivery.skipped:
            notifications.record_sent(
                session,
                key,
                channel_id=ctx.channel_id,
                order_id=event.order_id,
                event_id=event.id,
                event_name=event.name,
                recipient=delivery.recipient,
                message_id=delivery.message_id,
            )


def deliver_order_event(ctx: JobContext) -> None:
    """Call one plugin's ``hub_order_event`` with the event and the order as it is now."""
    plugin = ctx.payload["plugin"]
    with ctx.hub.db.read() as session:
        loaded = load_event(session, ctx.payload["event_id"])
    if loaded is None:
        return
    event, order = loaded
    if plugin not in implementers(ctx.hub.pm, "hub_order_event"):
        log.info("plugin %s no longer listens to order events; dropping delivery", plugin)
        return
    call_one(ctx.hub.pm, "hub_order_event", plugin, event=event, order=order)
