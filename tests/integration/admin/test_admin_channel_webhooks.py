"""The channel page shows whether the channel's webhooks are registered at its provider."""

from __future__ import annotations

import re

import pytest
from admin_helpers import VaultPlugin, flashes
from marshmallow import Schema, fields

from hub import hookimpl
from hub.core.exceptions import ExternalError
from hub.integration.connectors import Capability, SalesConnector
from hub.queue.jobs import Worker
from hub.store.models import Channel, User


class HookedConfig(Schema):
    shop = fields.String(required=True, metadata={"label": "Shop"})


class Hooked(SalesConnector):
    """A provider where the connector subscribes its channel's webhooks itself."""

    name = "hooked"
    label = "Hooked shop"
    capabilities = frozenset({Capability.REGISTER_WEBHOOKS})
    config_schema = HookedConfig
    #: address -> topics subscribed there (the provider's side).
    subscribed: dict[str, list[str]] = {}
    refuse: str | None = None

    def sync_webhooks(self, callback_url):
        if Hooked.refuse:
            raise ExternalError(Hooked.refuse, retryable=False, status=403)
        Hooked.subscribed[callback_url] = ["orders/create", "orders/updated"]
        return Hooked.subscribed[callback_url]

    def remove_webhooks(self, callback_url):
        return Hooked.subscribed.pop(callback_url, [])


class HookedPlugin:
    @hookimpl
    def hub_register_connectors(self):
        return [Hooked]


@pytest.fixture
def admin_hub(make_hub, _admin_password_hash):
    from admin_helpers import ADMIN_EMAIL

    Hooked.subscribed, Hooked.refuse = {}, None
    hub = make_hub(plugins=[VaultPlugin(), HookedPlugin()])
    with hub.db.transaction() as session:
        session.add(User(email=ADMIN_EMAIL, password_hash=_admin_password_hash))
    return hub


def run_jobs(hub) -> None:
    Worker(hub, worker_id="test").run_until_idle()


def registration_text(page: str) -> str:
    found = re.search(r'<dd class="webhook-registration">(.*?)</dd>', page, re.S)
    assert found, "no webhook registration on the page"
    return " ".join(re.sub(r"<[^>]+>", " ", found.group(1)).split())


def add_channel(browser, admin_hub) -> int:
    answer = browser.post("/channels/new/hooked", {"name": "Main shop", "shop": "main"})
    assert answer.status_code == 302, answer.get_data(as_text=True)
    with admin_hub.db.read() as session:
        return session.query(Channel).filter_by(connector="hooked").one().id


def test_the_page_shows_the_topics_registered_and_where_they_are_sent(browser, admin_hub):
    channel_id = add_channel(browser, admin_hub)
    assert Hooked.subscribed == {}  # saving the channel called nothing: a job will
    page = browser.get(f"/channels/{channel_id}").get_data(as_text=True)
    assert registration_text(page) == "being registered…"
    run_jobs(admin_hub)
    page = browser.get(f"/channels/{channel_id}").get_data(as_text=True)
    shown = registration_text(page)
    assert shown.startswith("registered: orders/create, orders/updated at ")
    assert f"sent to {admin_hub.settings.public_url}/webhooks/main-shop" in shown


def test_a_refusal_is_shown_with_its_reason_and_can_be_asked_again(browser, admin_hub):
    Hooked.refuse = "hooked: POST /webhooks answered 403: missing scope write_webhooks"
    channel_id = add_channel(browser, admin_hub)
    run_jobs(admin_hub)
    page = browser.get(f"/channels/{channel_id}").get_data(as_text=True)
    assert re.fullmatch(
        r"registering failed at .* \(just now\) : hooked: POST /webhooks answered 403: "
        r"missing scope write_webhooks",
        registration_text(page),
    ), registration_text(page)
    Hooked.refuse = None  # the merchant granted the scope
    answer = browser.post(f"/channels/{channel_id}/webhooks", follow_redirects=True)
    assert "The webhooks of “Main shop” will be registered in a moment." in flashes(
        answer.get_data(as_text=True)
    )
    run_jobs(admin_hub)
    page = browser.get(f"/channels/{channel_id}").get_data(as_text=True)
    assert registration_text(page).startswith("registered: orders/create, orders/updated")


def test_disabling_in_the_admin_removes_them(browser, admin_hub):
    channel_id = add_channel(browser, admin_hub)
    run_jobs(admin_hub)
    browser.post(f"/channels/{channel_id}/enabled", {"enabled": "0"})
    run_jobs(admin_hub)
    assert Hooked.subscribed == {}
    page = browser.get(f"/channels/{channel_id}").get_data(as_text=True)
    assert registration_text(page).startswith("removed: orders/create, orders/updated at ")
