"""Shopify's order JSON to the hub's canonical order, and back the little the hub sends.

The same mapping serves the pull (``orders.json``), one order
(``orders/{id}.json``) and the ``orders/*`` webhooks, whose body is the order
itself. Rules worth knowing:

- Money: Shopify sends decimal strings (``"409.94"``) in the order's
  ``currency`` (the shop's currency; ``presentment_currency`` is what the
  buyer saw and is not used). They are parsed exactly with ``Money.parse``,
  so JPY has no decimals and an amount with too many decimals is refused,
  never rounded. ``total_price`` is kept as the order's total as Shopify
  computed it (tax-inclusive shops included).
- Lines are keyed by SKU. A line item without a SKU gets
  ``variant-<variant_id>`` (or ``line-item-<id>`` for a custom item with no
  variant), so it is still a distinct, stable line; stock is only ever
  matched on real SKUs.
- Line tax is the sum of its ``tax_lines``; line discount the sum of its
  ``discount_allocations`` (``total_discount`` when there are none); order
  shipping the sum of ``shipping_lines[].price``.
- With ``payment_attribute`` (the channel's ``payment_reference_attribute``),
  the note attribute of that name holds the id of the payment the checkout
  authorised at a gateway (a Stripe PaymentIntent): the order carries it as a
  payment of its total, which the hub captures through the sales channel's
  payment channel. That is a storefront convention (the demo's), not
  something Shopify does on its own.
- ``cancelled_at`` set -> cancelled; ``financial_status`` is kept as the
  channel's own status; ``test`` -> is_test; ``updated_at`` orders updates
  (the hub ignores one older than what it holds).
- What is owed, not what was ordered: a line's ``quantity`` stays as ordered
  after a refund or an order edit; ``current_quantity`` is what is still
  owed, and that is the hub's line quantity (``removed_quantity`` the rest).
  The order's totals are then Shopify's ``current_*`` ones, which count the
  same units. A line with ``requires_shipping: false`` (gift card, digital
  good) never goes to a warehouse.
- ``taxes_included``: the shop's prices contain the tax (EU, UK, AU shops);
  the total is lines + shipping − discounts, ``total_tax`` being the part of
  it that is tax.
- ``refunds[]``: each refund Shopify made (its successful ``refund``
  transactions, its ``refund_line_items``) goes on the order's timeline once.
"""

from __future__ import annotations

from collections.abc import Iterable, Mapping
from datetime import UTC, datetime
from typing import Any

from hub.core.exceptions import ValidationError
from hub.core.order import (
    Address,
    ChannelRefund,
    Customer,
    Line,
    OrderData,
    PaymentData,
    coordinates,
)
from hub.integration.fields import minor_units, utc_timestamp

#: The order fields a pull asks for (``fields=``): less JSON over the wire.
ORDER_FIELDS = (
    "id",
    "name",
    "order_number",
    "email",
    "contact_email",
    "phone",
    "currency",
    "total_price",
    "subtotal_price",
    "total_tax",
    "total_discounts",
    "taxes_included",
    "financial_status",
    "fulfillment_status",
    "line_items",
    "shipping_lines",
    "shipping_address",
    "billing_address",
    "customer",
    "cancelled_at",
    "cancel_reason",
    "created_at",
    "processed_at",
    "updated_at",
    "test",
    "tags",
    "note",
    "note_attributes",
    "current_total_price",
    "current_total_tax",
    "current_total_discounts",
    "refunds",
)

#: Shopify ``financial_status`` -> the status of a payment the order names (see ``payments``).
PAYMENT_STATUSES = {"pending": "pending", "authorized": "authorized", "voided": "voided"}


def parse_time(value: Any) -> datetime | None:
    """A Shopify timestamp as an aware UTC datetime (None when missing)."""
    return utc_timestamp(value, "Shopify")


def format_time(value: datetime) -> str:
    """An aware datetime as Shopify's filters take it: ISO 8601 with an offset."""
    return value.astimezone(UTC).isoformat(timespec="seconds")


def minor(value: Any, currency: str) -> int:
    """Minor units of a Shopify money string; a missing amount is zero."""
    return minor_units(value, currency)


def _sum(values: Iterable[Any], currency: str) -> int:
    return sum(minor(v, currency) for v in values)


def _text(value: Any) -> str:
    return "" if value is None else str(value).strip()


def _person(first: Any, last: Any) -> str:
    return " ".join(p for p in (_text(first), _text(last)) if p)


def address(data: Mapping[str, Any] | None) -> Address | None:
    if not data:
        return None
    # Shopify geocodes the addresses it takes: where it placed this one (null when it
    # could not) saves the hub a lookup, and is surer than the hub's offline tables.
    point = coordinates(data.get("latitude"), data.get("longitude"))
    return Address(
        name=_text(data.get("name")) or _person(data.get("first_name"), data.get("last_name")),
        company=_text(data.get("company")),
        address1=_text(data.get("address1")),
        address2=_text(data.get("address2")),
        city=_text(data.get("city")),
        province=_text(data.get("province")),
        province_code=_text(data.get("province_code")),
        zip=_text(data.get("zip")),
        country=_text(data.get("country")),
        country_code=_text(data.get("country_code")),
        phone=_text(data.get("phone")),
        latitude=point[0] if point else None,
        longitude=point[1] if point else None,
    )


def line_sku(item: Mapping[str, Any]) -> str:
    """The hub's SKU for a line item: its SKU, else a stable stand-in (see module doc)."""
    sku = _text(item.get("sku"))
    if sku:
        return sku
    if item.get("variant_id"):
        return f"variant-{item['variant_id']}"
    return f"line-item-{item.get('id')}"


def _whole(item: Mapping[str, Any], name: str) -> int:
    value = item.get(name)
    if not isinstance(value, int) or isinstance(value, bool) or value < 0:
        raise ValidationError(f"line item {item.get('id')} has no whole {name} ({value!r})")
    return value


def line(item: Mapping[str, Any], currency: str) -> Line:
    ordered = _whole(item, "quantity")
    # Older API versions and some apps' payloads have no current_quantity: nothing was taken off.
    owed = _whole(item, "current_quantity") if item.get("current_quantity") is not None else ordered
    if owed > ordered:
        raise ValidationError(f"line item {item.get('id')} owes {owed} of {ordered} ordered")
    allocations = item.get("discount_allocations") or []
    discount = (
        _sum((a.get("amount") for a in allocations), currency)
        if allocations
        else minor(item.get("total_discount"), currency)
    )
    return Line(
        sku=line_sku(item),
        name=_text(item.get("name")) or _text(item.get("title")) or line_sku(item),
        quantity=owed,
        unit_price=minor(item.get("price"), currency),
        tax=_sum((t.get("price") for t in item.get("tax_lines") or []), currency),
        discount=discount,
        external_id=_text(item.get("id")),
        requires_shipping=item.get("requires_shipping") is not False,
        removed_quantity=ordered - owed,
        product_id=_text(item.get("product_id")),
    )


def customer(order: Mapping[str, Any]) -> Customer:
    c = order.get("customer") or {}
    ship = order.get("shipping_address") or {}
    bill = order.get("billing_address") or {}
    name = (
        _person(c.get("first_name"), c.get("last_name"))
        or _text(bill.get("name"))
        or _text(ship.get("name"))
    )
    return Customer(
        email=_text(order.get("email"))
        or _text(order.get("contact_email"))
        or _text(c.get("email")),
        name=name,
        phone=(
            _text(order.get("phone"))
            or _text(c.get("phone"))
            or _text(ship.get("phone"))
            or _text(bill.get("phone"))
        ),
        external_id=_text(c.get("id")),
    )


def payments(
    order: Mapping[str, Any], attribute: str, currency: str, total: int | None
) -> list[PaymentData]:
    """The payment the note attribute ``attribute`` names, if the order has one (see module doc)."""
    if not attribute:
        return []
    reference = next(
        (
            _text(a.get("value"))
            for a in order.get("note_attributes") or []
            if isinstance(a, Mapping) and _text(a.get("name")) == attribute
        ),
        "",
    )
    if not reference or total is None:
        return []
    status = PAYMENT_STATUSES.get(_text(order.get("financial_status")), "captured")
    return [
        PaymentData(
            reference=reference,
            amount=total,
            status=status,
            captured_amount=total if status == "captured" else 0,
        )
    ]


def refunds(order: Mapping[str, Any], currency: str) -> list[ChannelRefund]:
    """The refunds Shopify made on the order: money from successful refund transactions, units per line item."""
    out = []
    for refund in order.get("refunds") or []:
        if not isinstance(refund, Mapping) or not refund.get("id"):
            continue
        amount = _sum(
            (
                t.get("amount")
                for t in refund.get("transactions") or []
                if t.get("kind") == "refund" and t.get("status") == "success"
            ),
            currency,
        )
        units: dict[str, int] = {}
        for item in refund.get("refund_line_items") or []:
            key = _text(item.get("line_item_id"))
            units[key] = units.get(key, 0) + int(item.get("quantity") or 0)
        out.append(
            ChannelRefund(
                external_id=str(refund["id"]),
                amount=amount,
                lines=units,
                reason=_text(refund.get("note")),
                created_at=parse_time(refund.get("processed_at"))
                or parse_time(refund.get("created_at")),
                restock=bool(refund.get("restock"))
                or any(
                    item.get("restock_type") not in (None, "", "no_restock")
                    for item in refund.get("refund_line_items") or []
                ),
            )
        )
    return out


def _current(order: Mapping[str, Any], name: str) -> Any:
    """``current_<name>`` when Shopify sent it (what is owed after refunds and edits), else ``<name>``."""
    value = order.get(f"current_{name}")
    return order.get(name) if value in (None, "") else value


def order_from_shopify(order: Mapping[str, Any], *, payment_attribute: str = "") -> OrderData:
    """Map one Shopify order; raises ValidationError (naming the order) when it cannot be read."""
    order_id = order.get("id")
    if not order_id:
        raise ValidationError("Shopify order without an id")
    currency = _text(order.get("currency")).upper()
    try:
        if not currency:
            raise ValidationError("it has no currency")
        shipping = _sum((s.get("price") for s in order.get("shipping_lines") or []), currency)
        data = OrderData(
            external_id=str(order_id),
            number=_text(order.get("name")) or _text(order.get("order_number")) or str(order_id),
            currency=currency,
            customer=customer(order),
            shipping_address=address(order.get("shipping_address")),
            billing_address=address(order.get("billing_address")),
            lines=[line(item, currency) for item in order.get("line_items") or []],
            shipping=shipping,
            tax=minor(_current(order, "total_tax"), currency),
            discount=minor(_current(order, "total_discounts"), currency),
            total=(
                minor(_current(order, "total_price"), currency)
                if _current(order, "total_price") not in (None, "")
                else None
            ),
            taxes_included=bool(order.get("taxes_included")),
            channel_refunds=refunds(order, currency),
            placed_at=parse_time(order.get("processed_at")) or parse_time(order.get("created_at")),
            updated_at=parse_time(order.get("updated_at")),
            tags=[t.strip() for t in _text(order.get("tags")).split(",") if t.strip()],
            notes=_text(order.get("note")),
            shipping_method=" + ".join(
                _text(s.get("title")) or _text(s.get("code"))
                for s in order.get("shipping_lines") or []
                if _text(s.get("title")) or _text(s.get("code"))
            ),
            locale=_text(order.get("customer_locale")),
            cancelled=order.get("cancelled_at") not in (None, ""),
            cancel_reason=_text(order.get("cancel_reason")),
            channel_financial_status=_text(order.get("financial_status")),
            is_test=bool(order.get("test")),
        )
        data.payments = payments(order, payment_attribute, currency, data.total)
        data.check()
    except ValidationError as exc:
        raise ValidationError(
            f"Shopify order {order_id} ({order.get('name') or 'no name'}) "
            f"cannot be read: {exc.message}",
            details=exc.details,
        ) from exc
    return data
