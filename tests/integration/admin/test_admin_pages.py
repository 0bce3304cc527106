"""Dashboard, stock, jobs and dead letters, the webhook inbox and API tokens."""

from __future__ import annotations

import re
from datetime import timedelta

from admin_helpers import flashes

from hub.accounts.users import find_token
from hub.channels.manage import create_channel
from hub.inventory import levels as inventory
from hub.queue.jobs import dead_letter, enqueue
from hub.store.models import Job, StockLevel, StockMovement, WebhookEvent, utcnow


def test_the_dashboard_charts_orders_per_day_per_channel(browser, admin_hub, make_order):
    for _ in range(3):
        make_order(admin_hub)
    make_order(admin_hub, placed_at=utcnow() - timedelta(days=2))
    make_order(admin_hub, placed_at=utcnow() - timedelta(days=40))  # outside the chart
    html = browser.get("/").get_data(as_text=True)
    chart = html[
        html.index('<svg class="chart"') : html.index("</svg>", html.index('<svg class="chart"'))
    ]
    titles = re.findall(r"<title>(.*?)</title>", chart)
    today, two_days_ago = utcnow().date(), (utcnow() - timedelta(days=2)).date()
    assert f"{today.isoformat()} · Manual orders: 3" in titles
    assert f"{two_days_ago.isoformat()} · Manual orders: 1" in titles
    assert len(titles) == 2
    assert "last 14 days · 4 orders" in html
    assert 'Manual orders <span class="muted">(4)</span>' in html


def test_the_dashboard_shows_the_funnel_jobs_and_channel_errors(browser, admin_hub, make_order):
    make_order(admin_hub)
    with admin_hub.db.transaction() as db:
        store = create_channel(
            admin_hub,
            db,
            name="EU store",
            connector="vault",
            config={"account": "a", "api_token": "t"},
        )
        dead_letter(
            db, "channel.pull", {}, error="ExternalError: 401 Unauthorized", channel_id=store.id
        )
    html = browser.get("/").get_data(as_text=True)
    funnel = html[
        html.index('class="funnel"') : html.index("</table>", html.index('class="funnel"'))
    ]
    assert re.search(r'status=pending">pending</a></th>.*?<td class="num">1</td>', funnel, re.S)
    assert re.search(r'status=dead"><span class="num">1</span> dead', html)
    assert "ExternalError: 401 Unauthorized" in html


def test_setting_a_stock_level_needs_a_reason_and_is_audited(browser, admin_hub):
    browser.post(
        "/stock/locations",
        {"code": "main", "name": "Main warehouse", "priority": "5", "active": "on"},
    )
    refused = browser.post(
        "/stock/levels", {"sku": "MUG", "location": "main", "on_hand": "12"}, follow_redirects=True
    ).get_data(as_text=True)
    assert "a reason" in " ".join(flashes(refused))
    answer = browser.post(
        "/stock/levels",
        {"sku": "MUG", "location": "main", "on_hand": "12", "reason": "stock count"},
        follow_redirects=True,
    )
    assert "MUG at main: on hand is now 12." in flashes(answer.get_data(as_text=True))
    with admin_hub.db.read() as db:
        assert db.query(StockLevel).filter_by(sku="MUG").one().on_hand == 12
        movement = db.query(StockMovement).filter_by(sku="MUG").one()
        assert (movement.actor, movement.reason, movement.source) == (
            "user:admin@example.com",
            "stock count",
            "ui",
        )
    page = browser.get("/stock").get_data(as_text=True)
    assert "Main warehouse" in page and "stock count" in page
    assert re.search(r"<code>MUG</code></td><td>main</td>\s*<td class=\"num\">12</td>", page)


def test_stock_errors_are_shown_and_change_nothing(browser, admin_hub):
    with admin_hub.db.transaction() as db:
        inventory.upsert_location(db, "main")
    bad = browser.post(
        "/stock/levels",
        {"sku": "MUG", "location": "main", "on_hand": "-3", "reason": "oops"},
        follow_redirects=True,
    )
    assert "must be a whole number of 0 or more" in " ".join(flashes(bad.get_data(as_text=True)))
    unknown = browser.post(
        "/stock/levels",
        {"sku": "MUG", "location": "nowhere", "on_hand": "3", "reason": "x"},
        follow_redirects=True,
    )
    assert "location 'nowhere' does not exist" in " ".join(flashes(unknown.get_data(as_text=True)))
    with admin_hub.db.read() as db:
        assert db.query(StockLevel).count() == 0


def test_dead_letters_are_listed_with_their_error_and_can_be_retried(browser, admin_hub):
    with admin_hub.db.transaction() as db:
        job_id = dead_letter(
            db, "channel.pull", {}, error="ExternalError: 401 Unauthorized from vault"
        )
        enqueue(db, "notify", {})
    html = browser.get("/jobs?status=dead").get_data(as_text=True)
    assert "ExternalError: 401 Unauthorized from vault" in html and "channel.pull" in html
    assert "notify" not in re.sub(r"<select.*?</select>", "", html, flags=re.S)
    assert f'action="/jobs/{job_id}/retry"' in html
    answer = browser.post(
        f"/jobs/{job_id}/retry", {"next": "/jobs?status=dead"}, follow_redirects=True
    )
    assert f"Job {job_id} (channel.pull) queued again" in " ".join(
        flashes(answer.get_data(as_text=True))
    )
    with admin_hub.db.read() as db:
        assert db.get(Job, job_id).status == "queued"
    again = browser.post(f"/jobs/{job_id}/retry", follow_redirects=True).get_data(as_text=True)
    assert "only failed or dead jobs can be retried" in " ".join(flashes(again))


def test_the_inbox_shows_failures_and_replays_them(browser, admin_hub):
    with admin_hub.db.transaction() as db:
        store = create_channel(
            admin_hub,
            db,
            name="EU store",
            connector="vault",
            config={"account": "a", "api_token": "t"},
        )
        event = WebhookEvent(
            channel_id=store.id,
            event_id="evt_1",
            topic="orders/create",
            body="{}",
            status="failed",
            error="MalformedPayload: no id",
            attempts=1,
        )
        db.add(event)
        db.flush()
        event_id = event.id
    html = browser.get("/inbox?status=failed").get_data(as_text=True)
    assert "orders/create" in html and "MalformedPayload: no id" in html and "EU store" in html
    answer = browser.post(f"/inbox/{event_id}/replay", follow_redirects=True)
    assert f"Webhook event {event_id} will be processed again." in flashes(
        answer.get_data(as_text=True)
    )
    with admin_hub.db.read() as db:
        assert db.get(WebhookEvent, event_id).status == "received"
        assert db.query(Job).filter_by(kind="webhook.process").count() == 1


def test_an_api_token_is_shown_once_and_can_be_revoked(browser, admin_hub):
    answer = browser.post("/tokens", {"name": "storefront"})
    html = answer.get_data(as_text=True)
    plain = re.search(r'<code class="copy token">(hub_[^<]+)</code>', html).group(1)
    with admin_hub.db.read() as db:
        token = find_token(db, plain)
        assert token is not None and token.name == "storefront"
        token_id = token.id
    listing = browser.get("/tokens").get_data(as_text=True)
    assert plain not in listing and "storefront" in listing
    browser.post(f"/tokens/{token_id}/revoke")
    with admin_hub.db.read() as db:
        assert find_token(db, plain) is None
    nameless = browser.post("/tokens", {"name": ""}, follow_redirects=True).get_data(as_text=True)
    assert "a token needs a name" in " ".join(flashes(nameless))
