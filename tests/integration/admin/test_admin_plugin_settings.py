"""Plugin settings in the admin: a form from the plugin's own schema, checked when saved."""

from __future__ import annotations

import pytest
from admin_helpers import ADMIN_EMAIL, VaultPlugin, flashes
from marshmallow import Schema, fields, validate

from hub import hookimpl
from hub.store.models import PluginSettings, User

RISK_KEY = "rk_live_NeverOnAPage77"


class RiskSettings(Schema):
    """Hold risky orders before they are confirmed."""

    max_total = fields.Integer(
        load_default=100_000,
        validate=validate.Range(min=0),
        metadata={"label": "Hold orders above (minor units)"},
    )
    api_key = fields.String(required=True, metadata={"label": "Risk API key", "secret": True})
    mode = fields.String(
        load_default="warn", validate=validate.OneOf(["warn", "hold"]), metadata={"label": "Mode"}
    )


class RiskPlugin:
    @hookimpl
    def hub_register_settings(self):
        return {"risk": RiskSettings}


@pytest.fixture
def admin_hub(make_hub, _admin_password_hash):
    hub = make_hub(plugins=[VaultPlugin(), RiskPlugin()])
    with hub.db.transaction() as session:
        session.add(User(email=ADMIN_EMAIL, password_hash=_admin_password_hash))
    return hub


def test_the_plugins_settings_are_listed_with_a_form_of_their_schema(browser):
    listing = browser.get("/plugins/settings").get_data(as_text=True)
    assert 'href="/plugins/settings/risk"' in listing and "defaults" in listing
    page = browser.get("/plugins/settings/risk").get_data(as_text=True)
    assert "Hold orders above (minor units)" in page and 'value="100000"' in page
    assert 'type="password"' in page and 'name="api_key"' in page
    assert '<option value="hold"' in page


def test_a_bad_value_is_refused_with_422_next_to_its_field_and_nothing_is_stored(
    browser, admin_hub
):
    answer = browser.post("/plugins/settings/risk", {"max_total": "-3", "api_key": RISK_KEY})
    page = answer.get_data(as_text=True)
    assert answer.status_code == 422
    assert "Must be greater than or equal to 0." in page
    assert RISK_KEY not in page  # a secret is never sent back, even after a failed save
    answer = browser.post("/plugins/settings/risk", {"max_total": "500"})
    assert answer.status_code == 422 and "Missing data for required field." in answer.get_data(
        as_text=True
    )
    with admin_hub.db.read() as session:
        assert session.query(PluginSettings).count() == 0


def test_saved_settings_are_what_the_plugin_reads_and_a_blank_secret_is_kept(browser, admin_hub):
    answer = browser.post(
        "/plugins/settings/risk", {"max_total": "2500", "api_key": RISK_KEY, "mode": "hold"}
    )
    assert answer.status_code == 302
    page = browser.get(answer.headers["Location"]).get_data(as_text=True)
    assert "Settings of risk saved." in flashes(page)
    assert RISK_KEY not in page and "A value is stored (never shown)" in page
    assert admin_hub.read_plugin_settings("risk") == {
        "max_total": 2500,
        "api_key": RISK_KEY,
        "mode": "hold",
    }
    browser.post("/plugins/settings/risk", {"max_total": "10", "api_key": "", "mode": "warn"})
    assert admin_hub.read_plugin_settings("risk")["api_key"] == RISK_KEY
    with admin_hub.db.read() as session:
        row = session.get(PluginSettings, "risk")
        assert RISK_KEY not in str(row.values) and row.updated_by == f"user:{ADMIN_EMAIL}"


def test_settings_no_plugin_registers_are_not_found(browser):
    assert browser.get("/plugins/settings/nobody").status_code == 404
