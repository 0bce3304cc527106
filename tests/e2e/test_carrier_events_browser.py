"""The carrier's news in a real browser: the customer's tracking page at 390 and 1280 px, and
the admin's order page flagging a problem. The news comes as AfterShip's signed webhooks from
the sandbox to the hub served by waitress on loopback. Screenshots go to ``artifacts/``:
``track-carrier-390.png``, ``track-carrier-1280.png``, ``order-carrier-problem-1280.png``.
"""

from __future__ import annotations

from hub.channels.manage import create_channel
from hub.core.order import Line, ShipmentData
from hub.integration.sandbox import serve
from hub.orders import shipments, transitions
from plugins.aftership.sandbox import AfterShipSandbox
from tests.e2e.browser_support import (
    artifact,
    chromium_browser,
    make_admin,
    needs_chromium,
    serving,
    signed_in,
)

pytestmark = needs_chromium

API_KEY, SECRET = "as-browser-key", "as-browser-secret"


def test_the_customer_reads_the_carrier_s_updates_and_the_merchant_sees_the_problem(
    hub, make_order, run_jobs
):
    make_admin(hub)
    sandbox = AfterShipSandbox(api_key=API_KEY, webhook_secret=SECRET)
    with serve(sandbox) as as_url, serving(hub) as base, chromium_browser() as browser:
        with hub.db.transaction() as db:
            create_channel(
                hub,
                db,
                name="AfterShip",
                connector="aftership",
                slug="aftership",
                config={"api_key": API_KEY, "webhook_secret": SECRET, "api_base_url": as_url},
            )
        sandbox.webhook_url = f"{base}/webhooks/aftership"
        lines = [
            Line(sku="MUG", name="Mug", quantity=1, unit_price=1200),
            Line(sku="TEE", name="T-shirt", quantity=1, unit_price=2500),
        ]
        order_id = make_order(hub, lines=lines)
        with hub.unit_of_work() as work:
            transitions.confirm(work, order_id, actor="test")
            order = transitions.get_order(work.session, order_id)
            for n, line in enumerate(order.lines):
                shipments.ship(
                    work.session,
                    order_id,
                    ShipmentData(
                        external_id=f"pkg-{n}",
                        carrier="ups",
                        tracking_number=f"1Z9990{n}",
                        lines={line.id: 1},
                    ),
                    actor="test",
                )
            token = order.tracking_token
        run_jobs(hub)
        sandbox.scan("1Z99900", "InTransit", message="Departed facility", location="Louisville, KY")
        sandbox.deliver("1Z99900", location="Springfield, IL")
        sandbox.scan("1Z99901", "InTransit", message="Arrival scan", location="Chicago, IL")
        sandbox.fail("1Z99901", "Incorrect address: the street number does not exist")
        assert set(sandbox.deliver_webhooks()) == {200}
        run_jobs(hub)

        for width in (390, 1280):
            page = browser.new_context(viewport={"width": width, "height": 844}).new_page()
            page.goto(f"{base}/track/{token}")
            cards = page.locator(".card.shipment")
            assert cards.count() == 2
            first, second = cards.nth(0).inner_text(), cards.nth(1).inner_text()
            assert "Delivered" in first and "Springfield, IL" in first, first
            assert "Delivery problem" in second and "street number" in second, second
            assert page.evaluate("document.documentElement.scrollWidth") <= width
            page.screenshot(path=artifact(f"track-carrier-{width}.png"), full_page=True)

        admin = signed_in(browser, base, 1280)
        admin.goto(f"{base}/orders/{order_id}")
        notice = admin.locator(".carrier-problem").inner_text()
        assert "The carrier reports a problem" in notice and "street number" in notice, notice
        table = admin.locator("table.carrier-events").inner_text()
        assert "1Z99900" in table and "Delivered" in table and "Delivery problem" in table
        timeline = admin.locator("ol.timeline").inner_text()
        assert "The carrier reported a delivery problem: the customer was told" in timeline
        admin.screenshot(path=artifact("order-carrier-problem-1280.png"), full_page=True)
