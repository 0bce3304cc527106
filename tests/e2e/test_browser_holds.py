"""The holds queue in a real browser (issue 19, gap "Holds queue"), at 1280 and 390 px.

Headless Debian Chromium through Playwright against the app served by waitress on
loopback, as in test_browser_orders.py. Screenshots go to ``artifacts/`` (git-ignored):
``holds-1280.png``, ``holds-390.png``, ``holds-resolved-1280.png``.
"""

from __future__ import annotations

from datetime import UTC, datetime, timedelta

import pytest
from browser_support import artifact, make_admin, needs_chromium, serving, signed_in
from playwright.sync_api import expect

from hub.core.order import Customer
from hub.inventory.levels import LevelChange, set_on_hand, upsert_location
from hub.store.models import Order
from hub.testing import order_data

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
            [
                LevelChange("TSHIRT-M", "WH1", 50),
                LevelChange("MUG", "WH1", 1),
                LevelChange("MUG", "SHOP", 0),
            ],
            actor="test",
        )
    now = datetime.now(UTC)
    no_zip = order_data().shipping_address
    no_zip.zip = ""
    bob = Customer(email="bob@example.com", name="Bob Jones")
    mug = order_data().lines[0]
    mug.sku, mug.name, mug.quantity = "MUG", "Mug", 3
    ids = {
        "address": make_order(
            hub, number="#2001", shipping_address=no_zip, placed_at=now - timedelta(hours=5)
        ),
        "first": make_order(hub, number="#2002", customer=bob, placed_at=now - timedelta(hours=4)),
        "duplicate": make_order(
            hub, number="#2003", customer=bob, placed_at=now - timedelta(hours=4, minutes=-2)
        ),
        "stock": make_order(
            hub, number="#2004", lines=[mug], total=6497, placed_at=now - timedelta(hours=3)
        ),
        "totals": make_order(hub, number="#2005", total=9999, placed_at=now - timedelta(hours=2)),
    }
    run_jobs(hub)
    with serving(hub) as base:
        yield base, hub, ids


def _status(hub, order_id: int) -> str:
    with hub.db.read() as db:
        return db.get(Order, order_id).status


def test_a_merchant_clears_the_holds_queue(served, chromium):
    base, hub, ids = served
    assert _status(hub, ids["first"]) == "confirmed"
    page = signed_in(chromium, base, 1280)
    page.click("nav >> text=Holds")
    cards = page.locator("section.held h2")
    expect(cards).to_have_text(["#2001", "#2003", "#2004", "#2005"])  # oldest first
    expect(page.locator(".reason-tiles")).to_contain_text("4 all on hold")
    page.screenshot(path=artifact("holds-1280.png"), full_page=True)

    # The counts filter.
    page.click(".reason-tiles >> text=out of stock")
    expect(cards).to_have_text(["#2004"])
    expect(page.locator("section.held")).to_contain_text("MUG: 3 wanted, 2 missing")
    expect(page.locator("section.held")).to_contain_text("Main warehouse 1")
    expect(page.locator("section.held")).to_contain_text("Shop floor 0")
    page.click("text=Show all")

    # The address, fixed inline: released, checked and confirmed at once.
    page.fill("section[aria-label='Order #2001'] input[name=zip]", "12345")
    page.click("section[aria-label='Order #2001'] >> text=Save address and release")
    expect(page.locator(".flash-success").first).to_contain_text("the shipping address is saved")
    expect(page.locator(".flash-success").last).to_contain_text("now confirmed")

    # The duplicate: the other order is linked; accepted as it is.
    card = page.locator("section[aria-label='Order #2003']")
    expect(card.locator("a", has_text="#2002")).to_have_count(1)
    card.locator("button", has_text="Accept — not a duplicate").click()
    expect(page.locator(".flash-success")).to_contain_text("accepted as not a duplicate")

    # Cancel comes back to the queue after the dialog.
    page.once("dialog", lambda dialog: dialog.accept())
    page.locator("section[aria-label='Order #2005'] button", has_text="Cancel order").click()
    expect(page).to_have_url(base + "/holds")
    expect(cards).to_have_text(["#2004"])
    page.screenshot(path=artifact("holds-resolved-1280.png"), full_page=True)
    assert _status(hub, ids["address"]) == "confirmed"
    assert _status(hub, ids["duplicate"]) == "confirmed"
    assert _status(hub, ids["totals"]) == "cancelled"


def test_the_holds_queue_fits_a_phone(served, chromium):
    base, _, _ = served
    page = signed_in(chromium, base, 390)
    page.goto(base + "/holds")
    expect(page.locator("section.held")).to_have_count(4)
    page.screenshot(path=artifact("holds-390.png"), full_page=True)
    assert page.evaluate("document.documentElement.scrollWidth") <= 390
