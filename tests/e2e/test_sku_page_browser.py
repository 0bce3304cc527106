"""The SKU page in a real browser (issue 21), at 1280 and 390 px.

From the stock list to a SKU's page: its sales and forecast band, days of cover,
where it is stocked, and a reorder policy set through the form, its arithmetic
shown. Screenshots in ``artifacts/``: ``sku-1280.png``, ``sku-390.png``.
"""

from __future__ import annotations

from datetime import UTC, datetime, timedelta

import pytest
from browser_support import artifact, make_admin, needs_chromium, serving, signed_in
from playwright.sync_api import expect

from hub.core.order import Line
from hub.inventory.levels import LevelChange, set_on_hand, upsert_location
from hub.replenishment.forecasts import run_forecasts

pytestmark = needs_chromium


@pytest.fixture
def served(make_hub, make_order, run_jobs):
    hub = make_hub()
    make_admin(hub)
    with hub.db.transaction() as session:
        upsert_location(session, "WH1", name="Main warehouse")
        upsert_location(session, "SHOP", name="Shop floor")
        set_on_hand(
            session,
            [LevelChange("MUG", "WH1", 600), LevelChange("MUG", "SHOP", 8)],
            actor="test",
        )
    now = datetime.now(UTC)
    weekday = [3, 2, 2, 3, 5, 8, 6]  # busier at the weekend
    for n in range(1, 91):
        placed = now - timedelta(days=n)
        units = weekday[placed.weekday()] + n % 2
        make_order(
            hub,
            placed_at=placed,
            lines=[Line(sku="MUG", name="Mug", quantity=units, unit_price=900)],
        )
    run_jobs(hub)  # confirmed: each order's stock reserved at WH1, where it sells
    run_forecasts(hub)
    with serving(hub) as base:
        yield base


def test_a_merchant_reads_a_skus_trend_and_sets_its_reorder_policy(served, chromium):
    page = signed_in(chromium, served, 1280)
    page.goto(served + "/stock")
    page.click("a[aria-label='Demand and reorder policy of MUG at WH1']")

    expect(page.locator("h1")).to_contain_text("MUG")
    expect(page.locator("#demand polyline.forecast-line")).to_have_count(1)
    expect(page.locator("#demand polygon.forecast-band")).to_have_count(1)
    expect(page.locator("#stocked")).to_contain_text("Main warehouse")
    expect(page.locator("#policy .arithmetic li").first).to_contain_text("/day × 7 days")
    page.click("nav.tabs >> text=All locations")
    expect(page.locator("#stocked tbody tr")).to_have_count(2)
    cover = float(page.locator(".days-of-cover").inner_text())
    assert 20 < cover < 80  # about 200 left unreserved at about 4.5 a day

    page.check("input[name=kind][value=computed]")
    page.fill("#p-lt", "14")
    page.fill("#p-sl", "0.99")
    page.click("button:has-text('Save policy')")
    expect(page.locator(".flashes")).to_contain_text("Reorder policy of MUG saved")
    expect(page.locator("#policy .arithmetic")).to_contain_text("× 14 days")
    expect(page.locator("#policy .arithmetic")).to_contain_text("service level 99.0%")
    page.screenshot(path=artifact("sku-1280.png"), full_page=True)

    phone = signed_in(chromium, served, 390)
    phone.goto(served + "/skus/MUG")
    expect(phone.locator("#demand svg.chart")).to_be_visible()
    fits = phone.evaluate("document.documentElement.scrollWidth <= window.innerWidth + 1")
    assert fits, "the SKU page scrolls sideways on a phone"
    phone.screenshot(path=artifact("sku-390.png"), full_page=True)
