"""Fixtures for the Shopify connector's tests: a sandbox shop on loopback and a channel on it."""

from __future__ import annotations

from contextlib import ExitStack
from dataclasses import dataclass
from datetime import timedelta
from types import SimpleNamespace
from typing import Any

import pytest
from sqlalchemy import select

from hub.runtime.hub import Hub
from hub.store.models import Order
from hub.testing import ChannelRef, Harness
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
    """A hub channel wired to a sandbox shop served over real HTTP, driven through
    :class:`hub.testing.Harness` (the helpers any plugin's tests have)."""

    harness: Harness
    shop: ShopifySandbox
    url: str
    channel: ChannelRef

    @property
    def hub(self) -> Hub:
        return self.harness.hub

    @property
    def channel_id(self) -> int:
        return self.channel.id

    @property
    def slug(self) -> str:
        return self.channel.slug

    def connector(self) -> ShopifyConnector:
        return self.harness.connector(self.channel)

    def run(self, *kinds: str, advance: timedelta | None = None) -> int:
        """Run due jobs of these kinds (all kinds when none given) until none is left;
        ``advance``: as if the clock were that much later (a backoff, a debounce)."""
        return self.harness.run_jobs(kinds=kinds or None, advance=advance)

    def pull(self) -> SimpleNamespace:
        """Run one ``channel.pull``; the job as it ended (``.status``, ``.last_error``, ``.id``)."""
        return SimpleNamespace(**self.harness.pull(self.channel))

    def deliver(self, topic: str, payload: dict[str, Any] | int, **headers: str) -> Any:
        """``POST /webhooks/<slug>``: ``payload`` (or the shop's order of that id) as the
        shop sends it on ``topic``, signed by the connector; the answer Shopify gets."""
        body = self.shop.order(payload) if isinstance(payload, int) else payload
        return self.harness.post_webhook(
            self.channel, body, headers={"X-Shopify-Topic": topic, **headers}
        )

    def post(self, headers: dict[str, str], body: bytes) -> Any:
        """``POST /webhooks/<slug>`` of a delivery made elsewhere (the sandbox's own), unsigned."""
        return self.harness.post_webhook(self.channel, body, headers=headers, sign=False)

    def order_count(self) -> int:
        return len(self.harness.orders(self.channel))

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
        return len(self.harness.webhook_events())

    def state(self) -> dict[str, Any]:
        return self.harness.channel_state(self.channel)


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
        harness = stack.enter_context(Harness(hub))
        shop = ShopifySandbox(orders=orders, seed=seed, **options)
        url = harness.serve(shop)
        channel = harness.add_channel(
            "shopify", {**shop.channel_config(url), **(config or {})}, name="Demo store"
        )
        return ShopEnv(harness=harness, shop=shop, url=url, channel=channel)

    yield make
    stack.close()
