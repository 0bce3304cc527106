"""The demo leaves a dashboard that shows money, in a real browser, at desktop and phone width.

A small demo scenario (the stores, the gateway, the carrier as sandboxes on loopback)
runs to its end in this process; then headless Debian Chromium signs in to the hub the
scenario serves and reads the dashboard. Screenshots go to ``artifacts/`` (git-ignored):
``dashboard-1280.png``, ``dashboard-390.png``.
"""

from __future__ import annotations

import re

from browser_support import artifact, chromium_browser, make_admin, needs_chromium, signed_in
from playwright.sync_api import expect

from hub.demo.scenario import Scenario

ORDERS = 4

pytestmark = needs_chromium


def test_the_demo_leaves_a_dashboard_showing_money_at_desktop_and_phone_width(tmp_path):
    with Scenario(ORDERS, data_dir=tmp_path / "demo", workers=2, replenishment=True) as scenario:
        summary = scenario.run()
        assert summary.shipped == ORDERS
        assert scenario.hub is not None and scenario.server is not None
        make_admin(scenario.hub)
        base = scenario.server.url
        with chromium_browser() as chromium:
            for width in (1280, 390):
                page = signed_in(chromium, base, width, height=900)
                page.goto(base + "/")
                today = page.locator("section[aria-label='Sales today'] tbody tr")
                # The demo's stores sell in USD now (its first orders are from 2025).
                expect(today).to_have_count(1)
                expect(today.locator("th")).to_have_text("USD")
                revenue = today.locator("td.revenue").inner_text()
                assert re.match(r"[A-Z]{3} [1-9][\d,]*\.\d\d", revenue), revenue
                orders = today.locator("td.orders").inner_text()
                assert re.match(r"[1-9]\d*\s+0 before", orders), orders
                expect(page.locator(".sales-chart rect title").first).to_contain_text(
                    revenue.split()[0]
                )
                expect(page.locator("table.top-skus tbody tr").first).to_be_visible()
                # Sales per channel: both of the demo's stores, biggest first, and the
                # manual channel's phone order that waited for a purchase order
                # (hub.demo.replenishment).
                expect(page.locator("table.sales-per-channel th")).to_have_count(3)
                expect(page.locator(".channel-failing")).to_have_count(0)
                assert page.evaluate("document.documentElement.scrollWidth") <= width
                page.screenshot(path=artifact(f"dashboard-{width}.png"), full_page=True)
                page.context.close()
