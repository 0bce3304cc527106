"""Routing strategies as a merchant sees them: where each order's stock is reserved, and why.

Locations in Berlin, Hamburg, Salzburg, Chicago and New York; orders to Munich
and Boston. ``nearest`` ships from the closest place that has everything,
whatever the priorities; ``cheapest`` asks the ShipStation sandbox (over real
loopback HTTP) for rates and takes the lowest, even when it is farther; when
quotes fail it routes ``nearest`` and says so in the order's history.
"""

from __future__ import annotations

from datetime import timedelta

import pytest
from sqlalchemy import select, update

from hub.channels.manage import create_channel, ensure_manual_channel
from hub.core.order import Address, Customer, Line
from hub.integration.sandbox import serve
from hub.inventory.levels import LevelChange, set_on_hand, upsert_location
from hub.routing import strategies
from hub.routing.audit import decision_lines
from hub.store.models import Location, Order, RateQuote, StockReservation, utcnow
from plugins.shipstation.sandbox import ShipStationSandbox

#: code: (latitude, longitude, postal code, country)
PLACES = {
    "berlin": (52.5200, 13.4050, "10115", "DE"),
    "hamburg": (53.5511, 9.9937, "20095", "DE"),
    "salzburg": (47.8095, 13.0550, "5020", "AT"),
    "chicago": (41.8781, -87.6298, "60601", "US"),
    "newyork": (40.7128, -74.0060, "10001", "US"),
}
MUNICH = (48.1372, 11.5756, "80331", "DE", "München")
BOSTON = (42.3601, -71.0589, "02108", "US", "Boston")


def locations(hub, stock: dict[str, dict[str, int]], priorities: dict[str, int] | None = None):
    """Create the named locations where they are, with their stock ({code: {sku: units}})."""
    priorities = priorities or {}
    with hub.db.transaction() as session:
        for code in stock:
            lat, lon, zip_code, country = PLACES[code]
            loc = upsert_location(session, code, priority=priorities.get(code, 0))
            loc.latitude, loc.longitude, loc.zip, loc.country_code = lat, lon, zip_code, country
        set_on_hand(
            session,
            [
                LevelChange(sku, code, qty)
                for code, skus in stock.items()
                for sku, qty in skus.items()
            ],
            actor="test",
            reason="set-up",
            source="test",
        )


def use(hub, strategy: str) -> None:
    with hub.db.transaction() as session:
        strategies.set_strategy(session, ensure_manual_channel(hub, session).id, strategy)


def order_to(hub, make_order, place, *skus: str) -> int:
    lat, lon, zip_code, country, city = place
    oid = make_order(
        hub,
        customer=Customer(email=f"buyer-{len(skus)}-{zip_code}-{id(skus)}@example.com"),
        shipping_address=Address(
            name="Kim", address1="1 Platz", city=city, zip=zip_code, country_code=country
        ),
        lines=[Line(sku=sku, name=sku, quantity=1, unit_price=1000) for sku in skus],
    )
    with hub.db.transaction() as session:
        order = session.get(Order, oid)
        order.ship_latitude, order.ship_longitude = lat, lon
        order.ship_geo_precision, order.ship_geo_source = "exact", "test"
    return oid


def shipped_from(hub, order_id: int) -> list[str]:
    """The codes of the locations the order's stock is reserved at, sorted."""
    with hub.db.read() as session:
        rows = session.scalars(
            select(StockReservation).where(
                StockReservation.order_id == order_id, StockReservation.status == "active"
            )
        ).all()
        codes = {r.location_id for r in rows}
        return sorted(session.get(Location, i).code for i in codes)


def decision(hub, order_id: int) -> dict:
    with hub.db.read() as session:
        order = session.get(Order, order_id)
        confirmed = [e for e in order.events if e.name == "order.confirmed"]
        assert confirmed, [e.name for e in order.events]
        return confirmed[-1].data["routing"]


@pytest.mark.parametrize("priorities", [{"chicago": 9}, {"berlin": 9}])
def test_nearest_ships_munich_from_berlin_and_boston_from_chicago_whatever_the_priorities(
    any_hub, make_order, run_jobs, priorities
):
    hub = any_hub
    locations(hub, {"berlin": {"A": 5}, "chicago": {"A": 5}}, priorities)
    use(hub, "nearest")
    munich = order_to(hub, make_order, MUNICH, "A")
    boston = order_to(hub, make_order, BOSTON, "A")
    run_jobs(hub)
    assert shipped_from(hub, munich) == ["berlin"]
    assert shipped_from(hub, boston) == ["chicago"]
    why = decision(hub, munich)
    assert why["strategy"] == "nearest" and why["winner"] == ["berlin"]
    # Both places were weighed, each with its distance to Munich.
    assert [(c["locations"], c["chosen"]) for c in why["candidates"]] == [
        (["berlin"], True),
        (["chicago"], False),
    ]
    assert 480 < why["candidates"][0]["km"] < 520
    assert 7000 < why["candidates"][1]["km"] < 7500


def test_priority_stays_the_default_and_ignores_distance(hub, make_order, run_jobs):
    locations(hub, {"berlin": {"A": 5}, "chicago": {"A": 5}}, {"chicago": 9})
    munich = order_to(hub, make_order, MUNICH, "A")
    run_jobs(hub)
    assert shipped_from(hub, munich) == ["chicago"]
    assert decision(hub, munich)["strategy"] == "priority"


def test_when_only_chicago_has_a_sku_the_munich_order_ships_from_chicago(hub, make_order, run_jobs):
    locations(hub, {"berlin": {"A": 5}, "chicago": {"A": 5, "B": 5}})
    use(hub, "nearest")
    munich = order_to(hub, make_order, MUNICH, "A", "B")
    run_jobs(hub)
    # One shipment from Chicago beats a split, however near Berlin is.
    assert shipped_from(hub, munich) == ["chicago"]


def test_a_split_takes_the_fewest_shipments_then_the_shortest_distance(hub, make_order, run_jobs):
    locations(
        hub,
        {
            "berlin": {"A": 5},
            "newyork": {"A": 5},
            "hamburg": {"B": 5},
            "chicago": {"B": 5},
        },
        {"newyork": 9, "chicago": 9},
    )
    use(hub, "nearest")
    munich = order_to(hub, make_order, MUNICH, "A", "B")
    boston = order_to(hub, make_order, BOSTON, "A", "B")
    run_jobs(hub)
    assert shipped_from(hub, munich) == ["berlin", "hamburg"]
    assert shipped_from(hub, boston) == ["chicago", "newyork"]
    why = decision(hub, munich)
    assert why["method"] == "exact split"
    assert all(c["shipments"] == 2 for c in why["candidates"])
    kms = [c["km"] for c in why["candidates"]]
    assert kms == sorted(kms) and why["candidates"][0]["chosen"]


def test_the_timeline_says_why_in_words(hub, make_order, run_jobs, app):
    locations(hub, {"berlin": {"A": 5}, "chicago": {"A": 5}}, {"chicago": 9})
    use(hub, "nearest")
    munich = order_to(hub, make_order, MUNICH, "A")
    run_jobs(hub)
    with hub.db.read() as session:
        data = next(
            e.data for e in session.get(Order, munich).events if e.name == "order.confirmed"
        )
    lines = decision_lines(data)
    assert lines[0].startswith("Routed by nearest to berlin: the nearest location")
    assert lines[1].startswith("chosen: berlin, 50") and lines[1].endswith("1 shipment")
    assert lines[2].startswith("considered: chicago, 7,")


# --- cheapest, with the ShipStation sandbox over loopback -------------------------------------------


@pytest.fixture
def rates_sandbox():
    box = ShipStationSandbox("k", "s")
    for _lat, _lon, zip_code, country in PLACES.values():
        box.add_origin(zip_code, country)
    with serve(box) as url:
        box.base_url = url
        yield box


def shipstation(hub, sandbox) -> int:
    with hub.db.transaction() as session:
        return create_channel(
            hub,
            session,
            name="ShipStation",
            connector="shipstation",
            slug="shipstation",
            config={
                "api_key": "k",
                "api_secret": "s",
                "webhook_token": "t" * 20,
                "api_base_url": sandbox.base_url,
                "rate_carriers": "ups, fedex",
            },
        ).id


def test_cheapest_takes_the_lower_quote_even_when_farther(hub, make_order, run_jobs, rates_sandbox):
    # Salzburg is 120 km from Munich but abroad; Hamburg is 600 km away at home: cheaper.
    locations(hub, {"salzburg": {"A": 5}, "hamburg": {"A": 5}})
    shipstation(hub, rates_sandbox)
    use(hub, "cheapest")
    munich = order_to(hub, make_order, MUNICH, "A")
    run_jobs(hub)
    assert shipped_from(hub, munich) == ["hamburg"]
    why = decision(hub, munich)
    assert why["strategy"] == "cheapest" and "fallback" not in why
    by_place = {c["locations"][0]: c for c in why["candidates"]}
    assert by_place["salzburg"]["km"] < by_place["hamburg"]["km"]
    assert by_place["hamburg"]["cost_cents"] < by_place["salzburg"]["cost_cents"]
    assert by_place["hamburg"]["quotes"][0]["carrier"] == "ups"
    assert "though farther" in why["why"]
    # One request per carrier and origin: 2 carriers x 2 locations.
    assert rates_sandbox.count("POST", "/shipments/getrates") == 4


def test_quotes_are_cached_per_origin_zone_and_weight_band_until_they_expire(
    any_hub, make_order, run_jobs, rates_sandbox
):
    hub = any_hub
    locations(hub, {"salzburg": {"A": 9}, "hamburg": {"A": 9}})
    shipstation(hub, rates_sandbox)
    use(hub, "cheapest")
    order_to(hub, make_order, MUNICH, "A")
    run_jobs(hub)
    # Two origins by two carriers: four quotes (counted as asked, not as HTTP requests: a
    # request retried after a slow answer on a loaded machine asks the same quote again).
    assert len(set(rates_sandbox.quotes_asked)) == 4
    requests = rates_sandbox.count("POST", "/shipments/getrates")
    # Another order to the same zone (DE-80) and band: no request, the quotes say cached.
    second = order_to(hub, make_order, MUNICH, "A")
    run_jobs(hub)
    assert rates_sandbox.count("POST", "/shipments/getrates") == requests
    quotes = [q for c in decision(hub, second)["candidates"] for q in c["quotes"]]
    assert quotes and all(q["cached"] for q in quotes)
    with hub.db.read() as session:
        assert {(q.origin, q.zone, q.weight_band) for q in session.scalars(select(RateQuote))} == {
            ("salzburg", "DE-80", 500),
            ("hamburg", "DE-80", 500),
        }
    # Expired: the four are asked again.
    asked = len(rates_sandbox.quotes_asked)
    with hub.db.transaction() as session:
        session.execute(update(RateQuote).values(expires_at=utcnow() - timedelta(seconds=1)))
    third = order_to(hub, make_order, MUNICH, "A")
    run_jobs(hub)
    assert set(rates_sandbox.quotes_asked[asked:]) == set(rates_sandbox.quotes_asked[:asked])
    assert shipped_from(hub, third) == ["hamburg"]


def test_when_quotes_fail_cheapest_routes_nearest_and_says_so(
    hub, make_order, run_jobs, rates_sandbox
):
    locations(hub, {"salzburg": {"A": 5}, "hamburg": {"A": 5}})
    shipstation(hub, rates_sandbox)
    use(hub, "cheapest")
    rates_sandbox.faults.plan(503, path="/shipments/getrates", times=None)
    munich = order_to(hub, make_order, MUNICH, "A")
    run_jobs(hub)
    assert shipped_from(hub, munich) == ["salzburg"]
    why = decision(hub, munich)
    assert why["fallback"] == "nearest"
    assert why["why"].startswith("no rate quote (ShipStation gave no quote")
    assert "routed nearest instead" in why["why"]
    with hub.db.read() as session:
        assert session.scalars(select(RateQuote)).all() == []


def test_a_channel_refuses_an_unknown_strategy_and_keeps_its_own(hub):
    use(hub, "nearest")
    with hub.db.transaction() as session:
        channel_id = ensure_manual_channel(hub, session).id
        with pytest.raises(Exception, match="is not a strategy"):
            strategies.set_strategy(session, channel_id, "fastest")
    with hub.db.read() as session:
        assert strategies.strategy_of(session, channel_id) == "nearest"


def test_the_api_reads_and_sets_a_channels_strategy(hub, api, client):
    from hub.accounts.users import create_token
    from hub.testing import ApiClient

    with hub.db.transaction() as session:
        channel_id = ensure_manual_channel(hub, session).id
        reader = ApiClient(client, create_token(session, "reader", scope="read")[1])
    url = f"/api/v1/channels/{channel_id}/routing"
    assert reader.get(url).get_json() == {"channel_id": channel_id, "strategy": "priority"}
    assert reader.open("PUT", url, json={"strategy": "nearest"}).status_code == 403
    done = api.open("PUT", url, json={"strategy": "cheapest"})
    assert done.status_code == 200 and done.get_json()["strategy"] == "cheapest"
    bad = api.open("PUT", url, json={"strategy": "fastest"})
    assert bad.status_code == 422 and "strategy" in bad.get_json()["error"]["details"]
    assert reader.get(url).get_json()["strategy"] == "cheapest"  # the saved one stands
    assert api.get("/api/v1/channels/999999/routing").status_code == 404


def test_a_skus_weight_decides_the_band_quoted(hub, make_order, run_jobs, rates_sandbox):
    from hub.inventory.attributes import set_attributes

    locations(hub, {"salzburg": {"HEAVY": 5}, "hamburg": {"HEAVY": 5}})
    shipstation(hub, rates_sandbox)
    use(hub, "cheapest")
    with hub.db.transaction() as session:
        set_attributes(session, "HEAVY", {"weight_grams": 6_000}, actor="test")
    munich = order_to(hub, make_order, MUNICH, "HEAVY")
    run_jobs(hub)
    quotes = [q for c in decision(hub, munich)["candidates"] for q in c["quotes"]]
    assert {q["grams"] for q in quotes} == {6_000}
    with hub.db.read() as session:
        assert {q.weight_band for q in session.scalars(select(RateQuote))} == {10_000}


def test_quotes_expired_past_the_retention_go_with_the_purge(hub, rates_sandbox):
    from hub.pipeline import retention

    channel_id = shipstation(hub, rates_sandbox)
    long_ago, recent = utcnow() - timedelta(days=40), utcnow() - timedelta(days=1)
    with hub.db.transaction() as session:
        for origin, expired in (("old", long_ago), ("recent", recent)):
            session.add(
                RateQuote(
                    channel_id=channel_id,
                    origin=origin,
                    zone="DE-80",
                    weight_band=500,
                    carrier="ups",
                    service_code="ups_ground",
                    service_name="UPS Ground",
                    cost_cents=1617,
                    quoted_at=expired - timedelta(hours=1),
                    expires_at=expired,
                )
            )
    removed = retention.purge(hub, utcnow() - timedelta(days=30))
    assert removed["expired rate quotes"] == 1
    with hub.db.read() as session:
        assert [q.origin for q in session.scalars(select(RateQuote))] == ["recent"]


def test_two_orders_keeping_the_same_quote_at_once_both_route_on_postgresql(
    pg_hub, make_order, rates_sandbox
):
    """The second insert of a (channel, origin, zone, band) waits for the first and gives way."""
    import threading
    import time

    from hub.integration.lookup import Destination
    from hub.store.models import Location

    hub = pg_hub
    locations(hub, {"hamburg": {"A": 5}})
    shipstation(hub, rates_sandbox)
    first, second = (order_to(hub, make_order, MUNICH, "A") for _ in range(2))
    there = Destination(48.1372, 11.5756, "exact", "80331", "DE")
    got: dict[int, object] = {}

    def quote(order_id: int, hold: float) -> None:
        book = hub.service("rate_quotes")
        with hub.db.transaction() as session:
            order = session.get(Order, order_id)
            where = session.scalars(select(Location).where(Location.code == "hamburg")).one()
            got[order_id] = book.quote(session, order, where, there, 400)
            time.sleep(hold)

    a = threading.Thread(target=quote, args=(first, 0.5))
    a.start()
    time.sleep(0.2)
    b = threading.Thread(target=quote, args=(second, 0.0))
    b.start()
    a.join(10)
    b.join(10)
    assert got[first] == got[second] and got[first].cost_cents == 1617
    with hub.db.read() as session:
        assert len(session.scalars(select(RateQuote)).all()) == 1
