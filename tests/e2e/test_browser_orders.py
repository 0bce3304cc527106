"""The order pages in a real browser (issue 19, defects 2, 3, 4 and 6's order parts).

Headless Debian Chromium through Playwright against the app served by waitress on
loopback, as in test_browser.py. Screenshots at 1280 px go to ``artifacts/``
(git-ignored): ``orders-list.png``, ``order-held-again.png``,
``order-cancelled-refund.png``, ``track-service.png``.
"""

from __future__ import annotations

from datetime import UTC, datetime, timedelta

import pytest
from browser_support import artifact, make_admin, needs_chromium, serving, signed_in
from playwright.sync_api import expect
from sqlalchemy import select

from hub.core.order import PaymentData, ShipmentData
from hub.orders import shipments, transitions
from hub.store.models import Job, Order, Payment
from hub.testing import order_data

pytestmark = needs_chromium


@pytest.fixture
def served(make_hub, make_order, run_jobs):
    hub = make_hub()
    make_admin(hub)
    now = datetime.now(UTC)
    no_zip = order_data().shipping_address
    no_zip.zip = ""
    ids = {
        "old": make_order(hub, number="#1199", placed_at=now - timedelta(days=600)),
        "held": make_order(hub, number="#1198", shipping_address=no_zip, total=9999, placed_at=now),
        "cancelled": make_order(
            hub,
            number="#1197",
            placed_at=now - timedelta(days=1),
            payments=[PaymentData(reference="pi_777", amount=4498, status="captured")],
        ),
        "shipped": make_order(hub, number="#1196", placed_at=now - timedelta(days=2)),
    }
    run_jobs(hub)
    with hub.unit_of_work() as work:
        db = work.session
        payment = db.scalars(select(Payment).where(Payment.order_id == ids["cancelled"])).one()
        payment.captured_amount = 4498
        payment.channel_id = db.get(Order, ids["cancelled"]).channel_id  # a gateway's payment
        transitions.cancel(db, ids["cancelled"], actor="test")
        shipments.ship(
            db,
            ids["shipped"],
            ShipmentData(
                external_id="s1", carrier="ups", service="ups_ground", tracking_number="1Z9"
            ),
            actor="test",
        )
        ids["token"] = db.get(Order, ids["shipped"]).tracking_token
    with serving(hub) as base:
        yield base, hub, ids


def test_a_merchant_works_through_held_and_cancelled_orders(served, chromium):
    base, hub, ids = served
    page = signed_in(chromium, base, 1280, height=800)

    # The list: newest placed first, hold reasons in words.
    page.goto(base + "/orders")
    numbers = page.locator("table.list tbody tr td a[href^='/orders/']").all_inner_texts()
    assert numbers == ["#1198", "#1197", "#1196", "#1199"]
    expect(page.locator("table.list")).to_contain_text("The shipping address is incomplete")
    page.screenshot(path=artifact("orders-list.png"), full_page=True)

    # Releasing a hold the checks make again says so, and why, at once.
    page.goto(f"{base}/orders/{ids['held']}")
    expect(page.locator(".hold-reasons")).to_contain_text("The shipping address has no postal code")
    page.click("button:has-text('Release hold')")
    expect(page.locator(".flash-error")).to_contain_text("released, but held again")
    expect(page.locator(".flash-error")).to_contain_text("has no postal code")
    expect(page.locator(".hold-reasons")).to_contain_text("Held again after its release")
    page.screenshot(path=artifact("order-held-again.png"), full_page=True)

    # The cancel dialog names the order once.
    asked: list[str] = []
    page.once("dialog", lambda dialog: (asked.append(dialog.message), dialog.dismiss()))
    page.click("button:has-text('Cancel order')")
    assert asked == ["Really cancel order #1198?"]

    # A cancelled order: no hold banner, the money in words, a button that asks for the refund.
    page.goto(f"{base}/orders/{ids['cancelled']}")
    expect(page.locator(".hold-reasons")).to_have_count(0)
    expect(page.locator(".money-after-cancel")).to_contain_text("Refund needed: 44.98 USD")
    expect(page.locator(".totals th", has_text="Discount")).to_have_count(0)
    page.click("button:has-text('Ask the gateway for the refund')")
    expect(page.locator(".flash-success")).to_contain_text("refund of 44.98 USD requested")
    expect(page.locator(".money-after-cancel")).to_contain_text("Refund requested: 44.98 USD")
    page.screenshot(path=artifact("order-cancelled-refund.png"), full_page=True)
    with hub.db.read() as db:
        assert (
            db.scalars(select(Job.kind).where(Job.order_id == ids["cancelled"]))
            .all()
            .count("payment.refund")
            == 1
        )

    # The customer's tracking page names the service in words.
    page.goto(f"{base}/track/{ids['token']}")
    expect(page.locator(".shipment")).to_contain_text("UPS Ground")
    assert "ups_ground" not in page.content()
    page.screenshot(path=artifact("track-service.png"), full_page=True)
