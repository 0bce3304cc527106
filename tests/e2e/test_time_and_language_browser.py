"""Time and language in a real browser (issue 19, gap "Time and language"), at 1280 and 390 px.

The merchant sets the shop's time zone to Asia/Tokyo on the Shop settings page; the
order page's timeline then shows Tokyo's wall clock with "… ago" beside it, and
sentences and people instead of event names and actors. Headless Debian Chromium
through Playwright against the app served by waitress on loopback. Screenshots go to
``artifacts/`` (git-ignored): ``settings-1280.png``, ``order-timeline-1280.png``,
``order-timeline-390.png``.
"""

from __future__ import annotations

from datetime import UTC, datetime, timedelta
from zoneinfo import ZoneInfo

import pytest
from browser_support import artifact, make_admin, needs_chromium, serving, signed_in
from playwright.sync_api import expect

from hub.channels.manage import create_channel
from hub.core.order import ShipmentData
from hub.orders import shipments, transitions
from hub.queue.jobs import Worker
from hub.store.models import Order, OrderAuditEvent
from hub.web.timefmt import local_text

pytestmark = needs_chromium

TOKYO = ZoneInfo("Asia/Tokyo")


@pytest.fixture
def served(make_hub, make_order):
    hub = make_hub()
    make_admin(hub)
    with hub.db.transaction() as db:
        warehouse = create_channel(
            hub,
            db,
            name="Main warehouse",
            connector="shipstation",
            config={
                "api_key": "key",
                "api_secret": "secret",
                "webhook_token": "a-token-of-16-chars-or-more",
                "api_base_url": "http://127.0.0.1:9",
            },
        )
        slug = warehouse.slug
    placed = datetime.now(UTC) - timedelta(hours=3)
    order_id = make_order(hub, number="#3001", placed_at=placed)
    # The checks confirm it; nothing is sent to the (absent) warehouse service.
    Worker(hub, kinds=("order.event", "order.process"), worker_id="test").run_until_idle()
    with hub.db.transaction() as db:
        order = db.get(Order, order_id)
        if order.status == "confirmed":
            transitions.apply_event(db, order, "start_fulfillment", actor="system")
        shipments.ship(
            db,
            order_id,
            ShipmentData(external_id="sh-1", carrier="ups", tracking_number="1Z999"),
            actor=f"channel:{slug}",
        )
    with serving(hub) as base:
        yield base, hub, order_id


def _first_event_time(hub, order_id: int) -> datetime:
    with hub.db.read() as db:
        return min(
            e.created_at for e in db.query(OrderAuditEvent).filter_by(order_id=order_id).all()
        )


def test_a_merchant_in_tokyo_reads_the_timeline_in_tokyo_time_and_words(served, chromium):
    base, hub, order_id = served
    page = signed_in(chromium, base, 1280)

    # The shop's time zone, set on its settings page; a wrong name is refused first.
    page.click("nav >> text=Settings")
    expect(page.locator(".page-help")).to_contain_text("time zone")
    page.fill("#f-time_zone", "Asia/Tokio")
    page.click("button:has-text('Save settings')")
    expect(page.locator(".field-error")).to_contain_text("'Asia/Tokio' is not a time zone")
    page.fill("#f-time_zone", "Asia/Tokyo")
    page.click("button:has-text('Save settings')")
    expect(page.locator(".flash-success")).to_contain_text("times are now shown in Asia/Tokyo")
    expect(page.locator(".page-foot")).to_contain_text("Times are shown in Asia/Tokyo")
    page.screenshot(path=artifact("settings-1280.png"), full_page=True)

    page.goto(f"{base}/orders/{order_id}")
    timeline = page.locator("ol.timeline")
    text = timeline.inner_text()
    # Words, not the audit's names or actors.
    for sentence in ("Order received", "Confirmed: the checks passed", "Sent to the warehouse"):
        assert sentence in text, text
    assert "Shipped" in text and "by ShipStation (channel Main warehouse)" in text, text
    assert "by The hub" in text
    for developer_words in ("order.", "channel:", "user:", "system", "version"):
        assert developer_words not in text, (developer_words, text)
    # Tokyo's wall clock: the first event as written in Tokyo, and "ago" beside each time.
    first = _first_event_time(hub, order_id)
    tokyo = local_text(first, TOKYO)
    assert tokyo in text, (tokyo, text)
    assert local_text(first, UTC) not in text or tokyo == local_text(first, UTC)
    expect(timeline.locator(".ago").first).to_have_text("(just now)")
    assert timeline.locator("time").first.get_attribute("datetime").endswith("Z")
    assert "(Asia/Tokyo, UTC+09:00)" in timeline.locator("time").first.get_attribute("title")
    expect(page.locator(".page-help")).to_contain_text("use the buttons to move it on")
    page.locator("ol.timeline").scroll_into_view_if_needed()
    page.screenshot(path=artifact("order-timeline-1280.png"), full_page=True)

    phone = signed_in(chromium, base, 390)
    phone.goto(f"{base}/orders/{order_id}")
    phone_timeline = phone.locator("ol.timeline")
    assert tokyo in phone_timeline.inner_text()
    # Nothing wider than the phone's screen: the timeline's rows stack.
    width = phone.evaluate("document.documentElement.scrollWidth")
    assert width <= 390, width
    phone_timeline.scroll_into_view_if_needed()
    phone.screenshot(path=artifact("order-timeline-390.png"), full_page=True)
