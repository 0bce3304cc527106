"""What the hub tells Shopify: fulfilments with tracking (once) and stock (only what changed)."""

from __future__ import annotations

import time
from datetime import timedelta
from types import SimpleNamespace

from sqlalchemy import select

from hub.channels.manage import update_config
from hub.core.order import ShipmentData
from hub.integration.connectors import StockLevel
from hub.inventory import levels as inventory
from hub.inventory.levels import LevelChange, set_on_hand, upsert_location
from hub.orders import shipments
from hub.queue.jobs import enqueue
from hub.store.models import Channel, Job, Order, Shipment
from plugins.shopify.connector import ShopifyConnector
from plugins.shopify.sandbox import OUTLET_LOCATION, PRIMARY_LOCATION


def pulled_order(env, *, lines_at_least: int = 1) -> dict:
    """Pull the shop, let the hub confirm its orders, and pick an open one with enough lines."""
    env.pull()
    env.run()
    for order_id in env.shop.order_ids:
        raw = env.shop.order(order_id)
        if (
            not raw["cancelled_at"]
            and len(raw["line_items"]) >= lines_at_least
            and env.order(order_id).status == "confirmed"
        ):
            return raw
    raise AssertionError("no suitable order in the sandbox")


def ship(env, raw: dict, *, tracking: str, lines: int | None = None) -> int:
    with env.hub.db.transaction() as session:
        order = session.scalars(
            select(Order).where(
                Order.channel_id == env.channel_id, Order.external_id == str(raw["id"])
            )
        ).one()
        chosen = {line.id: line.quantity for line in order.lines[:lines]} if lines else {}
        shipment = shipments.ship(
            session,
            order.id,
            ShipmentData(
                external_id=f"ss-{tracking}",
                carrier="ups",
                tracking_number=tracking,
                tracking_url=f"https://www.ups.com/track?tracknum={tracking}",
                lines=chosen,
            ),
            actor="test",
            channel_id=None,
        )
        return shipment.id


def test_a_shipment_becomes_one_shopify_fulfilment_with_tracking(any_hub, shopify):
    env = shopify(any_hub, orders=8, seed=21)
    raw = pulled_order(env)
    shipment_id = ship(env, raw, tracking="1Z999AA10123456784")
    env.run()
    [fulfillment] = env.shop.fulfillments[raw["id"]]
    assert fulfillment["tracking_number"] == "1Z999AA10123456784"
    assert fulfillment["tracking_company"] == "UPS"
    assert fulfillment["tracking_url"].endswith("1Z999AA10123456784")
    assert fulfillment["notify_customer"] is False
    assert sorted((li["id"], li["quantity"]) for li in fulfillment["line_items"]) == sorted(
        (li["id"], li["quantity"]) for li in raw["line_items"]
    )
    assert env.shop.order(raw["id"])["fulfillment_status"] == "fulfilled"
    with any_hub.db.read() as session:
        assert session.get(Shipment, shipment_id).channel_fulfillment_id == str(fulfillment["id"])


def test_the_push_running_twice_creates_one_fulfilment(hub, shopify):
    env = shopify(hub, orders=8, seed=21)
    raw = pulled_order(env)
    shipment_id = ship(env, raw, tracking="1ZTWICE")
    env.run()
    first = env.shop.fulfillments[raw["id"]][0]["id"]
    # As after a crash between Shopify's answer and the hub's commit: the id was
    # never saved and the job runs again.
    with hub.db.transaction() as session:
        session.get(Shipment, shipment_id).channel_fulfillment_id = None
        order_id = session.get(Shipment, shipment_id).order_id
        enqueue(
            session,
            "sales.push_fulfillment",
            {"shipment_id": shipment_id},
            channel_id=env.channel_id,
            order_id=order_id,
        )
    env.run("sales.push_fulfillment")
    assert [f["id"] for f in env.shop.fulfillments[raw["id"]]] == [first]
    assert env.shop.calls["POST fulfillments.json"] == 1
    with hub.db.read() as session:
        assert session.get(Shipment, shipment_id).channel_fulfillment_id == str(first)
        assert {
            j.status
            for j in session.scalars(select(Job).where(Job.kind == "sales.push_fulfillment"))
        } == {"succeeded"}


def test_a_partial_shipment_fulfils_only_its_lines(hub, shopify):
    env = shopify(hub, orders=40, seed=22)
    raw = pulled_order(env, lines_at_least=2)
    ship(env, raw, tracking="1ZPART1", lines=1)
    env.run()
    [fulfillment] = env.shop.fulfillments[raw["id"]]
    assert [(li["id"], li["quantity"]) for li in fulfillment["line_items"]] == [
        (raw["line_items"][0]["id"], raw["line_items"][0]["quantity"])
    ]
    assert env.shop.order(raw["id"])["fulfillment_status"] == "partial"
    ship(env, raw, tracking="1ZPART2")  # the rest, with its own tracking number
    env.run()
    assert [f["tracking_number"] for f in env.shop.fulfillments[raw["id"]]] == [
        "1ZPART1",
        "1ZPART2",
    ]
    assert env.shop.order(raw["id"])["fulfillment_status"] == "fulfilled"


def test_an_order_already_fulfilled_on_shopify_is_not_fulfilled_again(hub, shopify):
    env = shopify(hub, orders=8, seed=21)
    raw = pulled_order(env)
    connector: ShopifyConnector = env.connector()
    order = {"external_id": str(raw["id"])}
    shipment = {
        "id": 1,
        "tracking_number": "",
        "carrier": "",
        "lines": [
            {"external_id": str(li["id"]), "quantity": li["quantity"]} for li in raw["line_items"]
        ],
    }
    created = connector.push_fulfillment(order, shipment, idempotency_key="k")
    # Without a tracking number, the same line items identify the same fulfilment.
    assert connector.push_fulfillment(order, shipment, idempotency_key="k") == created
    other = {**shipment, "lines": shipment["lines"][:1]}
    assert (
        connector.push_fulfillment(order, other, idempotency_key="k2") is None
    )  # nothing left open
    assert len(env.shop.fulfillments[raw["id"]]) == 1


def test_stock_push_sets_only_the_given_skus(hub, shopify):
    env = shopify(hub, orders=1)
    connector = env.connector()
    connector.push_stock(
        [
            StockLevel("SKU-001-S", "WH1", 7),
            StockLevel("SKU-003-L", "WH1", 0),
            StockLevel("NOT-SOLD-HERE", "WH1", 4),
        ],
        state={},
        idempotency_key="test-push",
    )
    item_1 = env.shop.variant_for_sku("SKU-001-S")["inventory_item_id"]
    item_3 = env.shop.variant_for_sku("SKU-003-L")["inventory_item_id"]
    assert sorted(env.shop.stock_sets) == sorted(
        [(item_1, PRIMARY_LOCATION, 7), (item_3, PRIMARY_LOCATION, 0)]
    )
    assert env.shop.available("SKU-001-S") == 7 and env.shop.available("SKU-002-S") == 100
    # The catalogue is learnt once and kept.
    connector.push_stock([StockLevel("SKU-002-S", "WH1", 3)], state={}, idempotency_key="test-push")
    assert env.shop.calls["GET products.json"] == 1
    assert env.shop.available("SKU-002-S") == 3


def test_stock_push_uses_the_configured_locations(hub, shopify):
    env = shopify(
        hub, orders=1, config={"locations": f"WH1={PRIMARY_LOCATION}, SHOP={OUTLET_LOCATION}"}
    )
    env.connector().push_stock(
        [
            StockLevel("SKU-004-S", "WH1", 12),
            StockLevel("SKU-004-S", "SHOP", 2),
            StockLevel("SKU-004-S", "ELSEWHERE", 99),
        ],
        state={},
        idempotency_key="test-push",
    )
    assert env.shop.available("SKU-004-S", PRIMARY_LOCATION) == 12
    assert env.shop.available("SKU-004-S", OUTLET_LOCATION) == 2
    assert len(env.shop.stock_sets) == 2
    assert env.shop.calls["GET shop.json"] == 0  # no need for the primary location


def test_a_burst_of_stock_updates_stays_under_the_bucket(hub, shopify, monkeypatch):
    # The shop's bucket is nearly full (other apps are calling): pace by its header, never 429.
    monkeypatch.setattr(ShopifyConnector, "limiter_options", {"leak_rate": 40.0})
    env = shopify(hub, orders=1, bucket_size=40, leak_rate=40.0)
    env.shop.fill_bucket(39)
    skus = [v["sku"] for v in env.shop.variants.values() if v["sku"]][:30]
    env.connector().push_stock(
        [StockLevel(sku, "WH1", 5) for sku in skus], state={}, idempotency_key="test-push"
    )
    assert env.shop.throttled == 0
    assert len(env.shop.stock_sets) == 30


def test_without_pacing_the_same_burst_meets_429s_and_still_succeeds(hub, shopify, monkeypatch):
    monkeypatch.setattr(ShopifyConnector, "limiter_options", {"leak_rate": 1e6, "threshold": 10})
    env = shopify(hub, orders=1, bucket_size=10, leak_rate=20.0)
    connector = env.connector()
    skus = [v["sku"] for v in env.shop.variants.values() if v["sku"]][:15]
    env.shop.fill_bucket(10)
    connector.push_stock(
        [StockLevel(sku, "WH1", 1) for sku in skus], state={}, idempotency_key="test-push"
    )
    assert env.shop.throttled > 0  # the 429s were retried after Retry-After
    assert len(env.shop.stock_sets) == 15


def push_due_stock(env) -> None:
    """Run the debounced stock push, as it runs 5 seconds after a change (without waiting)."""
    env.run("stock.push", "stock.push.channel", advance=timedelta(seconds=10))


def test_hub_stock_reaches_each_mapped_shopify_location_on_its_own(hub, shopify):
    """docs/connectors/shopify.md: hub locations mapped to Shopify locations are pushed one by one."""
    env = shopify(
        hub, orders=0, config={"locations": f"WH1={PRIMARY_LOCATION}, SHOP={OUTLET_LOCATION}"}
    )
    with hub.db.transaction() as session:
        for code in ("WH1", "SHOP", "NORTH"):
            upsert_location(session, code)
        set_on_hand(
            session,
            [
                LevelChange("SKU-004-S", "WH1", 12),
                LevelChange("SKU-004-S", "SHOP", 2),
                LevelChange("SKU-004-S", "NORTH", 40),  # not mapped: not on Shopify
                LevelChange("SKU-005-S", "WH1", 3),  # none at SHOP: the outlet sells none
            ],
            actor="test",
        )
    push_due_stock(env)
    assert env.shop.available("SKU-004-S", PRIMARY_LOCATION) == 12
    assert env.shop.available("SKU-004-S", OUTLET_LOCATION) == 2
    assert env.shop.available("SKU-005-S", PRIMARY_LOCATION) == 3
    assert env.shop.available("SKU-005-S", OUTLET_LOCATION) == 0
    assert env.shop.calls["GET shop.json"] == 0  # the primary location is not needed


def test_without_a_mapping_the_sum_of_hub_locations_goes_to_the_primary_location(hub, shopify):
    env = shopify(hub, orders=0)
    with hub.db.transaction() as session:
        for code in ("WH1", "WH2"):
            upsert_location(session, code)
        set_on_hand(
            session,
            [LevelChange("SKU-004-S", "WH1", 12), LevelChange("SKU-004-S", "WH2", 5)],
            actor="test",
        )
    push_due_stock(env)
    assert env.shop.available("SKU-004-S", PRIMARY_LOCATION) == 17
    assert env.shop.available("SKU-004-S", OUTLET_LOCATION) == 0


def test_a_location_mapped_later_is_sent_its_stock_without_waiting_for_a_change(
    hub, shopify, monkeypatch
):
    env = shopify(hub, orders=0)
    with hub.db.transaction() as session:
        for code in ("WH1", "SHOP"):
            upsert_location(session, code)
        set_on_hand(
            session,
            [LevelChange("SKU-004-S", "WH1", 12), LevelChange("SKU-004-S", "SHOP", 2)],
            actor="test",
        )
    push_due_stock(env)
    assert env.shop.available("SKU-004-S", PRIMARY_LOCATION) == 14
    # Later: the next debounce window (the first push ran early, on the test's clock).
    later = time.time() + inventory.PUSH_DEBOUNCE_SECONDS
    monkeypatch.setattr(inventory, "time", SimpleNamespace(time=lambda: later))
    with hub.db.transaction() as session:
        update_config(
            hub,
            session,
            session.get(Channel, env.channel_id),
            {"locations": f"WH1={PRIMARY_LOCATION}, SHOP={OUTLET_LOCATION}"},
        )
    push_due_stock(env)  # no stock moved: the new mapping alone sends it again
    assert env.shop.available("SKU-004-S", PRIMARY_LOCATION) == 12
    assert env.shop.available("SKU-004-S", OUTLET_LOCATION) == 2


def test_a_refused_stock_item_is_named_with_shopifys_own_words_and_the_rest_is_set(hub, shopify):
    env = shopify(hub, orders=1)
    env.shop.faults.plan(422, path="*/inventory_levels/set.json", times=1)
    connector = env.connector()
    levels = [StockLevel("SKU-001-S", "WH1", 7), StockLevel("SKU-002-S", "WH1", 5)]

    try:
        connector.push_stock(levels, state={}, idempotency_key="test-push")
    except Exception as exc:  # noqa: BLE001  (the push fails, naming what was refused)
        refused = str(exc)
    else:
        raise AssertionError("a refused item must fail the push")

    assert refused.startswith("shopify refused stock for 1 item(s): SKU-001-S at location ")
    # The status and what Shopify said, as the shared client reads its error answer.
    assert "inventory_levels/set.json answered 422: Error" in refused
    assert env.shop.available("SKU-002-S") == 5  # the other item was still set
