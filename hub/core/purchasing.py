"""The purchase order life cycle as data, and what a receipt does to a line.

``TRANSITIONS[event][from_status] -> to_status`` is the whole state machine (the
order life cycle's shape, :mod:`hub.core.lifecycle`); :func:`next_status` applies
it. An event whose target is the current status is a no-op; anything else not in
the table raises :class:`InvalidPurchaseOrderTransition` (HTTP 409).
"""

from __future__ import annotations

from enum import StrEnum

from hub.core.exceptions import Conflict, ValidationError


class PurchaseOrderStatus(StrEnum):
    DRAFT = "draft"
    SENT = "sent"
    PARTIALLY_RECEIVED = "partially_received"
    RECEIVED = "received"
    CANCELLED = "cancelled"


DRAFT = PurchaseOrderStatus.DRAFT
SENT = PurchaseOrderStatus.SENT
PARTIALLY_RECEIVED = PurchaseOrderStatus.PARTIALLY_RECEIVED
RECEIVED = PurchaseOrderStatus.RECEIVED
CANCELLED = PurchaseOrderStatus.CANCELLED

STATUSES: tuple[str, ...] = tuple(s.value for s in PurchaseOrderStatus)

#: Statuses whose unreceived units are on their way ("incoming" stock).
OPEN_STATUSES: tuple[str, ...] = (SENT, PARTIALLY_RECEIVED)

TRANSITIONS: dict[str, dict[str, str]] = {
    "send": {DRAFT: SENT},
    # some lines still have units to come
    "receive_partial": {SENT: PARTIALLY_RECEIVED, PARTIALLY_RECEIVED: PARTIALLY_RECEIVED},
    # every line has all its units
    "receive": {SENT: RECEIVED, PARTIALLY_RECEIVED: RECEIVED},
    # nothing arrived yet; a PO with some units in is closed by receiving, not cancelled
    "cancel": {DRAFT: CANCELLED, SENT: CANCELLED},
}

EVENTS: tuple[str, ...] = tuple(TRANSITIONS)


class InvalidPurchaseOrderTransition(Conflict):
    """An event the purchase order's current status does not allow (a conflict: 409)."""

    code = "invalid_transition"

    def __init__(self, number: str, status: str, event: str, allowed: list[str]):
        super().__init__(
            f"purchase order {number} is {status}: cannot {event}"
            f" (allowed: {', '.join(allowed) if allowed else 'none'})",
            details={
                "purchase_order": number,
                "status": status,
                "event": event,
                "allowed": allowed,
            },
        )
        self.status = status
        self.event = event


def allowed_events(status: str) -> list[str]:
    """The events that move a purchase order out of ``status``, in table order."""
    return [event for event, moves in TRANSITIONS.items() if status in moves]


def next_status(number: str, status: str, event: str) -> str:
    """The status ``event`` moves a purchase order in ``status`` to.

    :raises InvalidPurchaseOrderTransition: the table has no such move.
    """
    moves = TRANSITIONS.get(event)
    if moves is None:
        raise InvalidPurchaseOrderTransition(number, status, event, allowed_events(status))
    if status in moves:
        return moves[status]
    if status in moves.values():
        return status
    raise InvalidPurchaseOrderTransition(number, status, event, allowed_events(status))


def check_receipt(
    ordered: dict[str, int], received: dict[str, int], arriving: dict[str, int], *, force: bool
) -> None:
    """Refuse a receipt that names a SKU not on the order, or brings more than is open.

    :param ordered: units ordered per SKU; ``received``: already in; ``arriving``: this receipt.
    :raises ValidationError: naming every bad line (``details``: SKU -> reason); an
        over-receipt passes only with ``force``.
    """
    errors: dict[str, list[str]] = {}
    if not arriving:
        raise ValidationError("a receipt needs at least one line", details={"lines": ["empty"]})
    for sku, quantity in arriving.items():
        if sku not in ordered:
            errors[sku] = ["not on this purchase order"]
        elif quantity < 1:
            errors[sku] = ["quantity must be 1 or more"]
        elif not force and received.get(sku, 0) + quantity > ordered[sku]:
            open_units = max(ordered[sku] - received.get(sku, 0), 0)
            errors[sku] = [
                f"{quantity} received but only {open_units} of {ordered[sku]} still open"
                " (force to accept more)"
            ]
    if errors:
        names = ", ".join(f"{sku}: {reasons[0]}" for sku, reasons in errors.items())
        raise ValidationError(f"receipt refused: {names}", details={"lines": errors})


def receipt_event(ordered: dict[str, int], received: dict[str, int]) -> str:
    """``receive`` when every SKU has all its units (``received`` after the receipt), else ``receive_partial``."""
    complete = all(received.get(sku, 0) >= quantity for sku, quantity in ordered.items())
    return "receive" if complete else "receive_partial"
