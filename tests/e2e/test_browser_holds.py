"""The holds queue in a real browser (issue 19, gap "Holds queue"), at 1280 and 390 px.

Headless Debian Chromium through Playwright against the app served by waitress on
loopback, as in test_browser_orders.py. Screenshots go to ``artifacts/`` (git-ignored):
``holds-1280.png``, ``holds-390.png``, ``holds-resolved-1280.png``.
"""

from __future__ import annotations

import os
import threading
from datetime import UTC, datetime, timedelta
from pathlib import Path

import pytest
from playwright.sync_api import expect, sync_playwright
from waitress import create_server

from hub.accounts.users import set_admin
from hub.core.order import Customer
from hub.inventory.levels import LevelChange, set_on_hand, upsert_location
from hub.store.models import Order
from hub.testing import order_data
from hub.web import create_app

CHROMIUM = "/usr/bin/chromium"
ARTIFACTS = Path(__file__).resolve().parents[2] / "artifacts"
EMAIL = "merchant@example.com"
PASSWORD = "holds test password"

pytestmark = pytest.mark.skipif(
    not os.path.exists(CHROMIUM), reason=f"the browser test needs Debian's Chromium at {CHROMIUM}"
)


@pytest.fixture
def served(make_hub, make_order, run_jobs):
    hub = make_hub()
    with hub.db.transaction() as session:
        set_admin(session, EMAIL, PASSWORD)
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
    server = create_server(create_app({"HUB": hub}), host="127.0.0.1", port=0, threads=4)
    thread = threading.Thread(target=server.run, daemon=True)
    thread.start()
    yield f"http://127.0.0.1:{server.effective_port}", hub, ids
    server.close()
    thread.join(timeout=10)


@pytest.fixture
def browser():
    with sync_playwright() as p:
        chromium = p.chromium.launch(
            executable_path=CHROMIUM,
            args=["--headless", "--no-sandbox", "--disable-gpu", "--disable-background-networking"],
        )
        try:
            yield chromium
        finally:
            chromium.close()


def _signed_in(browser, base: str, width: int):
    context = browser.new_context(viewport={"width": width, "height": 900})
    context.set_default_timeout(15_000)
    page = context.new_page()
    page.goto(base + "/login")
    page.fill("#email", EMAIL)
    page.fill("#password", PASSWORD)
    page.click("button:has-text('Sign in')")
    return page


def _status(hub, order_id: int) -> str:
    with hub.db.read() as db:
        return db.get(Order, order_id).status


def test_a_merchant_clears_the_holds_queue(served, browser):
    base, hub, ids = served
    ARTIFACTS.mkdir(exist_ok=True)
    assert _status(hub, ids["first"]) == "confirmed"
    page = _signed_in(browser, base, 1280)
    page.click("nav >> text=Holds")
    cards = page.locator("section.held h2")
    expect(cards).to_have_text(["#2001", "#2003", "#2004", "#2005"])  # oldest first
    expect(page.locator(".reason-tiles")).to_contain_text("4 all on hold")
    page.screenshot(path=str(ARTIFACTS / "holds-1280.png"), full_page=True)

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
    page.screenshot(path=str(ARTIFACTS / "holds-resolved-1280.png"), full_page=True)
    assert _status(hub, ids["address"]) == "confirmed"
    assert _status(hub, ids["duplicate"]) == "confirmed"
    assert _status(hub, ids["totals"]) == "cancelled"


def test_the_holds_queue_fits_a_phone(served, browser):
    base, _, _ = served
    ARTIFACTS.mkdir(exist_ok=True)
    page = _signed_in(browser, base, 390)
    page.goto(base + "/holds")
    expect(page.locator("section.held")).to_have_count(4)
    page.screenshot(path=str(ARTIFACTS / "holds-390.png"), full_page=True)
    assert page.evaluate("document.documentElement.scrollWidth") <= 390
