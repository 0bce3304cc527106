"""A storm of Shopify webhooks, 30% of them duplicates and 10% out of order: the hub ends as the shop is.

Every order is created, updated one to three times and in a quarter of cases
cancelled at the Shopify sandbox; each version goes out as a signed webhook
(``orders/create``, ``orders/updated``, ``orders/cancelled``) to the hub's real
``/webhooks/shopify`` endpoint, eight at a time. A tenth of the versions are held
back until after a newer version of their order, and three in ten deliveries are
sent again (same ``X-Shopify-Webhook-Id``). No pull runs: the webhooks are the
only source. At the end each order in the hub must equal the shop's truth, and
its money must follow: captured for a live order, given back for a cancelled one.
"""

import os
import random
from concurrent.futures import ThreadPoolExecutor

import pytest
import requests
from sqlalchemy import func, select

from hub.demo.sandboxes import PAYMENT_ATTRIBUTE, Sandboxes
from hub.demo.scenario import DEMO_SELLER, HubServer, configure_hub, reset_database, stock_locations
from hub.runtime.hub import Hub
from hub.store import migrate
from hub.store.config import Settings
from hub.store.models import Order, WebhookEvent
from plugins.shopify.mapping import order_from_shopify
from reliability.support import ORDERS, dead_jobs, wait_until_settled

pytestmark = [pytest.mark.reliability, pytest.mark.slow]

SEED = int(os.environ.get("HUB_RELIABILITY_SEED", "4242"))


def _versions(shop, rng: random.Random) -> dict[int, list[tuple[str, dict]]]:
    """Each order's versions, oldest first, as the shop's webhooks would carry them."""
    versions = {}
    for order_id in shop.order_ids:
        seq = [("orders/create", shop.order(order_id))]
        for k in range(rng.randint(1, 3)):
            seq.append(
                (
                    "orders/updated",
                    shop.update_order(
                        order_id,
                        note=f"gift message {k}",
                        tags=", ".join(["storm", f"v{k}"]),
                        email=f"storm{k}.{order_id}@example.com",
                    ),
                )
            )
        if rng.random() < 0.25:
            seq.append(("orders/cancelled", shop.cancel_order(order_id, reason="customer")))
        versions[order_id] = seq
    return versions


def _storm(shop, versions, rng: random.Random) -> tuple[list[tuple[dict, bytes]], int, int]:
    """Deliveries in sending order, how many were held back, how many are copies."""
    per_order = {
        oid: [shop.webhook(topic, body) for topic, body in seq] for oid, seq in versions.items()
    }
    total = sum(len(v) for v in per_order.values())
    # 10% out of order: a version held back until after the newest of its order.
    held = 0
    candidates = [oid for oid, seq in per_order.items() if len(seq) > 1]
    rng.shuffle(candidates)
    for oid in candidates[: round(total * 0.10)]:
        seq = per_order[oid]
        seq.append(seq.pop(rng.randrange(len(seq) - 1)))
        held += 1
    # Interleave the orders, as a busy shop's webhooks come.
    queues = [list(seq) for seq in per_order.values()]
    stream = []
    while any(queues):
        for q in queues:
            if q:
                stream.append(q.pop(0))
    # 30% duplicates: the same delivery again, somewhere later.
    copies = round(len(stream) * 0.30)
    for delivery in rng.sample(stream, copies):
        position = stream.index(delivery)
        stream.insert(rng.randint(position + 1, len(stream)), delivery)
    return stream, held, copies


@pytest.mark.parametrize(
    "database", ["sqlite", pytest.param("postgresql", marks=pytest.mark.postgres)]
)
def test_webhook_storm_with_duplicates_and_reordering_ends_equal_to_the_shop(
    tmp_path, request, database
):
    rng = random.Random(SEED)
    data = tmp_path / "data"
    url = request.getfixturevalue("pg_url") if database == "postgresql" else None
    # The sandboxes listen on 127.0.0.1: the hub must be allowed to call them.
    hub = Hub(
        Settings.from_env(
            {}, data_dir=data, database_url=url, allow_private_targets=True, **DEMO_SELLER
        )
    )
    migrate.upgrade(hub.db)
    if url:
        reset_database(hub)  # the shared test database: start empty
    with Sandboxes(ORDERS, seed=SEED % 100, initial=ORDERS) as sandboxes:
        server = HubServer(hub, workers=4)
        server.start_web()
        try:
            # Schedules an hour apart: nothing but the webhooks brings orders in.
            channels = configure_hub(
                hub,
                sandboxes,
                server.url,
                data_dir=data,
                pull_every=3600,
                poll_every=3600,
                erp_every=3600,
            )
            sandboxes.shipstation.stop_auto_ship()  # nothing ships: a cancellation always applies
            stock_locations(hub, sandboxes.demand())
            shop = sandboxes.shop
            versions = _versions(shop, rng)
            stream, held, copies = _storm(shop, versions, rng)
            assert held >= 1 and copies >= 1
            server.start_work()
            url = f"{server.url}/webhooks/{channels.slugs['shopify']}"
            with requests.Session() as http, ThreadPoolExecutor(8) as pool:
                answers = list(
                    pool.map(lambda d: http.post(url, data=d[1], headers=d[0], timeout=10), stream)
                )
            assert {a.status_code for a in answers} == {200}
            statuses = [a.json()["status"] for a in answers]
            distinct = len({d[0]["X-Shopify-Webhook-Id"] for d in stream})
            assert statuses.count("accepted") == distinct
            assert statuses.count("duplicate") == copies
            wait_until_settled(
                hub, sandboxes, ORDERS, timeout=180, open_statuses=("pending", "confirmed")
            )
            assert dead_jobs(hub) == []
            with hub.db.read() as session:
                assert (
                    session.scalar(
                        select(func.count())
                        .select_from(WebhookEvent)
                        .where(WebhookEvent.channel_id == channels.shopify)
                    )
                    == distinct
                )
                orders = {o.external_id: o for o in session.scalars(select(Order))}
            assert len(orders) == ORDERS
            stripe = sandboxes.stripe
            for order_id in shop.order_ids:
                truth = order_from_shopify(
                    shop.order(order_id), payment_attribute=PAYMENT_ATTRIBUTE
                )
                mine = orders[str(order_id)]
                assert (mine.email, mine.notes, mine.tags, mine.total, mine.number) == (
                    truth.customer.email,
                    truth.notes,
                    truth.tags,
                    truth.total,
                    truth.number,
                ), order_id
                assert mine.external_updated_at == truth.updated_at
                intent = stripe.intents[shop.intent_id(order_id)]
                if truth.cancelled:
                    assert mine.status == "cancelled", (order_id, mine.status)
                    charge = stripe.charges.get(intent["latest_charge"] or "")
                    # Voided before capture, or captured and refunded in full.
                    assert intent["status"] == "canceled" or (
                        charge and charge["amount_refunded"] == charge["amount_captured"] > 0
                    )
                else:
                    assert mine.status == "processing", (order_id, mine.status)
                    assert intent["status"] == "succeeded"
        finally:
            server.stop_work()
            server.stop_web()
            if url:
                reset_database(hub)  # leave the shared test database empty
    hub.close()
