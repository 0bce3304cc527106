"""Replenishment's jobs that join capabilities: stock received goes to backorders, low stock is told.

- ``stock.received`` (enqueued by :func:`hub.purchasing.receiving.receive` in the
  receipt's transaction): the arrived SKUs' free stock at that location goes to
  their active backorders first, oldest order first
  (:func:`hub.inventory.backorders.fill`); an order with nothing left to wait for
  records ``order.backorder_filled``, whose follow-up starts its fulfilment like a
  confirmation's. Then the low-stock state is checked again.
- ``replenishment.low_stock`` (periodic, and after receipts): what went below its
  reorder point since the last check (:func:`hub.replenishment.low_stock.crossings`)
  is emailed to the admins once per crossing, through the ops alerts' email
  (:func:`hub.pipeline.alerts.queue_email`).
"""

from __future__ import annotations

import logging

from hub.core import events
from hub.inventory import backorders
from hub.orders.records import get_order, record
from hub.pipeline import alerts
from hub.purchasing import queries as purchasing
from hub.queue.jobs import JobContext, enqueue
from hub.queue.kinds import JobKind
from hub.replenishment import low_stock
from hub.store.models import utcnow

log = logging.getLogger(__name__)

#: How often low stock is looked for besides after each receipt.
LOW_STOCK_EVERY_SECONDS = 900


def stock_received(ctx: JobContext) -> None:
    """``stock.received``: give the arrived stock to backorders, oldest order first."""
    location_id = int(ctx.payload["location_id"])
    released = 0
    for sku in sorted(ctx.payload["skus"]):
        with ctx.hub.db.transaction() as session:
            for order_id in backorders.fill(session, sku, location_id, actor="system"):
                order = get_order(session, order_id)
                record(
                    session,
                    order,
                    events.BACKORDER_FILLED,
                    actor="system",
                    reason="the backordered stock arrived and is reserved",
                )
                released += 1
    with ctx.hub.db.transaction() as session:
        enqueue(
            session,
            JobKind.LOW_STOCK_CHECK,
            {},
            dedupe_key=JobKind.LOW_STOCK_CHECK.key("after", ctx.id),
        )
    if released:
        log.info("%d backordered order(s) released to fulfilment", released)


def check_low_stock(ctx: JobContext) -> None:
    """``replenishment.low_stock``: mark new crossings below the reorder point and email them."""
    now = utcnow()
    with ctx.hub.db.transaction() as session:
        crossed = low_stock.crossings(session, purchasing.incoming(session), now=now)
        channel_id = alerts.email_channel_id(session)
        if crossed and channel_id is not None:
            subject, body = low_stock.email_text(crossed)
            alerts.queue_email(
                session,
                alerts.Cause(key=f"low-stock-{now.timestamp():.6f}", subject=subject, body=body),
                channel_id,
                now,
            )
    if crossed:
        log.warning("%d SKU position(s) went below their reorder point", len(crossed))
