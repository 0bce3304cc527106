"""Self-service returns and exchanges on the tracking page, in a real browser (issue 23 item 5).

Headless Debian Chromium through Playwright against the app served by waitress on
loopback; the Stripe sandbox and a real SMTP server (aiosmtpd) on loopback too. The
customer of a shipped order paid through Stripe asks on the tracking page to return one
tee; the channel's rule approves it, the approval email goes once; the goods are
received and refunded through the Stripe sandbox. Then she exchanges the other tee for
another size: the replacement order is reserved. The mug (final sale) is refused in
words, and an order shipped before the window is told it closed. Screenshot:
``artifacts/track-returns-390.png``.
"""

from __future__ import annotations

import sys
from pathlib import Path

import pytest
from browser_support import artifact, needs_chromium, serving
from playwright.sync_api import expect
from sqlalchemy import select

from hub.core.order import PaymentData
from hub.returns import actions, exchanges
from hub.store.models import Order, Payment, Return
from hub.testing import Harness
from plugins.email.tests.conftest import SmtpServer
from plugins.stripe.sandbox import DEFAULT_SECRET_KEY, DEFAULT_WEBHOOK_SECRET, StripeSandbox
from plugins.stripe.tests.conftest import serve

sys.path.insert(0, str(Path(__file__).resolve().parents[1] / "support"))
from returns_shop import (  # noqa: E402
    TOTAL,
    approval_emails,
    line_ids,
    set_policy,
    shipped_days_ago,
    shipped_order,
    stock,
    token,
    with_email_channel,
)

pytestmark = needs_chromium


@pytest.fixture
def shop(make_hub, run_jobs):
    """The hub with Stripe (sandbox), email (SMTP server) and a shipped, paid order."""
    hub = make_hub()
    sandbox = StripeSandbox()
    smtp = SmtpServer().start()
    with serve(sandbox) as stripe_url:
        Harness(hub).add_channel(
            "stripe",
            {
                "secret_key": DEFAULT_SECRET_KEY,
                "webhook_secret": DEFAULT_WEBHOOK_SECRET,
                "capture": "manual",
                "api_base_url": stripe_url,
            },
            name="Stripe",
            slug="stripe",
        )
        with_email_channel(hub, smtp)
        stock(hub, {"TEE-M": 5, "TEE-L": 3, "MUG": 4})
        set_policy(
            hub,
            auto_approve=True,
            auto_approve_days=14,
            auto_approve_max="50.00",
            final_sale_skus=["MUG"],
        )
        pi = sandbox.create_intent(TOTAL)["id"]
        order_id = shipped_order(
            hub,
            run_jobs,
            payments=[
                PaymentData(reference=pi, amount=TOTAL, status="authorized", channel="stripe")
            ],
        )
        with serving(hub) as base:
            yield hub, base, sandbox, smtp, order_id
    smtp.stop()


def test_a_customer_returns_a_tee_refunded_by_stripe_and_exchanges_the_other(
    shop, chromium, run_jobs
):
    hub, base, sandbox, smtp, order_id = shop
    with hub.db.read() as session:
        assert session.scalars(select(Payment)).one().captured_amount == TOTAL
    ids = line_ids(hub, order_id)
    page = chromium.new_context(viewport={"width": 390, "height": 844}).new_page()
    page.set_default_timeout(15_000)
    page.goto(f"{base}/track/{token(hub, order_id)}")

    expect(page.locator("#returns")).to_contain_text("Final sale: not returnable")
    expect(page.locator(f"#qty-{ids['MUG']}")).to_have_count(0)
    page.fill(f"#qty-{ids['TEE-M']}", "1")
    page.select_option("#return-reason", "Too small")
    page.screenshot(path=artifact("track-returns-390.png"), full_page=True)
    page.click("button:has-text('Request the return')")

    expect(page.locator("#returns")).to_contain_text(
        "Your return is approved: we emailed you how to send it back."
    )
    expect(page.locator("#returns")).to_contain_text("Approved: see the email we sent")
    run_jobs(hub)
    [email] = approval_emails(smtp)
    assert email["To"] == "Ann Smith <ann@example.com>"
    assert "we refund $20.00" in email.get_body(("plain",)).get_content()

    with hub.db.transaction() as session:
        ret = session.scalars(select(Return)).one()
        assert (ret.status, ret.created_by) == ("approved", "customer")
        actions.receive_return(session, ret.id, actor="user:merchant", location="wh")
        actions.refund_return(session, ret.id, actor="user:merchant")
    run_jobs(hub)
    run_jobs(hub)

    assert sandbox.effects["refunds"] == 1
    with hub.db.read() as session:
        order = session.get(Order, order_id)
        assert (order.status, order.financial_status) == (
            "partially_returned",
            "partially_refunded",
        )
        assert session.scalars(select(Payment)).one().refunded_amount == 2000
    page.reload()
    expect(page.locator("#returns")).to_contain_text("Refunded")

    # The other tee, exchanged for size L: approved by the rule, the replacement reserved.
    page.fill(f"#qty-{ids['TEE-M']}", "1")
    page.select_option(f"#exchange-{ids['TEE-M']}", "TEE-L")
    page.check("input[name=resolution][value=exchange]")
    page.select_option("#return-reason", "Too small")
    page.click("button:has-text('Request the return')")
    expect(page.locator("#returns")).to_contain_text("1 × Tee, size M → TEE-L")
    run_jobs(hub)
    run_jobs(hub)

    with hub.db.read() as session:
        exchange = session.scalars(select(Return).where(Return.resolution == "exchange")).one()
        replacement = session.get(Order, exchange.exchange_order_id)
        assert (exchange.status, replacement.status, replacement.total) == (
            "approved",
            "confirmed",
            0,
        )
        assert exchanges.waiting(session, replacement.id)
        assert exchanges.available(session, {"TEE-L"}) == {"TEE-L": 1}  # Bo's and the exchange
    subjects = sorted(m["Subject"] for m in approval_emails(smtp))
    assert subjects == [
        "Your exchange for order #R1 is approved",
        "Your return for order #R1 is approved",
    ]
    assert sandbox.effects["refunds"] == 1


def test_an_order_shipped_before_the_window_is_told_it_closed(shop, chromium):
    hub, base, _sandbox, _smtp, order_id = shop
    shipped_days_ago(hub, order_id, 45)
    page = chromium.new_context(viewport={"width": 1280, "height": 800}).new_page()
    page.goto(f"{base}/track/{token(hub, order_id)}")
    expect(page.locator("#returns-closed")).to_contain_text("The 30-day return window closed on")
    expect(page.locator("button:has-text('Request the return')")).to_have_count(0)
