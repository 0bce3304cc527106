"""ShipStation shapes and dates, without I/O."""

from __future__ import annotations

from datetime import UTC, datetime

import pytest

from hub.core.exceptions import ValidationError
from hub.integration.connectors import ShippingOrder
from plugins.shipstation.mapping import (
    carrier_and_url,
    format_datetime,
    format_query_datetime,
    order_number,
    order_payload,
    parse_datetime,
    shipment_notice,
)

# --- dates ---------------------------------------------------------------------------------


def test_v1_dates_are_pacific_time_with_daylight_saving():
    # Winter: PST is UTC-8; summer: PDT is UTC-7.
    assert parse_datetime("2018-01-16T00:00:00.0000000") == datetime(2018, 1, 16, 8, tzinfo=UTC)
    assert parse_datetime("2018-04-16T00:00:00.0000000") == datetime(2018, 4, 16, 7, tzinfo=UTC)


def test_seven_digit_fraction_is_truncated_never_rounded():
    parsed = parse_datetime("2015-07-16T14:00:34.9999999")
    assert parsed.microsecond == 999999 and parsed.second == 34
    assert parse_datetime("2015-07-16T14:00:34.8230000").microsecond == 823000
    assert parse_datetime("2015-07-16T14:00:34.1234567").microsecond == 123456
    assert parse_datetime("2015-07-16T14:00:34.5").microsecond == 500000


def test_dates_without_time_or_with_an_explicit_zone():
    assert parse_datetime("2015-07-05") == datetime(2015, 7, 5, 7, tzinfo=UTC)
    assert parse_datetime("2015-07-05T10:00:00Z") == datetime(2015, 7, 5, 10, tzinfo=UTC)
    assert parse_datetime("2015-07-05T10:00:00.0000000-04:00") == datetime(
        2015, 7, 5, 14, tzinfo=UTC
    )
    assert parse_datetime(None) is None and parse_datetime("") is None


def test_repeated_hour_at_the_end_of_daylight_saving_reads_as_its_first_occurrence():
    # 2023-11-05 01:30 happens twice in Los Angeles; the first is PDT (UTC-7).
    assert parse_datetime("2023-11-05T01:30:00.0000000") == datetime(2023, 11, 5, 8, 30, tzinfo=UTC)


@pytest.mark.parametrize(
    "bad", ["yesterday", "2018-13-01T00:00:00", "2018-04-16T25:00:00", "16/04/2018"]
)
def test_a_bad_date_is_a_clear_error(bad):
    with pytest.raises(ValidationError, match="not a date"):
        parse_datetime(bad)


def test_dates_round_trip_exactly_through_the_shipstation_format():
    moment = datetime(2024, 7, 1, 18, 5, 9, 123456, tzinfo=UTC)
    text = format_datetime(moment)
    assert text == "2024-07-01T11:05:09.1234560"
    assert parse_datetime(text) == moment
    assert format_query_datetime(moment) == "2024-07-01 11:05:09"


# --- orders out --------------------------------------------------------------------------------


def _order(**overrides):
    order = {
        "id": 12,
        "number": "#1001",
        "currency": "USD",
        "email": "ann@example.com",
        "customer": {"email": "ann@example.com", "name": "Ann Smith", "phone": "555-0100"},
        "shipping_address": {
            "name": "Ann Smith",
            "company": "",
            "address1": "1 Main St",
            "address2": "Apt 2",
            "city": "Springfield",
            "province": "Oregon",
            "province_code": "OR",
            "zip": "97477",
            "country": "United States",
            "country_code": "US",
            "phone": "",
        },
        "billing_address": None,
        "lines": [
            {"id": 1, "sku": "TSHIRT-M", "name": "T-shirt M", "quantity": 2, "unit_price": "19.99"},
            {"id": 2, "sku": "MUG", "name": "Mug", "quantity": 1, "unit_price": "10.01"},
        ],
        "shipping": "5.00",
        "tax": "4.00",
        "discount": "0.00",
        "total": "58.99",
        "placed_at": "2024-01-10T20:00:00+00:00",
        "notes": "leave at the door",
    }
    order.update(overrides)
    return order


def _group(order, key, lines, status="awaiting_shipment"):
    by_id = {line["id"]: line for line in order["lines"]}
    return ShippingOrder(
        key=key,
        order=order,
        status=status,
        lines=[
            {
                "line_id": lid,
                "sku": by_id[lid]["sku"],
                "name": by_id[lid]["name"],
                "quantity": q,
                "unit_price": by_id[lid]["unit_price"],
            }
            for lid, q in lines.items()
        ],
    )


def test_a_whole_order_maps_to_a_full_shipstation_order():
    order = _order()
    payload = order_payload(_group(order, "hub-12", {1: 2, 2: 1}), store_id=77)
    assert payload["orderKey"] == "hub-12"
    assert payload["orderNumber"] == "#1001"
    assert payload["orderDate"] == "2024-01-10T12:00:00.0000000"  # Pacific, PST
    assert payload["orderStatus"] == "awaiting_shipment"
    assert payload["customerEmail"] == "ann@example.com"
    assert payload["shipTo"] == {
        "name": "Ann Smith",
        "company": None,
        "street1": "1 Main St",
        "street2": "Apt 2",
        "street3": None,
        "city": "Springfield",
        "state": "OR",
        "postalCode": "97477",
        "country": "US",
        "phone": "555-0100",
        "residential": None,
    }
    assert payload["billTo"]["street1"] == "1 Main St"  # no billing address: the shipping one
    unset = {
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
    assert payload["items"] == [
        {
            "lineItemKey": "1",
            "sku": "TSHIRT-M",
            "name": "T-shirt M",
            "quantity": 2,
            "unitPrice": 19.99,
            **unset,
        },
        {
            "lineItemKey": "2",
            "sku": "MUG",
            "name": "Mug",
            "quantity": 1,
            "unitPrice": 10.01,
            **unset,
        },
    ]
    assert (payload["amountPaid"], payload["taxAmount"], payload["shippingAmount"]) == (
        58.99,
        4.0,
        5.0,
    )
    assert payload["advancedOptions"]["storeId"] == 77
    assert payload["customerNotes"] == "leave at the door"


def test_split_groups_get_numbered_and_share_the_order_amounts():
    order = _order()
    first = order_payload(_group(order, "hub-12", {1: 2}))
    second = order_payload(_group(order, "hub-12-2", {2: 1}))
    assert (first["orderNumber"], second["orderNumber"]) == ("#1001", "#1001-2")
    assert [i["lineItemKey"] for i in first["items"]] == ["1"]
    assert [i["lineItemKey"] for i in second["items"]] == ["2"]
    # 39.98 and 10.01 of 49.99 worth of lines: each group carries its part.
    assert first["shippingAmount"] == 4.0 and second["shippingAmount"] == 1.0
    assert round(first["amountPaid"] + second["amountPaid"], 2) == 58.99
    assert "storeId" not in first["advancedOptions"]


def test_order_number_is_cut_to_fifty_characters_keeping_the_group_suffix():
    number = order_number({"id": 5, "number": "N" * 60}, "hub-5-3")
    assert len(number) == 50 and number.endswith("-3")


def test_a_cancelled_group_is_sent_as_cancelled():
    order = _order()
    assert (
        order_payload(_group(order, "hub-12", {1: 2, 2: 1}, "cancelled"))["orderStatus"]
        == "cancelled"
    )


# --- shipments in ------------------------------------------------------------------------------


def _shipment(**overrides):
    shipment = {
        "shipmentId": 33974374,
        "orderId": 43945660,
        "orderKey": "hub-12",
        "orderNumber": "#1001",
        "createDate": "2024-03-11T09:15:00.5000000",
        "shipDate": "2024-03-11",
        "trackingNumber": "1Z999AA10123456784",
        "carrierCode": "ups",
        "serviceCode": "ups_ground",
        "isReturnLabel": False,
        "voided": False,
        "voidDate": None,
        "shipmentItems": [
            {"lineItemKey": "1", "sku": "TSHIRT-M", "quantity": 2},
            {"lineItemKey": None, "sku": "MUG", "quantity": 1},
        ],
    }
    shipment.update(overrides)
    return shipment


def test_a_shipment_becomes_a_notice_with_carrier_tracking_and_lines():
    notice = shipment_notice(_shipment())
    assert notice.key == "hub-12" and not notice.voided
    s = notice.shipment
    assert s.external_id == "33974374"
    assert (s.carrier, s.service, s.tracking_number) == ("UPS", "ups_ground", "1Z999AA10123456784")
    assert s.tracking_url == "https://www.ups.com/track?tracknum=1Z999AA10123456784"
    assert s.lines == {1: 2, "MUG": 1}  # hub line id from lineItemKey, else the SKU
    assert s.shipped_at == datetime(2024, 3, 11, 16, 15, 0, 500000, tzinfo=UTC)  # PDT


def test_voided_labels_and_return_labels():
    assert shipment_notice(_shipment(voided=True, voidDate="2024-03-12T08:00:00.0000000")).voided
    assert shipment_notice(_shipment(isReturnLabel=True)) is None
    assert (
        shipment_notice(_shipment(orderKey=None)).group_ref == "43945660"
    )  # found by ShipStation's orderId
    assert shipment_notice(_shipment(orderKey=None, orderId=None)) is None


@pytest.mark.parametrize(
    "code, name, url_start",
    [
        ("ups", "UPS", "https://www.ups.com/track?tracknum="),
        ("fedex", "FedEx", "https://www.fedex.com/fedextrack/?trknbr="),
        ("stamps_com", "USPS", "https://tools.usps.com/go/TrackConfirmAction?tLabels="),
        ("usps", "USPS", "https://tools.usps.com/go/TrackConfirmAction?tLabels="),
        ("dhl_express", "DHL Express", "https://www.dhl.com/"),
    ],
)
def test_major_carriers_have_tracking_links(code, name, url_start):
    carrier, url = carrier_and_url(code, "AB 12/3")
    assert carrier == name and url.startswith(url_start) and url.endswith("AB%2012%2F3")


def test_other_carriers_keep_their_code_and_get_no_link():
    assert carrier_and_url("canada_post", "123") == ("canada_post", "")
