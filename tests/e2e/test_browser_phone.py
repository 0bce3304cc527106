"""The admin at a phone's width (issue 19, defect 5): every main page fits 390 px.

Headless Debian Chromium through Playwright against the app served by waitress
on loopback, as in test_browser.py. Screenshots of each page at 390 px and
1280 px go to ``artifacts/`` (git-ignored) for a person to look at.
"""

from __future__ import annotations

import pytest
from browser_support import artifact, make_admin, needs_chromium, serving, signed_in

from hub.channels import manage

pytestmark = needs_chromium


@pytest.fixture
def served(make_hub, make_order):
    hub = make_hub()
    make_admin(hub)
    with hub.db.transaction() as session:
        channel = manage.create_channel(
            hub,
            session,
            name="Customer emails with a rather long name for a phone",
            connector="email",
            config={"smtp_host": "smtp.example.com", "from_address": "orders@example.com"},
        )
        channel_id = channel.id
        # A sales channel: its page links payment and shipping channels, and deletes it.
        manage.create_channel(hub, session, name="Web shop", connector="manual", config={})
    order_ids = [make_order(hub) for _ in range(3)]
    with serving(hub) as base:
        yield base, order_ids[0], channel_id


def _main_pages(page, base: str, order_id: int, channel_id: int) -> list[str]:
    nav = page.eval_on_selector_all(
        "header nav a", "links => links.map(a => new URL(a.href).pathname)"
    )
    return [
        *nav,
        f"/orders/{order_id}",
        "/channels/new",
        f"/channels/{channel_id}",
        f"/channels/{channel_id + 1}",
        "/nowhere",
    ]


def test_every_main_page_fits_a_phone(served, chromium):
    base, order_id, channel_id = served
    page = signed_in(chromium, base, 390)
    paths = _main_pages(page, base, order_id, channel_id)
    assert len(paths) >= 12
    problems = {}
    for path in paths:
        page.goto(base + path)
        width = page.evaluate("document.documentElement.scrollWidth")
        if width > 390:
            problems[path] = f"{width} px wide"
        # Every page has the admin's navigation, and it never covers the page's heading.
        if page.locator("header.topbar nav").count() != 1:
            problems[path] = "no navigation"
        else:
            nav = page.locator("header.topbar").bounding_box()
            heading = page.locator("main h1").first.bounding_box()
            assert nav and heading
            if heading["y"] < nav["y"] + nav["height"]:
                problems[path] = "the navigation covers the heading"
        name = path.strip("/").replace("/", "-") or "dashboard"
        page.screenshot(path=artifact(f"phone-390-{name}.png"), full_page=True)
    assert problems == {}


def test_the_desktop_pages_keep_their_layout(served, chromium):
    base, order_id, channel_id = served
    page = signed_in(chromium, base, 1280)
    for path in _main_pages(page, base, order_id, channel_id):
        page.goto(base + path)
        assert page.evaluate("document.documentElement.scrollWidth") <= 1280, path
        name = path.strip("/").replace("/", "-") or "dashboard"
        page.screenshot(path=artifact(f"desktop-1280-{name}.png"), full_page=True)
