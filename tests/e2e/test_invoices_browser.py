"""Invoices in a real browser (issue 20): the list with receivables, one invoice, the order's block.

Headless Debian Chromium through Playwright against the app served by waitress on
loopback, as the other browser tests. Screenshots go to ``artifacts/`` (git-ignored):
``invoices-1280.png``, ``invoice-1280.png``, ``invoice-390.png``.
"""

from __future__ import annotations

from datetime import timedelta

import pytest
from browser_support import artifact, make_admin, needs_chromium, serving, signed_in
from playwright.sync_api import expect

from hub.core.order import Address, Customer, Line
from hub.invoicing import actions
from hub.store.models import utcnow

pytestmark = needs_chromium

SELLER = dict(
    seller_legal_name="Fjord Outfitters GmbH",
    seller_address="Hafenstraße 12|20457 Hamburg|Germany",
    seller_tax_id="DE123456789",
    seller_email="billing@fjord.example",
)


@pytest.fixture
def served(make_hub, make_order, run_jobs):
    hub = make_hub(**SELLER)
    make_admin(hub)
    ana = Customer(email="ana@example.com", name="Ana Lima")
    where = Address(
        name="Ana Lima",
        company="Lima Design",
        address1="Rua Augusta 100",
        city="Lisboa",
        zip="1100-053",
        country="Portugal",
        country_code="PT",
    )
    lines = [
        Line(sku="TEE-M", name="Organic cotton T-shirt, M", quantity=2, unit_price=2000, tax=760),
        Line(sku="BOOK", name="Field guide to fjords", quantity=1, unit_price=1500, tax=105),
    ]
    ids = {
        "issued": make_order(
            hub,
            number="#3001",
            customer=ana,
            shipping_address=where,
            lines=lines,
            shipping=500,
            tax=960,
            currency="EUR",
        ),
        "old": make_order(hub, number="#3002"),
        "fresh": make_order(hub, number="#3003"),
    }
    run_jobs(hub)
    now = utcnow()
    with hub.db.transaction() as session:
        actions.issue_invoice(session, ids["issued"], hub.settings, actor="test")
        actions.issue_invoice(
            session, ids["old"], hub.settings, actor="test", now=now - timedelta(days=75)
        )
    with serving(hub) as base:
        yield base, hub, ids


def test_a_merchant_reads_receivables_opens_an_invoice_and_issues_one_from_an_order(
    served, chromium
):
    base, _, ids = served
    page = signed_in(chromium, base, 1280)
    page.click("nav >> text=Invoices")
    receivables = page.locator("table.receivables tbody tr")
    expect(receivables).to_have_count(2)  # EUR and USD
    expect(receivables.nth(1)).to_contain_text("44.98")  # the USD invoice of 75 days ago
    expect(page.locator("table.invoices tbody tr")).to_have_count(2)
    page.screenshot(path=artifact("invoices-1280.png"), full_page=True)

    page.click("table.invoices >> text=/INV-\\d{4}-000001/")
    expect(page.locator("h1")).to_contain_text("Invoice INV-")
    document = page.locator("article.document")
    expect(document).to_contain_text("Fjord Outfitters GmbH")
    expect(document).to_contain_text("Lima Design")
    expect(document.locator("table.taxes tbody tr")).to_have_count(2)  # 19% and 7%
    expect(document.locator("table.totals")).to_contain_text("69.60 EUR")
    page.screenshot(path=artifact("invoice-1280.png"), full_page=True)

    # The order page's block: a button issues the next one, numbered in turn.
    page.goto(f"{base}/orders/{ids['fresh']}")
    block = page.locator("#invoices")
    expect(block).to_contain_text("Not invoiced yet")
    block.locator("text=Issue invoice now").click()
    expect(page.locator(".flash")).to_contain_text("-000003 issued")
    expect(page.locator("#invoices table tbody tr")).to_have_count(1)
    expect(page.locator("#invoices")).not_to_contain_text("Issue invoice now")


def test_an_invoice_reads_on_a_phone(served, chromium):
    base, _, _ = served
    page = signed_in(chromium, base, 390)
    page.goto(f"{base}/invoices")
    page.click("table.invoices >> text=/INV-\\d{4}-000001/")
    expect(page.locator("article.document")).to_contain_text("Total")
    width = page.evaluate("document.documentElement.scrollWidth")
    assert width <= 390, f"the page scrolls sideways on a phone ({width} px)"
    page.screenshot(path=artifact("invoice-390.png"), full_page=True)
