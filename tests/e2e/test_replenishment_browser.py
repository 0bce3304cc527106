"""The Replenishment page in a real browser (issue 21), at 1280 and 390 px.

Two SKUs below their reorder points, each from its own preferred supplier: the
top bar's badge says so and leads to the suggestions; ticking both rows makes
one draft purchase order per supplier. Screenshots in ``artifacts/``:
``replenishment-1280.png``, ``replenishment-390.png``.
"""

from __future__ import annotations

import pytest
from browser_support import artifact, make_admin, needs_chromium, serving, signed_in
from playwright.sync_api import expect
from sqlalchemy import select

from hub.queue.jobs import enqueue
from hub.queue.kinds import JobKind
from hub.store.models import PurchaseOrder
from tests.integration.test_replenishment_suggestions import seed_shop

pytestmark = needs_chromium


@pytest.fixture
def shop(make_hub, run_jobs):
    hub = make_hub()
    make_admin(hub)
    ids = seed_shop(hub)
    with hub.db.transaction() as session:  # the periodic low-stock check, now
        enqueue(session, JobKind.LOW_STOCK_CHECK, {})
    run_jobs(hub)
    with serving(hub) as base:
        yield hub, base, ids


def test_a_merchant_ticks_two_suggestions_and_gets_a_draft_per_supplier(shop, chromium):
    hub, base, ids = shop
    page = signed_in(chromium, base, 1280)
    page.goto(base + "/")
    badge = page.locator(".topbar a.badge.low-stock")
    expect(badge).to_have_text("2 low on stock")
    badge.click()

    expect(page.locator("h1")).to_have_text("Replenishment")
    rows = page.locator("table.replenishment tbody tr")
    expect(rows).to_have_count(2)
    expect(rows.nth(0)).to_contain_text("CAP")
    expect(rows.nth(0)).to_contain_text("Cap Co")
    expect(rows.nth(1)).to_contain_text("Mugs Ltd")
    assert page.input_value("input[aria-label='Quantity of MUG to buy']") == "36"
    assert page.input_value("input[aria-label='Quantity of CAP to buy']") == "18"
    page.screenshot(path=artifact("replenishment-1280.png"), full_page=True)

    page.fill("input[aria-label='Quantity of CAP to buy']", "24")
    page.check("input[aria-label='Buy MUG for wh']")
    page.check("input[aria-label='Buy CAP for wh']")
    page.click("button:has-text('Make draft purchase orders')")
    expect(page.locator(".flashes")).to_contain_text("Draft purchase orders made: PO-")
    expect(page.locator(".flashes")).to_contain_text("(Mugs Ltd)")
    expect(page.locator(".flashes")).to_contain_text("(Cap Co)")
    with hub.db.read() as session:
        drafts = session.scalars(select(PurchaseOrder).where(PurchaseOrder.status == "draft"))
        got = {(po.supplier_id, tuple((li.sku, li.quantity) for li in po.lines)) for po in drafts}
    assert got == {(ids["mugs"], (("MUG", 36),)), (ids["caps"], (("CAP", 24),))}

    phone = signed_in(chromium, base, 390)
    phone.goto(base + "/replenishment")
    expect(phone.locator("table.replenishment")).to_be_visible()
    fits = phone.evaluate("document.documentElement.scrollWidth <= window.innerWidth + 1")
    assert fits, "the Replenishment page scrolls sideways on a phone"
    phone.screenshot(path=artifact("replenishment-390.png"), full_page=True)
