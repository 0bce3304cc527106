"""Shopify order JSON -> canonical order: money, lines, people, statuses (no I/O)."""

from __future__ import annotations

from datetime import UTC, datetime

import pytest

from hub.core.exceptions import ValidationError
from plugins.shopify.mapping import line_sku, order_from_shopify
from plugins.shopify.tests.fixtures import jpy_order, shopify_order


def test_reference_order_maps_money_strings_to_minor_units():
    order = order_from_shopify(shopify_order())
    assert order.external_id == "450789469"
    assert order.number == "#1001"
    assert order.currency == "USD"
    assert [(x.sku, x.quantity, x.unit_price, x.tax, x.discount) for x in order.lines] == [
        ("IPOD2008GREEN", 1, 19900, 398, 1000),
        ("IPOD2008RED", 2, 19900, 796, 0),
    ]
    assert [x.external_id for x in order.lines] == ["466157049", "518995019"]
    assert order.lines[0].name == "IPod Nano - 8gb - green"
    assert (order.shipping, order.tax, order.discount, order.total) == (400, 1194, 1000, 60294)
    # The parts add up to Shopify's own total.
    assert order.computed_total == order.total


def test_reference_order_maps_people_addresses_and_statuses():
    order = order_from_shopify(shopify_order())
    assert order.customer.email == "bob.norman@mail.example.com"
    assert order.customer.name == "Bob Norman"
    assert order.customer.phone == "+557734881234"
    assert order.customer.external_id == "207119551"
    ship = order.shipping_address
    assert (
        ship.name,
        ship.address1,
        ship.city,
        ship.province_code,
        ship.zip,
        ship.country_code,
    ) == ("Bob Norman", "Chestnut Street 92", "Louisville", "KY", "40202", "US")
    assert order.billing_address.phone == "+1(502)-459-2181"
    assert order.channel_financial_status == "partially_refunded"
    assert order.tags == ["Wholesale", "VIP"]
    assert order.notes == "Leave at the back door"
    assert order.cancelled is False and order.is_test is False
    # Timestamps carry the shop's offset; the hub keeps UTC.
    assert order.placed_at == datetime(2008, 1, 10, 16, 0, tzinfo=UTC)
    assert order.updated_at == datetime(2008, 1, 10, 16, 0, tzinfo=UTC)


def test_yen_have_no_decimals_with_or_without_trailing_zeros():
    order = order_from_shopify(jpy_order())
    assert order.currency == "JPY"
    line = order.lines[0]
    assert (line.unit_price, line.quantity, line.tax) == (1500, 3, 450)
    assert (order.shipping, order.tax, order.total) == (800, 450, 5750)


def test_an_amount_with_more_decimals_than_its_currency_is_refused_naming_the_order():
    with pytest.raises(
        ValidationError, match=r"Shopify order 820982911946154508 \(#9001\).*1500.5"
    ):
        order_from_shopify(jpy_order(total_price="1500.5"))


def test_cancelled_and_test_orders_are_flagged():
    order = order_from_shopify(
        shopify_order(
            cancelled_at="2008-01-10T12:00:00-05:00",
            cancel_reason="customer",
            financial_status="voided",
            test=True,
        )
    )
    assert order.cancelled is True
    assert order.cancel_reason == "customer"
    assert order.channel_financial_status == "voided"
    assert order.is_test is True


def test_missing_optional_fields_leave_blanks_not_errors():
    raw = shopify_order(
        email=None,
        phone=None,
        customer=None,
        shipping_address=None,
        billing_address=None,
        shipping_lines=[],
        tags="",
        note=None,
        total_discounts=None,
        processed_at=None,
    )
    raw["contact_email"] = "guest@example.com"
    order = order_from_shopify(raw)
    assert order.customer.email == "guest@example.com"
    assert order.customer.name == "" and order.customer.external_id == ""
    assert order.shipping_address is None and order.billing_address is None
    assert order.shipping == 0 and order.discount == 0
    assert order.tags == [] and order.notes == ""
    assert order.placed_at == datetime(2008, 1, 10, 16, 0, tzinfo=UTC)  # created_at instead


def test_customer_name_falls_back_to_the_billing_address():
    order = order_from_shopify(
        shopify_order(customer={"id": 5, "first_name": None, "last_name": None})
    )
    assert order.customer.name == "Bob Norman"


def test_lines_without_a_sku_get_a_stable_stand_in():
    raw = shopify_order()
    raw["line_items"][0]["sku"] = None
    raw["line_items"][1].update(sku="", variant_id=None)
    order = order_from_shopify(raw)
    assert [x.sku for x in order.lines] == ["variant-39072856", "line-item-518995019"]
    assert line_sku({"id": 1, "sku": "  ABC "}) == "ABC"


def test_line_discount_falls_back_to_total_discount():
    raw = shopify_order()
    raw["line_items"][1]["total_discount"] = "5.00"
    assert order_from_shopify(raw).lines[1].discount == 500


@pytest.mark.parametrize(
    "change, message",
    [
        ({"currency": None}, "no currency"),
        ({"currency": "XXX"}, "currency"),
        ({"line_items": []}, "at least one line"),
        ({"updated_at": "yesterday"}, "timestamp"),
    ],
)
def test_orders_the_hub_cannot_store_are_refused_with_the_reason(change, message):
    with pytest.raises(ValidationError, match=message):
        order_from_shopify(shopify_order(**change))


def test_an_order_without_an_id_is_refused():
    with pytest.raises(ValidationError, match="without an id"):
        order_from_shopify(shopify_order(id=None))
