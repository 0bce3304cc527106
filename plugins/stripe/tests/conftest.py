"""Fixtures for the Stripe plugin's tests: the sandbox served on loopback, a hub with a Stripe channel."""

from __future__ import annotations

import threading
from collections.abc import Iterator
from contextlib import contextmanager

import pytest
from werkzeug.serving import make_server

from hub.testing import Harness
from plugins.stripe.sandbox import DEFAULT_SECRET_KEY, DEFAULT_WEBHOOK_SECRET, StripeSandbox


@contextmanager
def serve(app) -> Iterator[str]:
    """Serve a WSGI app on 127.0.0.1 in a thread; yield its base URL. (Tiny on purpose: swappable.)"""
    server = make_server("127.0.0.1", 0, app, threaded=True)
    thread = threading.Thread(
        target=server.serve_forever,
        kwargs={"poll_interval": 0.05},
        daemon=True,
        name="wsgi-sandbox",
    )
    thread.start()
    try:
        yield f"http://127.0.0.1:{server.server_port}"
    finally:
        if hasattr(app, "close"):
            app.close()
        server.shutdown()
        server.server_close()
        thread.join(timeout=5)


@pytest.fixture
def sandbox() -> StripeSandbox:
    return StripeSandbox()


@pytest.fixture
def sandbox_url(sandbox) -> Iterator[str]:
    with serve(sandbox) as url:
        yield url


class StripeSetup:
    """A hub with one Stripe channel pointed at the sandbox, and helpers the tests share."""

    def __init__(self, hub, sandbox: StripeSandbox, url: str, **config):
        self.hub, self.sandbox, self.url = hub, sandbox, url
        self.harness = Harness(hub)
        self.channel = self.harness.add_channel(
            "stripe",
            {
                "secret_key": DEFAULT_SECRET_KEY,
                "webhook_secret": DEFAULT_WEBHOOK_SECRET,
                "capture": "manual",
                "api_base_url": url,
                **config,
            },
            name="Stripe",
            slug="stripe",
        )
        self.channel_id = self.channel.id
        self.sleeps: list[float] = []
        self.connector  # noqa: B018 - builds the cached connector with its no-wait backoff

    @property
    def connector(self):
        connector = self.harness.connector(self.channel)
        connector.http.sleep = self.sleeps.append  # backoff without waiting
        return connector

    def post(self, body: bytes, headers: dict[str, str]):
        """``POST /webhooks/stripe`` of a delivery the sandbox signed; the answer Stripe gets."""
        return self.harness.post_webhook(self.channel, body, headers=headers, sign=False)

    def webhooks_to_hub(self) -> None:
        """Deliver the sandbox's events through the hub's real webhook ingress."""
        self.sandbox.webhook_targets.append(self.post)


@pytest.fixture
def stripe_setup(hub, sandbox, sandbox_url) -> StripeSetup:
    return StripeSetup(hub, sandbox, sandbox_url)


@pytest.fixture
def any_stripe_setup(any_hub, sandbox, sandbox_url) -> StripeSetup:
    return StripeSetup(any_hub, sandbox, sandbox_url)
