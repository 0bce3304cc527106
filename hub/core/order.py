"""The canonical order: what every sales connector maps its channel's order to.

Amounts are integer minor units of the order's ``currency`` (see
:mod:`hub.core.money`); a connector parses the channel's decimal strings with
``Money.parse`` and stores ``.amount``. The hub persists an :class:`OrderData`
with :func:`hub.actions.upsert_order`, keyed by (channel, ``external_id``).
"""

from __future__ import annotations

from dataclasses import dataclass, field
from datetime import datetime
from typing import Any

from .exceptions import ValidationError
from .money import Money, exponent


@dataclass(slots=True)
class Address:
    name: str = ""
    company: str = ""
    address1: str = ""
    address2: str = ""
    city: str = ""
    province: str = ""
    province_code: str = ""
    zip: str = ""
    country: str = ""
    country_code: str = ""
    phone: str = ""

    def to_dict(self) -> dict[str, str]:
        # Not dataclasses.asdict: its deep copy was a tenth of a pull's CPU (`make bench` (b)),
        # and every field is a string.
        return {name: getattr(self, name) for name in self.__slots__}

    @classmethod
    def from_dict(cls, d: dict[str, Any] | None) -> Address | None:
        if not d:
            return None
        known = {k: ("" if d.get(k) is None else str(d.get(k))) for k in cls.__slots__ if k in d}
        return cls(**known)


@dataclass(slots=True)
class Customer:
    email: str = ""
    name: str = ""
    phone: str = ""
    external_id: str = ""


@dataclass(slots=True)
class Line:
    sku: str
    name: str
    quantity: int
    unit_price: int  # minor units, per unit
    tax: int = 0  # minor units, whole line
    discount: int = 0  # minor units, whole line
    external_id: str = ""

    @property
    def subtotal(self) -> int:
        return self.unit_price * self.quantity


@dataclass(slots=True)
class PaymentData:
    """A payment as the creator of the order knows it (API ``payments[]``, a channel).

    ``channel`` is the slug of the payment channel (e.g. a Stripe account)
    whose gateway holds ``reference`` (e.g. a PaymentIntent id).
    """

    reference: str
    amount: int
    status: str = "authorized"
    channel: str | None = None
    captured_amount: int = 0
    refunded_amount: int = 0


@dataclass(slots=True)
class OrderData:
    external_id: str
    currency: str
    lines: list[Line]
    number: str = ""
    customer: Customer = field(default_factory=Customer)
    shipping_address: Address | None = None
    billing_address: Address | None = None
    shipping: int = 0
    tax: int = 0
    discount: int = 0
    total: int | None = None  # None: computed from the parts
    placed_at: datetime | None = None
    updated_at: datetime | None = None  # the channel's own update time: newer wins
    tags: list[str] = field(default_factory=list)
    notes: str = ""
    cancelled: bool = False
    cancel_reason: str = ""
    channel_financial_status: str = ""  # as the channel reports it
    is_test: bool = False
    payments: list[PaymentData] = field(default_factory=list)

    @property
    def subtotal(self) -> int:
        return sum(line.subtotal for line in self.lines)

    @property
    def computed_total(self) -> int:
        """Lines + shipping + tax − discount."""
        return self.subtotal + self.shipping + self.tax - self.discount

    def money(self, amount: int) -> Money:
        return Money(amount, self.currency)

    def check(self) -> None:
        """Raise :class:`ValidationError` when the order cannot be stored at all.

        This is the floor below which nothing is kept (no id, no lines, a
        currency the hub does not know). Business checks that put an order on
        hold instead of refusing it (address, stock, totals) live elsewhere.
        """
        errors: dict[str, str] = {}
        if not str(self.external_id or "").strip():
            errors["external_id"] = "is required"
        try:
            exponent(self.currency)
        except ValueError as exc:
            errors["currency"] = str(exc)
        if not self.lines:
            errors["lines"] = "an order needs at least one line"
        for i, line in enumerate(self.lines):
            if not isinstance(line.quantity, int) or isinstance(line.quantity, bool):
                errors[f"lines.{i}.quantity"] = "must be a whole number"
        if errors:
            raise ValidationError("order cannot be stored: " + "; ".join(
                f"{k} {v}" for k, v in errors.items()), details=errors)


@dataclass(slots=True)
class ShipmentData:
    """A shipment as a carrier or a person reports it.

    ``lines`` maps an order line (the hub's line id, or its SKU) to the
    quantity shipped; empty means "everything still open".
    """

    external_id: str
    carrier: str = ""
    service: str = ""
    tracking_number: str = ""
    tracking_url: str = ""
    label_ref: str = ""
    shipped_at: datetime | None = None
    lines: dict[int | str, int] = field(default_factory=dict)


@dataclass(slots=True)
class PaymentUpdate:
    """What a payment gateway says about one payment (a webhook, an API answer).

    ``None`` means "not said": only the facts given are applied. ``occurred_at``
    orders the facts: one older than the newest applied is ignored, so a stale
    or replayed event never moves a payment backwards.
    """

    reference: str
    occurred_at: datetime
    status: str | None = None
    amount: int | None = None
    captured_amount: int | None = None
    refunded_amount: int | None = None
    disputed: bool | None = None
    failure_reason: str = ""
    refunds: list[RefundData] = field(default_factory=list)


@dataclass(slots=True)
class RefundData:
    """One refund as the gateway knows it; recorded once per ``external_id``."""

    external_id: str
    amount: int
    status: str = "succeeded"
    reason: str = ""
