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
