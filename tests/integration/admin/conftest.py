"""Fixtures for the admin UI tests: a hub with a test connector and a signed-in browser."""

from __future__ import annotations

from types import SimpleNamespace

import pytest
from admin_helpers import ADMIN_EMAIL, ADMIN_PASSWORD, VaultConnector, VaultPlugin, csrf_of
from flask import session as flask_session
from werkzeug.security import generate_password_hash

from hub.store.db import Database
from hub.store.models import User
from hub.testing import truncate_all
from hub.web import create_app
from hub.web.admin import sign_in as sign_in_session


@pytest.fixture(scope="session")
def _admin_password_hash() -> str:
    # Hashing is slow on purpose (scrypt): do it once per test session.
    return generate_password_hash(ADMIN_PASSWORD)


@pytest.fixture
def admin_hub(request, make_hub, _admin_password_hash):
    """A hub with the Vault test connector and an admin; SQLite unless parametrized
    with ``"postgresql"`` (``indirect=True``)."""
    VaultConnector.fail_with = None
    url = None
    if getattr(request, "param", "sqlite") == "postgresql":
        url = request.getfixturevalue("pg_url")
        db = Database(url)
        truncate_all(db)
        db.dispose()
    hub = make_hub(plugins=[VaultPlugin()], database_url=url)
    with hub.db.transaction() as session:
        session.add(User(email=ADMIN_EMAIL, password_hash=_admin_password_hash))
    yield hub
    VaultConnector.fail_with = None


@pytest.fixture
def admin_app(admin_hub):
    return create_app({"HUB": admin_hub, "TESTING": True})


@pytest.fixture
def browser(admin_app, admin_hub):
    """A test client signed in as the admin, with ``post(url, data)`` that sends the CSRF token.

    It is signed in the way the sign-in page does it, minus the password check
    (slow by design, and tested on its own in test_admin_auth.py).
    """
    client = admin_app.test_client()
    with admin_hub.db.transaction() as db:
        user = db.query(User).filter_by(email=ADMIN_EMAIL).one()
        with admin_app.test_request_context():
            sign_in_session(db, user)
            values = dict(flask_session)
    with client.session_transaction() as session:
        session.update(values)
        session["csrf_token"] = "test-csrf-token"

    def post(url, data=None, **kwargs):
        return client.post(url, data={"csrf_token": csrf_of(client), **(data or {})}, **kwargs)

    return SimpleNamespace(client=client, get=client.get, post=post, app=admin_app)
