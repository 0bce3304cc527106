"""Orders coming in: store what a channel sent as a new order, or apply it to the stored one.

:func:`upsert_order` is the way every order enters the hub (a pull, a webhook,
the API, the CLI), keyed by (channel, external id). A new order starts with
the rows :func:`new_order_rows` maps it to, which the bulk path
(:mod:`hub.orders.bulk_intake`) writes the same way. An update applies newer
data only: changed fields, lines refunded or removed on the channel, lines
edited (the order is revised, or held once fulfilment started), new
payments, a cancellation and the channel's own refunds.
"""

from __future__ import annotations

import secrets
from collections.abc import Mapping
from dataclasses import dataclass
from datetime import datetime
from typing import Any

from sqlalchemy import select
from sqlalchemy.exc import IntegrityError
from sqlalchemy.orm import Session

from hub.core import events as ev
from hub.core import lifecycle
from hub.core.exceptions import ConcurrencyError, ValidationError
from hub.core.money import Money
from hub.core.order import ChannelRefund, Line, LineRevision, OrderData, PaymentData, revise_lines
from hub.core.status import units_open, units_shipped
from hub.customers import linking
from hub.inventory import backorders, reservations
from hub.orders.records import (
    announce,
    derived_statuses,
    find_order,
    record,
    refresh_derived,
)
from hub.orders.transitions import apply_event, put_on_hold
from hub.queue.jobs import enqueue, enqueue_row, job_row
from hub.queue.kinds import JobKind
from hub.routing import geocode
from hub.store.models import Channel, Order, OrderAuditEvent, OrderLine, Payment, utcnow

#: Why the hub itself holds an order that changed on its channel.
HOLD_CHANGED = "changed_after_confirmation"
#: Nothing is left to ship: every unit still to send was refunded or removed on the channel.
HOLD_NOTHING_TO_SHIP = "nothing_left_to_ship"
#: The order's columns that say who bought: an erased customer's orders never take them again.
PERSONAL_FIELDS = (
    "email",
    "customer_name",
    "customer_phone",
    "customer_external_id",
    "shipping_address",
    "billing_address",
)
#: The columns a customer is found by (hub.customers.identity): a change links the order again.
IDENTITY_FIELDS = frozenset(
    {"email", "customer_phone", "customer_external_id", "shipping_address", "billing_address"}
)


@dataclass
class UpsertResult:
    order: Order
    created: bool
    changed: bool


def upsert_order(
    session: Session,
    channel: Channel,
    data: OrderData,
    *,
    actor: str,
    geocoder: geocode.Geocoder | None = None,
) -> UpsertResult:
    """Create or update the order a channel sent, keyed by (channel, external id).

    Newer data wins: an update whose channel ``updated_at`` is not newer than
    the one stored is ignored, so replays and out-of-order deliveries are
    harmless. A change of lines after the order was confirmed is not applied
    silently: the order goes on hold for a person to look at. A new shipping
    address is placed (:mod:`hub.routing.geocode`) by ``geocoder``, which asks
    the plugins too (None: the channel's coordinates and the offline tables).
    """
    data.check()
    order = find_order(session, channel.id, data.external_id)
    if order is None:
        return _create_order(session, channel, data, actor=actor, geocoder=geocoder)
    if (
        data.updated_at
        and order.external_updated_at
        and data.updated_at <= order.external_updated_at
    ):
        return UpsertResult(order, created=False, changed=False)
    changed = _apply_customer(session, order, data)
    if "shipping_address" in changed:
        geocode.place_order(order, geocoder)
    lines_changed = _lines_differ(order, data)
    if lines_changed:
        changed += _revise(session, order, data, actor=actor)
    changed += _merge_payments(session, order, data.payments, channel)
    order.external_updated_at = data.updated_at or order.external_updated_at
    if changed:
        refresh_derived(order)
        record(session, order, ev.ORDER_UPDATED, actor=actor, data={"fields": changed})
    if data.cancelled and order.status != lifecycle.CANCELLED:
        _cancel_from_channel(session, order, data.cancel_reason, actor=actor)
        changed.append("status")
    if data.channel_refunds:
        _record_channel_refunds(session, order, data.channel_refunds, actor=actor)
    return UpsertResult(order, created=False, changed=bool(changed) or lines_changed)


def first_check(order_id: int) -> dict[str, Any]:
    """The ``order.process`` job a new order starts with."""
    return job_row(
        JobKind.ORDER_PROCESS,
        {},
        order_id=order_id,
        dedupe_key=JobKind.ORDER_PROCESS.key(order_id, "new"),
    )


def _create_order(
    session: Session,
    channel: Channel,
    data: OrderData,
    *,
    actor: str,
    geocoder: geocode.Geocoder | None,
) -> UpsertResult:
    slugs = dict.fromkeys(p.channel for p in data.payments if p.channel)
    rows = new_order_rows(
        channel,
        data,
        {slug: _named_payment_channel(session, slug) for slug in slugs},
        actor=actor,
        geocoder=geocoder,
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
        # same order rolls back only this order's rows (and a customer made for it)
        # and does not spoil the caller's transaction.
        with session.begin_nested():
            order.customer_id = linking.link_order(session, channel.id, rows.order)
            session.add(order)
            session.add(created)
            session.flush()
    except IntegrityError as exc:
        raise ConcurrencyError(
            f"order {data.external_id} of channel {channel.slug} was created concurrently"
        ) from exc
    announce(session, order, created)
    if data.channel_refunds:
        _record_channel_refunds(session, order, data.channel_refunds, actor=actor)
    if data.cancelled:
        _cancel_from_channel(session, order, data.cancel_reason, actor=actor)
    else:
        enqueue_row(session, first_check(order.id))
    return UpsertResult(order, created=True, changed=True)


# --- a new order's rows ------------------------------------------------------------


@dataclass
class NewOrderRows:
    """The rows a new order starts with, as column values (no ids: the database gives them).

    :func:`upsert_order` (one order, ORM) and
    :func:`hub.orders.bulk_intake.insert_new_orders` (a page, Core
    ``executemany``) both write these, so the two cannot drift.
    """

    order: dict[str, Any]
    lines: list[dict[str, Any]]
    payments: list[dict[str, Any]]
    created: dict[str, Any]  # the order.created audit event


def new_order_rows(
    channel: Channel,
    data: OrderData,
    payment_channels: Mapping[str, int],
    *,
    actor: str,
    geocoder: geocode.Geocoder | None = None,
) -> NewOrderRows:
    """Map a new order to its rows: fields, lines, payments, derived statuses, order.created.

    :param payment_channels: channel id by slug for every ``payment.channel``
        named; a slug missing raises :class:`ValidationError` as an unknown one.
    :param geocoder: places the shipping address (None: the channel's
        coordinates and the offline tables, no plugins).
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
    fin, ful = derived_statuses(
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
        **geocode.columns((geocoder or geocode.OFFLINE).place(fields["shipping_address"])),
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
        "shipping_method": (data.shipping_method or "").strip()[:200],
        "locale": (data.locale or "").strip()[:35],
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
        product_id=str(line.product_id or ""),
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


def _apply_order_fields(order: Order, data: OrderData, *, keep: tuple[str, ...] = ()) -> list[str]:
    """Set the columns the channel's data changed (except those in ``keep``); return their names."""
    changed = []
    for name, value in _order_fields(data, placed_at=order.placed_at).items():
        if name not in keep and getattr(order, name) != value:
            setattr(order, name, value)
            changed.append(name)
    return changed


def _apply_customer(session: Session, order: Order, data: OrderData) -> list[str]:
    """Apply the channel's fields to a stored order and keep its customer link true.

    An order whose buyer changed (another email, phone, channel customer id or
    country), or that has no customer yet, is linked again by the identity rule.
    An erased customer's order takes no personal data again (GDPR art. 17:
    erased stays erased, whatever the channel still holds).
    """
    erased = linking.is_erased(session, order.customer_id)
    # The notes too: erasure took the person's name and address out of them.
    changed = _apply_order_fields(order, data, keep=(*PERSONAL_FIELDS, "notes") if erased else ())
    if not erased and (order.customer_id is None or IDENTITY_FIELDS.intersection(changed)):
        customer_id = linking.link_order(
            session, order.channel_id, {name: getattr(order, name) for name in PERSONAL_FIELDS}
        )
        if customer_id != order.customer_id:
            order.customer_id = customer_id
            changed.append("customer_id")
    return changed


# --- an update's lines ---------------------------------------------------------------------


def line_key(line: Line | OrderLine) -> tuple:
    """What of a line tells two versions of it apart (all a channel or a person may change)."""
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
    return [line_key(x) for x in order.lines] != [line_key(x) for x in data.lines]


def replace_lines(order: Order, lines: list[Line]) -> None:
    """Give ``order`` these lines instead of its own (a channel's revision, a person's edit)."""
    order.lines[:] = [OrderLine(**_line_values(i, x)) for i, x in enumerate(lines)]


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
        put_on_hold(
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
        replace_lines(order, data.lines)
        if order.status == lifecycle.CONFIRMED:
            apply_event(
                session, order, "revise", actor=actor, reason="order lines changed on the channel"
            )
            enqueue(
                session,
                JobKind.ORDER_PROCESS,
                {},
                order_id=order.id,
                dedupe_key=JobKind.ORDER_PROCESS.key(order.id, "revised", order.version),
            )
        return ["lines"]
    return _reduce_lines(session, order, revision, actor=actor)


def _reduce_lines(
    session: Session, order: Order, revision: LineRevision, *, actor: str
) -> list[str]:
    """Take refunded or removed units off the stored lines in place (ids stay: shipments point at them)."""
    shipped = units_shipped(order.shipments)
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
        # Units still waiting for stock on a purchase order go first: nothing was reserved for them.
        reserved, unbackordered = backorders.reduce(session, order, withdrawn)
        reservations.release_units(
            session, order, reserved, actor=actor, reason="refunded or removed on the channel"
        )
        data: dict[str, Any] = {"lines": {str(k): v for k, v in withdrawn.items()}}
        if unbackordered:
            data["backorder_cancelled"] = unbackordered
        record(session, order, ev.LINES_REDUCED, actor=actor, data=data)
        if (
            unbackordered
            and order.status == lifecycle.CONFIRMED
            and not backorders.waiting(session, order.id)
        ):
            # It waited only for the units taken off: what is left goes to the warehouse now.
            enqueue(
                session,
                JobKind.ORDER_FULFILL,
                {},
                order_id=order.id,
                dedupe_key=JobKind.ORDER_FULFILL.key(order.id, "unbackordered", order.version),
            )
    refresh_derived(order)
    if order.status in (lifecycle.PROCESSING, lifecycle.PARTIALLY_SHIPPED):
        if order.fulfillment_status == "fulfilled":
            # What is left of the order has all shipped already.
            apply_event(
                session, order, "ship", actor=actor, reason="the rest was refunded on the channel"
            )
        elif (
            not units_open(order.lines, units_shipped(order.shipments), shipping_only=True)
            and order.status == lifecycle.PROCESSING
        ):
            put_on_hold(
                session,
                order,
                HOLD_NOTHING_TO_SHIP,
                actor=actor,
                data={"why": "every unit still to ship was refunded or removed on the channel"},
            )
    return ["lines"]


# --- what else an update brings ---------------------------------------------------------------


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
        return _named_payment_channel(session, slug)
    return channel.payment_channel_id


def _named_payment_channel(session: Session, slug: str) -> int:
    """The id of the payment channel ``slug``; an unknown one is a :class:`ValidationError`."""
    found = session.scalars(select(Channel).where(Channel.slug == slug)).one_or_none()
    if found is None:
        raise _unknown_payment_channel(slug)
    return found.id


def _known_payment_channel(
    channel: Channel, slug: str | None, known: Mapping[str, int]
) -> int | None:
    """The payment channel a payment names (its slug, looked up in ``known``), else the channel's own."""
    if not slug:
        return channel.payment_channel_id
    if slug not in known:
        raise _unknown_payment_channel(slug)
    return known[slug]


def _unknown_payment_channel(slug: str) -> ValidationError:
    return ValidationError(
        f"payment channel {slug!r} does not exist",
        details={"payments": f"unknown channel {slug}"},
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
