"""The merchant's desk (issue 19): forms that save unchanged, names that stay unique, pages that exist."""

from __future__ import annotations

from html.parser import HTMLParser

import pytest
from marshmallow import fields

from hub.channels import manage
from hub.integration.fields import StringList
from hub.store.models import Channel

#: A valid config of each bundled connector that has list settings, lists set to several items.
LIST_CONFIGS = {
    "email": {
        "smtp_host": "smtp.example.com",
        "from_address": "orders@example.com",
        "events": ["order.confirmed", "order.shipped"],
    },
    "webhook": {
        "url": "https://crm.example.com/hooks",
        "secret": "a-long-enough-signing-secret",
        "events": ["order.confirmed", "order.shipped"],
    },
    "erp_csv": {"export_dir": "out", "export_statuses": ["confirmed", "processing"]},
}


class _FormReader(HTMLParser):
    """What a browser submits from the page's config form, untouched."""

    def __init__(self) -> None:
        super().__init__()
        self.data: list[tuple[str, str]] = []
        self.in_form = False
        self.select: str | None = None
        self.textarea: str | None = None
        self.text = ""

    def handle_starttag(self, tag, attrs):
        a = dict(attrs)
        if tag == "form" and "config-form" in (a.get("class") or ""):
            self.in_form = True
        if not self.in_form or not a.get("name") and tag != "option":
            return
        if tag == "input":
            kind = a.get("type", "text")
            if kind in ("checkbox", "radio"):
                if "checked" in a:
                    self.data.append((a["name"], a.get("value") or "on"))
            elif kind != "submit":
                self.data.append((a["name"], a.get("value") or ""))
        elif tag == "select":
            self.select = a["name"]
        elif tag == "option" and self.select and "selected" in a:
            self.data.append((self.select, a.get("value") or ""))
        elif tag == "textarea":
            self.textarea, self.text = a["name"], ""

    def handle_data(self, data):
        if self.textarea:
            self.text += data

    def handle_endtag(self, tag):
        if tag == "form":
            self.in_form = False
        elif tag == "select":
            self.select = None
        elif tag == "textarea" and self.textarea:
            self.data.append((self.textarea, self.text))
            self.textarea = None


def _form_of(html: str) -> dict[str, list[str]]:
    reader = _FormReader()
    reader.feed(html)
    out: dict[str, list[str]] = {}
    for key, value in reader.data:
        out.setdefault(key, []).append(value)
    return out


def _add(hub, name, connector, config):
    with hub.db.transaction() as db:
        return manage.create_channel(hub, db, name=name, connector=connector, config=config).id


def _list_connectors(hub) -> list[str]:
    return sorted(
        name
        for name, cls in hub.connectors.items()
        if cls.config_schema is not None
        and any(
            isinstance(f, StringList | fields.List) for f in cls.config_schema().fields.values()
        )
    )


def test_every_bundled_connector_with_lists_is_walked(admin_hub):
    assert _list_connectors(admin_hub) == sorted([*LIST_CONFIGS, "vault"])


@pytest.mark.parametrize("connector", sorted(LIST_CONFIGS))
def test_a_channel_edit_form_saves_unchanged_and_renamed(browser, admin_hub, connector):
    channel_id = _add(admin_hub, "Lists", connector, LIST_CONFIGS[connector])
    page = browser.get(f"/channels/{channel_id}").get_data(as_text=True)
    assert "['" not in page  # no Python list shown to a merchant
    form = _form_of(page)
    answer = browser.client.post(f"/channels/{channel_id}", data=form)
    assert answer.status_code == 302, answer.get_data(as_text=True)
    form["name"] = ["Lists renamed"]
    assert browser.client.post(f"/channels/{channel_id}", data=form).status_code == 302
    with admin_hub.db.read() as db:
        row = db.get(Channel, channel_id)
        assert row.name == "Lists renamed"
        config = admin_hub.decrypt_config(connector, row.config)
    for key, value in LIST_CONFIGS[connector].items():
        if isinstance(value, list):
            assert config[key] == value


def test_an_unknown_url_shows_the_admins_not_found_page(browser, admin_app):
    answer = browser.get("/no/such/page")
    assert answer.status_code == 404
    html = answer.get_data(as_text=True)
    assert '<nav aria-label="Main">' in html and "hub.css" in html
    assert "<h1>Not found</h1>" in html and 'href="/"' in html
    # Someone not signed in gets a styled page too, without the admin's navigation.
    anonymous = admin_app.test_client().get("/no/such/page")
    assert anonymous.status_code == 404
    page = anonymous.get_data(as_text=True)
    assert "hub.css" in page and "Sign in" in page and '<nav aria-label="Main">' not in page
    # Machines still get JSON.
    api = browser.get("/api/v1/no-such-thing")
    assert api.status_code == 404 and api.json["error"]["code"] == "not_found"


WEBHOOK = {"url": "https://crm.example.com/hooks", "secret": "a-long-enough-signing-secret"}


def _webhook_form(name: str) -> dict[str, str]:
    return {"name": name, **WEBHOOK, "events": "*", "timeout_seconds": "10"}


def test_a_second_channel_of_the_same_name_is_refused_on_the_form(browser, admin_hub):
    assert browser.post("/channels/new/webhook", _webhook_form("CRM")).status_code == 302
    answer = browser.post("/channels/new/webhook", _webhook_form(" crm "))
    assert answer.status_code == 422
    html = answer.get_data(as_text=True)
    name_field = html[
        html.index('id="f-channel-name"') : html.index("</div>", html.index('id="f-channel-name"'))
    ]
    assert "another channel is named “crm”" in name_field
    with admin_hub.db.read() as db:
        assert db.query(Channel).filter(Channel.connector == "webhook").count() == 1
    # Renaming another channel to a taken name is refused the same way; keeping its own is fine.
    other = _add(admin_hub, "BI tool", "webhook", WEBHOOK)
    answer = browser.post(f"/channels/{other}", _webhook_form("CRM"))
    assert answer.status_code == 422 and "another channel is named “CRM”" in answer.get_data(
        as_text=True
    )
    assert browser.post(f"/channels/{other}", _webhook_form("BI tool")).status_code == 302


def test_the_api_refuses_a_duplicate_channel_name_with_422(admin_hub, make_hub):
    from hub.accounts.users import create_token
    from hub.testing import ApiClient
    from hub.web import create_app

    with admin_hub.db.transaction() as db:
        token = create_token(db, "t", scope="admin")[1]
    api = ApiClient(create_app({"HUB": admin_hub, "TESTING": True}).test_client(), token)
    body = {"name": "CRM", "connector": "webhook", "config": WEBHOOK}
    assert api.post("/api/v1/channels", json=body).status_code == 201
    again = api.post("/api/v1/channels", json={**body, "name": "crm"})
    assert again.status_code == 422 and "name" in again.get_json()["error"]["details"]
    other = api.post("/api/v1/channels", json={**body, "name": "BI"}).get_json()["id"]
    renamed = api.patch(f"/api/v1/channels/{other}", json={"name": "CRM"})
    assert renamed.status_code == 422 and "name" in renamed.get_json()["error"]["details"]


def test_a_job_error_is_shown_once_and_its_expansion_adds_what_the_line_did_not_say(
    browser, admin_hub
):
    from hub.queue.jobs import dead_letter

    short = "ExternalError: 401 Unauthorized from vault"
    long_first = "ExternalError: " + "the shop answered something the hub could not read " * 3
    with admin_hub.db.transaction() as db:
        dead_letter(db, "channel.pull", {}, error=short)
        dead_letter(
            db,
            "channel.push",
            {},
            error="Traceback (most recent call last):\n  File x\nKeyError: 'sku'",
        )
        dead_letter(db, "notify", {}, error=long_first)
    html = browser.get("/jobs?status=dead").get_data(as_text=True)
    assert html.count(short) == 1  # a short error: one line, no expansion repeating it
    assert html.count("Traceback (most recent call last):") == 1
    assert "<pre>  File x\nKeyError: &#39;sku&#39;</pre>" in html
    assert html.count(long_first.strip()) == 1  # shown in full only once, when expanded


def test_the_shopify_form_refuses_what_its_help_refuses(browser, admin_hub):
    answer = browser.post(
        "/channels/new/shopify",
        {
            "name": "Shop",
            "shop_domain": "shop.example.com",
            "access_token": "abc",
            "webhook_secret": "s",
        },
    )
    assert answer.status_code == 422
    html = answer.get_data(as_text=True)
    assert "not a custom domain" in _config_field(html, "shop_domain")
    assert "starts with shpat_" in _config_field(html, "access_token")
    assert "too short" in _config_field(html, "webhook_secret")
    with admin_hub.db.read() as db:
        assert db.query(Channel).filter_by(connector="shopify").count() == 0
    good = {
        "name": "Shop",
        "shop_domain": "my-store",
        "access_token": "shpat_0123456789abcdef0123456789abcdef",
        "webhook_secret": "0123456789abcdef0123456789abcdef",
    }
    assert browser.post("/channels/new/shopify", good).status_code == 302


def _config_field(html: str, name: str) -> str:
    start = html.index(f'id="f-{name}"')
    begin = html.rfind('<div class="field', 0, start)
    end = html.find('<div class="field', start)
    return html[begin:end]


def _sales_channel(hub, name="Web shop"):
    with hub.db.transaction() as db:
        return manage.create_channel(hub, db, name=name, connector="manual", config={}).id


def test_a_sales_channel_is_linked_to_its_payment_and_shipping_channels_on_its_page(
    browser, admin_hub
):
    shop = _sales_channel(admin_hub)
    stripe = _add(admin_hub, "Stripe", "stripe", {"secret_key": "sk_test_0123456789abcdef"})
    ship = _add(
        admin_hub,
        "ShipStation",
        "shipstation",
        {"api_key": "k" * 16, "api_secret": "s" * 16, "webhook_token": "t" * 24},
    )
    page = browser.get(f"/channels/{shop}").get_data(as_text=True)
    assert 'name="payment_channel_id"' in page and f'<option value="{stripe}">Stripe' in page
    assert f'<option value="{ship}">ShipStation' in page
    answer = browser.post(
        f"/channels/{shop}/links",
        {"payment_channel_id": str(stripe), "shipping_channel_id": str(ship)},
        follow_redirects=True,
    )
    assert "Payment and shipping channels of “Web shop” saved." in answer.get_data(as_text=True)
    with admin_hub.db.read() as db:
        row = db.get(Channel, shop)
        assert (row.payment_channel_id, row.shipping_channel_id) == (stripe, ship)
    # A channel of the wrong kind is refused, and nothing changes.
    wrong = browser.post(
        f"/channels/{shop}/links", {"payment_channel_id": str(ship)}, follow_redirects=True
    )
    assert "is not a payment channel" in wrong.get_data(as_text=True)
    with admin_hub.db.read() as db:
        assert db.get(Channel, shop).payment_channel_id == stripe


def test_a_sales_channels_invoicing_is_set_on_its_page(browser, admin_hub):
    from hub.invoicing.policy import policy_for

    shop = _sales_channel(admin_hub, "Trade shop")
    page = browser.get(f"/channels/{shop}").get_data(as_text=True)
    assert f'action="/channels/{shop}/invoicing"' in page
    assert '<option value="never" selected>' in page  # no invoices by surprise
    answer = browser.post(
        f"/channels/{shop}/invoicing",
        {"issue_on": "shipment", "payment_terms_days": "14", "terms_by_tag": "b2b=30, Trade=60"},
        follow_redirects=True,
    )
    assert "Invoicing of “Trade shop” saved." in answer.get_data(as_text=True)
    with admin_hub.db.read() as db:
        saved = policy_for(db, shop)
    assert (saved.issue_on, saved.payment_terms_days, saved.terms_by_tag) == (
        "shipment",
        14,
        {"b2b": 30, "trade": 60},
    )
    page = browser.get(f"/channels/{shop}").get_data(as_text=True)
    assert '<option value="shipment" selected>' in page and 'value="b2b=30, trade=60"' in page
    # Wrong terms are refused in words, and the saved policy stands.
    for form, words in (
        ({"issue_on": "capture", "payment_terms_days": "two weeks"}, "is not a number of days"),
        ({"issue_on": "capture", "terms_by_tag": "b2b"}, "is not tag=days"),
        ({"issue_on": "someday"}, "wrong values"),
    ):
        refused = browser.post(f"/channels/{shop}/invoicing", form, follow_redirects=True)
        assert words in refused.get_data(as_text=True)
    with admin_hub.db.read() as db:
        assert policy_for(db, shop).issue_on == "shipment"


def test_a_channel_is_deleted_from_its_page_under_the_apis_rule(browser, admin_hub, make_order):
    from hub.queue.jobs import enqueue

    unused = _sales_channel(admin_hub, "Old shop")
    page = browser.get(f"/channels/{unused}").get_data(as_text=True)
    assert f'action="/channels/{unused}/delete"' in page
    gone = browser.post(f"/channels/{unused}/delete", follow_redirects=True)
    assert "Channel “Old shop” deleted." in gone.get_data(as_text=True)
    with admin_hub.db.read() as db:
        assert db.get(Channel, unused) is None
    # With unfinished jobs: disabled so that they drain, not deleted.
    busy = _sales_channel(admin_hub, "Busy shop")
    with admin_hub.db.transaction() as db:
        enqueue(db, "notify", {}, channel_id=busy)
    answer = browser.post(f"/channels/{busy}/delete", follow_redirects=True)
    assert "has 1 unfinished job(s): it is disabled now" in answer.get_data(as_text=True)
    with admin_hub.db.read() as db:
        assert db.get(Channel, busy).enabled is False
    # With orders: refused; the manual channel (which has them) offers no delete at all.
    make_order(admin_hub)
    with admin_hub.db.read() as db:
        manual = db.query(Channel).filter_by(slug="manual").one().id
    assert "/delete" not in browser.get(f"/channels/{manual}").get_data(as_text=True)
    refused = browser.post(f"/channels/{manual}/delete", follow_redirects=True)
    assert "cannot be deleted" in refused.get_data(as_text=True)
