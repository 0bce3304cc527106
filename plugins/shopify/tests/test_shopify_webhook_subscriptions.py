"""The channel subscribes its own webhooks at the shop, and removes them: over real HTTP.

Creating, changing, enabling, disabling or deleting a channel enqueues a
``channel.webhooks`` job in the same transaction; the job calls Shopify's
``webhooks.json`` (list for the address first, then create or delete) and
keeps what came of it in the channel's state.
"""

from __future__ import annotations

import dataclasses

from sqlalchemy import select

from hub.channels import manage
from hub.channels.subscriptions import Registration, RegistrationStatus, announce
from hub.store.models import Channel, Job
from plugins.shopify.connector import WEBHOOK_TOPICS


def address(env) -> str:
    return f"{env.hub.settings.public_url}/webhooks/{env.slug}"


def subscribed(env) -> dict[str, list[str]]:
    """The shop's subscriptions: address -> sorted topics."""
    found: dict[str, list[str]] = {}
    for webhook in env.shop.subscriptions.values():
        assert webhook["format"] == "json"
        found.setdefault(webhook["address"], []).append(webhook["topic"])
    return {a: sorted(t) for a, t in found.items()}


def registration(env) -> Registration | None:
    with env.hub.db.read() as session:
        return Registration.of(session.get(Channel, env.channel_id))


def webhook_jobs(env) -> list[Job]:
    with env.hub.db.read() as session:
        return list(
            session.scalars(select(Job).where(Job.kind == "channel.webhooks").order_by(Job.id))
        )


def test_a_new_channel_subscribes_every_topic_the_hub_uses_once(any_hub, shopify):
    env = shopify(any_hub, orders=0)
    assert env.shop.subscriptions == {}  # nothing is called while the channel is saved
    [job] = webhook_jobs(env)
    assert job.status == "queued" and job.channel_id == env.channel_id
    env.run("channel.webhooks")
    assert subscribed(env) == {address(env): sorted(WEBHOOK_TOPICS)}
    assert "inventory_levels/update" not in WEBHOOK_TOPICS  # the hub is the stock master
    kept = registration(env)
    assert kept is not None and kept.status == RegistrationStatus.REGISTERED
    assert kept.topics == tuple(sorted(WEBHOOK_TOPICS)) and kept.address == address(env)
    # Asked again (the admin's "Register webhooks again"): read, nothing created twice.
    posts = env.shop.calls["POST webhooks.json"]
    with any_hub.db.transaction() as session:
        announce(session, session.get(Channel, env.channel_id))
    env.run("channel.webhooks")
    assert env.shop.calls["POST webhooks.json"] == posts == len(WEBHOOK_TOPICS)
    assert subscribed(env) == {address(env): sorted(WEBHOOK_TOPICS)}


def test_sync_adds_what_is_missing_and_drops_topics_the_hub_no_longer_uses(hub, shopify):
    env = shopify(hub, orders=0)
    other = "https://another-app.example/hooks"
    with env.shop.lock:
        env.shop._subscribe(
            {"webhook": {"topic": "inventory_levels/update", "address": address(env)}}, "2025-07"
        )
        env.shop._subscribe({"webhook": {"topic": "orders/create", "address": address(env)}}, "x")
        env.shop._subscribe({"webhook": {"topic": "orders/create", "address": other}}, "x")
    env.run("channel.webhooks")
    assert subscribed(env) == {address(env): sorted(WEBHOOK_TOPICS), other: ["orders/create"]}
    assert env.shop.calls["POST webhooks.json"] == len(WEBHOOK_TOPICS) - 1


def test_disabling_removes_the_webhooks_and_enabling_subscribes_them_again(hub, shopify, api):
    env = shopify(hub, orders=0)
    env.run("channel.webhooks")
    answer = api.patch(f"/api/v1/channels/{env.channel_id}", json={"enabled": False})
    assert answer.status_code == 200
    assert subscribed(env) != {}  # the request called nothing; the job will
    env.run("channel.webhooks")
    assert subscribed(env) == {}
    kept = registration(env)
    assert kept.status == RegistrationStatus.REMOVED and kept.topics == tuple(
        sorted(WEBHOOK_TOPICS)
    )
    assert (
        api.patch(f"/api/v1/channels/{env.channel_id}", json={"enabled": True}).status_code == 200
    )
    env.run("channel.webhooks")
    assert subscribed(env) == {address(env): sorted(WEBHOOK_TOPICS)}


def test_deleting_the_channel_removes_its_webhooks_before_it_goes(hub, shopify, api):
    env = shopify(hub, orders=0)
    env.run("channel.webhooks")
    first = api.delete(f"/api/v1/channels/{env.channel_id}")
    # The credentials are needed to remove them: disabled now, deleted once they are gone.
    assert first.status_code == 409
    assert first.get_json()["error"]["details"] == {"jobs": 1, "enabled": False}
    env.run("channel.webhooks")
    assert subscribed(env) == {}
    assert api.delete(f"/api/v1/channels/{env.channel_id}").status_code == 204


def test_a_changed_public_url_moves_the_subscriptions(hub, shopify):
    env = shopify(hub, orders=0)
    env.run("channel.webhooks")
    old = address(env)
    hub.settings = dataclasses.replace(hub.settings, public_url="https://hub.example.com")
    with hub.db.transaction() as session:
        # A config change registers again: with the hub's new address.
        manage.update_config(
            hub, session, session.get(Channel, env.channel_id), {"locations": "WH1=655441491"}
        )
    env.run("channel.webhooks")
    assert subscribed(env) == {
        f"https://hub.example.com/webhooks/{env.slug}": sorted(WEBHOOK_TOPICS)
    }
    assert old not in subscribed(env)


def test_a_refused_registration_is_kept_on_the_channel_with_shopifys_reason(hub, shopify):
    env = shopify(hub, orders=0)
    env.shop.faults.plan(403, path="*/webhooks.json", method="POST", times=100)
    env.run("channel.webhooks")
    [job] = webhook_jobs(env)
    assert job.status in ("failed", "dead")
    kept = registration(env)
    assert kept.status == RegistrationStatus.REGISTER_FAILED
    assert "403" in kept.error and kept.topics == ()
    env.shop.faults.clear()
    with hub.db.transaction() as session:  # the admin's "Register webhooks again"
        session.get(Job, job.id).status = "dead"
        announce(session, session.get(Channel, env.channel_id))
    env.run("channel.webhooks")
    assert registration(env).status == RegistrationStatus.REGISTERED
    assert subscribed(env) == {address(env): sorted(WEBHOOK_TOPICS)}
