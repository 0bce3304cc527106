"""The order-to-cash flow: which jobs follow which event, and what each job does.

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
    order.(partially_)unshipped, order.shipment_voided
                             -> sales.cancel_fulfillment (the channel's fulfilment of the voided label)
    shipping.flush refusals  -> shipping.resubmit (dead, per group, retry to send again)
    shipping.poll refusals   -> shipping.record (dead, per shipment, retry to record again)
    any event                -> notify (each notification channel that wants it)
                                order.event.deliver (each plugin's hub_order_event)
"""

from __future__ import annotations

import logging
import time
from collections.abc import Callable, Iterable, Iterator
from datetime import UTC, datetime, timedelta
from typing import TYPE_CHECKING, Any, TypeVar

from sqlalchemy import exists, or_, select, text, update
from sqlalchemy.orm import Session

from hub.channels.port import ChannelPort
from hub.core import events as ev
from hub.core.events import OrderEvent
from hub.core.exceptions import HubError, NotFound, PaymentDeclined, ValidationError
from hub.core.lifecycle import OrderStatus
from hub.core.order import PaymentUpdate, RefundData
from hub.core.status import PaymentStatus
from hub.integration.connectors import (
    Capability,
    Delivery,
    NotificationConnector,
    PaymentConnector,
    PaymentRef,
    SalesConnector,
    ShipmentNotice,
    ShippingConnector,
    ShippingOrder,
    SubmissionRejected,
    WebhookOutcome,
    WebhookStatus,
    can,
)
from hub.integration.manager import call_isolated, call_one, implementers
from hub.inventory import reservations
from hub.notifications import outbox as notifications
from hub.orders import intake, payments, records, shipments, transitions
from hub.orders.lookup import SessionLookup
from hub.orders.serialize import money, order_detail
from hub.queue.jobs import JobContext, dead_letter, enqueue
from hub.queue.kinds import JobKind
from hub.runtime.hub import as_role
from hub.store.models import (
    UNSENT_GROUPS,
    Channel,
    FulfillmentGroup,
    Job,
    JobStatus,
    Order,
    OrderAuditEvent,
    Payment,
    Shipment,
    WebhookEvent,
    utcnow,
)

if TYPE_CHECKING:
    from hub.runtime.hub import Hub

log = logging.getLogger(__name__)

_Row = TypeVar("_Row", Channel, Payment, Shipment, WebhookEvent)
_Item = TypeVar("_Item")

#: Shipping submissions wait this long to be sent together (ShipStation: 40 requests a minute).
SHIPPING_BATCH_SECONDS = 2
SHIPPING_BATCH_SIZE = 100

#: What a row a step needs is called when it is missing (see :func:`_get`).
_ROW_NAMES: dict[type, str] = {
    Channel: "channel",
    Payment: "payment",
    Shipment: "shipment",
    WebhookEvent: "webhook event",
}


def _get(session: Session, model: type[_Row], row_id: int) -> _Row:
    """The row of ``model`` a step goes on with (one it found before, or its channel).

    :raises NotFound: it does not exist (any more).
    """
    row = session.get(model, row_id)
    if row is None:
        raise NotFound(f"{_ROW_NAMES[model]} {row_id} does not exist")
    return row


# --- routing: what follows an event ---------------------------------------------------------


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
    elif name == "order.fulfillment_started":
        for group in order.fulfillment_groups:
            if group.status == "pending" and group.shipping_channel_id:
                enqueue_shipping_flush(session, group.shipping_channel_id)
    elif name in ("order.shipped", "order.partially_shipped"):
        _enqueue_captures(session, hub, order, name)
        _tell_the_channel(session, hub, order, audit, JobKind.SALES_PUSH_FULFILLMENT)
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


# --- order steps ----------------------------------------------------------------------------------


def process_order(ctx: JobContext) -> None:
    """Check a pending order: hold it with every reason, or confirm it."""
    hub = ctx.hub
    with hub.unit_of_work() as work:
        session = work.session
        order = records.get_order(session, ctx.require_order())
        if order.status != OrderStatus.PENDING:
            return
        problems: list[str] = []
        # Each rule in a savepoint: one that breaks the transaction takes only its own reads.
        for result in call_isolated(
            hub.pm,
            "hub_validate_order",
            on_error=_plugin_failed(hub, "hub_validate_order", order.label),
            around=session.begin_nested,
            order=order_detail(order),
            lookup=SessionLookup(session, hub.settings),
        ):
            problems.extend(result or [])
        transitions.process_order(work, order.id, actor="system", problems=problems)


def _plugin_failed(hub: Hub, hook: str, label: str) -> Callable[[str, BaseException], None]:
    """Log and count a plugin that raised in a fan-out hook (it holds and aborts nothing)."""

    def report(plugin: str, exc: BaseException) -> None:
        log.error(
            "plugin %s failed in %s for order %s; its answer is left out",
            plugin,
            hook,
            label,
            exc_info=exc,
        )
        hub.metrics.plugin_error(plugin, hook)

    return report


def fulfill_order(ctx: JobContext) -> None:
    """Route a confirmed order to its locations and start fulfilment at its shipping channel."""
    hub = ctx.hub
    with hub.db.transaction() as session:
        order = records.get_order(session, ctx.require_order())
        if order.status != OrderStatus.CONFIRMED:
            return
        channel = shipping_channel_for(session, hub, order)
        if channel is None:
            return  # no shipping channel: a person ships it (API, UI, CLI)
        # Ship from where the stock was reserved at confirmation; route only
        # orders whose stock is not tracked.
        groups = reservations.planned_groups(session, order) or hub.pm.hook.hub_allocate_order(
            order=order_detail(order), lookup=SessionLookup(session, hub.settings)
        )
        if not groups:
            groups = [
                (
                    "",
                    {
                        line.id: line.quantity
                        for line in order.lines
                        if line.requires_shipping and line.quantity > 0
                    },
                )
            ]
        groups = [(code, lines) for code, lines in groups if lines]
        if not groups:
            # Gift cards, digital goods, or everything refunded: no warehouse has work.
            records.record(
                session,
                order,
                "order.nothing_to_ship",
                actor="system",
                reason="no line of the order needs shipping",
            )
            return
        shipments.plan_fulfillment(session, order, groups, channel.id)
        transitions.apply_event(session, order, "start_fulfillment", actor="system")


# --- payments --------------------------------------------------------------------------------------


def _payment_ref(payment: Payment) -> PaymentRef:
    return PaymentRef(
        reference=payment.reference,
        currency=payment.currency,
        amount=payment.amount,
        captured_amount=payment.captured_amount,
        refunded_amount=payment.refunded_amount,
        status=payment.status,
    )


def capture_payment(ctx: JobContext) -> None:
    hub = ctx.hub
    with hub.db.read() as session:
        payment = session.get(Payment, ctx.payload["payment_id"])
        if payment is None:
            return
        order = payment.order
        order_id, confirmed, status = (
            order.id,
            order.status == OrderStatus.CONFIRMED,
            payment.status,
        )
        if order.status == OrderStatus.CANCELLED:
            return  # cancelled before its capture: the cancellation voids (or refunds) instead
        if status == PaymentStatus.AUTHORIZED:
            amount = min(payment.amount, max(0, order.total - _captured_elsewhere(order, payment)))
            ref = _payment_ref(payment)
    if status != PaymentStatus.AUTHORIZED:
        # Voided or failed since: nothing to do. Captured since (the gateway's
        # webhook told first, or an earlier try got through and then failed):
        # nothing to capture, but the order must still move on to fulfilment.
        if status == PaymentStatus.CAPTURED and confirmed:
            with hub.db.transaction() as session:
                _fulfil_once_captured(session, order_id)
        return
    connector = as_role(ctx.connector(), PaymentConnector)
    actor = f"channel:{connector.channel.slug}"
    try:
        result = connector.capture(ref, amount, idempotency_key=ctx.idempotency_key)
    except PaymentDeclined as exc:
        with hub.db.transaction() as session:
            payments.apply_payment_update(
                session,
                PaymentUpdate(
                    reference=ref.reference,
                    occurred_at=utcnow(),
                    status="failed",
                    failure_reason=exc.message,
                ),
                actor=actor,
                channel_id=ctx.channel_id,
            )
        raise
    with hub.db.transaction() as session:
        updated = payments.apply_payment_update(
            session,
            PaymentUpdate(
                reference=ref.reference,
                occurred_at=result.occurred_at or utcnow(),
                status=result.status,
                captured_amount=result.captured_amount,
            ),
            actor=actor,
            channel_id=ctx.channel_id,
        )
        _note_adjustment(
            session,
            updated,
            result.message,
            actor=actor,
            data={
                "reference": ref.reference,
                "requested": money(amount, ref.currency),
                "captured": money(result.captured_amount, ref.currency),
            },
        )
        if confirmed:
            _fulfil_once_captured(session, order_id)


def _note_adjustment(
    session: Session, order: Order | None, message: str, *, actor: str, data: dict[str, Any]
) -> None:
    """Put on the order's timeline what the gateway changed of an amount (a person must know)."""
    if message and order is not None:
        records.record(session, order, ev.PAYMENT_ADJUSTED, actor=actor, reason=message, data=data)


def _fulfil_once_captured(session: Session, order_id: int) -> None:
    enqueue(
        session,
        JobKind.ORDER_FULFILL,
        {},
        order_id=order_id,
        dedupe_key=JobKind.ORDER_FULFILL.key(order_id, "captured"),
    )


def _captured_elsewhere(order: Order, payment: Payment) -> int:
    return sum(p.captured_amount for p in order.payments if p.id != payment.id)


def void_payment(ctx: JobContext) -> None:
    hub = ctx.hub
    with hub.db.read() as session:
        payment = session.get(Payment, ctx.payload["payment_id"])
        if payment is None:
            return
        if payment.status != PaymentStatus.AUTHORIZED or payment.captured_amount:
            # Captured before this void ran (a capture in flight when the order was
            # cancelled): a cancelled order keeps no money, so it is refunded instead.
            refund = (
                payment.order.status == OrderStatus.CANCELLED
                and payment.captured_amount > payment.refunded_amount
            )
            order_id = payment.order_id
        else:
            refund = None
            ref = _payment_ref(payment)
    if refund is not None:
        if refund:
            with hub.db.transaction() as session:
                payment = _get(session, Payment, ctx.payload["payment_id"])
                left = payment.captured_amount - payment.refunded_amount
                if left > 0:
                    payments.request_refund(
                        session, payment, left, key=f"cancel:{order_id}", reason="order cancelled"
                    )
        return
    connector = as_role(ctx.connector(), PaymentConnector)
    result = connector.void(ref, idempotency_key=ctx.idempotency_key)
    with hub.db.transaction() as session:
        order = payments.apply_payment_update(
            session,
            PaymentUpdate(
                reference=ref.reference,
                occurred_at=result.occurred_at or utcnow(),
                status=result.status,
                captured_amount=result.captured_amount,
            ),
            actor=f"channel:{connector.channel.slug}",
            channel_id=ctx.channel_id,
        )
        # Too late to void: the gateway captured it meanwhile (a race with a capture
        # elsewhere). A cancelled order keeps no money: refund what was taken.
        payment = _get(session, Payment, ctx.payload["payment_id"])
        if (
            order is not None
            and order.status == OrderStatus.CANCELLED
            and payment.captured_amount > payment.refunded_amount
        ):
            payments.request_refund(
                session,
                payment,
                payment.captured_amount - payment.refunded_amount,
                key=f"cancel:{order.id}",
                reason="order cancelled",
            )


def refund_payment(ctx: JobContext) -> None:
    """Refund once; a refund the gateway refuses is a dead job, never a silent success."""
    hub = ctx.hub
    amount = int(ctx.payload["amount"])
    if ctx.payload.get("refund_id"):
        return  # an earlier run committed this refund, then lost its lease before finishing
    with hub.db.read() as session:
        ref = _payment_ref(_get(session, Payment, ctx.payload["payment_id"]))
    connector = as_role(ctx.connector(), PaymentConnector)
    # No local "already refunded" check: after a crash the same key makes the
    # gateway answer with the refund it already made, which is recorded once.
    result = connector.refund(
        ref, amount, idempotency_key=ctx.idempotency_key, reason=ctx.payload.get("reason", "")
    )
    if result.status == "failed":
        raise ValidationError(
            f"refund {result.external_id} of payment {ref.reference} failed at the gateway"
        )
    actor = f"channel:{connector.channel.slug}"
    with hub.db.transaction() as session:
        order = payments.apply_payment_update(
            session,
            PaymentUpdate(
                reference=ref.reference,
                occurred_at=utcnow(),
                refunds=[
                    RefundData(
                        external_id=result.external_id,
                        amount=result.amount,
                        status=result.status,
                        reason=ctx.payload.get("reason", ""),
                    )
                ],
            ),
            actor=actor,
            channel_id=ctx.channel_id,
        )
        _note_adjustment(
            session,
            order,
            result.message,
            actor=actor,
            data={
                "reference": ref.reference,
                "requested": money(amount, ref.currency),
                "refunded": money(result.amount, ref.currency),
                "refund_id": result.external_id,
            },
        )
        # Committed with the refund: a run of this job after a crash sees it and calls no one.
        job = session.get(Job, ctx.id)
        assert job is not None  # the job running now
        job.payload = {**job.payload, "refund_id": result.external_id}


# --- shipping ----------------------------------------------------------------------------------------


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


def being_sent(session: Session, group: FulfillmentGroup) -> bool:
    """Whether a running ``shipping.flush`` has claimed ``group`` (it may be at the warehouse)."""
    return (
        group.flush_job_id is not None
        and session.scalar(select(Job.status).where(Job.id == group.flush_job_id))
        == JobStatus.RUNNING
    )


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
        for g in groups:
            if g.status == "pending" and g.order.status not in (
                OrderStatus.PROCESSING,
                OrderStatus.PARTIALLY_SHIPPED,
            ):
                skipped.append(g.id)
                continue
            batch.append(
                ShippingOrder(
                    key=g.key,
                    order=order_detail(g.order),
                    lines=_group_lines(g.order, g),
                    location_code=g.location_code,
                    status="cancelled" if g.status == "cancelling" else "awaiting_shipment",
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


# --- sales channels ---------------------------------------------------------------------------------


def pull_orders(ctx: JobContext) -> None:
    """Pull changed orders page by page; each page and its cursor commit together."""
    channel_id = ctx.require_channel()
    port = ChannelPort(ctx.hub, channel_id)
    connector = as_role(ctx.connector(), SalesConnector)
    for page in connector.fetch_orders(port.state.get("cursor")):
        port.upsert_orders(page.orders, cursor=page.cursor, rejected=page.rejected)
    with ctx.hub.db.transaction() as session:
        channel = _get(session, Channel, channel_id)
        channel.last_sync_at = utcnow()
        channel.last_error = None


def refetch_rejected_order(ctx: JobContext) -> None:
    """Retry of a dead-lettered order: fetch it again and store it."""
    data = as_role(ctx.connector(), SalesConnector).fetch_order(ctx.payload["external_id"])
    with ctx.hub.db.transaction() as session:
        channel = _get(session, Channel, ctx.require_channel())
        intake.upsert_order(session, channel, data, actor=f"channel:{channel.slug}")


def push_fulfillment(ctx: JobContext) -> None:
    hub = ctx.hub
    with hub.db.read() as session:
        shipment = session.get(Shipment, ctx.payload["shipment_id"])
        if shipment is None or shipment.channel_fulfillment_id or shipment.status == "voided":
            return
        # A replacement label: the voided one's fulfilment goes first, so the
        # channel has the units open again to fulfil with the new tracking.
        stale = [s.id for s in shipment.order.shipments if _fulfillment_to_cancel(s)]
    for shipment_id in stale:
        _cancel_channel_fulfillment(ctx, shipment_id)
    with hub.db.read() as session:
        shipment = _get(session, Shipment, ctx.payload["shipment_id"])
        order = session.scalars(records.order_query().where(Order.id == shipment.order_id)).one()
        detail = order_detail(order)
        shipment_dict = next(s for s in detail["shipments"] if s["id"] == shipment.id)
        for line in shipment_dict["lines"]:
            source = next(x for x in order.lines if x.id == line["line_id"])
            line.update(sku=source.sku, external_id=source.external_id)
    external = as_role(ctx.connector(), SalesConnector).push_fulfillment(
        detail, shipment_dict, idempotency_key=ctx.idempotency_key
    )
    if external:
        with hub.db.transaction() as session:
            shipment = _get(session, Shipment, shipment_dict["id"])
            shipment.channel_fulfillment_id = str(external)
            if shipment.status == "voided":
                # Voided while this job was at the channel: its fulfilment goes too.
                enqueue(
                    session,
                    JobKind.SALES_CANCEL_FULFILLMENT,
                    {"shipment_id": shipment.id},
                    channel_id=ctx.channel_id,
                    order_id=shipment.order_id,
                    dedupe_key=JobKind.SALES_CANCEL_FULFILLMENT.key(shipment.id),
                )


def _fulfillment_to_cancel(shipment: Shipment) -> bool:
    return (
        shipment.status == "voided"
        and bool(shipment.channel_fulfillment_id)
        and shipment.channel_fulfillment_cancelled_at is None
    )


def cancel_fulfillment(ctx: JobContext) -> None:
    """Cancel on the sales channel the fulfilment of a shipment whose label was voided."""
    _cancel_channel_fulfillment(ctx, ctx.payload["shipment_id"])


def _cancel_channel_fulfillment(ctx: JobContext, shipment_id: int) -> None:
    hub = ctx.hub
    with hub.db.read() as session:
        shipment = session.get(Shipment, shipment_id)
        if shipment is None or not _fulfillment_to_cancel(shipment):
            return
        order = session.scalars(records.order_query().where(Order.id == shipment.order_id)).one()
        detail = order_detail(order)
        fulfillment_id = str(shipment.channel_fulfillment_id)
        tracking = shipment.tracking_number
    as_role(ctx.connector(), SalesConnector).cancel_fulfillment(
        detail, fulfillment_id, idempotency_key=f"{ctx.idempotency_key}:{shipment_id}"
    )
    with hub.db.transaction() as session:
        shipment = _get(session, Shipment, shipment_id)
        if shipment.channel_fulfillment_cancelled_at is None:
            shipment.channel_fulfillment_cancelled_at = utcnow()
            order = records.get_order(session, shipment.order_id)
            records.record(
                session,
                order,
                ev.CHANNEL_FULFILLMENT_CANCELLED,
                actor="system",
                reason="the label was voided",
                data={
                    "shipment_id": shipment_id,
                    "fulfillment_id": fulfillment_id,
                    "tracking_number": tracking,
                },
            )


# --- webhooks and notifications -------------------------------------------------------------------------


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
        event = _get(session, WebhookEvent, ctx.payload["webhook_event_id"])
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


HANDLERS = {
    JobKind.ORDER_EVENT: announce_order_event,
    JobKind.ORDER_EVENT_DELIVER: deliver_order_event,
    JobKind.ORDER_PROCESS: process_order,
    JobKind.ORDER_FULFILL: fulfill_order,
    JobKind.PAYMENT_CAPTURE: capture_payment,
    JobKind.PAYMENT_VOID: void_payment,
    JobKind.PAYMENT_REFUND: refund_payment,
    JobKind.SHIPPING_FLUSH: flush_shipping,
    JobKind.SHIPPING_POLL: poll_shipments,
    JobKind.SHIPPING_RESUBMIT: resubmit_group,
    JobKind.SHIPPING_RECORD: record_shipment,
    JobKind.CHANNEL_PULL: pull_orders,
    JobKind.CHANNEL_ORDER_REJECTED: refetch_rejected_order,
    JobKind.SALES_PUSH_FULFILLMENT: push_fulfillment,
    JobKind.SALES_CANCEL_FULFILLMENT: cancel_fulfillment,
    JobKind.WEBHOOK_PROCESS: process_webhook,
    JobKind.NOTIFY: notify,
}
