"""The WooCommerce connector against its sandbox store, over real HTTP: pull, webhooks,
fulfilment and stock, judged on what the store and the hub end up holding."""

from __future__ import annotations

import pytest
import requests

from hub.core.events import REFUNDED_ON_CHANNEL
from hub.core.order import ShipmentData
from hub.integration.connectors import StockLevel
from hub.orders import shipments
from hub.web import create_app
from plugins.woocommerce.mapping import Handling, handling

# --- pull ------------------------------------------------------------------------------------------


def paid(store) -> set[str]:
    """The store's orders the hub takes (paid, or cancelled: not awaiting payment)."""
    return {str(o["id"]) for o in store.orders.values() if handling(o) is not Handling.WAIT}


def test_a_pull_takes_every_paid_order_once_across_pages(any_harness, woocommerce):
    env = woocommerce(orders=230, seed=3, on=any_harness)
    job = any_harness.pull(env.channel)
    assert job["status"] == "succeeded", job
    stored = env.orders()
    assert set(stored) == paid(env.store)
    # WooCommerce's largest page, sorted by modification, three pages' worth.
    queries = env.store.order_queries
    assert len(queries) >= 3
    assert {(q["per_page"], q["orderby"], q["order"]) for q in queries} == {
        ("100", "modified", "asc")
    }
    # Orders awaiting payment are not taken; cancelled ones are, cancelled.
    waiting = {str(o["id"]) for o in env.store.orders.values() if o["status"] == "pending"}
    assert waiting and not waiting & set(stored)
    cancelled = [str(o["id"]) for o in env.store.orders.values() if o["status"] == "cancelled"]
    assert cancelled and {stored[i]["status"] for i in cancelled} == {"cancelled"}


def test_a_pull_cut_short_resumes_after_the_last_committed_page(harness, woocommerce):
    env = woocommerce(orders=230, seed=4)
    # The second page fails past the client's retries: the job fails after one page.
    env.store.faults.plan(500, path="*/orders", method="GET", after=1, times=50)
    job = harness.pull(env.channel)
    assert job["status"] in ("failed", "dead"), job
    first = set(env.orders())
    assert 0 < len(first) <= 100
    cursor = harness.channel_state(env.channel)["cursor"]
    assert cursor["page"] == 1 and cursor["since"]
    env.store.faults.clear()
    asked = len(env.store.order_queries)
    assert harness.pull(env.channel)["status"] == "succeeded"
    # It went on from the saved place, not from the beginning, and doubled nothing.
    assert env.store.order_queries[asked]["modified_after"] == cursor["since"][:19]
    assert set(env.orders()) == paid(env.store)


def test_an_order_paid_later_is_taken_by_the_next_pull(harness, woocommerce):
    env = woocommerce(orders=40, seed=5)
    harness.pull(env.channel)
    waiting = next(o for o in env.store.orders.values() if o["status"] == "pending")
    assert str(waiting["id"]) not in env.orders()
    env.store.set_status(waiting["id"], "processing")
    harness.pull(env.channel)
    assert str(waiting["id"]) in env.orders()
    # The next pull asked only for what changed since the last one (less the overlap).
    assert env.store.order_queries[-1]["modified_after"]


def test_units_refunded_on_woocommerce_are_not_shipped(harness, woocommerce):
    env = woocommerce(orders=30, seed=6, clean=True)
    raw = next(o for o in env.store.orders.values() if o["line_items"][0]["quantity"] >= 2)
    item = raw["line_items"][0]
    env.store.refund(raw["id"], line_items={item["id"]: 1}, reason="arrived late")
    harness.pull(env.channel)
    order = env.orders()[str(raw["id"])]
    line = next(x for x in order["lines"] if x["sku"] == item["sku"])
    assert (line["quantity"], line["removed_quantity"]) == (item["quantity"] - 1, 1)
    refunded = [e for e in order["events"] if e["name"] == REFUNDED_ON_CHANNEL]
    assert len(refunded) == 1


# --- webhooks --------------------------------------------------------------------------------------


@pytest.fixture
def hub_url(harness):
    """The hub's web app served on loopback: webhooks come in over real HTTP."""
    return harness.serve(create_app({"HUB": harness.hub}))


def test_a_signed_order_webhook_creates_the_order(harness, woocommerce, hub_url):
    env = woocommerce(orders=5, seed=7, clean=True)
    order_id = env.store.order_ids[0]
    url = f"{hub_url}/webhooks/{env.channel.slug}"
    answer = env.store.send_webhook(url, "order.created", order_id)
    assert answer.status_code == 200 and answer.json()["status"] == "accepted"
    harness.run_jobs()
    assert env.orders()[str(order_id)]["number"] == f"#{order_id}"
    assert [(e["topic"], e["status"]) for e in harness.webhook_events(env.channel)] == [
        ("order.created", "processed")
    ]


def test_a_second_delivery_of_the_same_change_is_stored_once(harness, woocommerce, hub_url):
    env = woocommerce(orders=5, seed=7, clean=True)
    order_id = env.store.order_ids[1]
    url = f"{hub_url}/webhooks/{env.channel.slug}"
    # WooCommerce gives every delivery a new X-WC-Webhook-Delivery-ID, and fires
    # order.created and order.updated for one save: the same change, once.
    assert env.store.send_webhook(url, "order.created", order_id).json()["status"] == "accepted"
    assert env.store.send_webhook(url, "order.updated", order_id).json()["status"] == "duplicate"
    env.store.update_order(order_id, customer_note="leave at the door")
    assert env.store.send_webhook(url, "order.updated", order_id).json()["status"] == "accepted"
    harness.run_jobs()
    assert env.orders()[str(order_id)]["notes"] == "leave at the door"
    assert len(harness.webhook_events(env.channel)) == 2


def test_the_ping_on_creating_a_webhook_is_accepted_and_ignored(harness, woocommerce, hub_url):
    env = woocommerce(orders=2)
    headers, body = env.store.ping()
    answer = requests.post(
        f"{hub_url}/webhooks/{env.channel.slug}", data=body, headers=headers, timeout=5
    )
    assert answer.status_code == 200  # else WooCommerce reports the delivery URL failing
    harness.run_jobs()
    [event] = harness.webhook_events(env.channel)
    assert (event["topic"], event["status"]) == ("ping", "ignored")
    assert env.orders() == {}


def test_a_bad_signature_stores_nothing(harness, woocommerce, hub_url):
    env = woocommerce(orders=3, seed=8, clean=True)
    order_id = env.store.order_ids[0]
    url = f"{hub_url}/webhooks/{env.channel.slug}"
    headers, body = env.store.webhook("order.created", order_id, secret="not-the-secret")
    assert requests.post(url, data=body, headers=headers, timeout=5).status_code == 401
    headers, body = env.store.webhook("order.created", order_id)
    forged = body.replace(b'"total":"', b'"total":"1')
    assert requests.post(url, data=forged, headers=headers, timeout=5).status_code == 401
    unsigned = {k: v for k, v in headers.items() if k != "X-WC-Webhook-Signature"}
    assert requests.post(url, data=body, headers=unsigned, timeout=5).status_code == 401
    harness.run_jobs()
    assert harness.webhook_events(env.channel) == [] and env.orders() == {}


def test_an_order_awaiting_payment_waits_and_a_cancelled_one_cancels(harness, woocommerce):
    env = woocommerce(orders=3, seed=9, clean=True)
    first, second = env.store.order_ids[:2]
    env.store.set_status(first, "pending")
    harness.post_webhook(
        env.channel, env.store.order(first), headers={"X-WC-Webhook-Topic": "order.updated"}
    )
    harness.post_webhook(
        env.channel, env.store.order(second), headers={"X-WC-Webhook-Topic": "order.created"}
    )
    harness.run_jobs()
    assert set(env.orders()) == {str(second)}
    env.store.set_status(second, "cancelled")
    harness.post_webhook(
        env.channel, env.store.order(second), headers={"X-WC-Webhook-Topic": "order.updated"}
    )
    harness.run_jobs()
    assert env.orders()[str(second)]["status"] == "cancelled"
    statuses = [e["status"] for e in harness.webhook_events(env.channel)]
    assert statuses == ["ignored", "processed", "processed"]


def test_an_order_moved_to_the_bin_cancels_in_the_hub(harness, woocommerce, hub_url):
    env = woocommerce(orders=3, seed=10, clean=True)
    order_id = env.store.order_ids[0]
    url = f"{hub_url}/webhooks/{env.channel.slug}"
    env.store.send_webhook(url, "order.created", order_id)
    harness.run_jobs()
    env.store.trash(order_id)
    # order.deleted carries only the id: the connector reads the order back.
    env.store.send_webhook(url, "order.deleted", order_id)
    harness.run_jobs()
    assert env.orders()[str(order_id)]["status"] == "cancelled"


# --- fulfilment ------------------------------------------------------------------------------------


def confirmed(env, harness) -> dict:
    """Pull the store and let the hub confirm its orders; the first order with two lines or more."""
    harness.pull(env.channel)
    harness.run_jobs()
    orders = env.orders()
    for raw in env.store.orders.values():
        hub_order = orders.get(str(raw["id"]))
        if hub_order and hub_order["status"] == "confirmed" and len(raw["line_items"]) >= 2:
            return hub_order
    raise AssertionError("no confirmed order with two lines")


def ship(harness, order: dict, *, tracking: str, lines: int | None = None, carrier="ups") -> None:
    with harness.hub.db.transaction() as session:
        chosen = {x["id"]: x["quantity"] for x in order["lines"][:lines]} if lines else {}
        shipments.ship(
            session,
            order["id"],
            ShipmentData(
                external_id=f"label-{tracking}",
                carrier=carrier,
                tracking_number=tracking,
                tracking_url=f"https://track.example/{tracking}",
                lines=chosen,
            ),
            actor="test",
        )


def test_a_shipment_becomes_a_note_with_tracking_and_completes_the_order(harness, woocommerce):
    env = woocommerce(orders=8, seed=11, clean=True)
    order = confirmed(env, harness)
    woo_id = int(order["external_id"])
    ship(harness, order, tracking="1Z999AA10123456784")
    harness.run_jobs()
    [note] = env.store.notes[woo_id]
    assert "UPS" in note["note"] and "1Z999AA10123456784" in note["note"]
    assert "https://track.example/1Z999AA10123456784" in note["note"]
    assert note["customer_note"] is False
    assert env.store.order(woo_id)["status"] == "completed"
    [tracking] = env.store.trackings[woo_id]
    assert (tracking["tracking_provider"], tracking["tracking_number"]) == (
        "UPS",
        "1Z999AA10123456784",
    )
    [shipment] = env.orders()[str(woo_id)]["shipments"]
    assert harness.jobs("sales.push_fulfillment")[0]["status"] == "succeeded"
    assert shipment["tracking_number"] == "1Z999AA10123456784"


def test_a_partial_shipment_adds_a_note_and_leaves_the_order_processing(harness, woocommerce):
    env = woocommerce(orders=12, seed=12, clean=True)
    order = confirmed(env, harness)
    woo_id = int(order["external_id"])
    ship(harness, order, tracking="PART-1", lines=1)
    harness.run_jobs()
    assert len(env.store.notes[woo_id]) == 1
    assert env.store.order(woo_id)["status"] == "processing"
    assert env.store.statuses == []
    ship(harness, order, tracking="PART-2")
    harness.run_jobs()
    first, second = (n["note"] for n in env.store.notes[woo_id])
    assert "PART-1" in first and "PART-2" not in first and "PART-2" in second
    assert env.store.statuses == [(woo_id, "completed")]


def test_the_push_running_again_adds_no_second_note(harness, woocommerce):
    env = woocommerce(orders=8, seed=13, clean=True)
    order = confirmed(env, harness)
    woo_id = int(order["external_id"])
    ship(harness, order, tracking="TWICE-1")
    harness.run_jobs()
    # As after a crash between WooCommerce's answer and the hub's commit: the push again.
    detail = env.orders()[str(woo_id)]
    shipment = detail["shipments"][0] | {"lines": []}
    env.connector().push_fulfillment(detail, shipment, idempotency_key="again")
    assert len(env.store.notes[woo_id]) == 1
    assert len(env.store.trackings[woo_id]) == 1


def test_a_note_whose_answer_was_lost_is_not_added_twice(harness, woocommerce):
    env = woocommerce(orders=8, seed=13, clean=True)
    order = confirmed(env, harness)
    woo_id = int(order["external_id"])
    # The store adds the note and the tracking, then the connection drops before the answer.
    for path in ("*/notes", "*/shipment-trackings"):
        env.store.faults.plan("reset", path=path, method="POST", when="after", times=1)
    ship(harness, order, tracking="LOST-1")
    harness.run_jobs()
    assert env.store.faults.counts["reset"] == 2
    assert len(env.store.notes[woo_id]) == 1
    assert len(env.store.trackings[woo_id]) == 1
    assert harness.jobs("sales.push_fulfillment")[0]["status"] == "succeeded"


def test_a_store_without_the_tracking_extension_is_asked_once(harness, woocommerce):
    env = woocommerce(orders=12, seed=14, clean=True, tracking_extension=False)
    harness.pull(env.channel)
    harness.run_jobs()
    confirmed_orders = [o for o in env.orders().values() if o["status"] == "confirmed"][:2]
    for n, order in enumerate(confirmed_orders):
        ship(harness, order, tracking=f"NOEXT-{n}")
        harness.run_jobs()
    assert all(len(env.store.notes[int(o["external_id"])]) == 1 for o in confirmed_orders)
    # One 404 taught it; the second shipment did not ask.
    assert env.store.calls["GET tracking:orders/<int:order_id>/shipment-trackings"] == 1
    assert env.store.calls["POST tracking:orders/<int:order_id>/shipment-trackings"] == 0
    # And the next pull keeps what it learnt in the channel's state.
    harness.pull(env.channel)
    assert harness.channel_state(env.channel)["cursor"]["shipment_tracking"]["present"] is False


# --- stock -----------------------------------------------------------------------------------------


def test_stock_is_set_by_sku_in_batches_products_and_variations(harness, woocommerce):
    env = woocommerce(orders=1)
    simple = [p["sku"] for p in env.store.products.values() if p["type"] == "simple"]
    variations = [p["sku"] for p in env.store.products.values() if p["type"] == "variation"]
    levels = [StockLevel(sku, "", 5 + n) for n, sku in enumerate(simple + variations)]
    levels.append(StockLevel("NOT-SOLD-THERE", "", 3))
    connector = env.connector()
    connector.push_stock(levels, state={}, idempotency_key="push-1")
    for n, sku in enumerate(simple + variations):
        assert env.store.stock_of(sku) == 5 + n
        assert env.store.product_for_sku(sku)["manage_stock"] is True
    parents = {env.store.product_for_sku(s)["parent_id"] for s in variations}
    assert env.store.calls["POST products/batch"] == 1
    assert env.store.calls["POST products/<int:product_id>/variations/batch"] == len(parents)
    assert env.store.calls["GET products"] == 1
    # The SKUs are known now: the next push looks nothing up.
    connector.push_stock([StockLevel(simple[0], "", 0)], state={}, idempotency_key="push-2")
    assert env.store.stock_of(simple[0]) == 0
    assert env.store.calls["GET products"] == 1


def test_a_count_set_in_the_hub_reaches_the_store_through_its_push_job(harness, woocommerce):
    env = woocommerce(orders=1)
    tee = next(p["sku"] for p in env.store.products.values() if p["type"] == "variation")
    mug = next(p["sku"] for p in env.store.products.values() if p["type"] == "simple")
    for code in ("EAST", "WEST"):
        assert harness.api.post("/api/v1/locations", json={"code": code}).status_code == 201
    levels = [
        {"sku": tee, "location": "EAST", "on_hand": 7},
        {"sku": tee, "location": "WEST", "on_hand": 5},
        {"sku": mug, "location": "EAST", "on_hand": 3},
    ]
    answer = harness.api.post("/api/v1/stock", json={"levels": levels, "reason": "count"})
    assert answer.status_code == 200, answer.get_json()
    harness.run_jobs(advance=60)  # past the push's debounce
    # One figure per product or variation: the sum over the hub's locations.
    assert (env.store.stock_of(tee), env.store.stock_of(mug)) == (12, 3)
