"""The Shopify connector on what Shopify wrote: its REST reference examples (shared/vendor/shopify).

Each example is read from ``shared/vendor`` (``hub.testing.vendor_example``),
never copied here. Where Shopify wrote no example of a case (a tax-inclusive
order, an ``orders/edited`` body, JPY and KWD orders), the test changes a
vendor example as Shopify's Order resource reference documents the fields
and says so.
"""

from __future__ import annotations

import base64
import hashlib
import hmac
import json

import pytest
from sqlalchemy import select

from hub.core.exceptions import SignatureError
from hub.integration.connectors import ChannelInfo
from hub.orders import records
from hub.store.models import Order, OrderAuditEvent
from hub.testing import vendor_example
from plugins.shopify.connector import ShopifyConnector
from plugins.shopify.mapping import order_from_shopify
from plugins.shopify.sandbox import webhook_request

SECRET = "shpss_vendor_test"
SHOP = "jsmith.myshopify.com"  # the shop of Shopify's own examples


def _vendor_order(name: str) -> dict:
    body = vendor_example(f"shopify/{name}")
    return body["order"] if "order" in body else body["orders"][0]


# --- mapping ---------------------------------------------------------------------------------------


def test_a_partially_refunded_order_owes_only_what_was_not_refunded():
    order = order_from_shopify(_vendor_order("orders_list_partially_refunded.response.json"))
    # Shopify: quantity 1 each as ordered; current_quantity 0 for the two refunded lines.
    assert [(x.sku, x.quantity, x.removed_quantity) for x in order.lines] == [
        ("IPOD2008GREEN", 0, 1),
        ("IPOD2008RED", 1, 0),
        ("IPOD2008BLACK", 0, 1),
    ]
    # The totals are Shopify's current ones, and they add up (no totals hold).
    assert (order.total, order.tax, order.discount) == (19965, 398, 333)
    assert order.computed_total == order.total
    [refund] = order.channel_refunds
    assert (refund.external_id, refund.amount, refund.reason) == (
        "509562969",
        20900,
        "it broke during shipping",
    )
    assert refund.lines["703073504"] == 1 and refund.restock


def test_every_vendor_order_maps_with_totals_that_add_up():
    for name in (
        "order_get.response.json",
        "order_create_eur.response.json",
        "order_cancel.response.json",
    ):
        order = order_from_shopify(_vendor_order(name))
        assert order.computed_total == order.total, name


def test_a_tax_inclusive_order_adds_no_tax_on_top():
    # Shopify's EUR example, as a shop whose prices include VAT prices it:
    # taxes_included true, total = lines + shipping - discounts (the 13.50 is inside).
    raw = _vendor_order("order_create_eur.response.json")
    raw.update(taxes_included=True, total_price="224.97", current_total_price="224.97")
    order = order_from_shopify(raw)
    assert order.taxes_included and order.tax == 1350
    assert order.computed_total == order.total == 22497


@pytest.mark.parametrize(
    ("currency", "price", "tax", "total", "minor"),
    [
        ("JPY", "1500", "150", "3150", 3150),  # no decimals (Shopify writes "23600" for JPY)
        ("KWD", "5.124", "0.256", "10.504", 10504),  # three decimals
    ],
)
def test_orders_in_zero_and_three_decimal_currencies_keep_every_unit(
    currency, price, tax, total, minor
):
    raw = _vendor_order("order_create_eur.response.json")
    item = raw["line_items"][0]
    item.update(price=price, quantity=2, current_quantity=2)
    item["tax_lines"] = [{"price": tax, "rate": 0.05, "title": "VAT"}]
    raw.update(
        currency=currency,
        total_price=total,
        current_total_price=total,
        total_tax=tax,
        current_total_tax=tax,
        total_discounts="0",
        current_total_discounts="0",
    )
    order = order_from_shopify(raw)
    assert order.currency == currency and order.total == minor == order.computed_total


def test_a_gift_card_line_is_not_for_the_warehouse():
    raw = _vendor_order("order_create_eur.response.json")
    raw["line_items"][0].update(requires_shipping=False, gift_card=True)
    assert order_from_shopify(raw).lines[0].requires_shipping is False


# --- through the hub -------------------------------------------------------------------------------


@pytest.fixture
def store(hub):
    """A Shopify channel with the vendor examples' shop; webhooks arrive through the inbox."""
    from hub.channels.manage import create_channel

    with hub.db.transaction() as session:
        channel = create_channel(
            hub,
            session,
            name="Vendor shop",
            connector="shopify",
            config={
                "shop_domain": SHOP,
                "access_token": "shpat_vendor_test_token",
                "webhook_secret": SECRET,
                "api_base_url": "http://127.0.0.1:9",
            },
        )
        return channel.slug


def _deliver(hub, slug, run_jobs, topic: str, body: dict) -> None:
    from hub.channels import inbox

    headers, raw = webhook_request(topic, body, secret=SECRET, shop_domain=SHOP)
    inbox.receive(hub, slug, headers, raw, {})
    run_jobs(hub)


def _stored(hub, external_id) -> Order:
    with hub.db.read() as session:
        order = session.scalars(
            records.order_query().where(Order.external_id == str(external_id))
        ).one()
        _ = [e.name for e in order.events]
        session.expunge_all()
        return order


def test_a_tax_inclusive_order_is_not_held_for_its_totals(hub, store, run_jobs):
    raw = _vendor_order("order_create_eur.response.json")
    raw.update(
        taxes_included=True,
        total_price="224.97",
        current_total_price="224.97",
        email="anna@example.com",
        shipping_address={
            "first_name": "Anna",
            "last_name": "Schmidt",
            "address1": "Hauptstr. 1",
            "city": "Berlin",
            "zip": "10115",
            "country": "Germany",
            "country_code": "DE",
        },
    )
    _deliver(hub, store, run_jobs, "orders/create", raw)
    order = _stored(hub, raw["id"])
    assert order.taxes_included
    assert "totals_mismatch" not in (order.hold_reasons or [])
    assert order.status == "confirmed"


def test_the_refund_shopify_made_shows_on_the_order_once(hub, store, run_jobs):
    raw = _vendor_order("orders_list_partially_refunded.response.json")
    _deliver(hub, store, run_jobs, "orders/create", raw)
    again = dict(raw, updated_at="2025-07-02T12:00:00-05:00")
    _deliver(hub, store, run_jobs, "orders/updated", again)
    order = _stored(hub, raw["id"])
    refunds = [e for e in order.events if e.name == "order.refunded_on_channel"]
    assert len(refunds) == 1
    assert refunds[0].data["amount"] == "209.00" and refunds[0].reason == "it broke during shipping"
    assert order.channel_financial_status == "partially_refunded"
    # Only the unit still owed is asked of stock and warehouse.
    assert [(x.sku, x.quantity) for x in order.lines if x.quantity] == [("IPOD2008RED", 1)]
    assert "invalid_quantity" not in (order.hold_reasons or [])


def test_orders_cancelled_from_the_shop_cancels_the_order_in_the_hub(hub, store, run_jobs):
    _deliver(hub, store, run_jobs, "orders/create", _vendor_order("order_get.response.json"))
    cancelled = _vendor_order(
        "order_cancel.response.json"
    )  # cancel_reason, cancelled_at set; newer updated_at
    _deliver(hub, store, run_jobs, "orders/cancelled", cancelled)
    order = _stored(hub, cancelled["id"])
    assert order.status == "cancelled"
    with hub.db.read() as session:
        event = session.scalars(
            select(OrderAuditEvent).where(
                OrderAuditEvent.order_id == order.id, OrderAuditEvent.name == "order.cancelled"
            )
        ).one()
        assert event.reason == "other"  # the example's cancel_reason


def test_a_vendor_order_under_shopifys_newer_header_names_is_accepted_only_with_the_right_hmac():
    # Shopify's library's "new format" header set (lower-case shopify-*), on a vendor order
    # body, signed as Shopify documents: base64(HMAC-SHA256(app secret, raw body)).
    example = vendor_example("shopify/webhook_request_headers.test_vectors.json")[
        "new_format_full_example"
    ]
    shop = example["expected"]["shop"]
    config = ShopifyConnector.validate_config(
        {"shop_domain": shop, "access_token": "shpat_vendor_test_token", "webhook_secret": SECRET}
    )
    connector = ShopifyConnector(
        ChannelInfo(id=1, slug="shop", name="Shop", connector="shopify", config=config)
    )
    raw = json.dumps(_vendor_order("order_get.response.json")).encode()
    digest = base64.b64encode(hmac.new(SECRET.encode(), raw, hashlib.sha256).digest()).decode()
    headers = {**example["headers"], "shopify-hmac-sha256": digest}
    receipt = connector.verify_webhook(headers, raw, {})
    assert (receipt.topic, receipt.event_id) == ("orders/create", example["expected"]["webhook_id"])
    with pytest.raises(SignatureError):
        connector.verify_webhook(headers, raw.replace(b"450789469", b"450789470"), {})


# --- the sandbox answers in Shopify's shapes ---------------------------------------------------------


def _json_type(value) -> str:
    if value is None:
        return "null"
    return {
        bool: "boolean",
        int: "number",
        float: "number",
        str: "string",
        list: "array",
        dict: "object",
    }[type(value)]


def _same_shape(ours: dict, theirs: dict, keys, where: str) -> list[str]:
    """Keys the connector reads that the sandbox lacks, or sends with another JSON type than Shopify."""
    problems = []
    for key in keys:
        if key not in theirs:
            continue
        if key not in ours:
            problems.append(f"{where}.{key} missing")
        elif None not in (ours[key], theirs[key]) and _json_type(ours[key]) != _json_type(
            theirs[key]
        ):
            problems.append(
                f"{where}.{key}: {_json_type(ours[key])}, Shopify sends {_json_type(theirs[key])}"
            )
    return problems


def test_the_sandbox_orders_have_the_shape_of_shopifys():
    from plugins.shopify.mapping import ORDER_FIELDS
    from plugins.shopify.sandbox import ShopifySandbox

    shop = ShopifySandbox(orders=3, seed=1, clean=True)
    line = shop.order(shop.order_ids[0])["line_items"][0]
    refund = shop.refund_order(shop.order_ids[0], line_items={line["id"]: 1})
    ours = shop.order(shop.order_ids[0])
    theirs = _vendor_order("orders_list_partially_refunded.response.json")
    problems = _same_shape(ours, theirs, ORDER_FIELDS, "order")
    line_keys = (
        "id",
        "sku",
        "quantity",
        "current_quantity",
        "fulfillable_quantity",
        "requires_shipping",
        "price",
        "tax_lines",
        "discount_allocations",
        "total_discount",
        "variant_id",
        "name",
        "title",
    )
    problems += _same_shape(ours["line_items"][0], theirs["line_items"][0], line_keys, "line_item")
    problems += _same_shape(
        refund,
        theirs["refunds"][0],
        (
            "id",
            "order_id",
            "note",
            "created_at",
            "processed_at",
            "restock",
            "transactions",
            "refund_line_items",
            "order_adjustments",
        ),
        "refund",
    )
    problems += _same_shape(
        refund["refund_line_items"][0],
        theirs["refunds"][0]["refund_line_items"][0],
        ("line_item_id", "quantity", "restock_type", "subtotal", "total_tax"),
        "refund_line_item",
    )
    problems += _same_shape(
        refund["transactions"][0],
        theirs["refunds"][0]["transactions"][0],
        ("kind", "status", "amount", "currency"),
        "transaction",
    )
    assert problems == []
    # Shopify's own rule the sandbox must keep: what is owed adds up to the current total.
    assert order_from_shopify(ours).computed_total == order_from_shopify(ours).total


def test_the_sandbox_fulfilment_orders_and_cancels_have_the_shape_of_shopifys():
    from plugins.shopify.sandbox import ShopifySandbox

    shop = ShopifySandbox(orders=1, seed=1, clean=True)
    [fo] = shop.fulfillment_orders(shop.order_ids[0])
    theirs = vendor_example("shopify/fulfillment_orders_list.response.json")["fulfillment_orders"][
        0
    ]
    problems = _same_shape(
        fo,
        theirs,
        ("id", "order_id", "status", "supported_actions", "line_items", "assigned_location_id"),
        "fulfillment_order",
    )
    problems += _same_shape(
        fo["line_items"][0],
        theirs["line_items"][0],
        theirs["line_items"][0].keys(),
        "fulfillment_order_line_item",
    )
    made = shop._create_fulfillment(
        {
            "fulfillment": {
                "line_items_by_fulfillment_order": [{"fulfillment_order_id": fo["id"]}],
                "tracking_info": {"number": "1Z001", "company": "UPS"},
            }
        }
    )
    cancelled = shop._cancel_fulfillment(made["id"])
    vendor_cancel = vendor_example("shopify/fulfillment_cancel.response.json")["fulfillment"]
    problems += _same_shape(
        cancelled,
        vendor_cancel,
        ("id", "order_id", "status", "tracking_number", "tracking_company", "line_items"),
        "fulfillment",
    )
    assert problems == []
    assert cancelled["status"] == vendor_cancel["status"] == "cancelled"
    # Its units are open to fulfil again, as on Shopify.
    [again] = shop.fulfillment_orders(shop.order_ids[0])
    assert [li["fulfillable_quantity"] for li in again["line_items"]] == [
        li["quantity"] for li in again["line_items"]
    ]


def test_shopifys_own_coordinates_place_the_order_exactly(hub, store, run_jobs):
    """Shopify geocodes the addresses it takes: its place wins over the hub's tables.

    Its example order's Louisville address (ZIP 40202) carries coordinates in
    Ottawa: the order is placed where Shopify said, not at the ZIP code.
    """
    raw = _vendor_order("orders_list_partially_refunded.response.json")
    mapped = order_from_shopify(raw).shipping_address
    assert mapped is not None and (mapped.latitude, mapped.longitude) == (45.41634, -75.6868)
    _deliver(hub, store, run_jobs, "orders/create", raw)
    order = _stored(hub, raw["id"])
    assert (order.ship_latitude, order.ship_longitude) == (45.41634, -75.6868)
    assert (order.ship_geo_precision, order.ship_geo_source) == ("exact", "channel")
    # An address Shopify could not place (null coordinates) is placed by its ZIP code.
    unplaced = dict(raw, id=raw["id"] + 1, name="#1002", order_number=1002)
    unplaced["shipping_address"] = dict(raw["shipping_address"], latitude=None, longitude=None)
    _deliver(hub, store, run_jobs, "orders/create", unplaced)
    order = _stored(hub, unplaced["id"])
    assert (order.ship_geo_precision, order.ship_geo_source) == ("postal_code", "zipcodes")
    assert abs(order.ship_latitude - 38.25) < 0.1 and abs(order.ship_longitude + 85.75) < 0.1


def test_the_customers_shipping_method_is_the_shipping_lines_title():
    """What service-level rules read (hub.routing.service_levels): Shopify's own example."""
    order = order_from_shopify(_vendor_order("order_get.response.json"))
    assert order.shipping_method == "Free Shipping"
