"""Channels in the admin UI: the schema-generated form, validation, secrets, test, sync, enable."""

from __future__ import annotations

import re

from admin_helpers import SECRET_TOKEN, VaultConnector, flashes

from hub.core.exceptions import ExternalError
from hub.store.models import Channel, Job


def _field(html: str, name: str) -> str:
    """The markup of one generated field: from its wrapper to the next one."""
    start = html.index(f'id="f-{name}"')
    begin = html.rfind('<div class="field', 0, start)
    end = html.find('<div class="field', start)
    return html[begin : end if end != -1 else None]


def _channel(hub, name):
    with hub.db.read() as db:
        channel = db.query(Channel).filter_by(name=name).one_or_none()
        if channel is not None:
            db.expunge(channel)  # keep its loaded values once the session ends
        return channel


def _add(browser, **fields):
    data = {"name": "EU store", "account": "acct-1", "api_token": SECRET_TOKEN, **fields}
    return browser.post("/channels/new/vault", data)


def test_adding_starts_with_choosing_a_connector(browser):
    html = browser.get("/channels/new").get_data(as_text=True)
    assert 'href="/channels/new/vault"' in html and 'href="/channels/new/manual"' in html
    assert "A test connector with secrets." in html
    assert browser.get("/channels/new/nope").status_code == 404


def test_the_form_is_generated_from_the_connector_schema(browser):
    html = browser.get("/channels/new/vault").get_data(as_text=True)
    assert "novalidate" in html  # the server validates, and says so next to each field
    account = _field(html, "account")
    assert "Account id" in account and "As shown in Vault." in account and 'class="req"' in account
    assert 'type="password"' in _field(html, "api_token") and 'class="req"' in _field(
        html, "api_token"
    )
    assert 'type="password"' in _field(html, "signing_secret")
    assert 'class="req"' not in _field(html, "signing_secret")
    mode = _field(html, "mode")
    assert "<select" in mode and '<option value="live" selected>Live</option>' in mode
    assert '<option value="test">Test</option>' in mode
    retries = _field(html, "retries")
    assert 'type="number"' in retries and 'min="0"' in retries and 'max="10"' in retries
    assert 'value="3"' in retries  # the schema's default
    assert 'type="checkbox"' in _field(html, "verbose")
    assert 'type="email"' in _field(html, "contact")
    assert 'type="url"' in _field(html, "api_base_url")
    events = _field(html, "events")
    assert events.count('type="checkbox"') == 2 and 'value="order.shipped"' in events
    assert 'name="schedule_seconds"' in html  # vault pulls orders


def test_errors_are_shown_next_to_their_fields_and_nothing_is_stored(browser, admin_hub):
    answer = _add(browser, account="", retries="99", contact="not-an-email", api_base_url="nope")
    assert answer.status_code == 422
    html = answer.get_data(as_text=True)
    assert "Missing data for required field." in _field(html, "account")
    assert "Must be greater than or equal to 0 and less than or equal to 10." in _field(
        html, "retries"
    )
    assert "Not a valid email address." in _field(html, "contact")
    assert "Not a valid URL." in _field(html, "api_base_url")
    assert 'aria-invalid="true"' in _field(html, "account")
    # What was typed stays, except the secret, which is never put back into a page.
    assert 'value="99"' in _field(html, "retries")
    assert SECRET_TOKEN not in html
    assert _channel(admin_hub, "EU store") is None


def test_a_missing_name_is_reported_with_the_config_errors(browser, admin_hub):
    answer = browser.post("/channels/new/vault", {"name": " ", "account": ""})
    html = answer.get_data(as_text=True)
    assert answer.status_code == 422
    assert "A channel needs a name." in html
    assert "Missing data for required field." in _field(html, "account")
    assert "Missing data for required field." in _field(html, "api_token")


def test_a_valid_channel_is_stored_encrypted_and_listed(browser, admin_hub):
    answer = _add(
        browser, mode="test", verbose="on", events=["order.shipped"], schedule_seconds="600"
    )
    assert answer.status_code == 302
    listing = browser.get(answer.headers["Location"]).get_data(as_text=True)
    assert "Channel “EU store” added." in flashes(listing)
    assert ">EU store</a>" in listing and "eu-store" in listing
    channel = _channel(admin_hub, "EU store")
    assert channel.schedule_seconds == 600 and channel.enabled
    config = admin_hub.decrypt_config("vault", channel.config)
    assert config["api_token"] == SECRET_TOKEN and config["mode"] == "test"
    assert (
        config["verbose"] is True
        and config["events"] == ["order.shipped"]
        and config["retries"] == 3
    )
    assert channel.config["api_token"] != SECRET_TOKEN


def test_editing_keeps_a_secret_left_blank_and_never_shows_it(browser, admin_hub):
    _add(browser, contact="ops@example.com")
    channel = _channel(admin_hub, "EU store")
    html = browser.get(f"/channels/{channel.id}").get_data(as_text=True)
    token = _field(html, "api_token")
    assert 'value=""' in token and "leave blank to keep" in token and "A value is stored" in token
    assert "No value stored." in _field(html, "signing_secret")
    assert 'value="acct-1"' in _field(html, "account")
    assert "/webhooks/eu-store" in html  # vault takes webhooks: its URL is shown
    answer = browser.post(
        f"/channels/{channel.id}",
        {"name": "EU shop", "account": "acct-2", "api_token": "", "mode": "live"},
    )
    assert answer.status_code == 302
    changed = _channel(admin_hub, "EU shop")
    config = admin_hub.decrypt_config("vault", changed.config)
    assert config["api_token"] == SECRET_TOKEN and config["account"] == "acct-2"
    # A field emptied on the form is emptied in the config (back to its default).
    assert config["contact"] is None


def test_editing_can_replace_a_secret(browser, admin_hub):
    _add(browser)
    channel = _channel(admin_hub, "EU store")
    browser.post(
        f"/channels/{channel.id}",
        {"name": "EU store", "account": "acct-1", "api_token": "new-token-value"},
    )
    config = admin_hub.decrypt_config("vault", _channel(admin_hub, "EU store").config)
    assert config["api_token"] == "new-token-value"


def test_a_failed_edit_shows_errors_and_changes_nothing(browser, admin_hub):
    _add(browser)
    channel = _channel(admin_hub, "EU store")
    answer = browser.post(
        f"/channels/{channel.id}", {"name": "EU store", "account": "", "retries": "-1"}
    )
    html = answer.get_data(as_text=True)
    assert answer.status_code == 422
    assert "Missing data for required field." in _field(html, "account")
    assert "greater than or equal to 0" in _field(html, "retries")
    config = admin_hub.decrypt_config("vault", _channel(admin_hub, "EU store").config)
    assert config["account"] == "acct-1" and config["retries"] == 3


def test_test_connection_shows_the_connectors_answer(browser, admin_hub):
    _add(browser)
    channel = _channel(admin_hub, "EU store")
    answer = browser.post(f"/channels/{channel.id}/test", {"next": "/channels"})
    assert answer.headers["Location"] == "/channels"
    html = browser.get("/channels").get_data(as_text=True)
    assert "Connection test of “EU store” passed: account acct-1 reachable in live mode" in flashes(
        html
    )


def test_test_connection_shows_the_error(browser, admin_hub):
    _add(browser)
    channel = _channel(admin_hub, "EU store")
    VaultConnector.fail_with = ExternalError(
        "401 Unauthorized: check the API token", retryable=False
    )
    html = browser.post(f"/channels/{channel.id}/test", follow_redirects=True).get_data(
        as_text=True
    )
    assert "Connection test of “EU store” failed: 401 Unauthorized: check the API token" in flashes(
        html
    )


def test_an_unexpected_error_in_a_check_is_named_not_dumped(browser, admin_hub):
    _add(browser)
    channel = _channel(admin_hub, "EU store")
    VaultConnector.fail_with = RuntimeError(f"boom {SECRET_TOKEN}")
    html = browser.post(f"/channels/{channel.id}/test", follow_redirects=True).get_data(
        as_text=True
    )
    assert "Unexpected error (RuntimeError)" in " ".join(flashes(html))
    assert SECRET_TOKEN not in html


def test_sync_now_queues_one_pull(browser, admin_hub):
    _add(browser)
    channel = _channel(admin_hub, "EU store")
    first = browser.post(f"/channels/{channel.id}/sync", follow_redirects=True).get_data(
        as_text=True
    )
    assert "Sync of “EU store” queued" in " ".join(flashes(first))
    second = browser.post(f"/channels/{channel.id}/sync", follow_redirects=True).get_data(
        as_text=True
    )
    assert "already queued or running" in " ".join(flashes(second))
    with admin_hub.db.read() as db:
        assert db.query(Job).filter_by(kind="channel.pull", channel_id=channel.id).count() == 1


def test_sync_now_is_refused_for_a_connector_that_does_not_pull(browser, admin_hub):
    manual = _channel(admin_hub, "Manual orders")
    html = browser.get("/channels").get_data(as_text=True)
    row = html[html.index(f'id="channel-{manual.id}"') :]
    row = row[: row.index("</tr>")]
    assert "Sync now" not in row and "Test connection" in row
    answer = browser.post(f"/channels/{manual.id}/sync", follow_redirects=True).get_data(
        as_text=True
    )
    assert "does not pull orders" in " ".join(flashes(answer))
    with admin_hub.db.read() as db:
        assert db.query(Job).filter_by(kind="channel.pull").count() == 0


def test_disable_and_enable(browser, admin_hub):
    _add(browser)
    channel = _channel(admin_hub, "EU store")
    html = browser.post(
        f"/channels/{channel.id}/enabled",
        {"enabled": "0", "next": "/channels"},
        follow_redirects=True,
    ).get_data(as_text=True)
    assert "“EU store” is disabled." in flashes(html)
    assert not _channel(admin_hub, "EU store").enabled
    assert "is disabled: enable it first" in " ".join(
        flashes(
            browser.post(f"/channels/{channel.id}/sync", follow_redirects=True).get_data(
                as_text=True
            )
        )
    )
    browser.post(f"/channels/{channel.id}/enabled", {"enabled": "1"})
    assert _channel(admin_hub, "EU store").enabled


def test_the_list_shows_each_channels_last_error(browser, admin_hub):
    _add(browser)
    with admin_hub.db.transaction() as db:
        db.query(Channel).filter_by(
            name="EU store"
        ).one().last_error = "ExternalError: 503 from vault"
    html = browser.get("/channels").get_data(as_text=True)
    assert "ExternalError: 503 from vault" in html
    assert re.search(r"Vault\s*<br>", html)
