"""ShipStation's own examples (its V1 reference, as archived in shared/vendor) through the mapping.

The vendor's records are placeholders and not always consistent with each
other (see shared/vendor/README.md); these tests pin what the hub makes of
each record's shape, not of its values.
"""

from __future__ import annotations

from datetime import UTC, datetime

import pytest

from hub.testing import vendor_example
from plugins.shipstation.mapping import (
    SHIPSTATION_TZ,
    carrier_and_url,
    parse_datetime,
    shipment_lines,
    shipment_notice,
)

SHIPMENTS = "shipstation/shipments.list.response.json"
EXAMPLES_WITH_DATES = [
    SHIPMENTS,
    "shipstation/orders.createorder.response.json",
    "shipstation/orders.get.response.json",
    "shipstation/orders.list.response.json",
    "shipstation/fulfillments.list.response.json",
    "shipstation/shipments.createlabel.response.json",
    "shipstation/stores.list.response.json",
    "shipstation/warehouses.list.response.json",
]


def _dates(value, path=""):
    """Every ``…Date`` string in a JSON document, with where it is."""
    if isinstance(value, dict):
        for key, item in value.items():
            if key.endswith("Date") and isinstance(item, str):
                yield f"{path}.{key}", item
            else:
                yield from _dates(item, f"{path}.{key}")
    elif isinstance(value, list):
        for n, item in enumerate(value):
            yield from _dates(item, f"{path}[{n}]")


def _keyed(shipment, key="hub-12"):
    # The list example leaves orderKey out (the hub then goes by orderId; see below).
    return {**shipment, "orderKey": key}


@pytest.mark.parametrize("example", EXAMPLES_WITH_DATES)
def test_every_date_in_shipstations_examples_parses_as_pacific_time(example):
    found = list(_dates(vendor_example(example)))
    assert found, f"{example} has no dates"
    for where, text in found:
        parsed = parse_datetime(text)
        assert parsed.tzinfo is UTC, where
        # Read as Pacific wall time, whatever the fraction's length (7 digits, 3, none) or a bare day.
        local = parsed.astimezone(SHIPSTATION_TZ).isoformat()
        assert local.startswith(text[:19]), (where, text, local)


def test_seven_digit_fractions_of_the_examples_keep_their_microseconds():
    first, second = vendor_example(SHIPMENTS)["shipments"]
    assert parse_datetime(first["createDate"]) == datetime(
        2014, 10, 3, 13, 51, 33, 627000, tzinfo=UTC
    )
    assert parse_datetime(second["createDate"]).microsecond == 943000


def test_every_vendor_shipment_becomes_a_shipment_with_tracking_lines_and_time():
    listed = vendor_example(SHIPMENTS)
    notices = [shipment_notice(_keyed(s)) for s in listed["shipments"]]
    assert [
        (n.shipment.external_id, n.shipment.carrier, n.shipment.tracking_number, n.voided)
        for n in notices
    ] == [
        ("33974374", "USPS", "9400111899561704681189", False),
        ("33974373", "USPS", "9400111899561704681196", False),
    ]
    # The items name a SKU and ShipStation's own item id, no lineItemKey: the SKU is the line.
    assert [n.shipment.lines for n in notices] == [{"SQ3785739": 1}, {"test": 1}]
    assert (
        notices[0].shipment.tracking_url
        == "https://tools.usps.com/go/TrackConfirmAction?tLabels=9400111899561704681189"
    )
    assert notices[0].shipment.service == "usps_first_class_mail"
    assert notices[0].shipment.shipped_at == parse_datetime("2014-10-03T06:51:33.6270000")


def test_a_shipment_without_its_order_key_names_its_order_by_shipstations_id():
    # The list example has orderId, not orderKey: the hub finds the group by the id
    # ShipStation gave the order it created (no request spent on it).
    notice = shipment_notice(vendor_example(SHIPMENTS)["shipments"][0])
    assert (notice.key, notice.group_ref) == ("", "43945660")
    assert shipment_notice({**vendor_example(SHIPMENTS)["shipments"][0], "orderId": None}) is None


@pytest.mark.parametrize(
    "change",
    [
        {"voided": True, "voidDate": "2014-10-04T08:00:00.0000000"},
        {"voided": True},
        {"voidDate": "2014-10-04T08:00:00.0000000"},  # a void date alone says it too
    ],
)
def test_a_voided_vendor_shipment_maps_to_a_voided_label(change):
    shipment = {k: v for k, v in vendor_example(SHIPMENTS)["shipments"][0].items() if k != "voided"}
    notice = shipment_notice(_keyed({**shipment, **change}))
    assert notice.voided and notice.shipment.external_id == "33974374"


def test_a_label_still_valid_is_not_voided():
    shipment = vendor_example(SHIPMENTS)["shipments"][0]
    assert not shipment_notice(_keyed({**shipment, "voidDate": None})).voided


def test_packages_of_one_order_are_separate_shipments_of_the_same_group():
    # A V1 shipment has one trackingNumber and no package list: each label of an
    # order is its own shipment record, with the order's orderId and orderKey.
    first = vendor_example(SHIPMENTS)["shipments"][0]
    second = {**first, "shipmentId": 33974375, "trackingNumber": "9400111899561704681190"}
    notices = [shipment_notice(_keyed(s)) for s in (first, second)]
    assert {n.key for n in notices} == {"hub-12"}
    assert [n.shipment.external_id for n in notices] == ["33974374", "33974375"]
    assert [n.shipment.tracking_number for n in notices] == [
        "9400111899561704681189",
        "9400111899561704681190",
    ]


@pytest.mark.parametrize("items", [None, []])
def test_a_shipment_that_does_not_say_its_items_leaves_the_lines_to_the_hub(items):
    # The hub then ships what is still open in the group (hub.port), never the group twice.
    notice = shipment_notice(
        _keyed({**vendor_example(SHIPMENTS)["shipments"][0], "shipmentItems": items})
    )
    assert notice.shipment.lines == {} and notice.shipment.tracking_number


@pytest.mark.parametrize(
    "example, lines",
    [
        ("shipstation/orders.get.response.json", {"ABC123": 2}),
        ("shipstation/orders.createorder.response.json", {"ABC123": 2}),
    ],
)
def test_order_items_ship_goods_never_adjustments(example, lines):
    # ShipStation's order examples carry a "10% OFF" item with adjustment: true and a negative price.
    items = vendor_example(example)["items"]
    assert any(i["adjustment"] for i in items)
    assert shipment_lines(items) == lines


def test_the_orders_of_the_list_example_give_their_lines():
    for order in vendor_example("shipstation/orders.list.response.json")["orders"]:
        lines = shipment_lines(order["items"])
        assert sum(lines.values()) == sum(
            i["quantity"] for i in order["items"] if not i["adjustment"]
        )


def test_fulfillments_name_their_carrier_in_display_case_and_still_get_a_tracking_link():
    for fulfillment in vendor_example("shipstation/fulfillments.list.response.json")[
        "fulfillments"
    ]:
        carrier, url = carrier_and_url(fulfillment["carrierCode"], fulfillment["trackingNumber"])
        assert carrier in ("USPS", "FedEx") and url.endswith(fulfillment["trackingNumber"])
        assert (
            parse_datetime(fulfillment["shipDate"]) is not None and fulfillment["voided"] is False
        )
