"""Time and language in the admin (issue 19): the shop's time zone, times with "ago", the
order's history in words, and a help line on every page."""

from __future__ import annotations

import re
from datetime import UTC, datetime, timedelta
from pathlib import Path

import pytest
from admin_helpers import ADMIN_EMAIL, VaultPlugin, flashes
from marshmallow import Schema, fields

import hub.web
from hub import hookimpl
from hub.channels.manage import create_channel
from hub.orders import transitions
from hub.queue.jobs import dead_letter
from hub.runtime import shop_settings
from hub.store.db import Database
from hub.store.models import ErpImport, PluginSettings, User
from hub.testing import truncate_all


class NotesSettings(Schema):
    """Notes on orders."""

    signature = fields.String(load_default="")


class NotesPlugin:
    @hookimpl
    def hub_register_settings(self):
        return {"notes": NotesSettings}


@pytest.fixture
def admin_hub(request, make_hub, _admin_password_hash):
    """The admin tests' hub, with a plugin that has settings. ``indirect`` gives its
    settings; ``{"database": "postgresql"}`` runs it on PostgreSQL."""
    settings = dict(getattr(request, "param", {}))
    if settings.pop("database", "sqlite") == "postgresql":
        settings["database_url"] = url = request.getfixturevalue("pg_url")
        db = Database(url)
        truncate_all(db)
        db.dispose()
    hub = make_hub(plugins=[VaultPlugin(), NotesPlugin()], **settings)
    with hub.db.transaction() as session:
        session.add(User(email=ADMIN_EMAIL, password_hash=_admin_password_hash))
    return hub


#: GET endpoints of the admin that are not pages: signing in, and downloads.
NOT_PAGES = frozenset(
    {"admin.login", "admin.orders_csv", "admin.erp_file_rejects", "admin.invoice_pdf"}
)


def _timeline(page: str) -> str:
    return page[page.index("<h2>Timeline</h2>") :]


@pytest.mark.parametrize(
    "admin_hub", [{}, {"database": "postgresql"}], ids=["sqlite", "postgresql"], indirect=True
)
def test_the_shop_time_zone_is_saved_and_every_page_shows_times_in_it(
    browser, admin_hub, make_order
):
    placed = datetime(2026, 12, 4, 13, 5, tzinfo=UTC)
    order_id = make_order(admin_hub, number="#T1", placed_at=placed)
    page = browser.get(f"/orders/{order_id}").get_data(as_text=True)
    assert '<time datetime="2026-12-04T13:05:00Z"' in page
    assert ">4 Dec 2026, 13:05</time>" in page
    assert "Times are shown in UTC" in page

    answer = browser.post("/settings", {"time_zone": "asia/tokyo"}, follow_redirects=True)
    assert "Saved: times are now shown in Asia/Tokyo." in flashes(answer.get_data(as_text=True))
    with admin_hub.db.read() as db:
        assert shop_settings.read(db, admin_hub.settings).time_zone == "Asia/Tokyo"

    page = browser.get(f"/orders/{order_id}").get_data(as_text=True)
    # The same instant for machines, Tokyo's wall clock for people, UTC in the tooltip.
    assert re.search(
        r'<time datetime="2026-12-04T13:05:00Z" title="4 Dec 2026, 22:05 \(Asia/Tokyo, '
        r'UTC\+09:00\) · 4 Dec 2026, 13:05 UTC">4 Dec 2026, 22:05</time> <span class="ago">\(',
        page,
    )
    assert "Times are shown in Asia/Tokyo" in page
    listing = browser.get("/orders").get_data(as_text=True)
    assert ">4 Dec 2026, 22:05</time>" in listing


def test_a_bad_time_zone_is_refused_next_to_its_field_and_nothing_is_saved(browser, admin_hub):
    browser.post("/settings", {"time_zone": "Europe/Berlin"})
    answer = browser.post("/settings", {"time_zone": "Mars/Olympus"})
    page = answer.get_data(as_text=True)
    assert answer.status_code == 422
    assert "Please correct the marked fields: nothing was saved." in page
    assert re.search(
        r'<p class="field-error">&#39;Mars/Olympus&#39; is not a time zone: use an IANA name', page
    )
    assert 'value="Mars/Olympus"' in page and 'aria-invalid="true"' in page
    blank = browser.post("/settings", {"time_zone": ""})
    assert blank.status_code == 422
    with admin_hub.db.read() as db:
        assert shop_settings.read(db, admin_hub.settings).time_zone == "Europe/Berlin"
        # Kept beside the plugins' settings, in a row no plugin can name.
        assert db.get(PluginSettings, shop_settings.ROW).updated_by == f"user:{ADMIN_EMAIL}"
    assert "Times are shown in Europe/Berlin" in browser.get("/").get_data(as_text=True)


@pytest.mark.parametrize("admin_hub", [{"time_zone": "America/New_York"}], indirect=True)
def test_hub_timezone_is_the_default_until_the_shop_picks_one(browser):
    page = browser.get("/settings").get_data(as_text=True)
    assert 'value="America/New_York"' in page
    assert "Not saved yet: the hub uses America/New_York" in page
    assert "Times are shown in America/New_York" in page


def test_the_timeline_speaks_words_not_event_names(browser, admin_hub, make_order):
    with admin_hub.db.transaction() as db:
        create_channel(
            admin_hub,
            db,
            name="Main warehouse",
            connector="vault",
            config={"account": "a", "api_token": "t"},
        )
    order_id = make_order(admin_hub)
    with admin_hub.db.transaction() as db:
        transitions.hold(db, order_id, "call the customer", actor=f"user:{ADMIN_EMAIL}")
        transitions.release(db, order_id, actor="channel:main-warehouse")
    page = browser.get(f"/orders/{order_id}").get_data(as_text=True)
    timeline = _timeline(page)
    assert "<strong>Order received</strong>" in timeline
    assert "<strong>Put on hold</strong>" in timeline
    assert "<strong>Hold released: the checks run again</strong>" in timeline
    assert f"by {ADMIN_EMAIL}" in timeline
    assert "by Vault (channel Main warehouse)" in timeline
    visible = re.sub(r"<[^>]+>", " ", timeline)
    for developer_words in ("order.created", "order.held", "channel:", "user:"):
        assert developer_words not in visible
    assert "version " not in re.sub(r"<[^>]+>", " ", page)


def test_every_admin_page_has_a_help_line_under_its_heading(browser, admin_hub, make_order):
    order_id = make_order(admin_hub)
    with admin_hub.db.transaction() as db:
        channel = create_channel(
            admin_hub,
            db,
            name="Vault shop",
            connector="vault",
            config={"account": "a", "api_token": "t"},
        )
        db.add(ErpImport(channel_id=channel.id, file_name="stock.csv", checksum="x" * 64))
        db.flush()
        file_id = db.query(ErpImport.id).scalar()
    values = {
        "order_id": order_id,
        "channel_id": channel.id,
        "connector": "vault",
        "file_id": file_id,
        "name": "notes",
    }
    rules = [
        r
        for r in browser.app.url_map.iter_rules()
        if r.endpoint.startswith("admin.") and "GET" in (r.methods or ())
    ]
    checked = []
    for rule in rules:
        if rule.endpoint in NOT_PAGES:
            continue
        if not rule.arguments <= values.keys():
            continue  # a page of a record this test makes none of: its template is checked below
        url = rule.rule
        for arg in rule.arguments:
            url = re.sub(rf"<(?:[a-z]+:)?{arg}>", str(values[arg]), url)
        answer = browser.get(url)
        assert answer.status_code == 200, url
        assert answer.mimetype == "text/html", url
        page = answer.get_data(as_text=True)
        help_line = re.search(r'<p class="page-help">([^<]+)</p>', page)
        assert help_line, f"{url} has no help line"
        sentence = help_line.group(1).strip()
        assert sentence.endswith(".") and 25 < len(sentence) < 160, (url, sentence)
        # Under the heading: after the page's <h1>.
        assert page.index("<h1") < page.index('<p class="page-help">'), url
        checked.append(rule.endpoint)
    assert {"admin.dashboard", "admin.order", "admin.shop_settings_edit", "admin.erp_file"} <= set(
        checked
    )
    missing = browser.get("/no-such-page")
    assert missing.status_code == 404 and 'class="page-help"' in missing.get_data(as_text=True)


def test_times_in_lists_say_how_long_ago(browser, admin_hub, make_order):
    make_order(admin_hub, number="#OLD", placed_at=datetime.now(UTC) - timedelta(days=1, hours=1))
    listing = browser.get("/orders").get_data(as_text=True)
    assert re.search(r'</time> <span class="ago">\((yesterday|2 days ago)\)</span>', listing)


def test_every_admin_template_fills_the_help_line():
    """Pages this test cannot open (a record it makes none of) are held to it by their template."""
    folder = Path(hub.web.__file__).parent / "templates"
    pages = [
        p
        for p in sorted(folder.rglob("*.html"))
        if '{% extends "admin/layout.html" %}' in p.read_text()
    ]
    assert len(pages) > 20
    for page in pages:
        text = page.read_text()
        # One short sentence, which may name what the page shows ({{ supplier.name }}).
        assert re.search(
            r'<p class="page-help">\{% block help %\}[^\n<]{25,160}?\{% endblock %\}</p>', text
        ), f'{page.relative_to(folder)}: no help line (<p class="page-help">{{% block help %}}…)'


def test_jobs_and_deliveries_say_what_they_do_in_words(browser, admin_hub):
    with admin_hub.db.transaction() as db:
        dead_letter(db, "channel.pull", {}, error="ExternalError: 401 Unauthorized")
    page = browser.get("/jobs?status=dead").get_data(as_text=True)
    assert "<td>Fetch orders from the channel<br>" in page
    assert '<code class="small muted">channel.pull</code>' in page  # the kind, for filters
    assert (
        '<option value="channel.pull">Fetch orders from the channel (channel.pull)</option>' in page
    )
