"""Shopify webhooks through the hub's inbox and its ``webhook.process`` job."""

from __future__ import annotations

from datetime import UTC, datetime, timedelta

from sqlalchemy import func, select

from hub.store.models import Channel, Order, WebhookEvent
from plugins.shopify.sandbox import send_webhook


def events(env) -> list[tuple[str, str, str | None]]:
    """The inbox, as the API lists it."""
    return [(e["topic"], e["status"], e["error"]) for e in env.harness.webhook_events()]


def test_an_order_webhook_creates_the_order(any_hub, shopify):
    env = shopify(any_hub, orders=5)
    order_id = env.shop.order_ids[0]
    answer = env.deliver("orders/create", order_id)
    assert (answer.status_code, answer.get_json()) == (200, {"status": "accepted"})
    env.run("webhook.process")
    stored = env.order(order_id)
    assert stored is not None and stored.number == env.shop.order(order_id)["name"]
    assert events(env) == [("orders/create", "processed", None)]


def test_a_duplicate_delivery_is_stored_once(any_hub, shopify):
    env = shopify(any_hub, orders=5)
    headers, body = env.shop.webhook("orders/create", env.shop.order_ids[0])
    assert env.post(headers, body).get_json() == {"status": "accepted"}
    # Shopify retries with the same X-Shopify-Webhook-Id.
    assert env.post(headers, body).get_json() == {"status": "duplicate"}
    env.run("webhook.process")
    assert env.inbox_count() == 1
    assert env.order_count() == 1


def test_a_bad_signature_stores_nothing(hub, shopify):
    env = shopify(hub, orders=5)
    headers, body = env.shop.webhook(
        "orders/create", env.shop.order_ids[0], secret="not-the-secret"
    )
    assert env.post(headers, body).status_code == 401
    forged = body.replace(b'"currency"', b'"currency_"')
    good_headers, _ = env.shop.webhook("orders/create", env.shop.order_ids[0])
    assert env.post(good_headers, forged).status_code == 401
    env.run()
    assert env.inbox_count() == 0 and env.order_count() == 0


def test_an_older_update_arriving_late_is_ignored(hub, shopify):
    env = shopify(hub, orders=5)
    order_id = env.shop.order_ids[1]
    older = env.shop.update_order(order_id, note="first")
    newer = env.shop.update_order(order_id, note="second")
    assert newer["updated_at"] > older["updated_at"]
    env.deliver("orders/updated", newer)
    env.run("webhook.process")
    env.deliver("orders/updated", older)  # delivered late
    env.run("webhook.process")
    assert env.order(order_id).notes == "second"
    assert [status for _, status, _ in events(env)] == ["processed", "processed"]


def test_a_cancellation_webhook_cancels_the_order(hub, shopify):
    env = shopify(hub, orders=5)
    order_id = env.shop.order_ids[2]
    env.deliver("orders/create", order_id)
    env.run("webhook.process")
    env.deliver("orders/cancelled", env.shop.cancel_order(order_id))
    env.run("webhook.process")
    stored = env.order(order_id)
    assert stored.status == "cancelled"
    assert stored.channel_financial_status == "voided"


def test_a_refund_webhook_refreshes_its_order_from_shopify(hub, shopify):
    env = shopify(hub, orders=5)
    order_id = next(
        i for i in env.shop.order_ids if env.shop.order(i)["financial_status"] == "paid"
    )
    env.deliver("orders/create", order_id)
    env.run("webhook.process")
    refund = env.shop.refund_order(order_id, amount="1.00")
    env.deliver("refunds/create", refund)
    env.run("webhook.process")
    assert env.order(order_id).channel_financial_status == "partially_refunded"
    assert env.shop.calls["GET orders/{id}.json"] == 1
    assert events(env)[-1][:2] == ("refunds/create", "processed")


def test_inventory_updates_from_shopify_are_recorded_not_applied(hub, shopify):
    env = shopify(hub, orders=1)
    payload = {
        "inventory_item_id": 6000000000,
        "location_id": 655441491,
        "available": 3,
        "updated_at": "2025-01-06T10:00:00-04:00",
    }
    env.deliver("inventory_levels/update", payload)
    env.run("webhook.process")
    [(topic, status, note)] = events(env)
    assert (topic, status) == ("inventory_levels/update", "ignored")
    assert "stock master" in note


def test_app_uninstalled_disables_the_channel(hub, shopify):
    env = shopify(hub, orders=1)
    env.deliver("app/uninstalled", {"id": 548380009, "name": env.shop.shop_name})
    env.run("webhook.process")
    with hub.db.read() as session:
        channel = session.get(Channel, env.channel_id)
        assert channel.enabled is False
        assert "uninstalled" in channel.last_error


def test_other_topics_are_recorded_and_ignored(hub, shopify):
    env = shopify(hub, orders=1)
    env.deliver("products/update", {"id": 1, "title": "Mug"})
    env.run("webhook.process")
    assert events(env) == [("products/update", "ignored", "ignored: products/update")]


def test_the_newer_lower_case_headers_work_end_to_end(hub, shopify):
    env = shopify(hub, orders=3)
    headers, body = env.shop.webhook("orders/paid", env.shop.order_ids[0], lowercase=True)
    assert env.post(headers, body).get_json() == {"status": "accepted"}
    env.run("webhook.process")
    assert env.order_count() == 1


def test_a_webhook_and_a_pull_of_the_same_order_make_one_order(hub, shopify):
    env = shopify(hub, orders=10)
    env.deliver("orders/create", env.shop.order_ids[4])
    env.run("webhook.process")
    env.pull()
    assert env.order_count() == 10


def test_the_sandbox_sender_signs_like_shopify_over_http(hub, shopify):
    """POST webhooks over real HTTP to the hub's own web app, served on loopback."""
    env = shopify(hub, orders=2)
    url = f"{env.harness.serve(env.harness.app)}/webhooks/{env.slug}"
    triggered = datetime.now(UTC) - timedelta(seconds=3)
    first = env.shop.send_webhook(
        url, "orders/create", env.shop.order_ids[0], webhook_id="w-1", triggered_at=triggered
    )
    again = env.shop.send_webhook(url, "orders/create", env.shop.order_ids[0], webhook_id="w-1")
    forged = send_webhook(
        url, "orders/create", {"id": 1}, secret="wrong", shop_domain=env.shop.shop_domain
    )
    assert (first.status_code, first.json()) == (200, {"status": "accepted"})
    assert again.json() == {"status": "duplicate"}
    assert forged.status_code == 401
    with hub.db.read() as session:
        [event] = session.scalars(select(WebhookEvent)).all()
        headers = {k.lower(): v for k, v in event.headers.items()}
    assert headers["x-shopify-shop-domain"] == env.shop.shop_domain
    assert headers["x-shopify-api-version"] == "2025-07"
    assert headers["x-shopify-triggered-at"].startswith(triggered.strftime("%Y-%m-%dT%H:%M"))
    env.run("webhook.process")
    with hub.db.read() as session:
        assert session.scalar(select(func.count(Order.id))) == 1


def test_an_order_the_hub_cannot_store_is_recorded_as_rejected(hub, shopify, monkeypatch):
    """The port dead-letters the order (a person retries it); the event says so, not "processed"."""
    from hub.channels.port import ChannelPort
    from hub.core.exceptions import ValidationError
    from hub.orders import intake

    def refuse(*args, **kwargs):
        raise ValidationError("payment channel 'gone' does not exist")

    monkeypatch.setattr(ChannelPort, "bulk_create", False)  # every order through upsert_order
    monkeypatch.setattr(intake, "upsert_order", refuse)
    env = shopify(hub, orders=1)
    order_id = env.shop.order_ids[0]
    env.deliver("orders/create", order_id)
    env.run("webhook.process")
    assert events(env) == [
        ("orders/create", "rejected", f"rejected: order {order_id} dead-lettered")
    ]
    [dead] = env.harness.jobs("channel.order_rejected")
    assert dead["status"] == "dead" and "payment channel 'gone'" in (dead["last_error"] or "")
    assert env.order_count() == 0
