"""Fixtures for the admin UI tests: a hub with a test connector and a signed-in browser."""

from __future__ import annotations

from types import SimpleNamespace

import pytest
from admin_helpers import ADMIN_EMAIL, ADMIN_PASSWORD, VaultConnector, VaultPlugin, csrf_of, sign_in

from hub.accounts import set_admin
from hub.web import create_app


@pytest.fixture
def admin_hub(make_hub):
    VaultConnector.fail_with = None
    hub = make_hub(plugins=[VaultPlugin()])
    with hub.db.transaction() as session:
        set_admin(session, ADMIN_EMAIL, ADMIN_PASSWORD)
    yield hub
    VaultConnector.fail_with = None


@pytest.fixture
def admin_app(admin_hub):
    return create_app({"HUB": admin_hub, "TESTING": True})


@pytest.fixture
def browser(admin_app):
    """A test client signed in as the admin, with ``post(url, data)`` that sends the CSRF token."""
    client = admin_app.test_client()
    answer = sign_in(client)
    assert answer.status_code == 302, answer.get_data(as_text=True)

    def post(url, data=None, **kwargs):
        return client.post(url, data={"csrf_token": csrf_of(client), **(data or {})}, **kwargs)

    return SimpleNamespace(client=client, get=client.get, post=post, app=admin_app)
