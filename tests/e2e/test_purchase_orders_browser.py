"""A purchase order cycle in the admin, in a real browser (issue 21), at 1280 and 390 px.

A supplier and its SKU prices are set through their forms (a bad currency refused
next to its field first), a draft is made for the supplier, sent (the supplier's
email leaves with the PDF and CSV), received in part and then in full; the stock
page shows the units incoming, then on hand. Screenshots in ``artifacts/``:
``purchase-order-1280.png``, ``purchase-order-390.png``.
"""

from __future__ import annotations

import pytest
from browser_support import artifact, make_admin, needs_chromium, serving, signed_in
from playwright.sync_api import expect

from hub.inventory.levels import upsert_location
from plugins.email.tests.conftest import SmtpServer
from tests.integration.purchasing.conftest import BUYER, with_email_channel

pytestmark = needs_chromium


@pytest.fixture
def smtp():
    server = SmtpServer().start()
    yield server
    server.stop()


@pytest.fixture
def shop(make_hub, smtp):
    hub = with_email_channel(make_hub(**BUYER), smtp)
    make_admin(hub)
    with hub.db.transaction() as session:
        upsert_location(session, "WH1", name="Main warehouse")
    return hub


def test_a_buyer_orders_from_a_supplier_and_receives_in_two_deliveries(
    shop, smtp, chromium, run_jobs
):
    with serving(shop) as base:
        page = signed_in(chromium, base, 1280)
        page.goto(base + "/purchase-orders")
        page.click("nav[aria-label=Main] >> text=Purchasing")
        page.click("main a:text-is('Suppliers')")
        page.click("main a:text-is('New supplier')")
        page.fill("#f-name", "Acme Textiles")
        page.fill("#f-email", "orders@acme.example")
        page.fill("#f-currency", "EURO")
        page.fill("#f-lead_time_days", "12")
        page.click("button:has-text('Save supplier')")
        expect(page.locator(".field.has-error")).to_contain_text("EURO")
        page.fill("#f-currency", "EUR")
        page.click("button:has-text('Save supplier')")
        expect(page.locator(".flashes")).to_contain_text("Supplier saved")
        for sku, cost in (("TEE-M", "4.50"), ("TEE-L", "5.10")):
            page.fill("#skus input[name=sku]", sku)
            page.fill("#skus input[name=cost_price]", cost)
            page.check("#skus input[name=preferred]")
            page.click("button:has-text('Save price')")
            expect(page.locator(".flashes")).to_contain_text(f"Cost price of {sku} saved")
        expect(page.locator("table.supplier-skus tbody tr")).to_have_count(2)

        page.goto(base + "/purchase-orders")
        page.fill("textarea[name=lines]", "TEE-M 24\nTEE-L 12")
        page.click("button:has-text('Make draft')")
        expect(page.locator(".flashes")).to_contain_text("Draft PO-")
        expect(page.locator("h1")).to_contain_text("draft")
        number = page.locator("h1").inner_text().split()[0]
        page.click("button:has-text('Send to supplier')")
        expect(page.locator(".flashes")).to_contain_text(f"{number} sent to the supplier")
        expect(page.locator("h1")).to_contain_text("sent")

        page.fill("input[name='qty-TEE-M']", "10")
        page.click("button:has-text('Receive')")
        expect(page.locator(".flashes")).to_contain_text("10 units received")
        expect(page.locator("h1")).to_contain_text("partially received")
        po_url = page.url

        page.goto(base + "/stock")  # 10 on hand, 14 still on their way
        row = page.locator("table.stock-levels tbody tr", has_text="TEE-M")
        expect(row.locator("td.num").nth(0)).to_have_text("10")
        expect(row.locator("td.num").nth(3)).to_have_text("14")

        page.goto(base + "/purchase-orders")
        page.click(f"table.purchase-orders a:text-is('{number}')")
        assert page.url == po_url
        page.fill("input[name='qty-TEE-M']", "15")  # one more than is open
        page.fill("input[name='qty-TEE-L']", "12")
        page.click("button:has-text('Receive')")
        expect(page.locator(".flashes")).to_contain_text("TEE-M: 15 received but only 14")
        page.fill("input[name='qty-TEE-M']", "14")
        page.fill("input[name='qty-TEE-L']", "12")
        page.click("button:has-text('Receive')")
        expect(page.locator(".flashes")).to_contain_text("26 units received")
        expect(page.locator("h1")).to_contain_text("received")
        expect(page.locator("ul.receipts li")).to_have_count(2)
        expect(page.locator("#receive")).to_have_count(0)
        page.screenshot(path=artifact("purchase-order-1280.png"), full_page=True)

        phone = signed_in(chromium, base, 390)
        phone.goto(page.url)
        expect(phone.locator("table.po-lines")).to_be_visible()
        fits = phone.evaluate("document.documentElement.scrollWidth <= window.innerWidth + 1")
        assert fits, "the purchase order page scrolls sideways on a phone"
        phone.screenshot(path=artifact("purchase-order-390.png"), full_page=True)

    run_jobs(shop)
    [email] = [m for m in smtp.messages if m["Subject"].startswith("Purchase order")]
    assert email["To"] == "Acme Textiles <orders@acme.example>"
    assert [a.get_filename() for a in email.iter_attachments()] == [
        f"{number}.pdf",
        f"{number}.csv",
    ]
