"""The orders list for work in a real browser (issue 19, gap "Orders list for work").

Headless Debian Chromium through Playwright against the app served by waitress on
loopback, as in test_browser_orders.py: a merchant filters, sorts, ticks three orders,
is asked "Cancel 3 orders?", confirms, and reads each order's outcome. Screenshots go
to ``artifacts/`` (git-ignored): ``orders-work-list-{1280,390}.png``,
``orders-work-confirm-{1280,390}.png``, ``orders-work-outcome-{1280,390}.png``.
"""

from __future__ import annotations

import os
import threading
from datetime import UTC, datetime, timedelta
from pathlib import Path

import pytest
from playwright.sync_api import expect, sync_playwright
from waitress import create_server

from hub.accounts.users import set_admin
from hub.core.order import Customer
from hub.store.models import Order
from hub.web import create_app

CHROMIUM = "/usr/bin/chromium"
ARTIFACTS = Path(__file__).resolve().parents[2] / "artifacts"
EMAIL = "merchant@example.com"
PASSWORD = "orders work test password"

pytestmark = pytest.mark.skipif(
    not os.path.exists(CHROMIUM), reason=f"the browser test needs Debian's Chromium at {CHROMIUM}"
)


@pytest.fixture
def served(make_hub, make_order):
    hub = make_hub()
    with hub.db.transaction() as session:
        set_admin(session, EMAIL, PASSWORD)
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
    server = create_server(create_app({"HUB": hub}), host="127.0.0.1", port=0, threads=4)
    thread = threading.Thread(target=server.run, daemon=True)
    thread.start()
    yield f"http://127.0.0.1:{server.effective_port}", hub, ids
    server.close()
    thread.join(timeout=10)


@pytest.fixture
def chromium():
    with sync_playwright() as p:
        browser = p.chromium.launch(
            executable_path=CHROMIUM,
            args=["--headless", "--no-sandbox", "--disable-gpu", "--disable-background-networking"],
        )
        try:
            yield browser
        finally:
            browser.close()


def _signed_in(chromium, base: str, width: int):
    context = chromium.new_context(viewport={"width": width, "height": 844})
    context.set_default_timeout(15_000)
    page = context.new_page()
    page.goto(base + "/login")
    page.fill("#email", EMAIL)
    page.fill("#password", PASSWORD)
    page.click("button:has-text('Sign in')")
    page.wait_for_selector("h1")
    return page


def _numbers(page) -> list[str]:
    return page.locator("table.list tbody tr td a[href^='/orders/']").all_inner_texts()


@pytest.mark.parametrize("width", [1280, 390])
def test_a_merchant_cancels_three_orders_at_once_after_a_confirmation(served, chromium, width):
    base, hub, ids = served
    ARTIFACTS.mkdir(exist_ok=True)
    page = _signed_in(chromium, base, width)
    page.goto(base + "/orders")
    assert _numbers(page) == ["#700", "#701", "#702", "#703"]  # newest placed first
    page.click("th a.sort:has-text('Order')")  # sorted by number, ascending
    expect(page.locator("th a.sort:has-text('Order')")).to_contain_text("↑")
    assert _numbers(page) == ["#700", "#701", "#702", "#703"]
    page.click("th a.sort:has-text('Order')")  # pressed again: descending
    assert _numbers(page) == ["#703", "#702", "#701", "#700"]
    expect(page.locator("a.csv-link")).to_have_attribute("href", "/orders.csv?sort=-number")
    assert page.evaluate("document.documentElement.scrollWidth") <= width
    page.screenshot(path=str(ARTIFACTS / f"orders-work-list-{width}.png"), full_page=True)

    for label in ("#703", "#702", "#701"):
        page.check(f"input[aria-label='Select {label}']")
    page.select_option("select[name=action]", "cancel")
    page.click("button:has-text('Apply')")
    expect(page.locator("main h1")).to_have_text("Cancel 3 orders?")
    with hub.db.read() as db:  # asked, not yet done
        assert db.get(Order, ids[3]).status == "pending"
    assert page.evaluate("document.documentElement.scrollWidth") <= width
    page.screenshot(path=str(ARTIFACTS / f"orders-work-confirm-{width}.png"), full_page=True)

    page.click("button:has-text('Cancel 3 orders')")
    expect(page.locator("main h1")).to_have_text("Cancel 3 orders: 3 done, 0 refused")
    expect(page.locator("table.bulk-outcomes tbody tr.done")).to_have_count(3)
    assert page.evaluate("document.documentElement.scrollWidth") <= width
    page.screenshot(path=str(ARTIFACTS / f"orders-work-outcome-{width}.png"), full_page=True)
    with hub.db.read() as db:
        assert [db.get(Order, i).status for i in ids] == [
            "pending",
            "cancelled",
            "cancelled",
            "cancelled",
        ]
    page.click("a:has-text('Back to the list')")  # back where the merchant was: by number, desc
    assert _numbers(page) == ["#703", "#702", "#701", "#700"]
