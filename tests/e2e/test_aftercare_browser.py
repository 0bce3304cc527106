"""The satisfaction check's "no" in a real browser (issue 23 items 3 and 4).

Headless Debian Chromium through Playwright against the app served by waitress on
loopback, and a real SMTP server (aiosmtpd). The customer follows the email's "No"
link on a phone-sized screen, says the mug arrived damaged, adds a photo and sends
it; the merchant finds the case in the admin, sees the photo, and sends a
replacement at no charge, which reserves a mug. Screenshots:
``artifacts/aftercare-no-390.png``, ``artifacts/case-1280.png``.
"""

from __future__ import annotations

import sys
from pathlib import Path

import pytest
from browser_support import (
    artifact,
    chromium_browser,
    make_admin,
    needs_chromium,
    serving,
    signed_in,
)
from playwright.sync_api import expect
from sqlalchemy import select

from hub.inventory.levels import available_by_sku
from hub.store.models import Case, Order
from plugins.email.tests.conftest import SmtpServer

sys.path.insert(0, str(Path(__file__).resolve().parents[1] / "support"))
from aftercare_shop import (  # noqa: E402
    delivered_order,
    emails_of,
    link_path,
    open_shop,
    run_checks,
)

pytestmark = needs_chromium

#: The smallest PNG there is: one transparent pixel.
PIXEL = bytes.fromhex(
    "89504e470d0a1a0a0000000d4948445200000001000000010806000000"
    "1f15c4890000000d49444154789c6360000002000154a24f5d0000000049454e44ae426082"
)


@pytest.fixture
def smtp():
    server = SmtpServer().start()
    yield server
    server.stop()


def test_the_customer_reports_damage_and_the_merchant_reships(make_hub, run_jobs, smtp, tmp_path):
    hub = make_hub()
    open_shop(hub, smtp)
    make_admin(hub)
    order_id = delivered_order(hub, run_jobs, n=1)
    run_checks(hub, run_jobs)
    [check] = emails_of(smtp, "order.satisfaction_check")
    no = link_path(check, "No, something is wrong")
    photo = tmp_path / "broken-mug.png"
    photo.write_bytes(PIXEL)

    with serving(hub) as base, chromium_browser() as browser:
        phone = browser.new_context(viewport={"width": 390, "height": 844}).new_page()
        phone.goto(base + no)
        expect(phone.locator("h1")).to_have_text("We are sorry. What went wrong?")
        phone.get_by_label("Something arrived damaged").check()
        phone.fill("#description", "The mug came in pieces.")
        phone.set_input_files("#photos", str(photo))
        phone.screenshot(path=artifact("aftercare-no-390.png"), full_page=True)
        phone.click("button:has-text('Send')")
        expect(phone.locator("h1")).to_contain_text("Thank you for telling us")

        with hub.db.read() as session:
            [case] = session.scalars(select(Case)).all()
            case_id = case.id
            mug_line = next(x.id for x in session.get(Order, order_id).lines if x.sku == "MUG")
            before = available_by_sku(session, ["MUG"])["MUG"]

        desk = signed_in(browser, base)
        desk.goto(base + "/cases?status=open")
        desk.click(f"a[href='/cases/{case_id}']")
        expect(desk.locator("h1")).to_have_text(f"Case {case_id} · Something arrived damaged")
        expect(desk.locator("blockquote")).to_have_text("The mug came in pieces.")
        shown = desk.request.get(base + f"/cases/{case_id}/photos/0")
        assert shown.ok and shown.body() == PIXEL
        desk.fill(f"input[name='qty-{mug_line}']", "1")
        desk.click("button:has-text('Send a replacement (no charge)')")
        expect(desk.locator(".flash.success, [role=status]").first).to_contain_text(
            "Replacement order"
        )
        desk.screenshot(path=artifact("case-1280.png"), full_page=True)

    run_jobs(hub)
    with hub.db.read() as session:
        case = session.get(Case, case_id)
        replacement = session.get(Order, case.replacement_order_id)
        assert (replacement.total, replacement.status) == (0, "confirmed")
        assert available_by_sku(session, ["MUG"])["MUG"] == before - 1
