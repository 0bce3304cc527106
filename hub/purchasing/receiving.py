"""Receiving a purchase order: a delivery booked, and its units on hand.

:func:`receive` is the one way stock arrives from a supplier (the API, the
admin's receive form and ERP receipt files all call it). In one transaction it
locks the purchase order, refuses a line not on the order or more than is still
open (unless forced), records a :class:`PurchaseReceipt`, adds each line's units
on hand through :func:`hub.inventory.levels.adjust_on_hand` (a stock movement
whose reason names the PO) and moves the PO to ``partially_received`` or
``received``.
"""

from __future__ import annotations

from collections.abc import Iterable

from sqlalchemy import select
from sqlalchemy.orm import Session

from hub.core.exceptions import NotFound, ValidationError
from hub.core.purchasing import check_receipt, next_status, receipt_event
from hub.inventory.levels import adjust_on_hand
from hub.queue.jobs import enqueue
from hub.queue.kinds import JobKind
from hub.runtime.work import UnitOfWork
from hub.store.models import (
    Location,
    PurchaseOrder,
    PurchaseReceipt,
    PurchaseReceiptLine,
    utcnow,
)


def receive(
    work_or_session: UnitOfWork | Session,
    po_id: int,
    lines: Iterable[tuple[str, int]],
    location_id: int | None = None,
    *,
    actor: str,
    force: bool = False,
    source: str = "",
) -> PurchaseReceipt:
    """Book units of a sent purchase order as arrived at ``location_id`` (None: the PO's).

    :param lines: (SKU, quantity) pairs; a SKU named twice counts once with the sum.
    :param force: accept more than is still open on a line (an over-delivery kept).
    :param source: where the receipt came from (``api``, ``ui``, an ERP file's name).
    :raises NotFound: no such purchase order or location.
    :raises InvalidPurchaseOrderTransition: the PO is a draft, received or cancelled.
    :raises ValidationError: a line not on the PO, a quantity below 1, or (without
        ``force``) more than is open; nothing is written then.
    """
    session = (
        work_or_session.session if isinstance(work_or_session, UnitOfWork) else work_or_session
    )
    po = session.scalar(
        select(PurchaseOrder).where(PurchaseOrder.id == po_id).with_for_update(of=PurchaseOrder)
    )
    if po is None:
        raise NotFound(f"purchase order {po_id} does not exist")
    location = session.get(Location, po.location_id if location_id is None else location_id)
    if location is None:
        raise NotFound(f"location {location_id} does not exist")
    if not location.active:
        raise ValidationError(
            f"location {location.code} is not active", details={"location": ["inactive"]}
        )
    arriving: dict[str, int] = {}
    for sku, quantity in lines:
        if not isinstance(quantity, int) or isinstance(quantity, bool):
            raise ValidationError(
                f"quantity of {sku} must be a whole number",
                details={"lines": {sku: ["not a whole number"]}},
            )
        arriving[sku] = arriving.get(sku, 0) + quantity
    # The status check comes first: a draft or closed PO takes no receipt at all.
    next_status(po.number, po.status, "receive_partial")
    by_sku = {line.sku: line for line in po.lines}
    ordered = {sku: line.quantity for sku, line in by_sku.items()}
    received = {sku: line.received_quantity for sku, line in by_sku.items()}
    check_receipt(ordered, received, arriving, force=force)

    over = any(received[sku] + units > ordered[sku] for sku, units in arriving.items())
    receipt = PurchaseReceipt(
        purchase_order_id=po.id,
        location_id=location.id,
        received_by=actor,
        source=source,
        forced=force and over,
        received_at=utcnow(),
        lines=[PurchaseReceiptLine(sku=sku, quantity=units) for sku, units in arriving.items()],
    )
    session.add(receipt)
    for sku in sorted(arriving):  # levels locked in SKU order, like every stock writer
        by_sku[sku].received_quantity += arriving[sku]
        adjust_on_hand(
            session,
            sku,
            location.code,
            arriving[sku],
            actor=actor,
            reason=f"received on purchase order {po.number}",
            source=source or f"purchase_order:{po.id}",
        )
    po.status = next_status(
        po.number,
        po.status,
        receipt_event(ordered, {sku: line.received_quantity for sku, line in by_sku.items()}),
    )
    po.updated_at = utcnow()
    session.flush()
    # In the same transaction: backorders of these SKUs here get the stock first
    # (hub.pipeline.replenishment), then the low-stock state is checked again.
    enqueue(
        session,
        JobKind.STOCK_RECEIVED,
        {"skus": sorted(arriving), "location_id": location.id},
        dedupe_key=JobKind.STOCK_RECEIVED.key(receipt.id),
    )
    return receipt
