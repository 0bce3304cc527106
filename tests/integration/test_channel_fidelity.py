"""What the channels say reaches the warehouse and back: Shopify and ShipStation sandboxes over loopback.

- units refunded on Shopify are taken off what ShipStation is asked for, and
  their reserved stock goes back;
- a line that needs no shipping (a gift card) is never sent to ShipStation;
- a label voided at ShipStation cancels the Shopify fulfilment, and the
  replacement label is pushed as a new one.
"""

from __future__ import annotations

from contextlib import ExitStack

import pytest
from sqlalchemy import select, update

from hub.channels import inbox
from hub.channels.manage import create_channel
from hub.integration.sandbox import serve
from hub.inventory.levels import LevelChange, set_on_hand, upsert_location
from hub.orders import records
from hub.pipeline import follow_up
from hub.queue.jobs import Worker, enqueue
from hub.store.models import Job, Order, StockLevel, utcnow
from plugins.shipstation.sandbox import ShipStationSandbox
from plugins.shopify.sandbox import ShopifySandbox


@pytest.fixture(autouse=True)
def _no_batch_wait(monkeypatch):
    monkeypatch.setattr(follow_up, "SHIPPING_BATCH_SECONDS", 0.001)


class World:
    def __init__(self, hub, stack: ExitStack, prepare=None):
        self.hub = hub
        self.shop = ShopifySandbox(orders=1, seed=3, clean=True, retry_after=0.01)
        if prepare:
            prepare(self.shop)
        self.box = ShipStationSandbox("key", "secret")
        shop_url = stack.enter_context(serve(self.shop))
        self.box.base_url = stack.enter_context(serve(self.box))
        with hub.db.transaction() as session:
            self.ship_id = create_channel(
                hub,
                session,
                name="ShipStation",
                connector="shipstation",
                config={
                    "api_key": "key",
                    "api_secret": "secret",
                    "webhook_token": "tok-0123456789abcdef-ship",
                    "api_base_url": self.box.base_url,
                },
            ).id
            channel = create_channel(
                hub,
                session,
                name="Shop",
                connector="shopify",
                config=self.shop.channel_config(shop_url),
            )
            self.shop_id, self.slug = channel.id, channel.slug
            upsert_location(session, "wh", priority=1)
            skus = {
                i["sku"]
                for o in self.shop.order_ids
                for i in self.shop.order(o)["line_items"]
                if i["requires_shipping"]
            }
            set_on_hand(session, [LevelChange(sku, "wh", 50) for sku in skus], actor="test")
        self.order_id = self.shop.order_ids[0]

    def run(self) -> None:
        for _ in range(20):
            with self.hub.db.transaction() as session:
                session.execute(update(Job).where(Job.status == "queued").values(run_at=utcnow()))
            if Worker(self.hub, worker_id="test").run_until_idle() == 0:
                return

    def enqueue(self, kind: str, channel_id: int) -> None:
        with self.hub.db.transaction() as session:
            enqueue(session, kind, {}, channel_id=channel_id)
        self.run()

    def webhook(self, topic: str, body: dict) -> None:
        headers, raw = self.shop.webhook(topic, body)
        inbox.receive(self.hub, self.slug, headers, raw, {})
        self.run()

    def order(self) -> Order:
        with self.hub.db.read() as session:
            order = session.scalars(
                records.order_query().where(Order.external_id == str(self.order_id))
            ).one()
            _ = [e.name for e in order.events], [s.lines for s in order.shipments]
            session.expunge_all()
            return order

    def reserved(self) -> int:
        with self.hub.db.read() as session:
            return sum(session.scalars(select(StockLevel.reserved)))

    def warehouse_items(self) -> dict[str, int]:
        [key] = [k for k in self.box.orders]
        return {i["sku"]: i["quantity"] for i in self.box.order(key)["items"]}


@pytest.fixture
def world(hub):
    with ExitStack() as stack:
        yield lambda prepare=None: World(hub, stack, prepare)


def test_units_refunded_on_shopify_are_taken_off_the_warehouse_order_and_their_stock_freed(world):
    w = world()
    w.enqueue("channel.pull", w.shop_id)
    order = w.order()
    assert order.status == "processing"
    before = w.warehouse_items()
    line = w.shop.order(w.order_id)["line_items"][0]
    reserved = w.reserved()
    refund = w.shop.refund_order(
        w.order_id, line_items={line["id"]: 1}, note="damaged in the warehouse"
    )
    w.webhook("refunds/create", refund)
    after = w.warehouse_items()
    assert after.get(line["sku"], 0) == before[line["sku"]] - 1
    assert {k: v for k, v in after.items() if k != line["sku"]} == {
        k: v for k, v in before.items() if k != line["sku"]
    }
    assert w.reserved() == reserved - 1
    order = w.order()
    refunded = next(x for x in order.lines if x.sku == line["sku"])
    assert (refunded.quantity, refunded.removed_quantity) == (line["quantity"] - 1, 1)
    facts = [e for e in order.events if e.name == "order.refunded_on_channel"]
    assert [e.reason for e in facts] == ["damaged in the warehouse"]
    # Shipping what is left completes the order: the refunded unit is not waited for.
    w.box.ship_waiting()
    w.enqueue("shipping.poll", w.ship_id)
    assert w.order().status == "shipped"


def test_a_gift_card_line_never_goes_to_the_warehouse(world):
    def gift_card(shop):
        body = shop.order(shop.order_ids[0])
        card = dict(
            body["line_items"][0],
            id=body["line_items"][0]["id"] + 7,
            sku="GIFT-50",
            name="Gift card 50",
            requires_shipping=False,
            gift_card=True,
            quantity=1,
            current_quantity=1,
            fulfillable_quantity=1,
            price="0.00",
            tax_lines=[],
            discount_allocations=[],
            total_discount="0.00",
        )
        shop.update_order(body["id"], line_items=[*body["line_items"], card])

    w = world(gift_card)
    w.enqueue("channel.pull", w.shop_id)
    order = w.order()
    assert order.status == "processing", order.hold_reasons  # no unknown_sku hold for the card
    assert "GIFT-50" not in w.warehouse_items()
    w.box.ship_waiting()
    w.enqueue("shipping.poll", w.ship_id)
    assert w.order().status == "shipped"


def test_a_voided_label_cancels_the_shopify_fulfilment_and_the_new_label_is_pushed(world):
    w = world()
    w.enqueue("channel.pull", w.shop_id)
    [first] = w.box.ship_waiting()
    w.enqueue("shipping.poll", w.ship_id)
    assert [f["status"] for f in w.shop.fulfillments[w.order_id]] == ["success"]
    w.box.void_label(first["shipmentId"])
    w.enqueue("shipping.poll", w.ship_id)
    made = w.shop.fulfillments[w.order_id]
    assert [f["status"] for f in made] == ["cancelled"]  # no dead tracking number left on Shopify
    assert "order.channel_fulfillment_cancelled" in [e.name for e in w.order().events]
    [second] = w.box.ship_waiting()
    w.enqueue("shipping.poll", w.ship_id)
    made = w.shop.fulfillments[w.order_id]
    assert [(f["status"], f["tracking_number"]) for f in made] == [
        ("cancelled", first["trackingNumber"]),
        ("success", second["trackingNumber"]),
    ]


def test_an_order_edited_on_shopify_after_it_went_to_the_warehouse_is_held_with_the_reason(world):
    w = world()
    w.enqueue("channel.pull", w.shop_id)
    before = w.warehouse_items()
    body = w.shop.order(w.order_id)
    extra = dict(
        body["line_items"][0],
        id=body["line_items"][0]["id"] + 9,
        quantity=1,
        current_quantity=1,
        fulfillable_quantity=1,
    )
    w.shop.update_order(w.order_id, line_items=[*body["line_items"], extra])
    # orders/edited carries the edit, not the order (Shopify's webhook reference, topic orders/edited).
    w.webhook(
        "orders/edited",
        {
            "order_edit": {
                "id": 78912328,
                "app_id": None,
                "created_at": body["updated_at"],
                "notify_customer": False,
                "order_id": w.order_id,
                "staff_note": "",
                "user_id": None,
                "line_items": {"additions": [{"id": extra["id"], "delta": 1}], "removals": []},
            }
        },
    )
    order = w.order()
    assert order.status == "on_hold" and "changed_after_confirmation" in order.hold_reasons
    held = next(e for e in order.events if e.name == "order.held")
    assert "after fulfilment started" in held.data["why"]
    assert w.warehouse_items() == before  # nothing new was sent
