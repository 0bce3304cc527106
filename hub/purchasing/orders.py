"""Purchase orders from draft to sent (or cancelled): one typed function per action.

A draft is numbered when it is made (``PO-2026-000001``, gapless: the invoices'
counter table under series ``PO``, :func:`hub.invoicing.numbering.take_number`),
so a rolled-back draft leaves no hole. Lines change only in draft; every change
may carry the version the person read, and a stale one is refused (409).
Sending fixes the expected date (sent + the supplier's lead time) and hands the
PO to its way out: an email to the supplier with the PDF and a CSV, or a CSV
file in the ERP channel's export folder (:mod:`hub.purchasing.delivery`).
"""

from __future__ import annotations

from collections.abc import Iterable, Mapping
from dataclasses import dataclass
from datetime import timedelta
from decimal import Decimal

from sqlalchemy import select
from sqlalchemy.orm import Session

from hub.core.exceptions import ConcurrencyError, Conflict, NotFound, ValidationError
from hub.core.money import Money
from hub.core.purchasing import DRAFT, next_status
from hub.integration.connectors import Connector
from hub.invoicing.numbering import take_number
from hub.purchasing import delivery
from hub.purchasing.suppliers import get_supplier
from hub.store.models import (
    Location,
    PurchaseOrder,
    PurchaseOrderLine,
    SupplierSku,
    utcnow,
)

#: The numbering series of purchase orders (``PO-2026-000001``).
SERIES = "PO"
SEND_VIA = delivery.ROUTES
MAX_LINES = 500


@dataclass(frozen=True)
class DraftLine:
    """A line asked for: ``unit_cost`` as a decimal string in the PO's currency, or
    None for the supplier's cost price of the SKU."""

    sku: str
    quantity: int
    unit_cost: str | Decimal | int | None = None


def get_purchase_order(session: Session, po_id: int) -> PurchaseOrder:
    po = session.get(PurchaseOrder, po_id)
    if po is None:
        raise NotFound(f"purchase order {po_id} does not exist")
    return po


def _check_version(po: PurchaseOrder, version: int | None) -> None:
    if version is not None and version != po.version:
        raise ConcurrencyError(
            f"purchase order {po.number} was changed by someone else after you opened it "
            f"(version {version}, now {po.version}): look at it again and redo your change",
            details={"version": po.version},
        )


def _lines(session: Session, supplier_id: int, currency: str, lines: Iterable[DraftLine]):
    wanted = list(lines)
    if not wanted:
        raise ValidationError(
            "a purchase order needs at least one line", details={"lines": ["empty"]}
        )
    if len(wanted) > MAX_LINES:
        raise ValidationError(
            f"a purchase order has at most {MAX_LINES} lines", details={"lines": ["too many"]}
        )
    costs = dict(
        session.execute(
            select(SupplierSku.sku, SupplierSku.cost_price).where(
                SupplierSku.supplier_id == supplier_id,
                SupplierSku.sku.in_({line.sku for line in wanted}),
            )
        ).all()
    )
    errors: dict[str, list[str]] = {}
    built: dict[str, PurchaseOrderLine] = {}
    for line in wanted:
        if line.sku in built:
            errors[line.sku] = ["named twice"]
            continue
        if not isinstance(line.quantity, int) or line.quantity < 1:
            errors[line.sku] = ["quantity must be a whole number of 1 or more"]
            continue
        if line.unit_cost is None:
            if line.sku not in costs:
                errors[line.sku] = ["no cost price from this supplier: give unit_cost"]
                continue
            cost = costs[line.sku]
        else:
            try:
                cost = Money.parse(line.unit_cost, currency).amount
            except ValidationError as exc:
                errors[line.sku] = [exc.message]
                continue
            if cost < 0:
                errors[line.sku] = ["unit_cost may not be negative"]
                continue
        built[line.sku] = PurchaseOrderLine(sku=line.sku, quantity=line.quantity, unit_cost=cost)
    if errors:
        names = ", ".join(f"{sku}: {reasons[0]}" for sku, reasons in errors.items())
        raise ValidationError(f"lines refused: {names}", details={"lines": errors})
    return list(built.values())


def create_draft(
    session: Session,
    *,
    supplier_id: int,
    location_id: int,
    lines: Iterable[DraftLine],
    actor: str,
    notes: str = "",
    send_via: str | None = None,
) -> PurchaseOrder:
    """A numbered draft PO for an active supplier, received at an active location.

    :param send_via: how it reaches the supplier: ``email``, or ``erp`` (the ERP channel's
        export folder). Default: ``email`` when the supplier has an email address, else ``erp``.
    :raises NotFound: no such supplier or location.
    :raises ValidationError: an inactive supplier or location, or bad lines (named).
    """
    supplier = get_supplier(session, supplier_id)
    if not supplier.active:
        raise ValidationError(
            f"supplier {supplier.name} is not active", details={"supplier_id": ["inactive"]}
        )
    location = session.get(Location, location_id)
    if location is None:
        raise NotFound(f"location {location_id} does not exist")
    if not location.active:
        raise ValidationError(
            f"location {location.code} is not active", details={"location": ["inactive"]}
        )
    via = send_via or (delivery.EMAIL if supplier.email else delivery.ERP)
    if via not in SEND_VIA:
        raise ValidationError(
            f"send_via is one of {', '.join(SEND_VIA)}", details={"send_via": ["unknown"]}
        )
    built = _lines(session, supplier.id, supplier.currency, lines)
    now = utcnow()
    _sequence, number = take_number(session, SERIES, now.year)
    po = PurchaseOrder(
        number=number,
        supplier_id=supplier.id,
        location_id=location.id,
        status=DRAFT,
        currency=supplier.currency,
        send_via=via,
        created_by=actor,
        notes=notes,
        created_at=now,
        updated_at=now,
        lines=built,
    )
    session.add(po)
    session.flush()
    return po


def set_lines(
    session: Session,
    po_id: int,
    lines: Iterable[DraftLine],
    *,
    version: int | None = None,
    notes: str | None = None,
) -> PurchaseOrder:
    """Replace a draft's lines (and notes); :class:`Conflict` once it was sent."""
    po = get_purchase_order(session, po_id)
    _check_version(po, version)
    if po.status != DRAFT:
        raise Conflict(
            f"purchase order {po.number} is {po.status}: only a draft's lines can change",
            details={"status": po.status},
        )
    built = _lines(session, po.supplier_id, po.currency, lines)
    po.lines.clear()
    session.flush()  # the old lines go before the new ones take their (po, sku) keys
    po.lines.extend(built)
    if notes is not None:
        po.notes = notes
    po.updated_at = utcnow()
    session.flush()
    return po


def send(
    session: Session,
    po_id: int,
    *,
    actor: str,
    version: int | None = None,
    connectors: Mapping[str, type[Connector]] | None = None,
) -> PurchaseOrder:
    """Mark a draft sent, expected after the supplier's lead time, and send it its way.

    The email (or the ERP file) leaves after the commit, by a job: a PO is sent
    if and only if this transaction commits (:mod:`hub.purchasing.delivery`).

    :param connectors: the hub's connectors by name (``hub.connectors``): a PO sent
        by ``erp`` goes to the first enabled channel whose connector takes purchase orders.
    """
    po = get_purchase_order(session, po_id)
    _check_version(po, version)
    status = next_status(po.number, po.status, "send")
    if status == po.status:
        return po
    delivery.check_route(session, po, connectors)
    now = utcnow()
    po.status = status
    po.sent_at = now
    po.expected_at = now + timedelta(days=po.supplier.lead_time_days)
    po.updated_at = now
    session.flush()
    delivery.dispatch(session, po, actor=actor, connectors=connectors)
    return po


def cancel(
    session: Session, po_id: int, *, actor: str, version: int | None = None
) -> PurchaseOrder:
    """Cancel a draft or a sent PO nothing has arrived on; its units stop being incoming."""
    po = get_purchase_order(session, po_id)
    _check_version(po, version)
    po.status = next_status(po.number, po.status, "cancel")
    po.updated_at = utcnow()
    session.flush()
    return po
