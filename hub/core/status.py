"""The two derived status axes: ``financial_status`` and ``fulfillment_status``.

Neither is ever set by hand. ``financial_status`` follows from the order's
payments, ``fulfillment_status`` from its shipments; both are recomputed by the
action that changes a payment or a shipment, so they cannot drift.
"""

from __future__ import annotations

from collections.abc import Iterable, Mapping
from typing import Protocol

FINANCIAL_STATUSES: tuple[str, ...] = (
    "pending",
    "authorized",
    "partially_paid",
    "paid",
    "partially_refunded",
    "refunded",
    "voided",
    "failed",
)

FULFILLMENT_STATUSES: tuple[str, ...] = ("unfulfilled", "partial", "fulfilled")

#: What one payment record can be, as the gateway tells it.
PAYMENT_STATUSES: tuple[str, ...] = (
    "pending",  # created, nothing authorised yet
    "authorized",  # money held, not captured
    "captured",  # some or all of it taken (see captured_amount)
    "voided",  # authorisation cancelled before capture
    "failed",  # declined or errored
)


class PaymentLike(Protocol):
    status: str
    amount: int  # authorised (or charged) amount, minor units
    captured_amount: int
    refunded_amount: int


def financial_status(payments: Iterable[PaymentLike], total: int, fallback: str = "pending") -> str:
    """Return the order's financial status from its payments.

    :param total: the order total in minor units.
    :param fallback: the status to keep when the hub holds no payment record
        (an order paid on the channel itself, or by invoice): usually what the
        sales channel reported.
    """
    payments = list(payments)
    if not payments:
        return fallback if fallback in FINANCIAL_STATUSES else "pending"
    live = [p for p in payments if p.status not in ("failed", "voided")]
    if not live:
        # Nothing usable: voided wins over failed when both are there, since a
        # void is a decision and a failure only an attempt.
        return "voided" if any(p.status == "voided" for p in payments) else "failed"
    captured = sum(p.captured_amount for p in live)
    refunded = sum(p.refunded_amount for p in live)
    if refunded > 0:
        return "refunded" if refunded >= captured else "partially_refunded"
    if captured > 0:
        return "paid" if captured >= total else "partially_paid"
    if any(p.status == "authorized" for p in live):
        return "authorized"
    return "pending"


def fulfillment_status(ordered: Mapping[object, int], shipped: Mapping[object, int]) -> str:
    """Return the fulfilment status from quantities ordered and shipped per line.

    :param ordered: quantity ordered, keyed by line.
    :param shipped: quantity shipped by shipments that were not voided, same keys.
    """
    wanted = {line: qty for line, qty in ordered.items() if qty > 0}
    if not wanted:
        return "unfulfilled"
    done = [min(shipped.get(line, 0), qty) for line, qty in wanted.items()]
    if sum(done) == 0:
        return "unfulfilled"
    if all(shipped.get(line, 0) >= qty for line, qty in wanted.items()):
        return "fulfilled"
    return "partial"
