"""Orders entered by people in a real browser (issue 19, gap "Orders entered by people").

Headless Debian Chromium through Playwright against the app served by waitress on loopback,
as in test_browser_orders.py. A merchant takes a phone order of two lines at 1280 px, sees it
on its page, then edits its address and a line's quantity; the New order page fits a phone
(390 px). Screenshots go to ``artifacts/`` (git-ignored): ``manual-order-new-1280.png``,
``manual-order-new-390.png``, ``manual-order-edit-1280.png``.
"""

from __future__ import annotations

import pytest
from browser_support import artifact, make_admin, needs_chromium, serving, signed_in
from playwright.sync_api import expect

from hub.core.order import PaymentData
from hub.inventory import reservations
from hub.inventory.levels import LevelChange, set_on_hand, upsert_location
from hub.store.models import Order

pytestmark = needs_chromium


@pytest.fixture
def served(make_hub):
    hub = make_hub()
    make_admin(hub)
    with hub.db.transaction() as session:
        upsert_location(session, "WH1", name="Main warehouse")
        set_on_hand(
            session,
            [LevelChange("TSHIRT-M", "WH1", 12), LevelChange("MUG", "WH1", 4)],
            actor="test",
        )
    with serving(hub) as base:
        yield base, hub


def _only_order(hub) -> Order:
    with hub.db.read() as db:
        (order,) = db.query(Order).all()
        db.expunge_all()
        return order


def _reserved(hub, order_id: int) -> dict[str, int]:
    with hub.db.read() as db:
        return {r.sku: r.quantity for r in reservations.active(db, order_id)}


def test_a_phone_order_is_taken_then_edited(served, chromium):
    base, hub = served
    page = signed_in(chromium, base, 1280)
    page.click("nav >> text=Orders")
    page.click("text=New order")
    expect(page.locator("h1")).to_have_text("New order")

    page.fill("#f-customer-email", "carol@example.com")
    page.fill("#f-customer-name", "Carol Diaz")
    page.fill("#f-customer-phone", "+1 555 0100")
    page.fill("#f-shipping_address-name", "Carol Diaz")
    page.fill("#f-shipping_address-address1", "5 Elm St")
    page.fill("#f-shipping_address-zip", "12345")
    page.fill("#f-shipping_address-city", "Springfield")
    page.fill("#f-shipping_address-country_code", "US")
    page.select_option("#f-currency", "USD")
    page.fill("#f-lines-0-sku", "TSHIRT-M")
    page.fill("#f-lines-0-name", "T-shirt M")
    page.fill("#f-lines-0-quantity", "2")
    page.fill("#f-lines-0-unit_price", "19.99")
    # The second line's SKU comes from the list of known SKUs, which shows the stock.
    assert page.locator("#known-skus option[value=MUG]").get_attribute("label") is None
    expect(page.locator("#known-skus option[value=MUG]")).to_have_text("4 available")
    page.fill("#f-lines-1-sku", "MUG")
    page.fill("#f-lines-1-name", "Mug")
    page.fill("#f-lines-1-quantity", "1")
    page.fill("#f-lines-1-unit_price", "8.50")
    # A third line is wanted, then left blank: the form comes back with one more row.
    page.click("text=Add another line")
    expect(page.locator(".line-row")).to_have_count(4)
    expect(page.locator("#f-lines-1-sku")).to_have_value("MUG")
    expect(page.locator("#f-lines-1-sku-help")).to_have_text("4 available")
    page.fill("#f-shipping", "5.00")
    page.check("input[name=payment][value=paid]")
    page.screenshot(path=artifact("manual-order-new-1280.png"), full_page=True)
    page.click("button:has-text('Create order')")

    expect(page.locator(".flash-success")).to_contain_text("The checks passed: it is confirmed")
    order = _only_order(hub)
    expect(page.locator("h1")).to_have_text(f"Order {order.number}")
    lines = page.locator("section.card.wide table").first
    expect(lines).to_contain_text("TSHIRT-M")
    expect(lines).to_contain_text("MUG")
    assert (order.total, order.financial_status) == (2 * 1999 + 850 + 500, "paid")
    assert _reserved(hub, order.id) == {"TSHIRT-M": 2, "MUG": 1}

    page.click("text=Edit order")
    expect(page.locator("h1")).to_have_text(f"Edit order {order.number}")
    page.fill("#f-lines-0-quantity", "3")
    page.fill("#f-shipping_address-address1", "77 Oak Ave")
    page.screenshot(path=artifact("manual-order-edit-1280.png"), full_page=True)
    page.click("button:has-text('Save changes')")
    expect(page.locator(".flash-success")).to_contain_text(
        "saved: 2 x TSHIRT-M -> 3 x TSHIRT-M; address changed"
    )
    edited = _only_order(hub)
    assert edited.total == 3 * 1999 + 850 + 500
    assert edited.shipping_address["address1"] == "77 Oak Ave"
    assert edited.status == "confirmed"
    assert _reserved(hub, order.id) == {"TSHIRT-M": 3, "MUG": 1}


def test_the_new_order_page_fits_a_phone(served, chromium):
    base, _hub = served
    page = signed_in(chromium, base, 390)
    page.goto(base + "/orders/new")
    expect(page.locator("h1")).to_have_text("New order")
    page.click("button:has-text('Create order')")  # nothing filled in: errors by the fields
    expect(page.locator(".flash-error")).to_contain_text("Nothing was saved")
    expect(page.locator("#f-customer-email ~ .field-error")).to_be_visible()
    page.screenshot(path=artifact("manual-order-new-390.png"), full_page=True)
    width = page.evaluate("document.documentElement.scrollWidth")
    assert width <= 390, f"the page is {width} px wide on a 390 px phone"


def test_an_edit_past_the_authorised_amount_is_said_on_the_order_page(served, chromium, make_order):
    base, hub = served
    order_id = make_order(
        hub, payments=[PaymentData(reference="pi_desk_1", amount=4498, status="authorized")]
    )
    page = signed_in(chromium, base, 390)
    page.goto(f"{base}/orders/{order_id}")
    page.click("text=Edit order")
    page.fill("#f-lines-0-quantity", "3")
    page.click("button:has-text('Save changes')")
    expect(page.locator(".flash-error")).to_contain_text("19.99 USD is not covered")
    expect(page.locator(".payment-note")).to_contain_text(
        "the payments cover 44.98 USD of the new total 64.97 USD"
    )
    page.screenshot(path=artifact("manual-order-payment-390.png"), full_page=True)
    assert page.evaluate("document.documentElement.scrollWidth") <= 390
