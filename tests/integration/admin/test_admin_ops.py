"""Operations in the admin: retry all dead jobs of one kind, the top bar's alarm badge."""

from __future__ import annotations

import re

from sqlalchemy import select

from hub.channels.manage import create_channel
from hub.queue.jobs import dead_letter, enqueue
from hub.store.models import Job


def test_retry_all_dead_jobs_of_a_kind_states_the_count_and_queues_them(browser, admin_hub):
    with admin_hub.db.transaction() as db:
        dead = [dead_letter(db, "notify", {"n": n}, error="receiver down") for n in range(4)]
        other = dead_letter(db, "channel.pull", {}, error="boom")

    page = browser.get("/jobs?status=dead&kind=notify").get_data(as_text=True)
    assert "4 dead notify jobs." in page
    assert 'data-confirm="Retry 4 dead notify jobs? They run again now."' in page
    assert 'action="/jobs/retry-dead"' in page
    form = page[page.index('action="/jobs/retry-dead"') :]
    assert re.search(r'name="csrf_token" value="[^"]+"', form[: form.index("</form>")])
    # Without a kind, no bulk button: one kind at a time.
    assert 'action="/jobs/retry-dead"' not in browser.get("/jobs?status=dead").get_data(
        as_text=True
    )

    done = browser.post(
        "/jobs/retry-dead", {"kind": "notify", "next": "/jobs?status=dead"}, follow_redirects=True
    ).get_data(as_text=True)
    assert "4 dead notify jobs queued again" in done
    with admin_hub.db.read() as db:
        statuses = {i: s for i, s in db.execute(select(Job.id, Job.status))}
    assert [statuses[j] for j in dead] == ["queued"] * 4 and statuses[other] == "dead"


def test_retry_all_without_the_csrf_token_is_refused(admin_hub, browser):
    with admin_hub.db.transaction() as db:
        job = dead_letter(db, "notify", {}, error="receiver down")
    response = browser.client.post(
        "/jobs/retry-dead", data={"kind": "notify"}
    )  # signed in, no token
    assert response.status_code in (400, 403)
    with admin_hub.db.read() as db:
        assert db.get(Job, job).status == "dead"


def test_the_top_bar_shows_a_red_badge_for_dead_jobs_and_failing_channels(browser, admin_hub):
    calm = browser.get("/orders").get_data(as_text=True)
    assert "ops-alarm" not in calm

    with admin_hub.db.transaction() as db:
        for n in range(2):
            dead_letter(db, "notify", {"n": n}, error="receiver down")
        shop = create_channel(admin_hub, db, name="Corner shop", connector="manual", config={})
        for _ in range(3):
            db.get(Job, enqueue(db, "channel.pull", {}, channel_id=shop.id)).status = "failed"

    for path in ("/orders", "/jobs", "/"):
        page = browser.get(path).get_data(as_text=True)
        bar = page[page.index('<header class="topbar">') : page.index("</header>")]
        assert re.search(
            r'<a class="badge alarm" href="/jobs\?status=dead"[^>]*>2 dead jobs</a>', bar
        )
        assert re.search(
            r'title="Corner shop: 3 jobs failed in the last hour">1 failing channel<', bar
        )


def test_retry_all_of_one_channel_leaves_the_other_channels_dead_jobs(browser, admin_hub):
    with admin_hub.db.transaction() as db:
        shop = create_channel(admin_hub, db, name="Corner shop", connector="manual", config={})
        other = create_channel(admin_hub, db, name="Market stall", connector="manual", config={})
        mine = [
            dead_letter(db, "channel.pull", {"n": n}, error="401", channel_id=shop.id)
            for n in range(2)
        ]
        theirs = dead_letter(db, "channel.pull", {}, error="401", channel_id=other.id)

    page = browser.get(f"/jobs?status=dead&kind=channel.pull&channel={shop.id}").get_data(
        as_text=True
    )
    assert f'<option value="{shop.id}" selected>Corner shop</option>' in page
    assert "2 dead channel.pull jobs of Corner shop." in page
    browser.post("/jobs/retry-dead", {"kind": "channel.pull", "channel": str(shop.id)})
    with admin_hub.db.read() as db:
        assert [db.get(Job, j).status for j in mine] == ["queued", "queued"]
        assert db.get(Job, theirs).status == "dead"
