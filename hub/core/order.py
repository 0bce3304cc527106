"""The canonical order: what every sales connector maps its channel's order to.

Amounts are integer minor units of the order's ``currency`` (see
:mod:`hub.core.money`); a connector parses the channel's decimal strings with
``Money.parse`` and stores ``.amount``. The hub persists an :class:`OrderData`
with :func:`hub.orders.intake.upsert_order`, keyed by (channel, ``external_id``).
"""

from __future__ import annotations

from dataclasses import dataclass, field
from datetime import datetime
from typing import Any

from hub.core.exceptions import ValidationError
from hub.core.money import MAX_AMOUNT, Money, MoneyError, currency_code, exponent
from hub.core.status import PaymentStatus


def coordinates(latitude: Any, longitude: Any) -> tuple[float, float] | None:
    """A (latitude, longitude) pair in degrees, or None unless both are numbers in range.

    Lenient, for what a channel sends (a string, a number, null): a pair it
    cannot vouch for is no pair. People's input is checked strictly instead
    (:func:`hub.routing.geo.check_coordinates`).
    """
    try:
        lat, lon = float(latitude), float(longitude)
    except (TypeError, ValueError):
        return None
    if isinstance(latitude, bool) or isinstance(longitude, bool):
        return None
    if not (-90.0 <= lat <= 90.0 and -180.0 <= lon <= 180.0):  # also refuses NaN
        return None
    return lat, lon


@dataclass(slots=True)
class Address:
    """A postal address as the channel gives it; every part a string, ``""`` when not given.

    ``country_code`` is ISO 3166-1 alpha-2 (``"DE"``); ``province_code`` the
    channel's code for the state or region (``"CA"``). ``latitude`` and
    ``longitude`` (degrees, both or neither) are where the channel placed the
    address, when it says (Shopify does): the hub then needs no lookup of its own.
    """

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
    latitude: float | None = None
    longitude: float | None = None

    def to_dict(self) -> dict[str, Any]:
        """Every part by name, as the order stores and the API shows the address.

        The coordinates only when the channel gave them (both, in range).
        """
        # Not dataclasses.asdict: its deep copy showed in a pull's profile (`make bench` (b)),
        # and every field is a string.
        parts: dict[str, Any] = {name: getattr(self, name) for name in _TEXT_PARTS}
        point = coordinates(self.latitude, self.longitude)
        if point:
            parts["latitude"], parts["longitude"] = point
        return parts

    @classmethod
    def from_dict(cls, d: dict[str, Any] | None) -> Address | None:
        """The address of a mapping with (some of) these keys; others are left out, None as ``""``."""
        if not d:
            return None
        known: dict[str, Any] = {
            k: ("" if d.get(k) is None else str(d.get(k))) for k in _TEXT_PARTS if k in d
        }
        point = coordinates(d.get("latitude"), d.get("longitude"))
        if point:
            known["latitude"], known["longitude"] = point
        return cls(**known)


#: The parts of an :class:`Address` that are text.
_TEXT_PARTS = tuple(name for name in Address.__slots__ if name not in ("latitude", "longitude"))


@dataclass(slots=True)
class Customer:
    """Who placed the order; ``external_id`` is the channel's id of the customer."""

    email: str = ""
    name: str = ""
    phone: str = ""
    external_id: str = ""


@dataclass(slots=True)
class Line:
    """One line of an order: a SKU, how many, at what price; money in minor units."""

    #: The SKU stock is kept under (and what stock pushes name).
    sku: str
    name: str
    quantity: int
    unit_price: int  # minor units, per unit
    tax: int = 0  # minor units, whole line
    discount: int = 0  # minor units, whole line
    #: The channel's id of the line: how lines are matched when the order changes, and
    #: what the channel is told when it ships (``push_fulfillment``'s lines carry it).
    external_id: str = ""
    #: False for what no warehouse ships (gift cards, digital goods): never
    #: reserved, routed or sent to a shipping channel.
    requires_shipping: bool = True
    #: Units ordered but no longer owed: refunded or removed on the channel
    #: before they shipped. ``quantity`` is what is owed now (Shopify's
    #: ``current_quantity``), so ``quantity + removed_quantity`` was ordered.
    removed_quantity: int = 0
    #: The channel's product this SKU is a variant of ("" unknown): the lines of
    #: one product are the variants a customer may exchange for each other.
    product_id: str = ""

    @property
    def subtotal(self) -> int:
        """``unit_price × quantity``, before tax and discount."""
        return self.unit_price * self.quantity


@dataclass(slots=True)
class PaymentData:
    """A payment as the creator of the order knows it (API ``payments[]``, a channel).

    ``channel`` is the slug of the payment channel (e.g. a Stripe account)
    whose gateway holds ``reference`` (e.g. a PaymentIntent id).
    """

    reference: str
    amount: int
    status: str = PaymentStatus.AUTHORIZED
    channel: str | None = None
    captured_amount: int = 0
    refunded_amount: int = 0


@dataclass(slots=True)
class OrderData:
    """An order as a sales connector maps it: what ``fetch_orders``, ``fetch_order`` and
    ``HubPort.upsert_orders`` carry.

    Money is in minor units of ``currency``; times are timezone-aware. The hub
    keys the order by its channel and ``external_id``: the same order sent
    again updates it (if its ``updated_at`` is newer), never doubles it.
    :meth:`check` is the floor an order must pass to be stored at all.
    """

    #: The channel's id of the order: unique per channel, the key the hub stores it by.
    external_id: str
    #: ISO 4217 code (``"EUR"``); every amount of the order is in its minor units.
    currency: str
    lines: list[Line]
    #: The number people know the order by (``"#1001"``); the ``external_id`` when empty.
    number: str = ""
    customer: Customer = field(default_factory=Customer)
    shipping_address: Address | None = None
    billing_address: Address | None = None
    shipping: int = 0  # minor units
    tax: int = 0  # minor units, the whole order's (lines and shipping)
    discount: int = 0  # minor units, the whole order's (its lines' discounts included)
    total: int | None = None  # None: computed from the parts
    placed_at: datetime | None = None
    updated_at: datetime | None = None  # the channel's own update time: newer wins
    tags: list[str] = field(default_factory=list)
    notes: str = ""
    #: The shipping method the customer chose at checkout, as the channel names it
    #: (Shopify's ``shipping_lines[].title``: ``"Express"``); service-level rules read it.
    shipping_method: str = ""
    #: The customer's language as the channel knows it (Shopify's ``customer_locale``:
    #: ``"de-DE"``), a BCP 47 tag; the customer's emails are written in it. Empty: unknown.
    locale: str = ""
    #: The channel cancelled the order: the hub cancels it too, with ``cancel_reason``
    #: (once it has shipped, it records the request for a person instead).
    cancelled: bool = False
    cancel_reason: str = ""
    #: As the channel reports it (``"paid"``): the order's financial status while the hub
    #: holds no payment of it (paid on the channel itself, or by invoice).
    channel_financial_status: str = ""
    is_test: bool = False
    payments: list[PaymentData] = field(default_factory=list)
    #: True when line prices (and shipping) already contain the tax, as in most
    #: EU, UK and AU shops: ``tax`` is then the part of the total that is tax,
    #: not an amount added on top (see :func:`expected_total`).
    taxes_included: bool = False
    #: Refunds the channel made itself (a Shopify admin refund), as facts to show.
    channel_refunds: list[ChannelRefund] = field(default_factory=list)

    @property
    def subtotal(self) -> int:
        """The lines' subtotals added up."""
        return sum(line.subtotal for line in self.lines)

    @property
    def computed_total(self) -> int:
        """Lines + shipping − discount, + tax unless it is included in the prices."""
        return expected_total(
            self.subtotal,
            self.shipping,
            self.tax,
            self.discount,
            taxes_included=self.taxes_included,
        )

    def money(self, amount: int) -> Money:
        """``amount`` minor units as :class:`~hub.core.money.Money` in the order's currency."""
        return Money(amount, self.currency)

    def check(self) -> None:
        """Raise :class:`ValidationError` when the order cannot be stored at all.

        This is the floor below which nothing is kept (no id, no lines, a
        currency the hub does not know, money that cannot be right: see
        :func:`amount_errors`). Business checks that put an order on
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
            for name in ("quantity", "removed_quantity"):
                value = getattr(line, name)
                if not isinstance(value, int) or isinstance(value, bool):
                    errors[f"lines.{i}.{name}"] = "must be a whole number"
                elif value < 0:
                    errors[f"lines.{i}.{name}"] = "must not be negative"
        if not errors:
            errors.update(amount_errors(self))
        if errors:
            raise ValidationError(
                "order cannot be stored: " + "; ".join(f"{k} {v}" for k, v in errors.items()),
                details=errors,
            )


def amount_errors(data: OrderData) -> dict[str, str]:
    """What is wrong with an order's money, by field (``lines.0.discount``); empty when nothing.

    The one rule every way in holds an order to (the API, the CLI, a
    connector through the port): every amount (unit price, tax, discount,
    shipping, total, payments, refunds) is a whole number of minor units, at
    least 0 and at most :data:`~hub.core.money.MAX_AMOUNT`; a line's discount
    is at most what its units were sold for, the order's at most its lines
    and shipping. So no order's total is below 0; one discounted to nothing
    (total 0) is an order. A line's discount is held to the units ordered
    (``quantity + removed_quantity``): a channel keeps the discount a line was
    sold with after refunding its units.
    """
    errors: dict[str, str] = {}
    try:
        currency = currency_code(data.currency)
    except MoneyError:
        currency = ""

    def shown(minor: int) -> str:
        return f"{Money(minor, currency)} {currency}" if currency else f"{minor} minor units"

    def amount(key: str, value: object) -> bool:
        if not isinstance(value, int) or isinstance(value, bool):
            errors[key] = (
                f"must be a whole number of minor units, not {type(value).__name__} {value!r}"
                " (parse the channel's decimal string with Money.parse)"
            )
        elif value < 0:
            errors[key] = f"must not be negative (got {shown(value)})"
        elif value > MAX_AMOUNT:
            errors[key] = f"must be at most {shown(MAX_AMOUNT)}"
        else:
            return True
        return False

    lines_ok = True
    for i, line in enumerate(data.lines):
        price_ok = amount(f"lines.{i}.unit_price", line.unit_price)
        amount(f"lines.{i}.tax", line.tax)
        if amount(f"lines.{i}.discount", line.discount) and price_ok:
            sold = line.unit_price * (line.quantity + line.removed_quantity)
            if line.discount > sold:
                errors[f"lines.{i}.discount"] = (
                    f"{shown(line.discount)} is more than the line was sold for ({shown(sold)})"
                )
        lines_ok = lines_ok and price_ok
    parts_ok = all([amount(name, getattr(data, name)) for name in ("shipping", "tax", "discount")])
    if data.total is not None:
        amount("total", data.total)
    if lines_ok and data.subtotal > MAX_AMOUNT:
        errors["lines"] = f"the lines add up to more than {shown(MAX_AMOUNT)}"
    elif lines_ok and parts_ok and data.discount > data.subtotal + data.shipping:
        errors["discount"] = (
            f"{shown(data.discount)} is more than the lines and shipping it discounts"
            f" ({shown(data.subtotal + data.shipping)}): the order would be worth less than nothing"
        )
    for i, payment in enumerate(data.payments):
        for name in ("amount", "captured_amount", "refunded_amount"):
            amount(f"payments.{i}.{name}", getattr(payment, name))
    for i, refund in enumerate(data.channel_refunds):
        amount(f"channel_refunds.{i}.amount", refund.amount)
    return errors


def expected_total(
    lines: int, shipping: int, tax: int, discount: int, *, taxes_included: bool
) -> int:
    """What an order's parts add up to: the rule the totals check holds an order to.

    With ``taxes_included`` the tax is already inside the line and shipping
    prices (Shopify's ``taxes_included``, WooCommerce's ``prices_include_tax``),
    so it is not added again.
    """
    return lines + shipping - discount + (0 if taxes_included else tax)


@dataclass(slots=True)
class ChannelRefund:
    """A refund the sales channel made itself (not through the hub's gateway).

    ``lines`` maps the channel's line id to the units refunded; recorded once
    per ``external_id`` on the order's timeline.
    """

    external_id: str
    amount: int
    created_at: datetime | None = None
    reason: str = ""
    lines: dict[str, int] = field(default_factory=dict)
    restock: bool = False


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


@dataclass(frozen=True)
class LineRevision:
    """How the lines a channel sends now differ from the lines stored.

    ``reduced`` maps the position of a stored line to its new (lower) owed
    quantity: units refunded or removed on the channel. ``edited`` is every
    other change (a line added, dropped, raised, re-priced or another SKU):
    what a person must look at once fulfilment has started. Tax, discount and
    names may change with a refund (Shopify re-spreads them) and count as
    neither.
    """

    reduced: dict[int, int]
    edited: bool
    #: The incoming line of each stored line, by the stored line's position
    #: (empty when ``edited``): the channel may send its lines in another order.
    matches: dict[int, Line] = field(default_factory=dict)


def _line_identity(line: Any, position: int) -> tuple[str, Any]:
    external = str(getattr(line, "external_id", "") or "")
    return ("external", external) if external else ("position", (position, line.sku))


def revise_lines(stored: list[Any], incoming: list[Line]) -> LineRevision:
    """Compare stored lines with a channel's new ones (see :class:`LineRevision`).

    Lines are matched by the channel's line id, or by position and SKU for
    lines without one; ``stored`` may be ORM rows with the same attributes.
    """
    edited = LineRevision({}, edited=True)
    old = {_line_identity(x, i): (i, x) for i, x in enumerate(stored)}
    new = {_line_identity(x, i): x for i, x in enumerate(incoming)}
    if old.keys() != new.keys() or len(old) != len(stored) or len(new) != len(incoming):
        return edited
    reduced: dict[int, int] = {}
    matches: dict[int, Line] = {}
    for key, (position, before) in old.items():
        after = matches[position] = new[key]
        if (after.sku, after.unit_price, bool(after.requires_shipping)) != (
            before.sku,
            before.unit_price,
            bool(before.requires_shipping),
        ):
            return edited
        if after.quantity > before.quantity:
            return edited
        if after.quantity < before.quantity:
            reduced[position] = after.quantity
    return LineRevision(reduced, edited=False, matches=matches)
