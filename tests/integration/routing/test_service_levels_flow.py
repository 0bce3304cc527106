"""Service levels and the delivery promise as a merchant and a customer see them.

The SKUs' attributes and the rules are set through the API; orders go through
the whole flow to the ShipStation sandbox (over loopback HTTP), which receives
the carrier service the rules chose, what the customer asked for and the
parcel's weight. The order's API detail, its tracking page and the late check
show the promise.
"""

from __future__ import annotations

from datetime import timedelta

import pytest
from sqlalchemy import select, update

from hub.channels.manage import create_channel
from hub.core.order import Line
from hub.integration.sandbox import serve
from hub.inventory.levels import LevelChange, set_on_hand, upsert_location
from hub.queue.jobs import Worker, enqueue
from hub.queue.kinds import JobKind
from hub.routing import promise
from hub.store.models import FulfillmentGroup, Job, Order, OrderAuditEvent, OrderLateMark, utcnow
from plugins.shipstation.sandbox import ShipStationSandbox

RULES = [
    {
        "name": "Express chosen",
        "method_contains": "express",
        "action": "service",
        "carrier_code": "ups",
        "service_code": "ups_next_day_air",
    },
    {"name": "Hazardous by road", "any_hazardous": True, "action": "ground_only"},
    {
        "name": "Everything else",
        "action": "service",
        "carrier_code": "ups",
        "service_code": "ups_ground",
    },
]


@pytest.fixture
def sandbox():
    box = ShipStationSandbox("k", "s")
    with serve(box) as url:
        box.base_url = url
        yield box


@pytest.fixture
def shop(hub, api, sandbox):
    """A warehouse with stock, a ShipStation channel, SKU attributes and the rules, set by API."""
    with hub.db.transaction() as session:
        upsert_location(session, "BER", name="Berlin")
        set_on_hand(
            session,
            [LevelChange("SPRAY", "BER", 50), LevelChange("MUG", "BER", 50)],
            actor="test",
            reason="set-up",
            source="test",
        )
        create_channel(
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
            },
        )
        promise.set_transit(session, "US", 3, 1, actor="test")
    answer = api.open(
        "PUT", "/api/v1/skus/SPRAY/attributes", json={"weight_grams": 400, "hazardous": True}
    )
    assert answer.status_code == 200, answer.get_json()
    assert answer.get_json()["hazardous"] is True
    answer = api.open(
        "PUT",
        "/api/v1/skus/MUG/attributes",
        json={"weight_grams": 350, "length_mm": 120, "width_mm": 90, "height_mm": 100},
    )
    assert answer.status_code == 200
    for rule in RULES:
        created = api.post("/api/v1/service-level-rules", json=rule)
        assert created.status_code == 201, created.get_json()
    return hub


def run_all(hub) -> None:
    """Every due job, the batched shipping flush brought forward (tests do not wait)."""
    Worker(hub, worker_id="t", clock=lambda: utcnow() + timedelta(minutes=5)).run_until_idle()


def ship_order(hub, make_order, method: str, *skus: str) -> tuple[int, str]:
    oid = make_order(
        hub,
        shipping_method=method,
        lines=[Line(sku=sku, name=sku, quantity=2, unit_price=1000) for sku in skus],
    )
    run_all(hub)
    with hub.db.read() as session:
        [group] = session.scalars(select(FulfillmentGroup).where(FulfillmentGroup.order_id == oid))
        assert group.status == "submitted", group.error
        return oid, group.key


def test_express_chosen_ships_next_day_air_and_the_warehouse_is_told(shop, make_order, sandbox):
    _, key = ship_order(shop, make_order, "UPS Express", "MUG")
    sent = sandbox.order(key)
    assert (sent["carrierCode"], sent["serviceCode"]) == ("ups", "ups_next_day_air")
    assert sent["requestedShippingService"] == "UPS Express"
    assert sent["weight"] == {"value": 700, "units": "grams"}
    assert sent["dimensions"] == {
        "length": 12.0,
        "width": 9.0,
        "height": 20.0,
        "units": "centimeters",
    }


def test_a_hazardous_item_never_gets_an_air_service_even_when_express_was_chosen(
    shop, make_order, sandbox, api
):
    oid, key = ship_order(shop, make_order, "UPS Express", "SPRAY", "MUG")
    sent = sandbox.order(key)
    assert (sent["carrierCode"], sent["serviceCode"]) == ("ups", "ups_ground")
    assert sent["requestedShippingService"] == "UPS Express"
    # The rule that fired, and what it passed over, are on the order for the merchant.
    [group] = api.get(f"/api/v1/orders/{oid}").get_json()["delivery"]["groups"]
    assert group["service_code"] == "ups_ground"
    assert group["service_rule"].startswith("rule 3 “Everything else”: ups / ups_ground")
    assert "rule 1 “Express chosen” (ups_next_day_air flies)" in group["service_rule"]


def test_the_order_shows_its_promise_in_the_api_and_on_the_tracking_page(
    shop, make_order, api, client
):
    oid, _ = ship_order(shop, make_order, "Standard", "MUG")
    detail = api.get(f"/api/v1/orders/{oid}").get_json()
    assert detail["shipping_method"] == "Standard"
    delivery = detail["delivery"]
    [group] = delivery["groups"]
    assert group["ship_by"] and group["deliver_by"] > group["ship_by"]
    assert delivery["deliver_by"] == group["deliver_by"] and delivery["late"] is False
    assert "3 day(s) in transit to US (transit table)" in group["promise_basis"]
    with shop.db.read() as session:
        order = session.get(Order, oid)
        token = order.tracking_token
        deliver_by = order.fulfillment_groups[0].deliver_by
    page = client.get(f"/track/{token}").get_data(as_text=True)
    assert f"Expected delivery: <strong>{deliver_by.strftime('%A %d %B')}</strong>" in page


def late_check(hub) -> None:
    with hub.db.transaction() as session:
        enqueue(session, JobKind.ORDER_LATE_CHECK, {})
    Worker(hub, worker_id="t", kinds=(JobKind.ORDER_LATE_CHECK,)).run_until_idle()


def late_events(hub, oid: int) -> list[OrderAuditEvent]:
    with hub.db.read() as session:
        return list(
            session.scalars(
                select(OrderAuditEvent).where(
                    OrderAuditEvent.order_id == oid, OrderAuditEvent.name == "order.late"
                )
            )
        )


def test_an_order_not_shipped_by_its_promise_is_late_once_per_cause(shop, make_order, api):
    oid, _ = ship_order(shop, make_order, "Standard", "MUG")
    late_check(shop)
    assert (
        late_events(shop, oid) == []
        and api.get(f"/api/v1/orders/{oid}").get_json()["delivery"]["late"] is False
    )
    yesterday = utcnow().date() - timedelta(days=2)
    with shop.db.transaction() as session:
        session.execute(
            update(FulfillmentGroup)
            .where(FulfillmentGroup.order_id == oid)
            .values(ship_by=yesterday, deliver_by=utcnow().date() + timedelta(days=3))
        )
    late_check(shop)
    late_check(shop)  # the next hour's run: nothing new
    [event] = late_events(shop, oid)
    assert event.data["cause"] == "not_shipped" and event.data["promised"] == yesterday.isoformat()
    # Announced like every order event: plugins and outbound webhooks hear it.
    with shop.db.read() as session:
        assert session.scalar(
            select(Job.id).where(
                Job.kind == JobKind.ORDER_EVENT, Job.payload["event_id"].as_integer() == event.id
            )
        )
    delivery = api.get(f"/api/v1/orders/{oid}").get_json()["delivery"]
    assert delivery["late"] is True and [c["cause"] for c in delivery["late_causes"]] == [
        "not_shipped"
    ]
    # Its delivery day passes too: a second cause, told once as well.
    with shop.db.transaction() as session:
        session.execute(
            update(FulfillmentGroup)
            .where(FulfillmentGroup.order_id == oid)
            .values(deliver_by=yesterday)
        )
    late_check(shop)
    late_check(shop)
    assert sorted(e.data["cause"] for e in late_events(shop, oid)) == [
        "not_delivered",
        "not_shipped",
    ]
    with shop.db.read() as session:
        assert (
            len(session.scalars(select(OrderLateMark).where(OrderLateMark.order_id == oid)).all())
            == 2
        )
    late_only = api.get("/api/v1/orders?late=true").get_json()["data"]
    assert [o["id"] for o in late_only] == [oid]


def test_a_csv_import_sets_many_skus_and_names_each_refused_row(shop, api):
    answer = api.post(
        "/api/v1/sku-attributes/import",
        json={"csv": "sku,weight_grams,fragile\nMUG,360,yes\nNOPE,10,no\nSPRAY,heavy,no\n"},
    )
    assert answer.status_code == 200, answer.get_json()
    body = answer.get_json()
    assert body["changed"] == 1
    assert body["refused"] == [
        {"line": 3, "sku": "NOPE", "reason": "SKU 'NOPE' does not exist"},
        {"line": 4, "sku": "SPRAY", "reason": "weight_grams 'heavy' is not a whole number"},
    ]
    mug = api.get("/api/v1/skus/MUG/attributes").get_json()
    assert (mug["weight_grams"], mug["fragile"], mug["length_mm"]) == (360, True, 120)
    spray = api.get("/api/v1/skus/SPRAY/attributes").get_json()
    assert spray["weight_grams"] == 400  # its row was refused: nothing of it changed
    bad = api.post("/api/v1/sku-attributes/import", json={"csv": "code,weight\nMUG,1\n"})
    assert bad.status_code == 422 and "header" in bad.get_json()["error"]["message"]


def test_bad_attributes_and_rules_are_refused_with_the_field_named(shop, api):
    bad = api.open("PUT", "/api/v1/skus/MUG/attributes", json={"weight_grams": -5})
    assert bad.status_code == 422 and "weight_grams" in bad.get_json()["error"]["details"]
    unknown = api.open("PUT", "/api/v1/skus/NOPE/attributes", json={"weight_grams": 5})
    assert unknown.status_code == 404
    air_ground = api.post(
        "/api/v1/service-level-rules",
        json={"action": "ground_only", "carrier_code": "ups", "service_code": "ups_next_day_air"},
    )
    assert air_ground.status_code == 422
    assert "service_code" in air_ground.get_json()["error"]["details"]
    rules = api.get("/api/v1/service-level-rules").get_json()["data"]
    assert [r["name"] for r in rules] == [r["name"] for r in RULES]
    assert rules[1]["conditions"] == "any item hazardous"


def overdue_order(hub, make_order, *, ship_by) -> int:
    """A confirmed order whose one group was promised to ship by ``ship_by``."""
    oid = make_order(hub)
    Worker(hub, worker_id="t").run_until_idle()
    with hub.db.transaction() as session:
        order = session.get(Order, oid)
        assert order.status == "confirmed"
        line = order.lines[0]
        order.fulfillment_groups.append(
            FulfillmentGroup(
                key=f"hub-{oid}",
                lines=[{"line_id": line.id, "quantity": line.quantity}],
                status="submitted",
                ship_by=ship_by,
            )
        )
    return oid


def test_the_outbound_webhook_hears_order_late_once(hub, make_order):
    from hub.testing import Harness
    from plugins.webhook.tests.test_webhook import Receiver

    receiver = Receiver()
    try:
        Harness(hub).add_channel(
            "webhook",
            {"url": receiver.url, "secret": "s3cret-s3cret-s3cret", "events": ["order.late"]},
            name="CRM",
        )
        oid = overdue_order(hub, make_order, ship_by=utcnow().date() - timedelta(days=1))
        late_check(hub)
        late_check(hub)
        Worker(hub, worker_id="t").run_until_idle()
        sent = [(h["X-Hub-Event"], body) for h, body in receiver.requests]
        assert [event for event, _ in sent] == ["order.late"]
        assert f'"id": {oid}' in sent[0][1].decode() or f'"id":{oid}' in sent[0][1].decode()
    finally:
        receiver.close()


def test_the_late_check_on_postgresql_marks_once_and_leaves_promises_not_due(pg_hub, make_order):
    late_id = overdue_order(pg_hub, make_order, ship_by=utcnow().date() - timedelta(days=1))
    today_id = overdue_order(pg_hub, make_order, ship_by=utcnow().date())
    late_check(pg_hub)
    late_check(pg_hub)
    assert [e.data["cause"] for e in late_events(pg_hub, late_id)] == ["not_shipped"]
    assert late_events(pg_hub, today_id) == []  # its day is not over yet
    with pg_hub.db.read() as session:
        from hub.orders.queries import OrderFilters, search_orders

        found = search_orders(session, OrderFilters(late=True), limit=10)
        assert [o.id for o in found.rows] == [late_id]


def test_location_days_and_transit_times_are_set_by_api(hub, api):
    with hub.db.transaction() as session:
        upsert_location(session, "BER")
    assert api.get("/api/v1/locations/BER/shipping-days").get_json() == {
        "location": "BER",
        "cutoff": "14:00",
        "working_days": "12345",
    }
    saved = api.open(
        "PUT",
        "/api/v1/locations/BER/shipping-days",
        json={"cutoff": "16:00", "working_days": "123456"},
    )
    assert saved.status_code == 200 and saved.get_json()["cutoff"] == "16:00"
    bad = api.open(
        "PUT",
        "/api/v1/locations/BER/shipping-days",
        json={"cutoff": "4pm", "working_days": "12345"},
    )
    assert bad.status_code == 422 and "cutoff" in bad.get_json()["error"]["details"]
    assert api.get("/api/v1/locations/NOPE/shipping-days").status_code == 404
    assert (
        api.open("PUT", "/api/v1/transit-times/de", json={"days": 2, "air_days": 1}).status_code
        == 200
    )
    assert api.open("PUT", "/api/v1/transit-times/*", json={"days": 6}).status_code == 200
    assert api.open("PUT", "/api/v1/transit-times/GER", json={"days": 2}).status_code == 422
    assert api.get("/api/v1/transit-times").get_json()["data"] == [
        {"zone": "DE", "days": 2, "air_days": 1},
        {"zone": "*", "days": 6, "air_days": None},
    ]
    assert api.delete("/api/v1/transit-times/DE").status_code == 204
    assert [t["zone"] for t in api.get("/api/v1/transit-times").get_json()["data"]] == ["*"]


def test_candidates_that_are_not_late_do_not_crowd_out_those_behind_them(
    hub, make_order, monkeypatch
):
    from hub.routing import late

    monkeypatch.setattr(late, "BATCH", 1)
    two_days_ago = utcnow().date() - timedelta(days=2)
    ids = [overdue_order(hub, make_order, ship_by=two_days_ago) for _ in range(3)]
    # The first is overdue on paper but has nothing left to ship in its group (as a partly
    # shipped order's shipped group): a candidate that is not late, read first.
    with hub.db.transaction() as session:
        session.execute(
            update(FulfillmentGroup).where(FulfillmentGroup.order_id == ids[0]).values(lines=[])
        )
    late_check(hub)
    assert [bool(late_events(hub, oid)) for oid in ids] == [False, True, True]
