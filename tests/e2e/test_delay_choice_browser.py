"""A delayed order's alternative taken in a real browser (issue 23 item 2).

Headless Debian Chromium through Playwright against the app served on loopback, and a
real SMTP server (aiosmtpd). The mug is out of stock and the merchant set the blue mug
as its substitute: the delay email offers it; the customer follows the email's link on
a phone-sized screen and takes it; the order's line becomes the blue mug at the same
price, reserved, and goes on to fulfilment. Screenshot: ``artifacts/delay-choice-390.png``.
"""

from __future__ import annotations

import re
from urllib.parse import urlsplit

import pytest
from browser_support import artifact, chromium_browser, needs_chromium, serving
from playwright.sync_api import expect
from sqlalchemy import select

from hub.core.order import Customer, Line
from hub.inventory.levels import LevelChange, set_on_hand, upsert_location
from hub.orders import substitutes
from hub.store.models import Order, StockLevel
from plugins.email.tests.conftest import SmtpServer
from tests.integration.test_invoice_email import with_email_channel

pytestmark = needs_chromium


@pytest.fixture
def smtp():
    server = SmtpServer().start()
    yield server
    server.stop()


def test_the_customer_takes_the_alternative_from_the_delay_email(
    make_hub, make_order, run_jobs, smtp
):
    hub = with_email_channel(make_hub(), smtp)
    with hub.db.transaction() as session:
        upsert_location(session, "wh")
        set_on_hand(
            session, [LevelChange("MUG", "wh", 0), LevelChange("MUG-BLUE", "wh", 3)], actor="test"
        )
        substitutes.set_substitutes(session, "MUG", ["MUG-BLUE"], actor="user:ann")
    order_id = make_order(
        hub,
        customer=Customer(email="zoe@example.com", name="Zoe"),
        lines=[Line(sku="MUG", name="Mug", quantity=2, unit_price=1200)],
    )
    run_jobs(hub)
    [email] = [m for m in smtp.messages if "delayed" in str(m["Subject"])]
    text = email.get_body(preferencelist=("plain",)).get_content()
    assert "2 × MUG-BLUE instead of Mug" in text
    [url] = re.findall(r"https?://\S+/track/choice/\S+", text)

    with serving(hub) as base, chromium_browser() as browser:
        phone = browser.new_context(viewport={"width": 390, "height": 844}).new_page()
        phone.goto(base + urlsplit(url).path)
        expect(phone.locator("#choice h2")).to_have_text("What would you like us to do?")
        expect(phone.locator("#choice")).to_contain_text("2 × MUG-BLUE instead of Mug")
        phone.screenshot(path=artifact("delay-choice-390.png"), full_page=True)
        phone.click("button:has-text('Take the alternative')")
        expect(phone.locator("#choice-made")).to_contain_text("You took the alternative")
        # Back and pressing again: the choice stands, nothing is done twice.
        phone.goto(base + urlsplit(url).path)
        expect(phone.locator("#choice-made")).to_contain_text("You took the alternative")
        expect(phone.locator("button:has-text('Take the alternative')")).to_have_count(0)

    run_jobs(hub)
    with hub.db.read() as session:
        order = session.get(Order, order_id)
        assert [(x.sku, x.quantity, x.unit_price) for x in order.lines] == [("MUG-BLUE", 2, 1200)]
        assert order.status in ("confirmed", "processing")
        assert session.scalar(select(StockLevel.reserved).where(StockLevel.sku == "MUG-BLUE")) == 2
