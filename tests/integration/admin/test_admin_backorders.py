"""A backordered order's page says which line waits, how many units and until when."""

from __future__ import annotations

from hub.core.order import Line
from hub.inventory.levels import LevelChange, set_on_hand, upsert_location
from tests.integration.inventory.backorder_helpers import allow_backorders, on_its_way


def test_the_order_page_marks_the_backordered_line_with_its_expected_day(
    browser, admin_hub, make_order, run_jobs
):
    hub = admin_hub
    with hub.db.transaction() as session:
        upsert_location(session, "wh")
        set_on_hand(session, [LevelChange("MUG", "wh", 1)], actor="test")
    allow_backorders(hub, "MUG")
    on_its_way(hub, "MUG", 10)
    oid = make_order(hub, lines=[Line(sku="MUG", name="Mug", quantity=3, unit_price=900)])
    run_jobs(hub)
    page = browser.get(f"/orders/{oid}").get_data(as_text=True)
    assert "2 backordered, expected 2026-12-20" in page
    assert "Backordered: waits for stock on a purchase order" in page
