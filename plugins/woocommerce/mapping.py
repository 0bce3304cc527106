"""WooCommerce's order JSON (REST API v3) to the hub's canonical order.

The same mapping serves the pull (``GET /orders``), one order (``GET
/orders/<id>``) and the ``order.*`` webhooks, whose body is the order as
``/wc/v3/orders/<id>`` shows it. Rules worth knowing:

- **Money** comes as decimal strings in the order's ``currency`` (the store's),
  parsed exactly with ``Money.parse``. A line's ``price`` is a JSON number
  (the line total over its quantity, after discounts: ``3``, ``12``, or
  ``3.3333…``) and is never read; ``taxes[]`` per line may carry more decimals
  than the currency has (``"1.125"``) and is not read either: the line's
  rounded ``total_tax`` is.
- **Lines** are keyed by SKU; a line without one gets ``variation-<id>`` or
  ``product-<id>`` (``line-item-<id>`` when it has neither), stable and distinct,
  never matched to stock. The unit price is the line's ``subtotal`` (before
  coupons) over its quantity; when that does not divide (a tax-inclusive price
  stored net of tax), it is rounded up and the cents it adds are counted as the
  line's discount, so the line still adds up to WooCommerce's figure exactly.
  The line's discount is ``subtotal - total`` (what coupons took off).
- **Tax included** (``prices_include_tax``, the store's "prices entered with
  tax" setting): WooCommerce still reports every amount net of tax, with the tax
  beside it. The hub then shows prices as the customer saw them: each unit
  price, the shipping and the discount *with* their tax, ``taxes_included`` set,
  and ``tax`` the part of the total that is tax. Without it, net prices and the
  tax on top. Either way the parts add up to WooCommerce's ``total``.
- **Fees**: a positive fee line is a line of its own that ships nothing
  (``fee-<id>``); a negative one (a discount given as a fee) adds to the discount.
- **Refunds** (``refunds[]``, with their lines from ``GET /orders/<id>/refunds``):
  units refunded are no longer owed, so each line's quantity is what is still
  owed (``removed_quantity`` the rest), its tax loses what the refund took and
  its discount shrinks in step; every refund goes on the order's timeline once
  (:class:`~hub.core.order.ChannelRefund`). With units refunded, the order's
  total is the sum of what is still owed; a refund of money alone (a shipping
  refund, a goodwill gesture) is recorded and changes nothing that ships.
- **Status** (:data:`STATUS_RULES`): what the hub does with an order in each
  WooCommerce status. Orders awaiting payment wait; cancelled, refunded and
  trashed ones cancel the hub's order.
- ``date_modified_gmt`` orders updates (the hub ignores one not newer than what
  it holds); ``date_created_gmt`` is when it was placed. WooCommerce writes
  these without an offset: they are UTC.
"""

from __future__ import annotations

from collections.abc import Iterable, Mapping
from dataclasses import dataclass
from datetime import UTC, datetime
from enum import StrEnum
from typing import Any

from hub.core.exceptions import ValidationError
from hub.core.order import Address, ChannelRefund, Customer, Line, OrderData, PaymentData
from hub.core.status import FinancialStatus, PaymentStatus
from hub.integration.fields import minor_units, utc_timestamp


class Handling(StrEnum):
    """What the hub does with a WooCommerce order, by its status."""

    #: Stored and fulfilled (or kept up to date).
    IMPORT = "import"
    #: Not stored yet: payment has not come in. The order is seen again once it
    #: changes (its ``date_modified`` moves), by the next pull or webhook.
    WAIT = "wait"
    #: Stored as cancelled: the hub cancels its order if it may still (not shipped).
    CANCEL = "cancel"


@dataclass(frozen=True)
class StatusRule:
    handling: Handling
    #: What the hub shows as the channel's financial status when it holds no payment.
    financial: str
    #: ``on-hold`` is imported when the order names a payment the hub captures
    #: (an authorisation WooCommerce's Stripe gateway put on hold), else it waits.
    import_with_payment: bool = False


#: WooCommerce's order statuses (``wc-`` prefix dropped, as the REST API shows them).
STATUS_RULES: dict[str, StatusRule] = {
    # Checkout started, no payment yet (or an abandoned cart).
    "pending": StatusRule(Handling.WAIT, FinancialStatus.PENDING),
    # Awaiting payment confirmation (bank transfer, cheque; an authorisation to capture).
    "on-hold": StatusRule(Handling.WAIT, FinancialStatus.AUTHORIZED, import_with_payment=True),
    # Paid, to be fulfilled.
    "processing": StatusRule(Handling.IMPORT, FinancialStatus.PAID),
    # Fulfilled (by the hub's push, or by hand).
    "completed": StatusRule(Handling.IMPORT, FinancialStatus.PAID),
    "cancelled": StatusRule(Handling.CANCEL, FinancialStatus.VOIDED),
    "refunded": StatusRule(Handling.CANCEL, FinancialStatus.REFUNDED),
    # Payment declined: the customer may still pay (the order goes back to pending).
    "failed": StatusRule(Handling.WAIT, FinancialStatus.FAILED),
    # Moved to the bin (``order.deleted`` webhook).
    "trash": StatusRule(Handling.CANCEL, FinancialStatus.VOIDED),
}

#: A status a plugin or the merchant added (``wc-shipped``, ``wc-awaiting-pickup`` …):
#: counted as paid and imported, as WooCommerce's own reports treat custom statuses.
CUSTOM_STATUS = StatusRule(Handling.IMPORT, FinancialStatus.PAID)


def status_rule(status: Any) -> StatusRule:
    return STATUS_RULES.get(_text(status).lower().removeprefix("wc-"), CUSTOM_STATUS)


def handling(order: Mapping[str, Any], payment_meta: str = "") -> Handling:
    """What the hub does with this order now (see :data:`STATUS_RULES`)."""
    rule = status_rule(order.get("status"))
    if rule.import_with_payment and payment_reference(order, payment_meta):
        return Handling.IMPORT
    return rule.handling


def parse_time(value: Any) -> datetime | None:
    """A WooCommerce timestamp as an aware UTC datetime (None when missing)."""
    return utc_timestamp(value, "WooCommerce")


def format_time(value: datetime) -> str:
    """An aware datetime as WooCommerce's ``*_after`` filters take it with ``dates_are_gmt``."""
    return value.astimezone(UTC).strftime("%Y-%m-%dT%H:%M:%S")


def minor(value: Any, currency: str) -> int:
    """Minor units of a WooCommerce money string; a missing amount is zero."""
    return minor_units(value, currency)


def _text(value: Any) -> str:
    return "" if value is None else str(value).strip()


def _person(first: Any, last: Any) -> str:
    return " ".join(p for p in (_text(first), _text(last)) if p)


def _meta(items: Any, key: str) -> str:
    for item in items or []:
        if isinstance(item, Mapping) and _text(item.get("key")) == key:
            return _text(item.get("value"))
    return ""


def address(data: Mapping[str, Any] | None, *, phone: str = "") -> Address | None:
    """A billing or shipping address; None when WooCommerce left it blank (a virtual order)."""
    if not data:
        return None
    found = Address(
        name=_person(data.get("first_name"), data.get("last_name")),
        company=_text(data.get("company")),
        address1=_text(data.get("address_1")),
        address2=_text(data.get("address_2")),
        city=_text(data.get("city")),
        # WooCommerce keeps the state's code ("CA", "RJ") and the country's ISO code only.
        province_code=_text(data.get("state")),
        zip=_text(data.get("postcode")),
        country_code=_text(data.get("country")).upper(),
        phone=_text(data.get("phone")) or phone,
    )
    if not (found.address1 or found.city or found.country_code or found.zip):
        return None
    return found


def customer(order: Mapping[str, Any]) -> Customer:
    billing = order.get("billing") or {}
    shipping = order.get("shipping") or {}
    customer_id = order.get("customer_id")
    return Customer(
        email=_text(billing.get("email")),
        name=_person(billing.get("first_name"), billing.get("last_name"))
        or _person(shipping.get("first_name"), shipping.get("last_name")),
        phone=_text(billing.get("phone")) or _text(shipping.get("phone")),
        # 0: a guest checkout.
        external_id=str(customer_id) if customer_id not in (None, "", 0, "0") else "",
    )


def line_sku(item: Mapping[str, Any]) -> str:
    """The hub's SKU for a line item: its SKU, else a stable stand-in (see module doc)."""
    sku = _text(item.get("sku"))
    if sku:
        return sku
    if item.get("variation_id"):
        return f"variation-{item['variation_id']}"
    if item.get("product_id"):
        return f"product-{item['product_id']}"
    return f"line-item-{item.get('id')}"


def _quantity(item: Mapping[str, Any]) -> int:
    value = item.get("quantity")
    if not isinstance(value, int) or isinstance(value, bool) or value <= 0:
        raise ValidationError(f"line item {item.get('id')} has no whole quantity ({value!r})")
    return value


@dataclass(frozen=True)
class Refunded:
    """What the order's refunds took back from one line item."""

    units: int = 0
    tax: int = 0


def refunded_per_line(refunds: Iterable[Mapping[str, Any]], currency: str) -> dict[str, Refunded]:
    """Units and tax refunded per line item id, from ``GET /orders/<id>/refunds``.

    A refund's line items point at the order's line with the ``_refunded_item_id``
    meta and carry negative quantities and amounts.
    """
    out: dict[str, Refunded] = {}
    for refund in refunds:
        for item in refund.get("line_items") or []:
            key = _meta(item.get("meta_data"), "_refunded_item_id")
            if not key:
                continue
            units = abs(int(item.get("quantity") or 0))
            tax = abs(minor(item.get("total_tax"), currency))
            was = out.get(key, Refunded())
            out[key] = Refunded(was.units + units, was.tax + tax)
    return out


def line(
    item: Mapping[str, Any], currency: str, *, taxes_included: bool, refunded: Refunded
) -> Line:
    ordered = _quantity(item)
    subtotal, total = minor(item.get("subtotal"), currency), minor(item.get("total"), currency)
    subtotal_tax = minor(item.get("subtotal_tax"), currency)
    tax = minor(item.get("total_tax"), currency)
    if taxes_included:
        subtotal, total = subtotal + subtotal_tax, total + tax
    unit = -(-subtotal // ordered)  # rounded up: the cents it adds go to the discount
    discount = subtotal - total + (unit * ordered - subtotal)
    owed = ordered - min(refunded.units, ordered)
    if owed < ordered:
        discount = discount * owed // ordered
        tax = max(0, tax - refunded.tax)
    return Line(
        sku=line_sku(item),
        name=_text(item.get("name")) or line_sku(item),
        quantity=owed,
        unit_price=unit,
        tax=tax,
        discount=discount,
        external_id=_text(item.get("id")),
        removed_quantity=ordered - owed,
    )


def fee_line(fee: Mapping[str, Any], currency: str, *, taxes_included: bool) -> Line:
    amount = minor(fee.get("total"), currency)
    tax = minor(fee.get("total_tax"), currency)
    return Line(
        sku=f"fee-{fee.get('id')}",
        name=_text(fee.get("name")) or "Fee",
        quantity=1,
        unit_price=amount + (tax if taxes_included else 0),
        tax=tax,
        external_id=f"fee-{fee.get('id')}",
        requires_shipping=False,
    )


def channel_refunds(
    order: Mapping[str, Any], refunds: Iterable[Mapping[str, Any]] | None, currency: str
) -> list[ChannelRefund]:
    """Each refund WooCommerce made, once: with its lines when ``refunds`` (the full list) is known."""
    full = {str(r.get("id")): r for r in refunds or [] if r.get("id")}
    out = []
    for summary in order.get("refunds") or []:
        refund_id = _text(summary.get("id"))
        if not refund_id:
            continue
        detail = full.get(refund_id, {})
        units: dict[str, int] = {}
        for item in detail.get("line_items") or []:
            key = _meta(item.get("meta_data"), "_refunded_item_id")
            if key:
                units[key] = units.get(key, 0) + abs(int(item.get("quantity") or 0))
        amount = (
            minor(detail["amount"], currency)
            if detail.get("amount") not in (None, "")
            else abs(minor(summary.get("total"), currency))
        )
        out.append(
            ChannelRefund(
                external_id=refund_id,
                amount=abs(amount),
                lines=units,
                reason=_text(detail.get("reason")) or _text(summary.get("reason")),
                created_at=parse_time(detail.get("date_created_gmt")),
            )
        )
    return out


def payment_reference(order: Mapping[str, Any], meta_key: str) -> str:
    """The id of the payment the hub captures, from the order meta ``meta_key`` (when configured)."""
    return _meta(order.get("meta_data"), meta_key) if meta_key else ""


def order_from_woocommerce(
    order: Mapping[str, Any],
    *,
    refunds: Iterable[Mapping[str, Any]] | None = None,
    payment_meta: str = "",
) -> OrderData:
    """Map one WooCommerce order; raises ValidationError (naming the order) when it cannot be read.

    :param refunds: the order's refunds as ``GET /orders/<id>/refunds`` lists them
        (with their lines); None when the order has none or they were not read.
    :param payment_meta: the order meta key holding the id of a payment the hub
        captures (the channel's ``payment_reference_meta``).
    """
    order_id = order.get("id")
    if not order_id:
        raise ValidationError("WooCommerce order without an id")
    currency = _text(order.get("currency")).upper()
    number = _text(order.get("number")) or str(order_id)
    try:
        if not currency:
            raise ValidationError("it has no currency")
        included = bool(order.get("prices_include_tax"))
        refunds = list(refunds or [])
        per_line = refunded_per_line(refunds, currency)
        lines = [
            line(
                item,
                currency,
                taxes_included=included,
                refunded=per_line.get(_text(item.get("id")), Refunded()),
            )
            for item in order.get("line_items") or []
        ]
        fee_discount = 0
        for fee in order.get("fee_lines") or []:
            if minor(fee.get("total"), currency) >= 0:
                lines.append(fee_line(fee, currency, taxes_included=included))
            else:
                fee_discount -= minor(fee.get("total"), currency) + (
                    minor(fee.get("total_tax"), currency) if included else 0
                )
        shipping = sum(
            minor(s.get("total"), currency)
            + (minor(s.get("total_tax"), currency) if included else 0)
            for s in order.get("shipping_lines") or []
        )
        units_refunded = any(x.removed_quantity for x in lines)
        if units_refunded:
            # What is still owed, from the parts (see the module doc).
            tax = (
                sum(x.tax for x in lines)
                + sum(
                    minor(s.get("total_tax"), currency) for s in order.get("shipping_lines") or []
                )
                + sum(
                    minor(f.get("total_tax"), currency)
                    for f in order.get("fee_lines") or []
                    if minor(f.get("total"), currency) < 0
                )
            )
            total = None
        else:
            tax = minor(order.get("total_tax"), currency)
            total = minor(order.get("total"), currency)
        rule = status_rule(order.get("status"))
        reference = payment_reference(order, payment_meta)
        financial = rule.financial
        if refunds and rule.handling is Handling.IMPORT:
            financial = FinancialStatus.PARTIALLY_REFUNDED
        data = OrderData(
            external_id=str(order_id),
            number=f"#{number}" if number.isdigit() else number,
            currency=currency,
            customer=customer(order),
            shipping_address=address(order.get("shipping")),
            billing_address=address(order.get("billing")),
            lines=lines,
            shipping=shipping,
            tax=tax,
            discount=sum(x.discount for x in lines) + fee_discount,
            total=total,
            taxes_included=included,
            channel_refunds=channel_refunds(order, refunds, currency),
            placed_at=parse_time(order.get("date_created_gmt")),
            updated_at=parse_time(order.get("date_modified_gmt")),
            notes=_text(order.get("customer_note")),
            shipping_method=" + ".join(
                _text(s.get("method_title")) or _text(s.get("method_id"))
                for s in order.get("shipping_lines") or []
                if _text(s.get("method_title")) or _text(s.get("method_id"))
            ),
            cancelled=rule.handling is Handling.CANCEL,
            cancel_reason=(
                f"{_text(order.get('status'))} on WooCommerce"
                if rule.handling is Handling.CANCEL
                else ""
            ),
            channel_financial_status=financial,
        )
        if reference and rule.handling is not Handling.CANCEL:
            amount = data.total if data.total is not None else data.computed_total
            captured = rule.handling is Handling.IMPORT and not rule.import_with_payment
            data.payments = [
                PaymentData(
                    reference=reference,
                    amount=amount,
                    status=PaymentStatus.CAPTURED if captured else PaymentStatus.AUTHORIZED,
                    captured_amount=amount if captured else 0,
                )
            ]
        data.check()
    except ValidationError as exc:
        raise ValidationError(
            f"WooCommerce order {order_id} (#{number}) cannot be read: {exc.message}",
            details=exc.details,
        ) from exc
    return data
