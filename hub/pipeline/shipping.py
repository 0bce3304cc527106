"""Shipping jobs: fulfilment groups sent to the warehouse in batches (``shipping.flush``),
shipments polled back (``shipping.poll``), and the retries of what the shipping service
or the hub refused (``shipping.resubmit``, ``shipping.record``)."""

from __future__ import annotations

import logging
from collections.abc import Iterable, Iterator
from datetime import datetime, timedelta
from typing import Any, TypeVar

from sqlalchemy import exists, or_, select, text, update
from sqlalchemy.orm import Session

from hub.channels.port import ChannelPort
from hub.core.exceptions import HubError, NotFound
from hub.core.lifecycle import OrderStatus
from hub.integration.connectors import (
    ShipmentNotice,
    ShippingConnector,
    ShippingOrder,
    SubmissionRejected,
)
from hub.orders import shipments
from hub.orders.serialize import money, order_detail
from hub.pipeline.follow_up import enqueue_shipping_flush
from hub.queue.jobs import JobContext, dead_letter, enqueue
from hub.queue.kinds import JobKind
from hub.routing import service_levels
from hub.runtime.hub import as_role
from hub.store.models import UNSENT_GROUPS, FulfillmentGroup, Job, JobStatus, Order, utcnow

log = logging.getLogger(__name__)

_Item = TypeVar("_Item")

#: Fulfilment groups sent to the shipping service in one call, at most.
SHIPPING_BATCH_SIZE = 100


def _group_lines(order: Order, group: FulfillmentGroup) -> list[dict[str, Any]]:
    by_id = {line.id: line for line in order.lines}
    out = []
    for g in group.lines:
        line = by_id.get(g["line_id"])
        if line is not None:
            out.append(
                {
                    "line_id": line.id,
                    "sku": line.sku,
                    "name": line.name,
                    "quantity": g["quantity"],
                    "unit_price": money(line.unit_price, order.currency),
                }
            )
    return out


def _sent_lines(group: ShippingOrder | FulfillmentGroup) -> dict[int, int]:
    """Units per line of a group as sent (a ShippingOrder) or as it stands now (the row)."""
    return {int(x["line_id"]): int(x["quantity"]) for x in group.lines}


_GROUPS = FulfillmentGroup.__table__
_JOBS = Job.__table__


def _claim_groups(session: Session, channel_id: int, job_id: int) -> list[int]:
    """Mark up to a batch of this channel's unsent groups as this flush's; their ids.

    A group is free when no flush has it, or the flush that had it is not running
    any more (it finished, failed, or its worker died and the job waits to run
    again: then the same job takes its groups back). Two flushes running at once
    so send different groups: a backlog of queued flushes no longer sends one
    group several times. ``SKIP LOCKED`` (PostgreSQL) passes over groups another
    flush is claiming at this moment.
    """
    g = _GROUPS
    taken = exists().where(_JOBS.c.id == g.c.flush_job_id, _JOBS.c.status == JobStatus.RUNNING)
    free = (
        select(g.c.id)
        .where(
            g.c.shipping_channel_id == channel_id,
            text(UNSENT_GROUPS),  # literal: the partial index's own predicate
            # A group the service refused waits for a person (its dead
            # ``shipping.resubmit`` job), instead of riding every batch.
            g.c.error.is_(None),
            or_(g.c.flush_job_id.is_(None), g.c.flush_job_id == job_id, ~taken),
        )
        .order_by(g.c.id)
        .limit(SHIPPING_BATCH_SIZE)
        .with_for_update(skip_locked=True)
    )
    claimed = session.execute(
        update(g).where(g.c.id.in_(free)).values(flush_job_id=job_id).returning(g.c.id)
    ).scalars()
    return sorted(claimed)


def flush_shipping(ctx: JobContext) -> None:
    """Send up to 100 pending (or cancelling) groups of one shipping channel in one call."""
    hub = ctx.hub
    channel_id = ctx.channel_id
    if channel_id is None:
        return  # asked for a group whose shipping channel was deleted: none to send
    with hub.db.transaction() as session:
        ids = _claim_groups(session, channel_id, ctx.id)
    if not ids:
        return
    with hub.db.read() as session:
        groups = session.scalars(
            select(FulfillmentGroup)
            .where(FulfillmentGroup.id.in_(ids))
            .order_by(FulfillmentGroup.id)
        ).all()
        batch, skipped = [], []
        sku_attributes = service_levels.attributes_of(
            session, (line.sku for g in groups for line in g.order.lines)
        )
        for g in groups:
            if g.status == "pending" and g.order.status not in (
                OrderStatus.PROCESSING,
                OrderStatus.PARTIALLY_SHIPPED,
            ):
                skipped.append(g.id)
                continue
            parcel = service_levels.parcel_of(service_levels.group_skus(g.order, g), sku_attributes)
            batch.append(
                ShippingOrder(
                    key=g.key,
                    order=order_detail(g.order),
                    lines=_group_lines(g.order, g),
                    location_code=g.location_code,
                    status="cancelled" if g.status == "cancelling" else "awaiting_shipment",
                    carrier_code=g.carrier_code,
                    service_code=g.service_code,
                    requested_service=g.requested_service,
                    weight_grams=None if parcel.unweighed else parcel.weight_grams,
                    dimensions_mm=parcel.dimensions_mm,
                )
            )
    more = len(ids) == SHIPPING_BATCH_SIZE
    rejected: dict[str, str] = {}
    accepted: dict[str, Any] = {}
    if batch:
        try:
            accepted = as_role(ctx.connector(), ShippingConnector).submit_orders(batch)
        except SubmissionRejected as exc:
            accepted, rejected = exc.accepted, exc.rejected
    with hub.db.transaction() as session:
        if skipped:  # not sent: free at once for the flush that follows their order's change
            session.execute(
                update(_GROUPS)
                .where(_GROUPS.c.id.in_(skipped), _GROUPS.c.flush_job_id == ctx.id)
                .values(flush_job_id=None)
            )
        for item in batch:
            group = shipments.find_group(session, item.key)
            if group is None:  # groups are never deleted
                raise NotFound(f"fulfilment group {item.key} does not exist")
            if item.key in accepted:
                group.external_id = str(accepted[item.key])
                group.submitted_at = utcnow()
                group.error = None
                if item.status == "cancelled":
                    group.status = "cancelled"
                elif group.status == "pending" and _sent_lines(item) != _sent_lines(group):
                    # Its lines shrank while this flush was sending the old ones: send again.
                    enqueue_shipping_flush(session, channel_id)
                elif group.status == "pending":
                    group.status = "submitted"
                else:
                    # Its order was cancelled while this flush was sending it: the
                    # warehouse has it now, so the next flush tells it to cancel.
                    group.status = "cancelling"
                    enqueue_shipping_flush(session, channel_id)
            elif item.key in rejected:
                if group.status not in ("pending", "cancelling"):
                    # A shipment came back while this flush was sending (a resend after a
                    # lost answer): the warehouse has the group, its refusal to change an
                    # order it shipped is moot (as shipments.group_reached_warehouse says).
                    continue
                group.error = rejected[item.key]
                log.warning(
                    "shipping channel %s refused %s: %s",
                    ctx.channel_id,
                    item.key,
                    rejected[item.key],
                )
                # Retrying this dead job (after fixing the order) sends the group again.
                dead_letter(
                    session,
                    JobKind.SHIPPING_RESUBMIT,
                    {"key": item.key},
                    error=f"{item.key} refused: {rejected[item.key]}",
                    channel_id=ctx.channel_id,
                    order_id=group.order_id,
                )
        if more:
            enqueue(session, JobKind.SHIPPING_FLUSH, {}, channel_id=ctx.channel_id)


def poll_shipments(ctx: JobContext) -> None:
    """The safety net for missed webhooks: fetch recent shipments and record the new ones."""
    channel_id = ctx.require_channel()
    port = ChannelPort(ctx.hub, channel_id)
    with ctx.hub.db.transaction() as session:
        # Safety net for the batching: a group whose transaction committed just
        # after its time slot's flush had read the table has no flush of its own.
        waiting = session.scalars(
            select(FulfillmentGroup.id)
            .where(
                FulfillmentGroup.shipping_channel_id == channel_id,
                FulfillmentGroup.status.in_(("pending", "cancelling")),
                FulfillmentGroup.error.is_(None),
            )
            .limit(1)
        ).first()
        if waiting is not None:
            enqueue_shipping_flush(session, channel_id)
    state = port.state
    since = (
        datetime.fromisoformat(state["shipments_since"])
        if state.get("shipments_since")
        else utcnow() - timedelta(days=7)
    )
    started = utcnow()
    connector = as_role(ctx.connector(), ShippingConnector)
    for notices in _chunks(connector.fetch_shipments(since), SHIPMENTS_CHECKED_TOGETHER):
        unchanged = port.unchanged_shipments(notices)
        for notice in (n for i, n in enumerate(notices) if i not in unchanged):
            _record_polled_shipment(ctx, port, notice)
    # Overlap the next window a little: a shipment recorded late is still seen.
    port.save_state(shipments_since=(started - timedelta(minutes=10)).isoformat())


#: Polled shipments looked up in the hub at once (most of a window is known already).
SHIPMENTS_CHECKED_TOGETHER = 200


def _chunks(items: Iterable[_Item], size: int) -> Iterator[list[_Item]]:
    chunk: list[_Item] = []
    for item in items:
        chunk.append(item)
        if len(chunk) == size:
            yield chunk
            chunk = []
    if chunk:
        yield chunk


def _record_polled_shipment(ctx: JobContext, port: ChannelPort, notice: ShipmentNotice) -> None:
    try:
        port.record_shipment(notice)
    except HubError as exc:
        if exc.retryable:
            raise
        # One shipment the hub cannot take (order cancelled, more than was
        # ordered) must not stall the others: it waits, visible, as a dead job.
        log.warning(
            "shipping channel %s: shipment %s of %s refused: %s",
            ctx.channel_id,
            notice.shipment.external_id,
            notice.key,
            exc,
        )
        # The next polls see it again (their windows overlap): still one dead job.
        with ctx.hub.db.transaction() as session:
            dead_letter(
                session,
                JobKind.SHIPPING_RECORD,
                notice.to_payload(),
                error=exc.message,
                channel_id=ctx.channel_id,
                unique_by=("shipment", "external_id"),
            )


def resubmit_group(ctx: JobContext) -> None:
    """Retry of a group the shipping service refused: clear its error and send it again."""
    with ctx.hub.db.transaction() as session:
        group = shipments.find_group(session, ctx.payload["key"])
        if group is None or group.status not in ("pending", "cancelling"):
            return
        group.error = None
        enqueue_shipping_flush(session, group.shipping_channel_id or ctx.require_channel())


def record_shipment(ctx: JobContext) -> None:
    """Retry of a reported shipment the hub refused once (see :func:`poll_shipments`)."""
    ChannelPort(ctx.hub, ctx.require_channel()).record_shipment(
        ShipmentNotice.from_payload(ctx.payload)
    )
