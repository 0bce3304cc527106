"""Substitutes in the admin: set on the SKU page; the customer's choice on the order page."""

from __future__ import annotations

from admin_helpers import flashes

from hub.core.order import Line
from hub.inventory.levels import LevelChange, set_on_hand, upsert_location
from hub.orders import substitutes
from hub.queue.jobs import Worker
from hub.store.models import Order


def test_the_sku_page_sets_substitutes_best_first_and_refuses_the_sku_itself(browser, admin_hub):
    with admin_hub.db.transaction() as session:
        upsert_location(session, "wh")
        set_on_hand(
            session,
            [LevelChange("MUG", "wh", 0), LevelChange("MUG-BLUE", "wh", 4)],
            actor="test",
        )
    answer = browser.post(
        "/skus/MUG/substitutes", {"substitutes": "MUG-BLUE\nMUG-RED"}, follow_redirects=True
    )
    page = answer.get_data(as_text=True)
    assert "Substitutes of MUG saved (MUG-BLUE, MUG-RED)." in flashes(page)
    assert 'MUG-BLUE</a> <span class="muted">· 4 available' in page
    with admin_hub.db.read() as session:
        assert substitutes.substitutes_of(session, "MUG") == ["MUG-BLUE", "MUG-RED"]

    refused = browser.post("/skus/MUG/substitutes", {"substitutes": "MUG"}, follow_redirects=True)
    assert any("its own alternative" in m for m in flashes(refused.get_data(as_text=True)))
    with admin_hub.db.read() as session:  # nothing changed
        assert substitutes.substitutes_of(session, "MUG") == ["MUG-BLUE", "MUG-RED"]


def test_the_order_page_shows_what_the_customer_chose(browser, admin_hub, make_order):
    with admin_hub.db.transaction() as session:
        upsert_location(session, "wh")
        set_on_hand(
            session, [LevelChange("MUG", "wh", 0), LevelChange("MUG-BLUE", "wh", 4)], actor="test"
        )
        substitutes.set_substitutes(session, "MUG", ["MUG-BLUE"], actor="test")
    oid = make_order(admin_hub, lines=[Line(sku="MUG", name="Mug", quantity=2, unit_price=1200)])
    Worker(admin_hub, worker_id="t").run_until_idle()
    with admin_hub.db.transaction() as session:
        substitutes.choose(session, oid, "substitute")
    Worker(admin_hub, worker_id="t").run_until_idle()
    page = browser.get(f"/orders/{oid}").get_data(as_text=True)
    assert "The customer chose what happens to the missing items" in page
    assert "took the alternative: 2 x MUG-BLUE for MUG" in page
    with admin_hub.db.read() as session:
        order = session.get(Order, oid)
        assert [(x.sku, x.quantity, x.unit_price) for x in order.lines] == [("MUG-BLUE", 2, 1200)]
