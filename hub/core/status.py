"""The two derived status axes, ``financial_status`` and ``fulfillment_status``, and the rules under them.

Neither is ever set by hand. ``financial_status`` follows from the order's
payments, ``fulfillment_status`` from its shipments; both are recomputed by the
action that changes a payment or a shipment, so they cannot drift. The rules
they rest on live here once: how far a payment's status may move
(:func:`next_payment_status`), which payments stop a confirmation
(:func:`blocking_payments`), and the units of each line shipped and still open
(:func:`units_shipped`, :func:`units_open`).
"""

from __future__ import annotations

from collections import Counter
from collections.abc import Hashable, Iterable, Mapping, Sequence
from enum import StrEnum
from typing import Protocol, TypeVar


class PaymentStatus(StrEnum):
    """What one payment record is, as the gateway tells it."""

    PENDING = "pending"  # created, nothing authorised yet
    AUTHORIZED = "authorized"  # money held, not captured
    CAPTURED = "captured"  # some or all of it taken (see captured_amount)
    VOIDED = "voided"  # authorisation cancelled before capture
    FAILED = "failed"  # declined or errored


class FinancialStatus(StrEnum):
    """Where the order's money stands, derived from its payments."""

    PENDING = "pending"
    AUTHORIZED = "authorized"
    PARTIALLY_PAID = "partially_paid"
    PAID = "paid"
    PARTIALLY_REFUNDED = "partially_refunded"
    REFUNDED = "refunded"
    VOIDED = "voided"
    FAILED = "failed"


class FulfillmentStatus(StrEnum):
    """How much of the order has shipped, derived from its shipments."""

    UNFULFILLED = "unfulfilled"
    PARTIAL = "partial"
    FULFILLED = "fulfilled"


FINANCIAL_STATUSES: tuple[str, ...] = tuple(s.value for s in FinancialStatus)

FULFILLMENT_STATUSES: tuple[str, ...] = tuple(s.value for s in FulfillmentStatus)

#: The steps a payment record goes through, as the gateway tells it; it never
#: goes back a step. The last step has two ends that rank alike.
_PAYMENT_STEPS: tuple[tuple[PaymentStatus, ...], ...] = (
    (PaymentStatus.PENDING,),
    (PaymentStatus.AUTHORIZED,),
    (PaymentStatus.CAPTURED,),
    (PaymentStatus.VOIDED, PaymentStatus.FAILED),
)

#: What one payment record can be.
PAYMENT_STATUSES: tuple[str, ...] = tuple(
    status.value for step in _PAYMENT_STEPS for status in step
)

#: How far along its steps a payment status is (an unknown one ranks as ``pending``).
PAYMENT_RANK: dict[str, int] = {
    status: rank for rank, step in enumerate(_PAYMENT_STEPS) for status in step
}

#: Payment statuses with nothing left to take: the payment counts for nothing.
ENDED_PAYMENT_STATUSES = frozenset(_PAYMENT_STEPS[-1])


class PaymentLike(Protocol):
    status: str
    amount: int  # authorised (or charged) amount, minor units
    captured_amount: int
    refunded_amount: int


class DisputablePayment(Protocol):
    status: str
    disputed: bool


class ShipmentLineLike(Protocol):
    order_line_id: int
    quantity: int


class ShipmentLike(Protocol):
    status: str  # "voided" ships nothing

    @property
    def lines(self) -> Sequence[ShipmentLineLike]: ...


class OrderLineLike(Protocol):
    id: int
    quantity: int  # owed now
    requires_shipping: bool


_Payment = TypeVar("_Payment", bound=DisputablePayment)
_Line = TypeVar("_Line", bound=Hashable)


def next_payment_status(current: str, reported: str | None) -> str:
    """The status a payment takes when its gateway reports ``reported`` (None: not said).

    A payment never goes back a step (:data:`PAYMENT_RANK`), so a stale or
    replayed report changes nothing, and money captured stays captured: a
    late ``failed`` or ``voided`` does not undo a capture.
    """
    if not reported or PAYMENT_RANK.get(reported, 0) < PAYMENT_RANK.get(current, 0):
        return current
    if current == PaymentStatus.CAPTURED and reported in ENDED_PAYMENT_STATUSES:
        return current
    return reported


def blocking_payments(payments: Iterable[_Payment]) -> list[_Payment]:
    """The payments that stop an order from being confirmed: failed, voided or disputed."""
    return [p for p in payments if p.status in ENDED_PAYMENT_STATUSES or p.disputed]


def units_shipped(shipments: Iterable[ShipmentLike]) -> Counter[int]:
    """Units of each line (by line id) shipped by the shipments that were not voided."""
    shipped: Counter[int] = Counter()
    for shipment in shipments:
        if shipment.status != "voided":
            for line in shipment.lines:
                shipped[line.order_line_id] += line.quantity
    return shipped


def units_open(
    lines: Iterable[OrderLineLike], shipped: Mapping[int, int], *, shipping_only: bool = False
) -> dict[int, int]:
    """Units of each line (by line id) owed and not shipped yet; lines with none open are left out.

    :param shipped: what :func:`units_shipped` counts.
    :param shipping_only: leave out lines no warehouse ships (gift cards, digital goods).
    """
    return {
        line.id: line.quantity - shipped.get(line.id, 0)
        for line in lines
        if line.quantity - shipped.get(line.id, 0) > 0
        and (line.requires_shipping or not shipping_only)
    }


def financial_status(
    payments: Iterable[PaymentLike], total: int, fallback: str = FinancialStatus.PENDING
) -> str:
    """Return the order's financial status from its payments.

    :param total: the order total in minor units.
    :param fallback: the status to keep when the hub holds no payment record
        (an order paid on the channel itself, or by invoice): usually what the
        sales channel reported.
    """
    payments = list(payments)
    if not payments:
        return fallback if fallback in FINANCIAL_STATUSES else FinancialStatus.PENDING
    live = [p for p in payments if p.status not in ENDED_PAYMENT_STATUSES]
    if not live:
        # Nothing usable: voided wins over failed when both are there, since a
        # void is a decision and a failure only an attempt.
        return (
            FinancialStatus.VOIDED
            if any(p.status == PaymentStatus.VOIDED for p in payments)
            else FinancialStatus.FAILED
        )
    captured = sum(p.captured_amount for p in live)
    refunded = sum(p.refunded_amount for p in live)
    if refunded > 0:
        return (
            FinancialStatus.REFUNDED if refunded >= captured else FinancialStatus.PARTIALLY_REFUNDED
        )
    if captured > 0:
        return FinancialStatus.PAID if captured >= total else FinancialStatus.PARTIALLY_PAID
    if any(p.status == PaymentStatus.AUTHORIZED for p in live):
        return FinancialStatus.AUTHORIZED
    return FinancialStatus.PENDING


def fulfillment_status(ordered: Mapping[_Line, int], shipped: Mapping[_Line, int]) -> str:
    """Return the fulfilment status from quantities ordered and shipped per line.

    :param ordered: quantity ordered, keyed by line.
    :param shipped: quantity shipped by shipments that were not voided, same keys.
    """
    wanted = {line: qty for line, qty in ordered.items() if qty > 0}
    if not wanted:
        return FulfillmentStatus.UNFULFILLED
    done = [min(shipped.get(line, 0), qty) for line, qty in wanted.items()]
    if sum(done) == 0:
        return FulfillmentStatus.UNFULFILLED
    if all(shipped.get(line, 0) >= qty for line, qty in wanted.items()):
        return FulfillmentStatus.FULFILLED
    return FulfillmentStatus.PARTIAL
