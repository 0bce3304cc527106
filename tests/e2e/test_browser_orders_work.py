"""The orders list for work in a real browser (issue 19, gap "Orders list for work").

Headless Debian Chromium through Playwright against the app served by waitress on
loopback, as in test_browser_orders.py: a merchant filters, sorts, ticks three orders,
is asked "Cancel 3 orders?", confirms, and reads each order's outcome. Screenshots go
to ``artifacts/`` (git-ignored): ``orders-work-list-{1280,390}.png``,
``orders-work-confirm-{1280,390}.png``, ``orders-work-outcome-{1280,390}.png``.
"""

from __future__ import annotations

from datetime import UTC, datetime, timedelta

import pytest
from browser_support import artifact, make_admin, needs_chromium, serving, signed_in
from playwright.sync_api import expect

from hub.core.order import Customer
from hub.store.models import Order

pytestmark = needs_chromium


@pytest.fixture
def served(make_hub, make_order):
    hub = make_hub()
    make_admin(hub)
    now = datetime.now(UTC)
    ids = [
        make_order(
            hub,
            number=f"#70{n}",
            placed_at=now - timedelta(hours=n),
            customer=Customer(email=f"buyer{n}@example.com", name=f"Buyer {n}"),
        )
        for n in range(4)
    ]
    with serving(hub) as base:
        yield base, hub, ids


def _numbers(page) -> list[str]:
    return page.locator("table.list tbody tr td a[href^='/orders/']").all_inner_texts()


@pytest.mark.parametrize("width", [1280, 390])
def test_a_merchant_cancels_three_orders_at_once_after_a_confirmation(served, chromium, width):
    base, hub, ids = served
    page = signed_in(chromium, base, width)
    page.goto(base + "/orders")
    assert _numbers(page) == ["#700", "#701", "#702", "#703"]  # newest placed first
    page.click("th a.sort:has-text('Order')")  # sorted by number, ascending
    expect(page.locator("th a.sort:has-text('Order')")).to_contain_text("↑")
    assert _numbers(page) == ["#700", "#701", "#702", "#703"]
    page.click("th a.sort:has-text('Order')")  # pressed again: descending
    assert _numbers(page) == ["#703", "#702", "#701", "#700"]
    expect(page.locator("a.csv-link")).to_have_attribute("href", "/orders.csv?sort=-number")
    assert page.evaluate("document.documentElement.scrollWidth") <= width
    page.screenshot(path=artifact(f"orders-work-list-{width}.png"), full_page=True)

    for label in ("#703", "#702", "#701"):
        page.check(f"input[aria-label='Select {label}']")
    page.select_option("select[name=action]", "cancel")
    page.click("button:has-text('Apply')")
    expect(page.locator("main h1")).to_have_text("Cancel 3 orders?")
    with hub.db.read() as db:  # asked, not yet done
        assert db.get(Order, ids[3]).status == "pending"
    assert page.evaluate("document.documentElement.scrollWidth") <= width
    page.screenshot(path=artifact(f"orders-work-confirm-{width}.png"), full_page=True)

    page.click("button:has-text('Cancel 3 orders')")
    expect(page.locator("main h1")).to_have_text("Cancel 3 orders: 3 done, 0 refused")
    expect(page.locator("table.bulk-outcomes tbody tr.done")).to_have_count(3)
    assert page.evaluate("document.documentElement.scrollWidth") <= width
    page.screenshot(path=artifact(f"orders-work-outcome-{width}.png"), full_page=True)
    with hub.db.read() as db:
        assert [db.get(Order, i).status for i in ids] == [
            "pending",
            "cancelled",
            "cancelled",
            "cancelled",
        ]
    page.click("a:has-text('Back to the list')")  # back where the merchant was: by number, desc
    assert _numbers(page) == ["#703", "#702", "#701", "#700"]


def test_one_box_selects_every_order_on_the_page_for_a_bulk_action(served, chromium):
    base, hub, ids = served
    page = signed_in(chromium, base, 1280)
    page.goto(base + "/orders")
    page.check("input[data-select-all]")
    expect(page.locator("input[name=order_id]:checked")).to_have_count(4)
    page.uncheck("input[aria-label='Select #702']")  # one left out: the header box clears
    expect(page.locator("input[data-select-all]")).not_to_be_checked()
    page.check("input[aria-label='Select #702']")
    expect(page.locator("input[data-select-all]")).to_be_checked()
    page.select_option("select[name=action]", "hold")
    page.fill("input[name=reason]", "stock count")
    page.click("button:has-text('Apply')")
    expect(page.locator("main h1")).to_have_text("Hold 4 orders?")
    page.screenshot(path=artifact("orders-select-all-confirm-1280.png"), full_page=True)
    page.click("button:has-text('Hold 4 orders')")
    with hub.db.read() as db:
        assert {db.get(Order, i).status for i in ids} == {"on_hold"}
