"""Operations in a real browser (issue 19): the top bar's alarm badge and "retry all" dead jobs.

Headless Debian Chromium through Playwright against the app served by waitress on
loopback, as in test_browser_phone.py; screenshots at 1280 and 390 px go to
``artifacts/`` (git-ignored) for a person to look at.
"""

from __future__ import annotations

import pytest
from browser_support import artifact, make_admin, needs_chromium, serving, signed_in
from sqlalchemy import func, select

from hub.channels import manage
from hub.queue.jobs import dead_letter, enqueue
from hub.store.models import Job

pytestmark = needs_chromium


@pytest.fixture
def served(make_hub):
    hub = make_hub()
    make_admin(hub)
    with hub.db.transaction() as session:
        shop = manage.create_channel(
            hub, session, name="Corner shop", connector="manual", config={}
        )
        for n in range(4):
            dead_letter(session, "notify", {"n": n}, error="the mail server said 550 no such user")
        dead_letter(session, "channel.pull", {}, error="401 token refused", channel_id=shop.id)
        for _ in range(3):
            session.get(
                Job, enqueue(session, "channel.pull", {}, channel_id=shop.id)
            ).status = "failed"
    with serving(hub) as base:
        yield hub, base


def _dead(hub, kind: str) -> int:
    with hub.db.read() as db:
        query = select(func.count(Job.id)).where(Job.kind == kind, Job.status == "dead")
        return db.scalar(query) or 0


@pytest.mark.parametrize("width, name", [(1280, "desktop-1280"), (390, "phone-390")])
def test_the_badge_leads_to_the_dead_letters_and_retry_all_asks_with_the_count(
    served, chromium, width, name
):
    hub, base = served
    page = signed_in(chromium, base, width)
    bar = page.locator("header.topbar .ops-alarm")
    assert bar.locator("a", has_text="5 dead jobs").is_visible()
    assert bar.locator("a", has_text="1 failing channel").is_visible()
    page.screenshot(path=artifact(f"{name}-ops-badge-dashboard.png"), full_page=True)

    bar.locator("a", has_text="5 dead jobs").click()
    page.wait_for_url("**/jobs?status=dead")
    page.select_option("select[name=kind]", "notify")
    page.click("form.filters button[type=submit]")
    page.wait_for_selector(".bulk-retry")
    assert "4 dead notify jobs." in page.locator(".bulk-retry").inner_text()
    assert page.evaluate("document.documentElement.scrollWidth") <= width
    page.screenshot(path=artifact(f"{name}-ops-jobs-retry-all.png"), full_page=True)

    asked: list[str] = []

    def answer(dialog):
        asked.append(dialog.message)
        dialog.accept()

    page.on("dialog", answer)
    page.click("button:has-text('Retry all 4')")
    page.wait_for_selector(".flash, [role=status], .flashes")
    assert asked == ["Retry 4 dead notify jobs? They run again now."]
    assert "4 dead notify jobs queued again" in page.content()
    assert _dead(hub, "notify") == 0 and _dead(hub, "channel.pull") == 1
    assert page.locator("header.topbar .ops-alarm a", has_text="1 dead job").is_visible()
    assert page.evaluate("document.documentElement.scrollWidth") <= width
    page.screenshot(path=artifact(f"{name}-ops-jobs-retried.png"), full_page=True)
