"""The channel registers its own webhooks at the store, and removes them: over real HTTP.

Creating, changing, enabling or disabling a WooCommerce channel enqueues a
``channel.webhooks`` job; the job reads the store's webhooks (``GET webhooks``)
and creates (``POST webhooks``) or deletes (``DELETE webhooks/<id>?force=true``)
what it must. The hub's own web app is served on loopback too, so the ping
WooCommerce sends on creation, and the deliveries of the registered webhooks,
reach the hub as they would in production.
"""

from __future__ import annotations

import dataclasses

import pytest

from hub.testing import vendor_example
from plugins.woocommerce.connector import WEBHOOK_TOPICS, webhook_name

HANDLED = ["order.created", "order.deleted", "order.restored", "order.updated"]


@pytest.fixture
def store(any_harness, woocommerce):
    """``store(**options) -> StoreEnv``: the hub reachable over HTTP, a channel on a sandbox
    store; each test runs on SQLite and on PostgreSQL."""
    hub_url = any_harness.serve(any_harness.app)
    any_harness.hub.settings = dataclasses.replace(any_harness.hub.settings, public_url=hub_url)

    def make(**options):
        return woocommerce(**{"orders": 0, "on": any_harness, **options})

    return make


def address(env) -> str:
    return f"{env.harness.hub.settings.public_url}/webhooks/{env.channel.slug}"


def registered(env) -> dict[str, list[tuple[str, str]]]:
    """The store's webhooks: delivery URL -> sorted (topic, status)."""
    found: dict[str, list[tuple[str, str]]] = {}
    for webhook in env.store.webhooks.values():
        found.setdefault(webhook["delivery_url"], []).append((webhook["topic"], webhook["status"]))
    return {url: sorted(pairs) for url, pairs in found.items()}


def registration(env) -> dict:
    return env.harness.channel_state(env.channel).get("webhooks") or {}


def test_a_new_channel_registers_one_webhook_per_handled_topic_and_gets_the_ping(store):
    env = store(clean=True)
    harness = env.harness
    assert sorted(WEBHOOK_TOPICS) == HANDLED
    assert env.store.webhooks == {}  # nothing is called while the channel is saved
    [job] = harness.jobs("channel.webhooks", channel=env.channel)
    assert job["status"] == "queued"
    harness.run_jobs()
    assert registered(env) == {address(env): [(t, "active") for t in HANDLED]}
    secret = env.store.channel_config(env.url)["webhook_secret"]
    assert {w["secret"] for w in env.store.webhooks.values()} == {secret}
    kept = registration(env)
    assert (kept["status"], kept["topics"], kept["address"]) == (
        "registered",
        HANDLED,
        address(env),
    )
    # WooCommerce pinged the hub once per webhook; the hub answered 200 and kept it as ignored.
    assert sorted(p[0] for p in env.store.pings) == sorted(env.store.webhooks)
    assert {(url, status) for _, url, status in env.store.pings} == {(address(env), 200)}
    pings = [e for e in harness.webhook_events(env.channel) if e["topic"] == "ping"]
    assert len(pings) == 4 and {e["status"] for e in pings} == {"ignored"}
    # A delivery of a registered webhook is signed with the secret it was given: taken.
    [order_id] = env.store.add_orders(1)
    [answer] = env.store.deliver("order.created", order_id)
    assert answer.status_code == 200
    harness.run_jobs()
    assert str(order_id) in env.orders()


def test_a_second_sync_creates_nothing(store):
    env = store()
    env.harness.run_jobs()
    ids = set(env.store.webhooks)
    # A config change registers again: the store is read, nothing is made twice.
    answer = env.harness.api.patch(
        f"/api/v1/channels/{env.channel.id}", json={"config": {"customer_note": True}}
    )
    assert answer.status_code == 200, answer.get_json()
    assert env.harness.run_jobs() >= 1
    assert set(env.store.webhooks) == ids
    assert env.store.calls["POST webhooks"] == len(HANDLED)
    assert env.store.calls["DELETE webhooks/<int:webhook_id>"] == 0
    assert registration(env)["status"] == "registered"


def test_sync_replaces_stale_and_hand_made_webhooks_and_leaves_other_addresses_alone(store):
    env = store()
    secret = env.store.channel_config(env.url)["webhook_secret"]
    other = "https://erp.example.com/woo-hooks"
    # Made by hand in WooCommerce's admin before the hub registered its own (the old way),
    # a topic the hub does not handle, and another system's webhook.
    env.store.add_webhook("order.created", address(env), secret=secret, name="hub: order created")
    env.store.add_webhook("product.updated", address(env), secret=secret)
    kept = env.store.add_webhook("order.updated", other, secret="theirs")
    env.harness.run_jobs()
    assert registered(env) == {
        address(env): [(t, "active") for t in HANDLED],
        other: [("order.updated", "active")],
    }
    names = {w["topic"]: w["name"] for w in env.store.webhooks.values() if w["id"] != kept["id"]}
    assert names == {t: webhook_name(env.channel.slug, t, secret) for t in HANDLED}
    # WooCommerce disabled one after five failed deliveries: registering again replaces it.
    disabled = next(
        w
        for w in env.store.webhooks.values()
        if w["topic"] == "order.updated" and w["delivery_url"] == address(env)
    )
    disabled["status"] = "disabled"
    env.harness.api.patch(
        f"/api/v1/channels/{env.channel.id}", json={"config": {"customer_note": True}}
    )
    env.harness.run_jobs()
    assert disabled["id"] not in env.store.webhooks
    assert registered(env)[address(env)] == [(t, "active") for t in HANDLED]


def test_a_changed_webhook_secret_replaces_the_webhooks(store):
    env = store(clean=True)
    env.harness.run_jobs()
    before = set(env.store.webhooks)
    answer = env.harness.api.patch(
        f"/api/v1/channels/{env.channel.id}", json={"config": {"webhook_secret": "a-new-secret"}}
    )
    assert answer.status_code == 200, answer.get_json()
    env.harness.run_jobs()
    mine = [w for w in env.store.webhooks.values() if w["delivery_url"] == address(env)]
    assert sorted(w["topic"] for w in mine) == HANDLED
    assert {w["secret"] for w in mine} == {"a-new-secret"} and not before & set(env.store.webhooks)
    [order_id] = env.store.add_orders(1)
    assert [a.status_code for a in env.store.deliver("order.created", order_id)] == [200]


def test_disabling_through_the_api_removes_the_webhooks_and_enabling_registers_them(store):
    env = store()
    other = env.store.add_webhook("order.created", "https://erp.example.com/h", secret="x")
    env.harness.run_jobs()
    channel = f"/api/v1/channels/{env.channel.id}"
    assert env.harness.api.patch(channel, json={"enabled": False}).status_code == 200
    assert len(env.store.webhooks) == 5  # the request called nothing; the job will
    env.harness.run_jobs()
    assert list(env.store.webhooks) == [other["id"]]
    kept = registration(env)
    assert (kept["status"], kept["topics"]) == ("removed", HANDLED)
    assert env.harness.api.patch(channel, json={"enabled": True}).status_code == 200
    env.harness.run_jobs()
    assert registered(env)[address(env)] == [(t, "active") for t in HANDLED]


def test_deleting_the_channel_removes_its_webhooks_before_it_goes(store):
    env = store()
    env.harness.run_jobs()
    channel = f"/api/v1/channels/{env.channel.id}"
    first = env.harness.api.delete(channel)
    assert first.status_code == 409  # disabled now; deleted once its webhooks are gone
    env.harness.run_jobs()
    assert env.store.webhooks == {}
    assert env.harness.api.delete(channel).status_code == 204


def test_a_key_that_may_not_write_is_shown_on_the_channel_with_woocommerces_reason(store):
    env = store(orders=5, key_permissions="read")
    harness = env.harness
    harness.run_jobs()
    [job] = harness.jobs("channel.webhooks", channel=env.channel)
    assert job["status"] == "dead"  # a 401 comes back the same until the key changes
    kept = registration(env)
    assert kept["status"] == "register_failed" and kept["topics"] == []
    assert "answered 401" in kept["error"]
    assert "The API key provided does not have write permissions." in kept["error"]
    assert "Read/Write" in kept["error"]  # what to do about it
    assert env.store.webhooks == {}
    assert harness.pull(env.channel)["status"] == "succeeded"  # reading still works
    # The merchant gives the key Read/Write and retries the job.
    env.store.key_permissions = "read_write"
    assert harness.api.post(f"/api/v1/jobs/{job['id']}/retry").status_code == 200
    harness.run_jobs()
    assert registration(env)["status"] == "registered"
    assert registered(env) == {address(env): [(t, "active") for t in HANDLED]}


def test_without_a_webhook_secret_nothing_is_registered_and_the_hub_pulls_only(store):
    env = store(config={"webhook_secret": ""})
    env.store.add_webhook("order.created", address(env), secret="made-by-hand")
    env.harness.run_jobs()
    assert env.store.webhooks == {}  # deliveries the hub would refuse are not kept coming
    kept = registration(env)
    assert (kept["status"], kept["topics"]) == ("registered", [])


def test_the_store_shows_a_webhook_with_the_fields_of_woocommerces_example(store):
    env = store()
    env.harness.run_jobs()
    example = vendor_example("woocommerce/webhook.create.response.json")
    webhook_id = next(iter(env.store.webhooks))
    shown = env.connector().http.get(f"webhooks/{webhook_id}").json()
    assert set(shown) == set(example)  # the secret is write-only: never shown
    assert set(shown["_links"]) == set(example["_links"])
