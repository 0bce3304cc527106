"""ShipStation V1 shapes to and from the hub's: dates, orders, shipments, tracking links.

Pure functions, no I/O: the connector and the sandbox both use them, and the
unit tests pin them.

Dates
-----
ShipStation V1 writes dates without a zone and with a 7-digit fraction
(``"2018-04-16T00:00:00.0000000"``). ShipStation's V1 clients and integrators
all read them as US Pacific time (the company's own zone, with daylight saving):
so does the hub, as ``America/Los_Angeles``. The hub sends dates the same way
(Pacific, no zone). Parsing is exact: the fraction is read as digits, never as
a float, and the 7th digit (100 ns) is dropped, so ``.9999999`` is always
``999999`` µs. In the hour that repeats when daylight saving ends, a time is
read as its first occurrence (PDT; ``fold=0``).
"""

from __future__ import annotations

import re
from collections import Counter
from datetime import UTC, date, datetime, timedelta, timezone
from decimal import ROUND_HALF_UP, Decimal
from typing import Any
from urllib.parse import quote
from zoneinfo import ZoneInfo

from hub.core.exceptions import ValidationError
from hub.core.money import Money
from hub.core.order import ShipmentData
from hub.integration.connectors import Parcel, RateOption, ShipmentNotice, ShippingOrder

#: The zone of every ShipStation V1 date (see the module docstring).
SHIPSTATION_TZ = ZoneInfo("America/Los_Angeles")

ORDER_NUMBER_MAX = 50
BULK_MAX = 100

_DATE_RE = re.compile(
    r"^(?P<y>\d{4})-(?P<mo>\d{2})-(?P<d>\d{2})"
    r"(?:[T ](?P<h>\d{2}):(?P<mi>\d{2})(?::(?P<s>\d{2})(?:\.(?P<f>\d{1,7}))?)?)?"
    r"(?P<z>Z|[+-]\d{2}:?\d{2})?$"
)


# --- dates -----------------------------------------------------------------------------


def parse_datetime(value: str | None) -> datetime | None:
    """A ShipStation date as an aware UTC datetime (None for null or empty).

    Accepts the V1 form (``2018-04-16T00:00:00.0000000``), shorter fractions,
    a bare date, and — should ShipStation ever send one — an explicit zone.

    :raises ValidationError: text that is not such a date.
    """
    if value is None or str(value).strip() == "":
        return None
    m = _DATE_RE.match(str(value).strip())
    if m is None:
        raise ValidationError(
            f"ShipStation date {value!r} is not a date", details={"date": str(value)}
        )
    fraction = (m["f"] or "").ljust(7, "0")
    micro = int(fraction[:6])  # 100 ns digit dropped: truncation, never rounding
    zone = _zone(m["z"]) if m["z"] else SHIPSTATION_TZ
    try:
        local = datetime(
            int(m["y"]),
            int(m["mo"]),
            int(m["d"]),
            int(m["h"] or 0),
            int(m["mi"] or 0),
            int(m["s"] or 0),
            micro,
            tzinfo=zone,
            fold=0,
        )
    except ValueError as exc:
        raise ValidationError(
            f"ShipStation date {value!r} is not a date: {exc}", details={"date": str(value)}
        ) from None
    return local.astimezone(UTC)


def _zone(text: str) -> timezone:
    if text == "Z":
        return UTC
    sign = -1 if text[0] == "-" else 1
    digits = text[1:].replace(":", "")
    return timezone(sign * timedelta(hours=int(digits[:2]), minutes=int(digits[2:])))


def format_datetime(value: datetime) -> str:
    """An aware datetime as ShipStation writes one: Pacific, no zone, 7-digit fraction."""
    if value.tzinfo is None:
        raise ValueError("format_datetime needs an aware datetime")
    local = value.astimezone(SHIPSTATION_TZ)
    return local.strftime("%Y-%m-%dT%H:%M:%S.") + f"{local.microsecond:06d}0"


def format_query_datetime(value: datetime) -> str:
    """A window start for list filters: Pacific, whole seconds rounded down (never later)."""
    return value.astimezone(SHIPSTATION_TZ).strftime("%Y-%m-%d %H:%M:%S")


def pacific_date(value: datetime) -> date:
    return value.astimezone(SHIPSTATION_TZ).date()


# --- orders out ----------------------------------------------------------------------------


def amount(money: Money) -> float:
    """A JSON number for an amount. Decimal -> float -> JSON repr is exact for money:
    any decimal of up to 15 significant digits comes back as the same digits."""
    return float(money.to_decimal())


def _address(data: dict[str, Any] | None, *, name: str = "", phone: str = "") -> dict[str, Any]:
    data = data or {}

    def val(key: str) -> str | None:
        text = str(data.get(key) or "").strip()
        return text or None

    return {
        "name": val("name") or name or None,
        "company": val("company"),
        "street1": val("address1"),
        "street2": val("address2"),
        "street3": None,
        "city": val("city"),
        "state": val("province_code") or val("province"),
        "postalCode": val("zip"),
        "country": val("country_code") or val("country"),
        "phone": val("phone") or phone or None,
        "residential": None,
    }


def order_number(order: dict[str, Any], key: str) -> str:
    """The hub's order number, plus ``-N`` for the N-th group of a split order; ≤ 50 chars."""
    number = str(order.get("number") or order.get("id") or key)
    base = f"hub-{order.get('id')}"
    suffix = key[len(base) :] if key.startswith(base + "-") else ""
    return number[: ORDER_NUMBER_MAX - len(suffix)] + suffix


def _group_share(total: Money, group_value: int, order_value: int) -> Money:
    """This group's part of an order-level amount, in proportion to its lines' value.

    An order in one group carries the whole amount; a split order's groups
    each carry their share (each within one minor unit of the exact part).
    """
    rest = max(0, order_value - group_value)
    if rest == 0:
        return total
    if group_value == 0:
        return Money(0, total.currency)
    return total.allocate([group_value, rest])[0]


#: OrderItem fields the hub does not know, as an item states them (``adjustment``: a real item).
ITEM_UNSET: dict[str, Any] = {
    "imageUrl": None,
    "weight": None,
    "taxAmount": None,
    "shippingAmount": None,
    "warehouseLocation": None,
    "options": [],
    "productId": None,
    "fulfillmentSku": None,
    "adjustment": False,
    "upc": None,
}


def order_payload(item: ShippingOrder, *, store_id: int | None = None) -> dict[str, Any]:
    """The full ShipStation order for one fulfilment group (``createorder`` is an upsert)."""
    order = item.order
    currency = order["currency"]

    def money(text: Any) -> Money:
        return Money.parse(str(text if text is not None else "0"), currency)

    order_value = sum(
        money(line["unit_price"]).amount * int(line["quantity"]) for line in order["lines"]
    )
    group_value = sum(
        money(line["unit_price"]).amount * int(line["quantity"]) for line in item.lines
    )

    def share(text: Any) -> float:
        return amount(_group_share(money(text), group_value, order_value))

    placed = order.get("placed_at") or order.get("created_at")
    placed_at = datetime.fromisoformat(placed) if placed else datetime.now(UTC)
    if placed_at.tzinfo is None:
        placed_at = placed_at.replace(tzinfo=UTC)
    customer = order.get("customer") or {}
    email = (customer.get("email") or order.get("email") or "") or None
    ship_to = _address(
        order.get("shipping_address"),
        name=customer.get("name") or "",
        phone=customer.get("phone") or "",
    )
    bill_source = order.get("billing_address") or order.get("shipping_address")
    bill_to = _address(
        bill_source, name=customer.get("name") or "", phone=customer.get("phone") or ""
    )
    advanced: dict[str, Any] = {"customField1": f"hub order {order.get('id')}"}
    if item.location_code:
        advanced["customField2"] = f"location {item.location_code}"
    if store_id:
        advanced["storeId"] = int(store_id)
    service = _service_fields(item)
    return {
        "orderKey": item.key,
        "orderNumber": order_number(order, item.key),
        "orderDate": format_datetime(placed_at),
        "orderStatus": item.status,
        "customerUsername": email,
        "customerEmail": email,
        "billTo": bill_to,
        "shipTo": ship_to,
        "items": [
            {
                "lineItemKey": str(line["line_id"]),
                "sku": line.get("sku") or None,
                "name": line.get("name") or line.get("sku") or f"line {line['line_id']}",
                "quantity": int(line["quantity"]),
                "unitPrice": amount(money(line["unit_price"])),
                # The rest of ShipStation's OrderItem, which its createorder schema
                # lists as required: said explicitly, the hub has none of them.
                **ITEM_UNSET,
            }
            for line in item.lines
        ],
        "amountPaid": share(order.get("total")),
        "taxAmount": share(order.get("tax")),
        "shippingAmount": share(order.get("shipping")),
        "customerNotes": order.get("notes") or None,
        "advancedOptions": advanced,
        **service,
    }


def _service_fields(item: ShippingOrder) -> dict[str, Any]:
    """The carrier service the hub's rules chose, what the customer asked for, and the parcel.

    ``requestedShippingService`` is the customer's choice as the cart gave it;
    ``carrierCode``/``serviceCode`` preset the label's service; weight in grams
    and dimensions in centimetres (units ShipStation's Weight and Dimensions take).
    """
    out: dict[str, Any] = {"requestedShippingService": item.requested_service or None}
    if item.carrier_code and item.service_code:
        out["carrierCode"] = item.carrier_code
        out["serviceCode"] = item.service_code
    if item.weight_grams:
        out["weight"] = {"value": item.weight_grams, "units": "grams"}
    if item.dimensions_mm:
        length, width, height = item.dimensions_mm
        out["dimensions"] = {
            "length": length / 10,
            "width": width / 10,
            "height": height / 10,
            "units": "centimeters",
        }
    return out


# --- shipments in -------------------------------------------------------------------------------

#: carrierCode -> (name shown to people, tracking page with ``{}`` for the number).
CARRIERS: dict[str, tuple[str, str]] = {
    "ups": ("UPS", "https://www.ups.com/track?tracknum={}"),
    "ups_walleted": ("UPS", "https://www.ups.com/track?tracknum={}"),
    "fedex": ("FedEx", "https://www.fedex.com/fedextrack/?trknbr={}"),
    "fedex_walleted": ("FedEx", "https://www.fedex.com/fedextrack/?trknbr={}"),
    "usps": ("USPS", "https://tools.usps.com/go/TrackConfirmAction?tLabels={}"),
    "stamps_com": ("USPS", "https://tools.usps.com/go/TrackConfirmAction?tLabels={}"),
    "endicia": ("USPS", "https://tools.usps.com/go/TrackConfirmAction?tLabels={}"),
    "dhl_express": (
        "DHL Express",
        "https://www.dhl.com/global-en/home/tracking/tracking-express.html?submit=1&tracking-id={}",
    ),
    "dhl_express_worldwide": (
        "DHL Express",
        "https://www.dhl.com/global-en/home/tracking/tracking-express.html?submit=1&tracking-id={}",
    ),
    "dhl_express_walleted": (
        "DHL Express",
        "https://www.dhl.com/global-en/home/tracking/tracking-express.html?submit=1&tracking-id={}",
    ),
}


def carrier_and_url(carrier_code: str | None, tracking_number: str | None) -> tuple[str, str]:
    """The carrier's name and, for the major carriers, the public tracking page."""
    code = (carrier_code or "").strip().lower()
    known = CARRIERS.get(code)
    if known is None:
        return (carrier_code or ""), ""
    name, template = known
    return name, (template.format(quote(tracking_number, safe="")) if tracking_number else "")


def _line_key(item: dict[str, Any]) -> int | str | None:
    key = str(item.get("lineItemKey") or "").strip()
    if key.isdigit():
        return int(key)  # the hub line id the order was sent with
    return (item.get("sku") or "").strip() or None


def shipment_lines(items: list[dict[str, Any]] | None) -> dict[int | str, int]:
    """Units per hub line (``lineItemKey``, else SKU) of ShipStation items.

    Adjustment items (``adjustment: true``, e.g. a ``"10% OFF"`` line with a
    negative price) are money, not goods: they ship nothing. ``None`` (items
    not reported) gives ``{}``, which the hub reads as "what is still open in
    the group".
    """
    lines: Counter = Counter()
    for item in items or []:
        if not isinstance(item, dict) or item.get("adjustment"):
            continue
        line = _line_key(item)
        qty = int(item.get("quantity") or 0)
        if line is not None and qty > 0:
            lines[line] += qty
    return dict(lines)


def is_voided(shipment: dict[str, Any]) -> bool:
    """A voided label: ``voided: true``, or a ``voidDate`` (either alone is enough)."""
    return bool(shipment.get("voided")) or bool(str(shipment.get("voidDate") or "").strip())


def shipment_notice(shipment: dict[str, Any]) -> ShipmentNotice | None:
    """One ShipStation shipment as a hub notice; None for what is not an order's shipment.

    Return labels are not shipments of the order. A shipment names its group
    by the order's ``orderKey`` or, where ShipStation leaves that out (its own
    list example does), by ``orderId``: the id ShipStation gave the order the
    hub created, which the hub keeps (``group_ref``). ``shipmentItems`` (present with ``includeShipmentItems=true``) give
    the lines and quantities (:func:`shipment_lines`); without them the hub
    ships what is still open in the group. Each package of a multi-package
    shipment is a shipment record of its own (its own ``shipmentId`` and
    ``trackingNumber``, the same ``orderId``/``orderKey``): each is a notice.
    """
    key = str(shipment.get("orderKey") or "").strip()
    ref = "" if shipment.get("orderId") is None else str(shipment["orderId"]).strip()
    if not (key or ref) or shipment.get("isReturnLabel"):
        return None
    tracking = str(shipment.get("trackingNumber") or "").strip()
    carrier, url = carrier_and_url(shipment.get("carrierCode"), tracking)
    shipped_at = parse_datetime(shipment.get("createDate")) or parse_datetime(
        shipment.get("shipDate")
    )
    return ShipmentNotice(
        key=key,
        group_ref=ref,
        shipment=ShipmentData(
            external_id=str(shipment["shipmentId"]),
            carrier=carrier,
            service=str(shipment.get("serviceCode") or ""),
            tracking_number=tracking,
            tracking_url=url,
            shipped_at=shipped_at,
            lines=shipment_lines(shipment.get("shipmentItems")),
        ),
        voided=is_voided(shipment),
    )


# --- rate quotes ---------------------------------------------------------------------------------


def rates_request(parcel: Parcel, carrier: str) -> dict[str, Any]:
    """``POST /shipments/getrates``'s body for one carrier: every service it offers, in grams and cm.

    ShipStation V1 takes no origin country (the account ships from its
    warehouses); ``serviceCode`` and ``packageCode`` are left out, so every
    service and package of the carrier is quoted.
    """
    body: dict[str, Any] = {
        "carrierCode": carrier,
        "fromPostalCode": parcel.from_postal_code,
        "toCountry": parcel.to_country,
        "toPostalCode": parcel.to_postal_code,
        "weight": {"value": max(1, int(parcel.weight_grams)), "units": "grams"},
        "confirmation": "none",
        "residential": True,
    }
    if parcel.to_state:
        body["toState"] = parcel.to_state
    if parcel.to_city:
        body["toCity"] = parcel.to_city
    if parcel.dimensions_cm:
        length, width, height = parcel.dimensions_cm
        body["dimensions"] = {
            "length": length,
            "width": width,
            "height": height,
            "units": "centimeters",
        }
    return body


def rate_options(body: Any, carrier: str) -> list[RateOption]:
    """The services of a getrates answer (``[{serviceCode, serviceName, shipmentCost, otherCost}]``).

    The price of a service is ``shipmentCost + otherCost`` (fuel and other
    surcharges), in cents, rounded half up. Entries without a code or a
    number are left out.
    """
    if not isinstance(body, list):
        raise ValidationError("ShipStation's rates answer is not a list")
    out = []
    for item in body:
        if not isinstance(item, dict) or not item.get("serviceCode"):
            continue
        try:
            cost = Decimal(str(item.get("shipmentCost"))) + Decimal(str(item.get("otherCost") or 0))
        except ArithmeticError:
            continue
        if not cost.is_finite() or cost < 0:
            continue
        cents = int((cost * 100).quantize(Decimal(1), rounding=ROUND_HALF_UP))
        out.append(
            RateOption(
                carrier=carrier,
                service_code=str(item["serviceCode"]),
                service_name=str(item.get("serviceName") or item["serviceCode"]),
                cost_cents=cents,
            )
        )
    return out
