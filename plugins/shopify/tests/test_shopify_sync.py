"""Pulling orders from the sandbox shop over real HTTP into the hub: nothing lost, nothing doubled."""

from __future__ import annotations

from datetime import timedelta

import pytest
import requests
from sqlalchemy import func, select

from hub.channels.manage import create_channel, link_channels
from hub.channels.port import ChannelPort
from hub.store.models import Channel, Job, OrderAuditEvent
from hub.testing import stored_rows
from plugins.shopify.connector import ShopifyConnector


def created_events(hub) -> int:
    with hub.db.read() as session:
        return session.scalar(
            select(func.count(OrderAuditEvent.id)).where(OrderAuditEvent.name == "order.created")
        )


@pytest.mark.slow
def test_a_thousand_orders_arrive_once_across_pages_despite_429s(any_hub, shopify):
    env = shopify(any_hub, orders=1000, seed=11)
    env.shop.faults.plan(
        429, times=3, path="*/orders.json", after=1
    )  # pages 2..4 are refused once each
    job = env.pull()
    assert job.status == "succeeded", job.last_error
    assert env.order_count() == 1000
    assert env.shop.calls["GET orders.json"] >= 4  # 250 a page
    assert env.shop.faults.given == 3
    # A second pull finds only the overlap window again and adds nothing.
    env.shop.faults.counts.clear()
    assert env.pull().status == "succeeded"
    assert env.order_count() == 1000
    assert created_events(any_hub) == 1000


def test_the_pull_stores_money_currencies_and_statuses_as_shopify_has_them(hub, shopify):
    env = shopify(hub, orders=300, seed=5)
    env.pull()
    shop_orders = [env.shop.order(i) for i in env.shop.order_ids]
    jpy = next(o for o in shop_orders if o["currency"] == "JPY")
    stored = env.order(jpy["id"])
    assert stored.total == int(jpy["total_price"])  # no decimals to scale
    usd = next(o for o in shop_orders if o["currency"] == "USD")
    assert env.order(usd["id"]).total == round(float(usd["total_price"]) * 100)
    cancelled = next(o for o in shop_orders if o["cancelled_at"])
    assert env.order(cancelled["id"]).status == "cancelled"
    test_order = next(o for o in shop_orders if o["test"])
    assert env.order(test_order["id"]).is_test is True
    paid = next(o for o in shop_orders if o["financial_status"] == "authorized")
    assert env.order(paid["id"]).channel_financial_status == "authorized"


def test_a_change_on_shopify_arrives_with_the_next_pull(hub, shopify):
    env = shopify(hub, orders=30)
    env.pull()
    order_id = env.shop.order_ids[3]
    env.shop.update_order(order_id, note="Ring twice", tags="vip")
    env.shop.add_orders(2)
    env.pull()
    assert env.order_count() == 32
    stored = env.order(order_id)
    assert (stored.notes, stored.tags) == ("Ring twice", ["vip"])


def test_a_pull_killed_midway_resumes_without_loss_or_doubles(any_hub, shopify, monkeypatch):
    monkeypatch.setattr(ShopifyConnector, "PAGE_SIZE", 50)
    env = shopify(any_hub, orders=200, seed=3)
    # Page 3 fails past every retry: the job fails after committing pages 1 and 2.
    env.shop.faults.plan(500, times=10, path="*/orders.json", after=2)
    job = env.pull()
    assert job.status == "failed" and "500" in job.last_error
    assert env.order_count() == 100
    cursor = env.state()["cursor"]
    assert "page_info=" in cursor["next"]
    calls_before = env.shop.calls["GET orders.json"]
    env.shop.faults.clear()
    # The retry (run when its backoff is over, without waiting for it) picks up at page 3.
    env.run("channel.pull", advance=timedelta(minutes=10))
    assert env.order_count() == 200
    assert env.shop.calls["GET orders.json"] - calls_before == 2  # pages 3 and 4 only
    assert created_events(any_hub) == 200
    assert "next" not in env.state()["cursor"]


def test_a_crash_while_storing_a_page_loses_nothing(hub, shopify, monkeypatch):
    monkeypatch.setattr(ShopifyConnector, "PAGE_SIZE", 50)
    env = shopify(hub, orders=120, seed=8)
    real = ChannelPort.upsert_orders
    calls = {"n": 0}

    def crash_on_third_page(self, orders, **kwargs):
        calls["n"] += 1
        if calls["n"] == 3:
            raise RuntimeError("worker killed")
        return real(self, orders, **kwargs)

    monkeypatch.setattr(ChannelPort, "upsert_orders", crash_on_third_page)
    assert env.pull().status == "failed"
    assert env.order_count() == 100  # the third page rolled back whole
    monkeypatch.setattr(ChannelPort, "upsert_orders", real)
    env.pull()
    assert env.order_count() == 120
    assert created_events(hub) == 120


def test_an_order_the_hub_cannot_read_is_dead_lettered_and_the_rest_arrive(hub, shopify):
    env = shopify(hub, orders=40)
    broken = env.shop.order_ids[5]
    env.shop.update_order(broken, currency="JPY", total_price="12.34", current_total_price="12.34")
    assert env.pull().status == "succeeded"
    assert env.order_count() == 39
    with hub.db.read() as session:
        dead = [
            (j.id, j.payload["external_id"], j.status, j.last_error)
            for j in session.scalars(select(Job).where(Job.kind == "channel.order_rejected"))
        ]
    assert [(external, status) for _, external, status, _ in dead] == [(str(broken), "dead")]
    assert "more decimals than JPY" in dead[0][3]
    # Fixed on Shopify, a retry of the dead letter fetches and stores it.
    env.shop.update_order(
        broken,
        **{
            k: v
            for k, v in env.shop.order(broken + 1).items()
            if k not in ("id", "name", "order_number")
        },
    )
    from hub.queue.jobs import retry

    with hub.db.transaction() as session:
        retry(session, dead[0][0])
    env.run("channel.order_rejected")
    assert env.order(broken) is not None


def test_a_pull_stores_the_same_rows_whether_new_orders_go_together_or_one_by_one(
    fresh_hubs, shopify, monkeypatch
):
    """The bulk creation of a page's new orders against upsert_order, on the same pages from the same shop."""
    monkeypatch.setattr(ShopifyConnector, "PAGE_SIZE", 60)
    stored = {}
    for bulk in (False, True):
        monkeypatch.setattr(ChannelPort, "bulk_create", bulk)
        hub = fresh_hubs()
        env = shopify(
            hub,
            orders=150,
            seed=21,
            payment_attribute="pi",
            config={"payment_reference_attribute": "pi"},
        )
        with hub.db.transaction() as session:
            stripe = create_channel(
                hub,
                session,
                name="Stripe",
                connector="stripe",
                slug="stripe",
                config={
                    "secret_key": "sk_test_never_called",
                    "capture": "automatic",
                    "api_base_url": "http://127.0.0.1:9",
                },
            )
            link_channels(
                hub,
                session,
                session.get(Channel, env.channel_id),
                payment_channel_id=stripe.id,
                set_payment=True,
            )
            stripe_id = stripe.id
        assert env.pull().status == "succeeded"
        assert env.pull().status == "succeeded"  # the overlap again: orders the hub has
        stored[bulk] = stored_rows(hub)
    for table in ("orders", "lines", "payments", "events", "jobs"):
        assert stored[True][table] == stored[False][table], table
    orders = stored[True]["orders"]
    assert len(orders) == 150 and any(o["status"] == "cancelled" for o in orders)
    assert len(stored[True]["payments"]) > 100
    assert {p["channel_id"] for _, p in stored[True]["payments"]} == {stripe_id}


# --- the sandbox behaves like Shopify -------------------------------------------------------------------


def test_the_sandbox_refuses_filters_beside_page_info_like_shopify(hub, shopify):
    env = shopify(hub, orders=60)
    headers = {"X-Shopify-Access-Token": env.shop.access_token}
    first = requests.get(
        f"{env.url}/admin/api/2025-07/orders.json",
        params={"status": "any", "limit": 50},
        headers=headers,
        timeout=5,
    )
    assert first.status_code == 200 and len(first.json()["orders"]) == 50
    link = first.headers["Link"]
    assert link.startswith(f"<{env.url}/admin/api/2025-07/orders.json?limit=50&page_info=")
    assert link.endswith('>; rel="next"')
    next_url = link[1 : link.index(">")]
    refused = requests.get(next_url + "&status=any", headers=headers, timeout=5)
    assert refused.status_code == 400
    assert "status cannot be passed when page_info is present." in refused.text
    second = requests.get(next_url, headers=headers, timeout=5)
    assert len(second.json()["orders"]) == 10 and 'rel="previous"' in second.headers["Link"]
    assert 'rel="next"' not in second.headers["Link"]
    assert second.headers["X-Shopify-Shop-Api-Call-Limit"].endswith("/40")


def test_the_sandbox_default_status_hides_cancelled_orders(hub, shopify):
    env = shopify(hub, orders=200, seed=2)
    headers = {"X-Shopify-Access-Token": env.shop.access_token}
    url = f"{env.url}/admin/api/2025-07/orders.json"
    open_ = requests.get(url, params={"limit": 250}, headers=headers, timeout=5).json()["orders"]
    every = requests.get(
        url, params={"limit": 250, "status": "any"}, headers=headers, timeout=5
    ).json()["orders"]
    assert len(every) == 200 and len(open_) < 200
    assert all(o["cancelled_at"] is None for o in open_)


def test_the_sandbox_bucket_answers_429_with_retry_after(hub, shopify):
    env = shopify(hub, orders=1, bucket_size=3, leak_rate=0.001)
    headers = {"X-Shopify-Access-Token": env.shop.access_token}
    answers = [
        requests.get(f"{env.url}/admin/api/2025-07/shop.json", headers=headers, timeout=5)
        for _ in range(4)
    ]
    assert [a.status_code for a in answers] == [200, 200, 200, 429]
    assert [a.headers["X-Shopify-Shop-Api-Call-Limit"] for a in answers[:3]] == [
        "1/3",
        "2/3",
        "3/3",
    ]
    assert float(answers[3].headers["Retry-After"]) > 0
    unauthorised = requests.get(f"{env.url}/admin/api/2025-07/shop.json", timeout=5)
    assert unauthorised.status_code == 401


def test_the_sandbox_is_deterministic_for_a_seed():
    from plugins.shopify.sandbox import ShopifySandbox

    a, b, c = (
        ShopifySandbox(orders=50, seed=4),
        ShopifySandbox(orders=50, seed=4),
        ShopifySandbox(orders=50, seed=5),
    )
    assert [a.order(i) for i in a.order_ids] == [b.order(i) for i in b.order_ids]
    assert [a.order(i) for i in a.order_ids] != [c.order(i) for i in c.order_ids]
    big = ShopifySandbox(orders=300, seed=4)
    currencies = {big.order(i)["currency"] for i in big.order_ids}
    assert {"USD", "JPY", "EUR", "GBP"} <= currencies


@pytest.mark.parametrize("count", [0, 1])
def test_small_shops_pull_without_pagination(hub, shopify, count):
    env = shopify(hub, orders=count)
    assert env.pull().status == "succeeded"
    assert env.order_count() == count


def test_the_scheduler_pulls_every_shopify_channel(hub, shopify):
    env = shopify(hub, orders=1)
    jobs = [(j.kind, j.every_seconds, j.channel_id) for j in hub.periodic_jobs()]
    assert ("channel.pull", 300, env.channel_id) in jobs
