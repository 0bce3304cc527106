"""Shipments and fulfilment groups: what goes to a warehouse and what comes back shipped.

An order's lines are planned into fulfilment groups (one per location and
shipping channel, :func:`plan_fulfillment`); a shipment the warehouse or a
person reports is recorded once (:func:`ship`), takes its units out of stock
and moves the order to ``partially_shipped`` or ``shipped``; a voided label
undoes it (:func:`void_shipment`).
"""

from __future__ import annotations

from collections import Counter

from sqlalchemy import select
from sqlalchemy.orm import Session

from hub.core import events as ev
from hub.core import lifecycle
from hub.core.exceptions import ValidationError
from hub.core.order import ShipmentData
from hub.core.status import units_open, units_shipped
from hub.inventory import reservations
from hub.orders.records import get_order, record, refresh_derived
from hub.orders.transitions import apply_event
from hub.queue.kinds import JobKind
from hub.store.models import (
    FulfillmentGroup,
    Job,
    JobStatus,
    Order,
    OrderLine,
    Shipment,
    ShipmentLine,
    utcnow,
)

# --- shipments -------------------------------------------------------------------


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
    open_qty = units_open(order.lines, units_shipped(order.shipments))
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
    refresh_derived(order)
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


def _resolve_lines(order: Order, lines: dict[int | str, int]) -> dict[int, int]:
    by_id = {line.id: line for line in order.lines}
    by_sku: dict[str, list[OrderLine]] = {}
    for line in order.lines:
        by_sku.setdefault(line.sku, []).append(line)
    resolved: Counter[int] = Counter()
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


def void_shipment(
    session: Session, order_id: int, external_id: str, *, actor: str
) -> Shipment | None:
    """Undo a shipment whose label was voided; the order's fulfilment status follows."""
    order = get_order(session, order_id)
    shipment = next((s for s in order.shipments if s.external_id == external_id), None)
    if shipment is None or shipment.status == "voided":
        return shipment
    shipment.status = "voided"
    refresh_derived(order)
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


# --- fulfilment groups -----------------------------------------------------------


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
    """The fulfilment group a shipping service knows by ``key`` (:func:`order_key`)."""
    return session.scalars(
        select(FulfillmentGroup).where(FulfillmentGroup.key == key)
    ).one_or_none()


def open_in_group(order: Order, group: FulfillmentGroup) -> dict[int | str, int]:
    """Units of a fulfilment group's lines not shipped yet (line id -> units, none at 0).

    For a shipment that does not name its items. A line split across two
    groups counts what is open of the whole line, capped at this group's share.
    """
    open_units = units_open(order.lines, units_shipped(order.shipments))
    wanted = {
        int(g["line_id"]): min(int(g["quantity"]), open_units.get(int(g["line_id"]), 0))
        for g in group.lines
    }
    return {line_id: units for line_id, units in wanted.items() if units > 0}


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
            Job.kind == JobKind.SHIPPING_RESUBMIT,
            Job.status == JobStatus.DEAD,
            Job.order_id == group.order_id,
        )
    )
    for job in dead:
        if (job.payload or {}).get("key") == group.key:
            job.status = JobStatus.SUCCEEDED
            job.last_error = f"{job.last_error} (moot: the warehouse shipped {group.key})"
            job.finished_at = job.updated_at = utcnow()
