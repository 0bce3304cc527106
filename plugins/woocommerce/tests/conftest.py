"""Fixtures for the WooCommerce connector's tests: a sandbox store on loopback and a channel on it."""

from __future__ import annotations

from dataclasses import dataclass
from typing import Any

import pytest

from hub.testing import ChannelRef, Harness
from plugins.woocommerce.connector import WooCommerceConnector
from plugins.woocommerce.sandbox import WooCommerceSandbox


@pytest.fixture(autouse=True)
def _fast_retries(monkeypatch):
    # Real backoff waits seconds; the behaviour under test is the same with milliseconds.
    monkeypatch.setattr(
        WooCommerceConnector, "http_options", {"backoff_base": 0.01, "backoff_cap": 0.05}
    )


@dataclass
class StoreEnv:
    """A hub channel wired to a sandbox store served over real HTTP."""

    harness: Harness
    store: WooCommerceSandbox
    url: str
    channel: ChannelRef

    def connector(self) -> WooCommerceConnector:
        return self.harness.connector(self.channel)

    def orders(self) -> dict[str, dict[str, Any]]:
        """The channel's orders in the hub, by WooCommerce id."""
        return {o["external_id"]: o for o in self.harness.orders(self.channel)}


@pytest.fixture
def woocommerce(harness):
    """``woocommerce(orders=20, seed=1, config={...}, harness=..., **sandbox_options) -> StoreEnv``."""

    def make(
        *,
        orders: int = 20,
        seed: int = 1,
        config: dict[str, Any] | None = None,
        on: Harness | None = None,
        **options: Any,
    ) -> StoreEnv:
        h = on or harness
        store = WooCommerceSandbox(orders=orders, seed=seed, **options)
        url = h.serve(store)
        channel = h.add_channel(
            "woocommerce", {**store.channel_config(url), **(config or {})}, name="Woo store"
        )
        return StoreEnv(harness=h, store=store, url=url, channel=channel)

    return make
