"""Business actions: each one loads, applies the core, records, enqueues.

Every action takes the caller's session and does its whole job inside it: it
changes the order through the core's rules, writes the audit event (who, when,
from, to, why) and enqueues the jobs that must follow — all in that one
transaction, which the caller commits once::

    with hub.db.transaction() as session:
        actions.confirm(session, order_id, actor="user:ann@example.com")

Plugins hear of what happened only after the commit: the audit event enqueues
an ``order.event`` job, and that job fans the event out (see
:mod:`hub.pipeline.builtin`).
"""

from __future__ import annotations

import secrets
from collections import Counter
from collections.abc import Iterable, Mapping, Sequence
from dataclasses import dataclass
from datetime import datetime
from typing import Any

from sqlalchemy import bindparam, insert, select
from sqlalchemy.exc import IntegrityError
from sqlalchemy.orm import Session, selectinload

from hub.core import events as ev
from hub.core import lifecycle
from hub.core.exceptions import ConcurrencyError, NotFound, ValidationError
from hub.core.money import Money
from hub.core.order import (
    Address,
    ChannelRefund,
    Line,
    LineRevision,
    OrderData,
    PaymentData,
    PaymentUpdate,
    RefundData,
    ShipmentData,
    revise_lines,
)
from hub.core.status import PaymentLike, financial_status, fulfillment_status
from hub.inventory import reservations
from hub.orders.serialize import money, order_detail
from hub.queue.jobs import enqueue, enqueue_many, enqueue_row, job_row
from hub.runtime.hub import hub_of
from hub.store.models import (
    Channel,
    FulfillmentGroup,
    Job,
    Order,
    OrderAuditEvent,
    OrderLine,
    Payment,
    Refund,
    Return,
    ReturnLine,
    Shipment,
    ShipmentLine,
    utcnow,
)

#: Why an order was put on hold by the hub itself (people may give any reason).
HOLD_PAYMENT = "payment_failed"
HOLD_CHANGED = "changed_after_confirmation"
#: Nothing is left to ship: every unit still to send was refunded or removed on the channel.
HOLD_NOTHING_TO_SHIP = "nothing_left_to_ship"


@dataclass
class UpsertResult:
    order: Order
    created: bool
    changed: bool


# --- loading ---------------------------------------------------------------------


def get_order(session: Session, order_id: int, *, lock: bool = True) -> Order:
    """Load an order; with ``lock`` its row is locked until the transaction ends."""
    query = select(Order).where(Order.id == order_id)
    if lock:
        query = query.with_for_update(of=Order)
    order = session.scalars(query).one_or_none()
    if order is None:
        raise NotFound(f"order {order_id} does not exist")
    return order


def find_order(
    session: Session, channel_id: int, external_id: str, *, lock: bool = True
) -> Order | None:
    query = select(Order).where(
        Order.channel_id == channel_id, Order.external_id == str(external_id)
    )
    if lock:
        query = query.with_for_update(of=Order)
    return session.scalars(query).one_or_none()


# --- the audit trail and the outbox ------------------------------------------------


def record(
    session: Session,
    order: Order,
    name: str,
    *,
    actor: str,
    from_status: str | None = None,
    to_status: str | None = None,
    reason: str = "",
    data: dict[str, Any] | None = None,
) -> OrderAuditEvent:
    """Write an audit event and, in the same transaction, the job that announces it."""
    event = _audit_event(
        order,
        name,
        actor=actor,
        from_status=from_status,
        to_status=to_status,
        reason=reason,
        data=data,
    )
    session.add(event)
    session.flush()
    _announce(session, order, event)
    return event


def _audit_event(
    order: Order,
    name: str,
    *,
    actor: str,
    from_status: str | None = None,
    to_status: str | None = None,
    reason: str = "",
    data: dict[str, Any] | None = None,
) -> OrderAuditEvent:
    return OrderAuditEvent(
        order=order,
        name=name,
        actor=actor,
        from_status=from_status,
        to_status=to_status,
        reason=reason or "",
        data=data or {},
        created_at=utcnow(),
    )


def _announce(session: Session, order: Order, event: OrderAuditEvent) -> None:
    """Enqueue the ``order.event`` job of a flushed audit event."""
    enqueue_row(session, _announcement(order.id, event.id))


def _announcement(order_id: int, event_id: int) -> dict[str, Any]:
    """The ``order.event`` job of an audit event: it fans the event out to plugins and notifications."""
    return job_row(
        "order.event",
        {"event_id": event_id},
        order_id=order_id,
        dedupe_key=f"order.event:{event_id}",
    )


def _first_check(order_id: int) -> dict[str, Any]:
    """The ``order.process`` job a new order starts with."""
    return job_row(
        "order.process", {}, order_id=order_id, dedupe_key=f"order.process:{order_id}:new"
    )


# --- capture: orders coming in ------------------------------------------------------


def upsert_order(
    session: Session, channel: Channel, data: OrderData, *, actor: str
) -> UpsertResult:
    """Create or update the order a channel sent, keyed by (channel, external id).

    Newer data wins: an update whose channel ``updated_at`` is not newer than
    the one stored is ignored, so replays and out-of-order deliveries are
    harmless. A change of lines after the order was confirmed is not applied
    silently: the order goes on hold for a person to look at.
    """
    data.check()
    order = find_order(session, channel.id, data.external_id)
    if order is None:
        return _create_order(session, channel, data, actor=actor)
    if (
        data.updated_at
        and order.external_updated_at
        and data.updated_at <= order.external_updated_at
    ):
        return UpsertResult(order, created=False, changed=False)
    changed = _apply_order_fields(order, data)
    lines_changed = _lines_differ(order, data)
    if lines_changed:
        changed += _revise(session, order, data, actor=actor)
    changed += _merge_payments(session, order, data.payments, channel)
    order.external_updated_at = data.updated_at or order.external_updated_at
    if changed:
        _refresh_derived(order)
        record(session, order, ev.ORDER_UPDATED, actor=actor, data={"fields": changed})
    if data.cancelled and order.status != lifecycle.CANCELLED:
        _cancel_from_channel(session, order, data.cancel_reason, actor=actor)
        changed.append("status")
    if data.channel_refunds:
        _record_channel_refunds(session, order, data.channel_refunds, actor=actor)
    return UpsertResult(order, created=False, changed=bool(changed) or lines_changed)


def _create_order(
    session: Session, channel: Channel, data: OrderData, *, actor: str
) -> UpsertResult:
    slugs = dict.fromkeys(p.channel for p in data.payments if p.channel)
    rows = new_order_rows(
        channel,
        data,
        {slug: _payment_channel_id(session, channel, slug) for slug in slugs},
        actor=actor,
    )
    order = Order(
        channel=channel,
        **rows.order,
        lines=[OrderLine(**line) for line in rows.lines],
        payments=[Payment(**payment) for payment in rows.payments],
        # A new order has none of these: saying so up front spares a SELECT for
        # each when they are first read after the flush (found by `make bench`).
        shipments=[],
        events=[],
        fulfillment_groups=[],
    )
    created = OrderAuditEvent(order=order, **rows.created)
    try:
        # Everything a new order starts with (lines, payments, derived statuses, its
        # order.created event) is written by one flush: flushing after each step
        # cost most of a pull's time (`make bench`). A savepoint begun before the
        # order joins the session, so losing a race to a concurrent insert of the
        # same order rolls back only this order's rows and does not spoil the
        # caller's transaction.
        with session.begin_nested():
            session.add(order)
            session.add(created)
            session.flush()
    except IntegrityError as exc:
        raise ConcurrencyError(
            f"order {data.external_id} of channel {channel.slug} was created concurrently"
        ) from exc
    _announce(session, order, created)
    if data.channel_refunds:
        _record_channel_refunds(session, order, data.channel_refunds, actor=actor)
    if data.cancelled:
        _cancel_from_channel(session, order, data.cancel_reason, actor=actor)
    else:
        enqueue_row(session, _first_check(order.id))
    return UpsertResult(order, created=True, changed=True)


# --- capture in bulk: a page of new orders --------------------------------------------


@dataclass
class NewOrderRows:
    """The rows a new order starts with, as column values (no ids: the database gives them).

    :func:`_create_order` (one order, ORM) and :func:`insert_new_orders` (a
    page, Core ``executemany``) both write these, so the two cannot drift.
    """

    order: dict[str, Any]
    lines: list[dict[str, Any]]
    payments: list[dict[str, Any]]
    created: dict[str, Any]  # the order.created audit event


def new_order_rows(
    channel: Channel, data: OrderData, payment_channels: Mapping[str, int], *, actor: str
) -> NewOrderRows:
    """Map a new order to its rows: fields, lines, payments, derived statuses, order.created.

    :param payment_channels: channel id by slug for every ``payment.channel``
        named; a slug missing raises :class:`ValidationError` as an unknown one.
    """
    now = utcnow()
    currency = data.currency.upper()
    payments: dict[str, dict[str, Any]] = {}
    kept: list[PaymentData] = []
    for p in data.payments:
        pay_channel_id = _known_payment_channel(channel, p.channel, payment_channels)
        if p.reference not in payments:  # a reference twice is one payment, as on an update
            payments[p.reference] = _payment_values(p, currency, pay_channel_id)
            kept.append(p)
    fields = _order_fields(data, placed_at=None)
    lines = [_line_values(i, x) for i, x in enumerate(data.lines)]
    # PaymentData carries the same status and amounts as the payment rows made from it.
    fin, ful = _derived_statuses(
        kept,
        fields["total"],
        fields["channel_financial_status"],
        {line["position"]: line["quantity"] for line in lines},
        {},
    )
    order = dict(
        channel_id=channel.id,
        external_id=str(data.external_id),
        status=lifecycle.PENDING,
        currency=currency,
        tracking_token=secrets.token_urlsafe(24),
        hold_reasons=[],
        external_updated_at=data.updated_at,
        created_at=now,
        **fields,
        financial_status=fin,
        fulfillment_status=ful,
    )
    created = dict(
        name=ev.ORDER_CREATED,
        actor=actor,
        from_status=None,
        to_status=lifecycle.PENDING,
        reason="",
        data={"channel": channel.slug, "external_id": order["external_id"]},
        created_at=now,
    )
    return NewOrderRows(order, lines, list(payments.values()), created)


def payment_channels(session: Session, batch: Iterable[OrderData]) -> dict[str, int]:
    """Channel id by slug of every payment channel a batch of orders names, in one query.

    Slugs that name no channel are left out (:func:`new_order_rows` refuses them).
    """
    slugs = {p.channel for data in batch for p in data.payments if p.channel}
    if not slugs:
        return {}
    return {slug: id_ for slug, id_ in session.execute(_CHANNELS_BY_SLUG, {"slugs": list(slugs)})}


def existing_orders(session: Session, channel_id: int, external_ids: Iterable[str]) -> set[str]:
    """Which of these external ids the channel has an order for already, in one query."""
    wanted = list(dict.fromkeys(external_ids))
    if not wanted:
        return set()
    return set(session.scalars(_EXISTING, {"channel_id": channel_id, "external_ids": wanted}))


def is_plain_new_order(data: OrderData) -> bool:
    """Whether a new order is created as :func:`new_order_rows` says and nothing more.

    Not so: one that cannot be stored (:meth:`OrderData.check` says why) and
    one that arrives cancelled (it is cancelled at once, with what that does)
    or with refunds the channel made (each goes on its timeline):
    :func:`upsert_order` takes those.
    """
    if data.cancelled or data.channel_refunds:
        return False
    try:
        data.check()
    except ValidationError:
        return False
    return True


def insert_new_orders(session: Session, batch: Sequence[NewOrderRows]) -> list[int]:
    """Write new orders with one ``executemany`` per table; return their ids, in order.

    Orders, lines, payments, ``order.created`` events and the jobs that follow
    (``order.event``, ``order.process``): the same rows as :func:`_create_order`
    would write one by one, without the ORM's cost per order (``make bench`` (b)).
    The caller checked that none of them exists, that none comes twice and
    that each is plain (:func:`is_plain_new_order`); a concurrent insert of
    one of them fails the whole statement on the unique (channel, external
    id): run this in a savepoint and fall back to :func:`upsert_order` for each.
    """
    if not batch:
        return []
    conn = session.connection()
    # The ORM numbers a new order's version 1 (version_id_col); Core must say so.
    stored = conn.execute(
        _INSERT_ORDERS,
        [{**rows.order, "version": 1, "updated_at": rows.order["created_at"]} for rows in batch],
    )
    # Matched by key, not by position: RETURNING in parameter order would make
    # SQLite insert one row per statement.
    by_key = {(channel_id, external_id): order_id for order_id, channel_id, external_id in stored}
    order_ids = [by_key[rows.order["channel_id"], rows.order["external_id"]] for rows in batch]
    lines = [
        {**line, "order_id": order_id}
        for rows, order_id in zip(batch, order_ids, strict=True)
        for line in rows.lines
    ]
    if lines:
        conn.execute(_INSERT_LINES, lines)
    payments = [
        {**payment, "order_id": order_id}
        for rows, order_id in zip(batch, order_ids, strict=True)
        for payment in rows.payments
    ]
    if payments:
        conn.execute(_INSERT_PAYMENTS, payments)
    created = [
        {**rows.created, "order_id": order_id}
        for rows, order_id in zip(batch, order_ids, strict=True)
    ]
    events = {order_id: event_id for order_id, event_id in conn.execute(_INSERT_EVENTS, created)}
    enqueue_many(
        conn,
        [
            job
            for order_id in order_ids
            for job in (_announcement(order_id, events[order_id]), _first_check(order_id))
        ],
    )
    return order_ids


_orders, _channels = Order.__table__, Channel.__table__
_INSERT_ORDERS = insert(_orders).returning(
    _orders.c.id, _orders.c.channel_id, _orders.c.external_id
)
_INSERT_LINES = insert(OrderLine.__table__)
_INSERT_PAYMENTS = insert(Payment.__table__)
_INSERT_EVENTS = insert(OrderAuditEvent.__table__).returning(
    OrderAuditEvent.__table__.c.order_id, OrderAuditEvent.__table__.c.id
)
_EXISTING = select(_orders.c.external_id).where(
    _orders.c.channel_id == bindparam("channel_id"),
    _orders.c.external_id.in_(bindparam("external_ids", expanding=True)),
)
_CHANNELS_BY_SLUG = select(_channels.c.slug, _channels.c.id).where(
    _channels.c.slug.in_(bindparam("slugs", expanding=True))
)


# --- the columns an order's data fills ------------------------------------------------------


def _order_fields(data: OrderData, *, placed_at: datetime | None) -> dict[str, Any]:
    """The order's columns that come from the channel's data (``placed_at``: the stored one)."""
    ship = data.shipping_address.to_dict() if data.shipping_address else None
    bill = data.billing_address.to_dict() if data.billing_address else None
    total = data.total if data.total is not None else data.computed_total
    return {
        "number": data.number or str(data.external_id),
        "email": (data.customer.email or "").strip().lower(),
        "customer_name": data.customer.name or "",
        "customer_phone": data.customer.phone or "",
        "customer_external_id": str(data.customer.external_id or ""),
        "shipping_address": ship,
        "billing_address": bill,
        "subtotal": data.subtotal,
        "shipping": data.shipping,
        "tax": data.tax,
        "discount": data.discount,
        "total": total,
        "taxes_included": bool(data.taxes_included),
        "placed_at": data.placed_at or placed_at or utcnow(),
        "tags": list(data.tags),
        "notes": data.notes or "",
        "is_test": bool(data.is_test),
        "channel_financial_status": data.channel_financial_status or "",
    }


def _line_values(position: int, line: Line) -> dict[str, Any]:
    return dict(
        position=position,
        external_id=str(line.external_id or ""),
        sku=line.sku,
        name=line.name,
        quantity=line.quantity,
        unit_price=line.unit_price,
        tax=line.tax,
        discount=line.discount,
        requires_shipping=bool(line.requires_shipping),
        removed_quantity=int(line.removed_quantity),
    )


def _payment_values(p: PaymentData, currency: str, channel_id: int | None) -> dict[str, Any]:
    return dict(
        reference=p.reference,
        channel_id=channel_id,
        status=p.status,
        currency=currency,
        amount=p.amount,
        captured_amount=p.captured_amount,
        refunded_amount=p.refunded_amount,
        created_at=utcnow(),
    )


def _apply_order_fields(order: Order, data: OrderData) -> list[str]:
    changed = []
    for name, value in _order_fields(data, placed_at=order.placed_at).items():
        if getattr(order, name) != value:
            setattr(order, name, value)
            changed.append(name)
    return changed


def _line_key(line) -> tuple:
    return (
        line.sku,
        line.name,
        line.quantity,
        line.unit_price,
        line.tax,
        line.discount,
        bool(line.requires_shipping),
        line.removed_quantity,
    )


def _lines_differ(order: Order, data: OrderData) -> bool:
    return [_line_key(x) for x in order.lines] != [_line_key(x) for x in data.lines]


def _replace_lines(order: Order, data: OrderData) -> None:
    order.lines[:] = [OrderLine(**_line_values(i, x)) for i, x in enumerate(data.lines)]


def _fulfilment_started(order: Order) -> bool:
    """Whether any of the order went towards a warehouse: planned, sent or shipped."""
    return (
        order.status not in (lifecycle.PENDING, lifecycle.ON_HOLD, lifecycle.CONFIRMED)
        or bool(order.shipments)
        or any(g.status != "cancelled" for g in order.fulfillment_groups)
    )


def _revise(session: Session, order: Order, data: OrderData, *, actor: str) -> list[str]:
    """Apply the channel's new lines to a stored order; return the fields changed.

    - Units refunded or removed on the channel (a pure reduction) are taken
      off at any status: their reservation goes back and the fulfilment
      groups shrink (``order.lines_reduced``), so the warehouse is never asked
      for what is no longer owed.
    - Any other change (a line added, raised, re-priced) replaces the lines
      while fulfilment has not started: a confirmed order is revised back to
      pending and checked and reserved again. Once it has started, the order
      is held for a person (``changed_after_confirmation``).
    """
    revision = revise_lines(list(order.lines), data.lines)
    started = _fulfilment_started(order)
    if revision.edited and started:
        _hold(
            session,
            order,
            HOLD_CHANGED,
            actor=actor,
            data={"why": "the channel changed the order's lines after fulfilment started"},
        )
        return []
    if revision.edited or (not started and order.status in (lifecycle.PENDING, lifecycle.ON_HOLD)):
        # Stock reserved for the old lines (a confirmed order, or one held since) goes back first.
        reservations.release(
            session, order, actor=actor, reason="order lines changed on the channel"
        )
        _replace_lines(order, data)
        if order.status == lifecycle.CONFIRMED:
            apply_event(
                session, order, "revise", actor=actor, reason="order lines changed on the channel"
            )
            enqueue(
                session,
                "order.process",
                {},
                order_id=order.id,
                dedupe_key=f"order.process:{order.id}:revised:{order.version}",
            )
        return ["lines"]
    return _reduce_lines(session, order, revision, actor=actor)


def _reduce_lines(
    session: Session, order: Order, revision: LineRevision, *, actor: str
) -> list[str]:
    """Take refunded or removed units off the stored lines in place (ids stay: shipments point at them)."""
    shipped = _shipped_quantities(order)
    withdrawn: dict[int, int] = {}
    for position, line in enumerate(order.lines):
        new = revision.matches[position]
        if position in revision.reduced:
            open_units = max(0, line.quantity - shipped[line.id])
            units = min(line.quantity - revision.reduced[position], open_units)
            if units > 0:
                withdrawn[line.id] = units
            line.quantity = revision.reduced[position]
        # What a refund re-spreads on the line (Shopify keeps the original tax lines).
        line.name, line.tax, line.discount = new.name, new.tax, new.discount
        line.removed_quantity = new.removed_quantity
    if withdrawn:
        reservations.release_units(
            session, order, withdrawn, actor=actor, reason="refunded or removed on the channel"
        )
        record(
            session,
            order,
            ev.LINES_REDUCED,
            actor=actor,
            data={"lines": {str(k): v for k, v in withdrawn.items()}},
        )
    _refresh_derived(order)
    if order.status in (lifecycle.PROCESSING, lifecycle.PARTIALLY_SHIPPED):
        if order.fulfillment_status == "fulfilled":
            # What is left of the order has all shipped already.
            apply_event(
                session, order, "ship", actor=actor, reason="the rest was refunded on the channel"
            )
        elif (
            not _open_quantities(order, shipping_only=True) and order.status == lifecycle.PROCESSING
        ):
            _hold(
                session,
                order,
                HOLD_NOTHING_TO_SHIP,
                actor=actor,
                data={"why": "every unit still to ship was refunded or removed on the channel"},
            )
    return ["lines"]


def _record_channel_refunds(
    session: Session, order: Order, refunds: list[ChannelRefund], *, actor: str
) -> None:
    """Put each refund the channel made itself on the order's timeline, once per refund id."""
    known = {
        str((e.data or {}).get("refund_id"))
        for e in order.events
        if e.name == ev.REFUNDED_ON_CHANNEL
    }
    for refund in refunds:
        if refund.external_id in known:
            continue
        known.add(refund.external_id)
        record(
            session,
            order,
            ev.REFUNDED_ON_CHANNEL,
            actor=actor,
            reason=refund.reason,
            data={
                "refund_id": refund.external_id,
                "amount": str(Money(refund.amount, order.currency).to_decimal()),
                "lines": dict(refund.lines),
                "restock": refund.restock,
                "at": refund.created_at.isoformat() if refund.created_at else None,
            },
        )


def _merge_payments(
    session: Session, order: Order, payments: list[PaymentData], channel: Channel
) -> list[str]:
    changed = []
    for p in payments:
        pay_channel_id = _payment_channel_id(session, channel, p.channel)
        existing = next((x for x in order.payments if x.reference == p.reference), None)
        if existing is None:
            order.payments.append(Payment(**_payment_values(p, order.currency, pay_channel_id)))
            changed.append(f"payment:{p.reference}")
    return changed


def _payment_channel_id(session: Session, channel: Channel, slug: str | None) -> int | None:
    if slug:
        found = session.scalars(select(Channel).where(Channel.slug == slug)).one_or_none()
        return _known_payment_channel(channel, slug, {slug: found.id} if found else {})
    return channel.payment_channel_id


def _known_payment_channel(
    channel: Channel, slug: str | None, known: Mapping[str, int]
) -> int | None:
    """The payment channel a payment names (its slug, looked up in ``known``), else the channel's own."""
    if not slug:
        return channel.payment_channel_id
    if slug not in known:
        raise ValidationError(
            f"payment channel {slug!r} does not exist",
            details={"payments": f"unknown channel {slug}"},
        )
    return known[slug]


def _shipped_quantities(order: Order) -> Counter:
    """Units of each line shipped by shipments that were not voided."""
    shipped: Counter = Counter()
    for shipment in order.shipments:
        if shipment.status != "voided":
            for sl in shipment.lines:
                shipped[sl.order_line_id] += sl.quantity
    return shipped


def _refresh_derived(order: Order) -> None:
    # Lines no warehouse ships (gift cards, digital goods) do not count towards "fulfilled".
    ordered = {line.id or id(line): line.quantity for line in order.lines if line.requires_shipping}
    shipped = _shipped_quantities(order)
    order.financial_status, order.fulfillment_status = _derived_statuses(
        order.payments, order.total, order.channel_financial_status, ordered, shipped
    )


def _derived_statuses(
    payments: Iterable[PaymentLike],
    total: int,
    channel_financial_status: str,
    ordered: Mapping[object, int],
    shipped: Mapping[object, int],
) -> tuple[str, str]:
    """(financial status, fulfilment status) of an order with these payments, lines and shipments."""
    return (
        financial_status(payments, total, fallback=channel_financial_status or "pending"),
        fulfillment_status(ordered, shipped),
    )


def _cancel_from_channel(session: Session, order: Order, reason: str, *, actor: str) -> None:
    if order.status in lifecycle.TRANSITIONS["cancel"]:
        apply_event(
            session, order, "cancel", actor=actor, reason=reason or "cancelled on the channel"
        )
    else:
        # Too late to cancel here (it shipped): keep the fact, let a person decide.
        record(
            session,
            order,
            "order.cancel_requested",
            actor=actor,
            reason=reason or "",
            data={"status": order.status},
        )


# --- the life cycle ------------------------------------------------------------------


def transition(
    session: Session, order_id: int, event: str, *, actor: str, reason: str = ""
) -> Order:
    """Apply a life-cycle event by name (``confirm``, ``hold``, ``ship`` …) to an order."""
    order = get_order(session, order_id)
    target = lifecycle.next_status(
        order.label, order.status, event
    )  # raises, naming the allowed ones
    if event not in lifecycle.PERSON_EVENTS:
        raise ValidationError(f"{event} follows from shipments or returns: record those instead")
    if target == order.status and event != "hold":
        return order
    if event == "ship":
        ship(
            session,
            order.id,
            ShipmentData(external_id=f"manual-{secrets.token_hex(6)}"),
            actor=actor,
            reason=reason,
        )
        return order
    return apply_event(session, order, event, actor=actor, reason=reason)


def apply_event(
    session: Session,
    order: Order,
    event: str,
    *,
    actor: str,
    reason: str = "",
    data: dict[str, Any] | None = None,
) -> Order:
    """Move ``order`` by ``event`` through the table; the same status again is a no-op."""
    target = lifecycle.next_status(order.label, order.status, event)
    if event == "hold":
        return _hold(session, order, reason, actor=actor)
    if target == order.status:
        return order
    if event == "confirm":
        _check_payment_ok(order)
        # All lines reserved where they are routed, or none and the order waits on hold.
        missing = reservations.reserve(session, order, actor=actor, allocate=allocate)
        if missing:
            return _hold(
                session, order, reservations.HOLD_OUT_OF_STOCK, actor=actor, data={"skus": missing}
            )
    elif event == "cancel":
        reservations.release(session, order, actor=actor, reason=f"order {order.label} cancelled")
    before = order.status
    order.status = target
    if event == "release":
        order.hold_reasons = []
    audit = record(
        session,
        order,
        lifecycle.EVENT_NAMES[event],
        actor=actor,
        from_status=before,
        to_status=target,
        reason=reason,
        data=data,
    )
    if event == "release":
        # Back to pending: the checks run again.
        enqueue(
            session,
            "order.process",
            {},
            order_id=order.id,
            dedupe_key=f"order.process:{order.id}:{audit.id}",
        )
    return order


def allocate(session: Session, order: Order) -> Any:
    """Where each line of ``order`` ships from: the plugins' ``hub_allocate_order``.

    The hub's own routing (:func:`hub.inventory.reservations.route_order`) is
    registered ``trylast``, so it answers when no plugin does. A session made
    outside a hub (no plugins) routes the default way.
    """
    detail = order_detail(order)
    hub = hub_of(session)
    if hub is None:
        return reservations.route_order(session, detail)
    return hub.pm.hook.hub_allocate_order(order=detail, session=session)


def _hold(
    session: Session, order: Order, reason: str, *, actor: str, data: dict[str, Any] | None = None
) -> Order:
    if not reason:
        raise ValidationError("a hold needs a reason", details={"reason": "is required"})
    target = lifecycle.next_status(order.label, order.status, "hold")
    reasons = list(order.hold_reasons or [])
    if reason in reasons and target == order.status:
        return order
    if reason not in reasons:
        reasons.append(reason)
    order.hold_reasons = reasons
    before = order.status
    order.status = target
    record(
        session,
        order,
        lifecycle.EVENT_NAMES["hold"],
        actor=actor,
        from_status=before,
        to_status=target,
        reason=reason,
        data=data,
    )
    return order


def _check_payment_ok(order: Order) -> None:
    bad = [p for p in order.payments if p.status in ("failed", "voided") or p.disputed]
    if bad:
        raise ValidationError(
            f"order {order.label} cannot be confirmed: payment {bad[0].reference} is "
            f"{'disputed' if bad[0].disputed else bad[0].status}",
            details={"payments": [p.reference for p in bad]},
        )


def confirm(session: Session, order_id: int, *, actor: str, reason: str = "") -> Order:
    return apply_event(session, get_order(session, order_id), "confirm", actor=actor, reason=reason)


def hold(session: Session, order_id: int, reason: str, *, actor: str) -> Order:
    return _hold(session, get_order(session, order_id), reason, actor=actor)


def release(session: Session, order_id: int, *, actor: str, reason: str = "") -> Order:
    return apply_event(session, get_order(session, order_id), "release", actor=actor, reason=reason)


def cancel(session: Session, order_id: int, *, actor: str, reason: str = "") -> Order:
    return apply_event(session, get_order(session, order_id), "cancel", actor=actor, reason=reason)


def start_fulfillment(session: Session, order_id: int, *, actor: str) -> Order:
    return apply_event(session, get_order(session, order_id), "start_fulfillment", actor=actor)


def deliver(session: Session, order_id: int, *, actor: str) -> Order:
    return apply_event(session, get_order(session, order_id), "deliver", actor=actor)


def complete(session: Session, order_id: int, *, actor: str) -> Order:
    return apply_event(session, get_order(session, order_id), "complete", actor=actor)


def process_order(
    session: Session, order_id: int, *, actor: str, problems: list[str] | None = None
) -> Order:
    """Run the checks on a pending order: hold it with every reason, or confirm it.

    :param problems: reasons found by the validation rules; each becomes a
        hold reason. The payment check is always made.
    """
    order = get_order(session, order_id)
    if order.status != lifecycle.PENDING:
        return order
    reasons = list(dict.fromkeys(problems or []))
    if any(p.status in ("failed", "voided") or p.disputed for p in order.payments):
        reasons.append(HOLD_PAYMENT)
    if reasons:
        # Every reason is listed at once, stock included (read only: nothing is reserved).
        missing = reservations.shortage(session, order)
        for reason in reasons:
            _hold(session, order, reason, actor=actor)
        if missing and reservations.HOLD_OUT_OF_STOCK not in reasons:
            _hold(
                session, order, reservations.HOLD_OUT_OF_STOCK, actor=actor, data={"skus": missing}
            )
        return order
    return apply_event(session, order, "confirm", actor=actor)


# --- shipments ---------------------------------------------------------------------------


def ship(
    session: Session,
    order_id: int,
    shipment: ShipmentData,
    *,
    actor: str,
    channel_id: int | None = None,
    reason: str = "",
    location_code: str | None = None,
) -> Shipment:
    """Record a shipment and move the order to ``partially_shipped`` or ``shipped``.

    Idempotent on (order, ``shipment.external_id``): the same shipment reported
    twice (webhook and poll) is recorded once. The shipped units leave stock:
    the order's reservations are consumed, at ``location_code`` (the shipping
    group's location) first.
    """
    order = get_order(session, order_id)
    existing = next((s for s in order.shipments if s.external_id == shipment.external_id), None)
    if existing is not None:
        return existing
    if order.status == lifecycle.CONFIRMED:
        apply_event(session, order, "start_fulfillment", actor=actor)
    if order.status not in (lifecycle.PROCESSING, lifecycle.PARTIALLY_SHIPPED):
        raise lifecycle.InvalidTransition(
            order.label, order.status, "ship", lifecycle.allowed_events(order.status)
        )
    open_qty = _open_quantities(order)
    wanted = _resolve_lines(order, shipment.lines) if shipment.lines else dict(open_qty)
    for line_id, qty in wanted.items():
        if qty <= 0 or qty > open_qty.get(line_id, 0):
            raise ValidationError(
                f"cannot ship {qty} of line {line_id}: {open_qty.get(line_id, 0)} still open",
                details={"lines": {str(line_id): f"{open_qty.get(line_id, 0)} open"}},
            )
    if not wanted:
        raise ValidationError(f"order {order.label} has nothing left to ship")
    record_ = Shipment(
        external_id=shipment.external_id,
        channel_id=channel_id,
        status="shipped",
        carrier=shipment.carrier,
        service=shipment.service,
        tracking_number=shipment.tracking_number,
        tracking_url=shipment.tracking_url,
        label_ref=shipment.label_ref,
        shipped_at=shipment.shipped_at or utcnow(),
        created_at=utcnow(),
        lines=[
            ShipmentLine(order_line_id=line_id, quantity=qty) for line_id, qty in wanted.items()
        ],
    )
    order.shipments.append(record_)
    session.flush()
    reservations.consume(session, order, record_, actor=actor, location_code=location_code)
    _refresh_derived(order)
    event = "ship" if order.fulfillment_status == "fulfilled" else "ship_partial"
    apply_event(
        session,
        order,
        event,
        actor=actor,
        reason=reason,
        data={
            "shipment_id": record_.id,
            "tracking_number": record_.tracking_number,
            "carrier": record_.carrier,
        },
    )
    return record_


def _open_quantities(order: Order, *, shipping_only: bool = False) -> dict[int, int]:
    shipped = _shipped_quantities(order)
    return {
        line.id: line.quantity - shipped[line.id]
        for line in order.lines
        if line.quantity - shipped[line.id] > 0 and (line.requires_shipping or not shipping_only)
    }


def open_in_group(order: Order, group: FulfillmentGroup) -> dict[int | str, int]:
    """Units of a fulfilment group's lines not shipped yet (line id -> units, none at 0).

    For a shipment that does not name its items. A line split across two
    groups counts what is open of the whole line, capped at this group's share.
    """
    open_units = _open_quantities(order)
    wanted = {
        int(g["line_id"]): min(int(g["quantity"]), open_units.get(int(g["line_id"]), 0))
        for g in group.lines
    }
    return {line_id: units for line_id, units in wanted.items() if units > 0}


def _resolve_lines(order: Order, lines: dict[int | str, int]) -> dict[int, int]:
    by_id = {line.id: line for line in order.lines}
    by_sku: dict[str, list[OrderLine]] = {}
    for line in order.lines:
        by_sku.setdefault(line.sku, []).append(line)
    resolved: Counter = Counter()
    for key, qty in lines.items():
        if isinstance(key, int) and key in by_id:
            resolved[key] += int(qty)
        elif str(key) in by_sku:
            resolved[by_sku[str(key)][0].id] += int(qty)
        else:
            raise ValidationError(
                f"order {order.label} has no line {key!r}", details={"lines": f"unknown line {key}"}
            )
    return dict(resolved)


# --- reading ----------------------------------------------------------------------------------


def order_query():
    """A query for orders with everything the API shows loaded up front."""
    return select(Order).options(
        selectinload(Order.lines),
        selectinload(Order.payments),
        selectinload(Order.shipments).selectinload(Shipment.lines),
        selectinload(Order.events),
        selectinload(Order.returns).selectinload(Return.lines).selectinload(ReturnLine.location),
    )


def address(data: dict | None) -> Address | None:
    return Address.from_dict(data)


# --- payments -------------------------------------------------------------------------------

_PAYMENT_RANK = {"pending": 0, "authorized": 1, "captured": 2, "failed": 3, "voided": 3}


def find_payment(session: Session, reference: str, channel_id: int | None = None) -> Payment | None:
    query = select(Payment).where(Payment.reference == reference)
    if channel_id is not None:
        query = query.where(Payment.channel_id == channel_id)
    return session.scalars(query.order_by(Payment.id)).first()


def apply_payment_update(
    session: Session, update: PaymentUpdate, *, actor: str, channel_id: int | None = None
) -> Order | None:
    """Apply what the gateway says about a payment; return its order, or None if unknown.

    Facts older than the newest applied one are ignored, amounts never go down
    and a payment's status never moves back (captured stays captured), so a
    stale or replayed event changes nothing. Refunds are recorded once each.
    A new dispute puts the order on hold (reason ``dispute``).
    """
    payment = find_payment(session, update.reference, channel_id)
    if payment is None:
        return None
    order = get_order(session, payment.order_id)
    before = (payment.status, payment.captured_amount, payment.refunded_amount, payment.disputed)
    fin_before = order.financial_status
    stale = payment.last_event_at is not None and update.occurred_at < payment.last_event_at
    if not stale:
        if update.status and _PAYMENT_RANK.get(update.status, 0) >= _PAYMENT_RANK.get(
            payment.status, 0
        ):
            if not (payment.status == "captured" and update.status in ("failed", "voided")):
                payment.status = update.status
        if update.amount is not None and payment.captured_amount == 0:
            payment.amount = update.amount
        if update.captured_amount is not None:
            payment.captured_amount = max(payment.captured_amount, update.captured_amount)
        if update.failure_reason:
            payment.failure_reason = update.failure_reason
        elif payment.status != before[0] and payment.status in ("authorized", "captured"):
            payment.failure_reason = ""  # what held it up (awaiting authentication) is over
        payment.last_event_at = update.occurred_at
    for refund in update.refunds:
        _record_refund(payment, refund)
    refunded = sum(r.amount for r in payment.refunds if r.status == "succeeded")
    if update.refunded_amount is not None and not stale:
        refunded = max(refunded, update.refunded_amount)
    payment.refunded_amount = max(payment.refunded_amount, refunded)
    if update.disputed:
        payment.disputed = True
    elif update.disputed is False and not stale:
        payment.disputed = False  # the dispute was won: the funds came back
    after = (payment.status, payment.captured_amount, payment.refunded_amount, payment.disputed)
    if after == before:
        return order
    _refresh_derived(order)
    record(
        session,
        order,
        ev.PAYMENT_UPDATED,
        actor=actor,
        data={
            "reference": payment.reference,
            "payment_status": payment.status,
            "financial_from": fin_before,
            "financial_to": order.financial_status,
        },
    )
    if payment.refunded_amount > before[2]:
        record(
            session,
            order,
            ev.REFUNDED,
            actor=actor,
            data={
                "reference": payment.reference,
                "amount": payment.refunded_amount - before[2],
                "refunded_total": payment.refunded_amount,
            },
        )
    if payment.disputed and not before[3]:
        _hold_if_possible(session, order, "dispute", actor=actor)
    elif before[3] and not payment.disputed:
        _dispute_won(session, order, payment, actor=actor)
    elif payment.status == "failed" and before[0] != "failed":
        _hold_if_possible(session, order, HOLD_PAYMENT, actor=actor)
    elif (
        payment.status == "voided" and before[0] != "voided" and order.status != lifecycle.CANCELLED
    ):
        # Voided behind the hub's back (an authorisation that expired, the gateway's
        # dashboard): nothing is left to capture, so a person must look before it ships.
        _hold_if_possible(session, order, HOLD_PAYMENT, actor=actor)
    return order


def request_refund(
    session: Session, payment: Payment, amount: int, *, key: str, reason: str = ""
) -> int | None:
    """Enqueue a refund of ``amount`` on ``payment``, once per ``key`` (a return, a cancellation)."""
    refundable = payment.captured_amount - payment.refunded_amount
    if amount <= 0 or amount > refundable:
        raise ValidationError(
            f"cannot refund {money(amount, payment.currency)} {payment.currency}: "
            f"{money(refundable, payment.currency)} of payment {payment.reference} is refundable",
            details={"amount": f"at most {money(refundable, payment.currency)}"},
        )
    return enqueue(
        session,
        "payment.refund",
        {"payment_id": payment.id, "amount": amount, "reason": reason},
        channel_id=payment.channel_id,
        order_id=payment.order_id,
        dedupe_key=f"payment.refund:{payment.id}:{key}",
    )


def _dispute_won(session: Session, order: Order, payment: Payment, *, actor: str) -> None:
    """Record a won dispute; an order held for it alone is released (its checks run again)."""
    record(
        session,
        order,
        ev.DISPUTE_WON,
        actor=actor,
        reason=payment.failure_reason,
        data={"reference": payment.reference},
    )
    if order.status == lifecycle.ON_HOLD and "dispute" in (order.hold_reasons or []):
        order.hold_reasons = [r for r in order.hold_reasons if r != "dispute"]
        if not order.hold_reasons and not any(p.disputed for p in order.payments):
            release(session, order.id, actor=actor, reason="the dispute was won")


def _record_refund(payment: Payment, refund: RefundData) -> None:
    existing = next((r for r in payment.refunds if r.external_id == refund.external_id), None)
    if existing is None:
        payment.refunds.append(
            Refund(
                external_id=refund.external_id,
                amount=refund.amount,
                status=refund.status,
                reason=refund.reason,
                created_at=utcnow(),
            )
        )
    elif existing.status != refund.status:
        existing.status = refund.status


def _hold_if_possible(session: Session, order: Order, reason: str, *, actor: str) -> None:
    if order.status in lifecycle.TRANSITIONS["hold"] or order.status == lifecycle.ON_HOLD:
        _hold(session, order, reason, actor=actor)
    else:
        record(
            session,
            order,
            "order.attention",
            actor=actor,
            reason=reason,
            data={"status": order.status},
        )


# --- fulfilment groups and shipments ----------------------------------------------------------------


def order_key(order: Order, group: int = 0) -> str:
    """The key a shipping service knows an order (group) by: stable across retries."""
    return f"hub-{order.id}" if group == 0 else f"hub-{order.id}-{group + 1}"


def plan_fulfillment(
    session: Session,
    order: Order,
    groups: list[tuple[str, dict[int, int]]],
    shipping_channel_id: int | None,
) -> list[FulfillmentGroup]:
    """Store the fulfilment groups of an order: ``[(location_code, {line_id: qty})]``.

    Existing pending groups are replaced; groups already submitted stay as
    they are (the warehouse has them).
    """
    kept = [g for g in order.fulfillment_groups if g.status != "pending"]
    if kept:
        return kept
    order.fulfillment_groups[:] = [
        FulfillmentGroup(
            key=order_key(order, i),
            location_code=loc,
            shipping_channel_id=shipping_channel_id,
            lines=[{"line_id": lid, "quantity": q} for lid, q in lines.items()],
            status="pending",
            created_at=utcnow(),
            updated_at=utcnow(),
        )
        for i, (loc, lines) in enumerate(groups)
    ]
    session.flush()
    return list(order.fulfillment_groups)


def find_group(session: Session, key: str) -> FulfillmentGroup | None:
    return session.scalars(
        select(FulfillmentGroup).where(FulfillmentGroup.key == key)
    ).one_or_none()


def group_reached_warehouse(session: Session, group: FulfillmentGroup) -> None:
    """A shipment came back for ``group``: the warehouse has it, whatever the hub recorded.

    A crash between sending a group and recording that it was sent makes the
    hub send it again, and the warehouse may refuse that (ShipStation refuses
    changes to an order it shipped). Once the shipment is here that refusal
    is moot: the group counts as submitted, its error goes, and the dead
    ``shipping.resubmit`` job the refusal left is closed with a note.
    """
    if group.status == "pending":
        group.status = "submitted"
        group.submitted_at = group.submitted_at or utcnow()
    if group.error is None:
        return
    group.error = None
    group.updated_at = utcnow()
    dead = session.scalars(
        select(Job).where(
            Job.kind == "shipping.resubmit", Job.status == "dead", Job.order_id == group.order_id
        )
    )
    for job in dead:
        if (job.payload or {}).get("key") == group.key:
            job.status = "succeeded"
            job.last_error = f"{job.last_error} (moot: the warehouse shipped {group.key})"
            job.finished_at = job.updated_at = utcnow()


def void_shipment(
    session: Session, order_id: int, external_id: str, *, actor: str
) -> Shipment | None:
    """Undo a shipment whose label was voided; the order's fulfilment status follows."""
    order = get_order(session, order_id)
    shipment = next((s for s in order.shipments if s.external_id == external_id), None)
    if shipment is None or shipment.status == "voided":
        return shipment
    shipment.status = "voided"
    _refresh_derived(order)
    # Before the status moves: restore() reserves again only for an order still shipping.
    reservations.restore(session, order, shipment, actor=actor)
    data = {"shipment_id": shipment.id, "tracking_number": shipment.tracking_number}
    event = "unship" if order.fulfillment_status == "unfulfilled" else "unship_partial"
    moves = lifecycle.TRANSITIONS[event]
    if order.status in moves and moves[order.status] != order.status:
        apply_event(session, order, event, actor=actor, data=data)
    else:
        # The status stays (still partly shipped, or delivered already): keep the fact.
        record(session, order, ev.SHIPMENT_VOIDED, actor=actor, data=data)
    return shipment
