"""A sales channel's routing strategy on its page, and an order's timeline saying how it was routed."""

from __future__ import annotations

from hub.channels import manage
from hub.core.order import Address, Line
from hub.inventory.levels import LevelChange, set_on_hand, upsert_location
from hub.routing.strategies import strategy_of
from hub.store.models import Order


def _shop(hub) -> int:
    with hub.db.transaction() as db:
        return manage.create_channel(hub, db, name="EU shop", connector="manual", config={}).id


def test_a_sales_channels_routing_is_set_on_its_page(browser, admin_hub):
    shop = _shop(admin_hub)
    page = browser.get(f"/channels/{shop}").get_data(as_text=True)
    assert f'action="/channels/{shop}/routing"' in page
    assert '<option value="priority" selected>' in page  # as the hub always routed
    answer = browser.post(
        f"/channels/{shop}/routing", {"strategy": "nearest"}, follow_redirects=True
    )
    assert "Routing of “EU shop” saved: nearest." in answer.get_data(as_text=True)
    assert '<option value="nearest" selected>' in browser.get(f"/channels/{shop}").get_data(
        as_text=True
    )
    refused = browser.post(
        f"/channels/{shop}/routing", {"strategy": "fastest"}, follow_redirects=True
    )
    assert "&#39;fastest&#39; is not a strategy" in refused.get_data(as_text=True)
    with admin_hub.db.read() as db:
        assert strategy_of(db, shop) == "nearest"


def test_the_order_timeline_lists_the_plans_weighed_and_the_winner(
    browser, admin_hub, make_order, run_jobs
):
    with admin_hub.db.transaction() as db:
        for code, lat, lon in (("berlin", 52.52, 13.405), ("chicago", 41.8781, -87.6298)):
            loc = upsert_location(db, code, priority=9 if code == "chicago" else 0)
            loc.latitude, loc.longitude = lat, lon
        set_on_hand(
            db,
            [LevelChange("A", "berlin", 3), LevelChange("A", "chicago", 3)],
            actor="test",
            reason="set-up",
            source="test",
        )
        manual = manage.ensure_manual_channel(admin_hub, db).id
    browser.post(f"/channels/{manual}/routing", {"strategy": "nearest"})
    oid = make_order(
        admin_hub,
        shipping_address=Address(
            name="Kim", address1="Marienplatz 1", city="München", zip="80331", country_code="DE"
        ),
        lines=[Line(sku="A", name="A", quantity=1, unit_price=1000)],
    )
    with admin_hub.db.transaction() as db:
        order = db.get(Order, oid)
        order.ship_latitude, order.ship_longitude, order.ship_geo_precision = (
            48.137,
            11.575,
            "exact",
        )
    run_jobs(admin_hub)
    page = browser.get(f"/orders/{oid}").get_data(as_text=True)
    assert (
        "Routed by nearest to berlin: the nearest location that can ship every line (504 km)"
        in page
    )
    assert "chosen: berlin, 504 km, 1 shipment" in page
    assert "considered: chicago, 7," in page
