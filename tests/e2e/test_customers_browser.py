"""Customers in a real browser (issue 20): the list, one customer's page and a merge, at 1280
and 390 px.

Headless Debian Chromium through Playwright against the app served on loopback
(tests/e2e/browser_support.py). Screenshots go to ``artifacts/`` (git-ignored):
``customers-1280.png``, ``customer-1280.png``, ``customer-390.png``.
"""

from __future__ import annotations

from datetime import UTC, datetime, timedelta

import pytest
from browser_support import artifact, make_admin, needs_chromium, serving, signed_in
from playwright.sync_api import expect

from hub.core.order import Address, Customer, Line

pytestmark = needs_chromium


@pytest.fixture
def served(make_hub, make_order):
    hub = make_hub()
    make_admin(hub)
    now = datetime.now(UTC)
    ana = Customer(email="Ana.Lima@example.com", name="Ana Lima", phone="+1 415 555 2671")
    home = Address(
        name="Ana Lima", address1="1 Main St", city="Springfield", zip="12345", country_code="US"
    )
    office = Address(
        name="Ana Lima",
        company="Lima & Co",
        address1="500 Market Street, Suite 1200",
        city="San Francisco",
        zip="94105",
        country_code="US",
    )
    mug = [Line(sku="MUG", name="Mug", quantity=2, unit_price=1250)]
    make_order(hub, number="#3001", customer=ana, placed_at=now - timedelta(days=40))
    make_order(
        hub,
        number="#3002",
        customer=Customer(email=" ana.lima@example.com", name="Ana Lima"),
        shipping_address=office,
        lines=mug,
        placed_at=now - timedelta(days=12),
    )
    make_order(
        hub, number="#3003", customer=ana, shipping_address=home, placed_at=now - timedelta(days=2)
    )
    # The same person under a work address: a second customer until someone merges them.
    make_order(
        hub,
        number="#3004",
        customer=Customer(email="ana@lima-co.example", name="Ana Lima (work)"),
        placed_at=now - timedelta(days=1),
    )
    make_order(hub, number="#3005", customer=Customer(email="bo@example.com", name="Bo Berg"))
    with serving(hub) as base:
        yield base, hub


def test_a_merchant_finds_a_customer_reads_its_history_and_merges_a_duplicate(served, chromium):
    base, hub = served
    page = signed_in(chromium, base, 1280)
    page.click("nav >> text=Customers")
    expect(page.locator("h1")).to_have_text("Customers")
    rows = page.locator("table.customers tbody tr")
    expect(rows).to_have_count(3)
    page.fill("input[name=q]", "lima")
    page.click("button:has-text('Search')")
    expect(rows).to_have_count(2)
    page.screenshot(path=artifact("customers-1280.png"), full_page=True)

    page.click("table.customers >> text=Ana Lima >> nth=-1")  # the oldest: three orders
    expect(page.locator("h1")).to_have_text("Ana Lima")
    figures = page.locator(".customer-figures")
    expect(figures).to_contain_text("Orders")
    expect(figures).to_contain_text("3")
    expect(page.locator("#orders tbody tr")).to_have_count(3)
    expect(page.locator("text=500 Market Street, Suite 1200")).to_be_visible()

    # The work address's customer is the same person: merge it in by its email.
    page.fill("#merge-from", "ANA@lima-co.example")
    page.once("dialog", lambda dialog: dialog.accept())
    page.click("#merge button:has-text('Merge')")
    expect(page.locator(".flash-success")).to_contain_text("1 order moved")
    expect(page.locator("#orders tbody tr")).to_have_count(4)
    expect(page.locator("#merges")).to_contain_text("merged in")
    page.fill("#customer-tags", "vip")
    page.click("button:has-text('Save tags and note')")
    expect(page.locator(".flash-success")).to_contain_text("Tags and note saved")
    page.screenshot(path=artifact("customer-1280.png"), full_page=True)

    # The order page leads to its customer.
    page.click("#orders >> text=#3004")
    page.click("text=Customer's profile and other orders")
    expect(page.locator("h1")).to_have_text("Ana Lima")

    phone = signed_in(chromium, base, 390)
    phone.goto(page.url)
    expect(phone.locator("h1")).to_have_text("Ana Lima")
    width = phone.evaluate("document.documentElement.scrollWidth")
    assert width <= 390, f"the customer page is {width} px wide on a 390 px phone"
    phone.screenshot(path=artifact("customer-390.png"), full_page=True)
