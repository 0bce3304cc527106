"""The Shipping rules page, a SKU's shipping attributes, and late orders in the admin."""

from __future__ import annotations

import io
from datetime import timedelta

from admin_helpers import flashes
from sqlalchemy import select

from hub.inventory.levels import LevelChange, set_on_hand, upsert_location
from hub.queue.jobs import Worker, enqueue
from hub.queue.kinds import JobKind
from hub.store.models import (
    FulfillmentGroup,
    LocationPromise,
    Order,
    ServiceLevelRule,
    SkuAttributes,
    TransitTime,
    utcnow,
)

EXPRESS = {
    "name": "Express chosen",
    "method_contains": "express",
    "action": "service",
    "carrier_code": "ups",
    "service_code": "ups_next_day_air",
}
HAZARDOUS = {"name": "Hazardous by road", "any_hazardous": "on", "action": "ground_only"}


def rules(hub) -> list[tuple[int, str]]:
    with hub.db.read() as session:
        return [
            (r.position, r.name)
            for r in session.scalars(select(ServiceLevelRule).order_by(ServiceLevelRule.position))
        ]


def test_a_merchant_adds_orders_and_deletes_rules(browser, admin_hub):
    page = browser.get("/shipping-rules").get_data(as_text=True)
    assert "No rules yet: the warehouse picks every service." in page
    for form in (EXPRESS, HAZARDOUS):
        answer = browser.post("/shipping-rules", form, follow_redirects=True)
        assert answer.status_code == 200
    assert rules(admin_hub) == [(1, "Express chosen"), (2, "Hazardous by road")]
    page = browser.get("/shipping-rules").get_data(as_text=True)
    assert "method contains “express”" in page and "ups / ups_next_day_air" in page
    assert "any item hazardous" in page and "ground only" in page
    with admin_hub.db.read() as session:
        hazardous_id = session.scalar(
            select(ServiceLevelRule.id).where(ServiceLevelRule.name == "Hazardous by road")
        )
    # Changed in place: its own form, filled with what it holds; unticking "On" turns it off.
    assert 'value="Hazardous by road"' in page and "Change rule 2 “Hazardous by road”" in page
    answer = browser.post(
        f"/shipping-rules/{hazardous_id}",
        {
            **HAZARDOUS,
            "carrier_code": "fedex",
            "service_code": "fedex_ground",
            "enabled_shown": "1",
        },
        follow_redirects=True,
    )
    assert "Saved rule 2 “Hazardous by road”." in flashes(answer.get_data(as_text=True))
    with admin_hub.db.read() as session:
        changed = session.get(ServiceLevelRule, hazardous_id)
        assert (changed.service_code, changed.enabled, changed.position) == (
            "fedex_ground",
            False,
            2,
        )
    browser.post(f"/shipping-rules/{hazardous_id}/move", {"direction": "up"})
    assert rules(admin_hub) == [(1, "Hazardous by road"), (2, "Express chosen")]
    answer = browser.post(f"/shipping-rules/{hazardous_id}/delete", follow_redirects=True)
    assert "Rule deleted; the rules after it moved up." in flashes(answer.get_data(as_text=True))
    assert rules(admin_hub) == [(1, "Express chosen")]


def test_a_wrong_rule_is_refused_in_words_and_nothing_is_saved(browser, admin_hub):
    answer = browser.post(
        "/shipping-rules",
        {**EXPRESS, "service_code": "", "weight_over_grams": "lots", "countries": "USA"},
    )
    assert answer.status_code == 422
    [message] = flashes(answer.get_data(as_text=True))
    assert message.startswith("the rule was not saved:")
    assert "weight_over_grams" in message and "countries" in message
    # What was typed stays in the form.
    assert 'value="Express chosen"' in answer.get_data(as_text=True)
    assert rules(admin_hub) == []


def test_location_days_and_transit_times_are_set_on_the_page(browser, admin_hub):
    with admin_hub.db.transaction() as session:
        upsert_location(session, "BER", name="Berlin")
    answer = browser.post(
        "/shipping-rules/locations/BER",
        {"cutoff": "15:30", "working_days": ["1", "2", "3", "4", "5", "6"]},
        follow_redirects=True,
    )
    assert "Saved when BER ships." in flashes(answer.get_data(as_text=True))
    bad = browser.post("/shipping-rules/locations/BER", {"cutoff": "25:00"}, follow_redirects=True)
    assert any("not a time of day" in m for m in flashes(bad.get_data(as_text=True)))
    browser.post("/shipping-rules/transit", {"zone": "de", "days": "2", "air_days": "1"})
    browser.post("/shipping-rules/transit", {"zone": "*", "days": "6"})
    with admin_hub.db.read() as session:
        [days] = session.scalars(select(LocationPromise)).all()
        assert (days.cutoff, days.working_days) == ("15:30", "123456")
        transit = {t.zone: (t.days, t.air_days) for t in session.scalars(select(TransitTime))}
    assert transit == {"DE": (2, 1), "*": (6, None)}
    page = browser.get("/shipping-rules").get_data(as_text=True)
    assert "anywhere else" in page and 'value="15:30"' in page


def test_a_skus_attributes_are_set_on_its_page_and_many_from_a_csv_file(browser, admin_hub):
    with admin_hub.db.transaction() as session:
        upsert_location(session, "BER")
        set_on_hand(
            session,
            [LevelChange("SPRAY", "BER", 5), LevelChange("MUG", "BER", 5)],
            actor="test",
            reason="set-up",
            source="test",
        )
    answer = browser.post(
        "/skus/SPRAY/attributes",
        {"weight_grams": "400", "length_mm": "60", "hazardous": "on"},
        follow_redirects=True,
    )
    page = answer.get_data(as_text=True)
    assert "Attributes of SPRAY saved." in flashes(page)
    assert 'name="weight_grams" min="0" value="400"' in page
    refused = browser.post("/skus/SPRAY/attributes", {"weight_grams": "-1"}, follow_redirects=True)
    assert any("weight_grams" in m for m in flashes(refused.get_data(as_text=True)))
    csv_file = (io.BytesIO(b"sku,weight_grams,fragile\nMUG,350,yes\nGHOST,1,no\n"), "skus.csv")
    answer = browser.post(
        "/shipping-rules/sku-attributes",
        {"file": csv_file},
        content_type="multipart/form-data",
    )
    page = answer.get_data(as_text=True)
    assert "Imported skus.csv: 1 SKU(s) changed, 1 row(s) refused." in flashes(page)
    assert "SKU &#39;GHOST&#39; does not exist" in page
    with admin_hub.db.read() as session:
        spray, mug = session.get(SkuAttributes, "SPRAY"), session.get(SkuAttributes, "MUG")
        assert (spray.weight_grams, spray.hazardous) == (400, True)
        assert (mug.weight_grams, mug.fragile) == (350, True)


def test_a_late_order_has_a_badge_and_a_filter(browser, admin_hub, make_order):
    late_id, on_time_id = make_order(admin_hub), make_order(admin_hub)
    Worker(admin_hub, worker_id="t").run_until_idle()
    two_days_ago = utcnow().date() - timedelta(days=2)
    with admin_hub.db.transaction() as session:
        for oid, ship_by in ((late_id, two_days_ago), (on_time_id, utcnow().date() + timedelta(3))):
            order = session.get(Order, oid)
            assert order.status == "confirmed"
            order.fulfillment_groups.append(
                FulfillmentGroup(
                    key=f"hub-{oid}",
                    location_code="",
                    lines=[{"line_id": order.lines[0].id, "quantity": order.lines[0].quantity}],
                    status="submitted",
                    ship_by=ship_by,
                    promise_basis="the warehouse: cut-off 14:00, Mon–Fri",
                )
            )
        enqueue(session, JobKind.ORDER_LATE_CHECK, {})
    Worker(admin_hub, worker_id="t", kinds=(JobKind.ORDER_LATE_CHECK,)).run_until_idle()
    listed = browser.get("/orders?late=1").get_data(as_text=True)
    assert f'href="/orders/{late_id}"' in listed
    assert f'href="/orders/{on_time_id}"' not in listed
    assert ">late</span>" in listed
    page = browser.get(f"/orders/{late_id}").get_data(as_text=True)
    assert ">late</span>" in page and f"Late: not shipped by {two_days_ago.isoformat()}." in page
    assert "Late: a delivery promise was not kept" in page  # the timeline's words
    other = browser.get(f"/orders/{on_time_id}").get_data(as_text=True)
    assert ">late</span>" not in other and "Delivery promise" in other
