"""Fixtures for the Shopify connector's tests: a sandbox shop on loopback and a channel on it."""

from __future__ import annotations

from contextlib import ExitStack
from dataclasses import dataclass
from typing import Any

import pytest
from sqlalchemy import func, select

from hub.channels import inbox
from hub.channels.manage import create_channel
from hub.integration.sandbox import serve
from hub.queue.jobs import Worker, enqueue
from hub.runtime.hub import Hub
from hub.store.models import Job, Order, WebhookEvent
from plugins.shopify.connector import ShopifyConnector
from plugins.shopify.sandbox import ShopifySandbox


@pytest.fixture(autouse=True)
def _fast_retries(monkeypatch):
    # Real backoff waits seconds; the behaviour under test is the same with milliseconds.
    monkeypatch.setattr(
        ShopifyConnector, "http_options", {"backoff_base": 0.01, "backoff_cap": 0.05}
    )
    # After a 429 the bucket reads 40/40 and the limiter would wait seconds for it
    # to drain at Shopify's pace; a test that checks the pacing sets its own.
    monkeypatch.setattr(ShopifyConnector, "limiter_options", {"leak_rate": 1000.0})


@dataclass
class ShopEnv:
    """A hub channel wired to a sandbox shop served over real HTTP."""

    hub: Hub
    shop: ShopifySandbox
    url: str
    channel_id: int
    slug: str

    def connector(self) -> ShopifyConnector:
        return self.hub.connector_for_id(self.channel_id)

    def run(self, *kinds: str) -> int:
        """Run due jobs of these kinds (all kinds when none given) until none is left."""
        return Worker(self.hub, worker_id="test", kinds=kinds or None).run_until_idle()

    def pull(self) -> Job:
        """Enqueue one ``channel.pull`` and run it; return the job as it ended."""
        with self.hub.db.transaction() as session:
            job_id = enqueue(session, "channel.pull", {}, channel_id=self.channel_id)
        self.run("channel.pull")
        with self.hub.db.read() as session:
            job = session.get(Job, job_id)
            session.expunge(job)
            return job

    def receive(self, headers: dict[str, str], body: bytes) -> inbox.Receipt:
        return inbox.receive(self.hub, self.slug, headers, body, {})

    def order_count(self) -> int:
        with self.hub.db.read() as session:
            return session.scalar(
                select(func.count(Order.id)).where(Order.channel_id == self.channel_id)
            )

    def order(self, external_id: int | str) -> Order | None:
        with self.hub.db.read() as session:
            order = session.scalars(
                select(Order).where(
                    Order.channel_id == self.channel_id, Order.external_id == str(external_id)
                )
            ).one_or_none()
            if order is not None:
                session.expunge(order)
            return order

    def inbox_count(self) -> int:
        with self.hub.db.read() as session:
            return session.scalar(select(func.count(WebhookEvent.id)))

    def state(self) -> dict[str, Any]:
        from hub.channels.port import ChannelPort

        return ChannelPort(self.hub, self.channel_id).state


@pytest.fixture
def shopify():
    """``shopify(hub, orders=20, seed=1, config={...}, **sandbox_options) -> ShopEnv``."""
    stack = ExitStack()

    def make(
        hub: Hub,
        *,
        orders: int = 20,
        seed: int = 1,
        config: dict[str, Any] | None = None,
        **options: Any,
    ) -> ShopEnv:
        options.setdefault("retry_after", 0.01)
        shop = ShopifySandbox(orders=orders, seed=seed, **options)
        url = stack.enter_context(serve(shop))
        with hub.db.transaction() as session:
            channel = create_channel(
                hub,
                session,
                name="Demo store",
                connector="shopify",
                config={**shop.channel_config(url), **(config or {})},
            )
            channel_id, slug = channel.id, channel.slug
        return ShopEnv(hub=hub, shop=shop, url=url, channel_id=channel_id, slug=slug)

    yield make
    stack.close()
