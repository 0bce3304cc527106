"""Fixtures for the order-management tests (helpers live in inventory_helpers.py)."""

from __future__ import annotations

import pytest
from inventory_helpers import FakeMailer, FakePlugin, FakeShipping, FakeStore, lines


@pytest.fixture
def fakes():
    FakeShipping.submitted = []
    FakeStore.pushed = []
    FakeStore.calls = []
    FakeMailer.sent = []
    return FakePlugin()


@pytest.fixture
def new_order(make_order):
    """Create an order with these (sku, qty) lines and its own customer email (no duplicate holds)."""
    from hub.core.order import Customer

    counter = iter(range(1, 1_000_000))

    def factory(hub, *items: tuple[str, int], **overrides) -> int:
        n = next(counter)
        overrides.setdefault("customer", Customer(email=f"buyer{n}@example.com", name="Buyer"))
        if items:
            overrides.update(lines(*items))
        return make_order(hub, **overrides)

    return factory
