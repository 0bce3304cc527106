"""The web app's guard rails, checked over every route the app has.

The walks read ``app.url_map``, so a route added later (by any blueprint or
plugin) is covered without touching this file.
"""

from __future__ import annotations

import logging
import re

import pytest
from admin_helpers import SECRET_SIGNING, SECRET_TOKEN, csrf_of
from werkzeug.routing.converters import NumberConverter, UUIDConverter

from hub.store.models import Channel, Order

#: Routes anyone may call: provider webhooks (signed), the customer's tracking
#: page (unguessable token), the satisfaction check's answers (signed links),
#: health and metrics probes, signing in, static files.
PUBLIC_PREFIXES = ("/webhooks/", "/track/", "/aftercare/", "/static/")
PUBLIC_PATHS = {"/healthz", "/readyz", "/metrics", "/login"}
API_PREFIX = "/api/"


def _sample(converter) -> object:
    if isinstance(converter, NumberConverter):
        return converter.num_convert(1)
    if isinstance(converter, UUIDConverter):
        return "00000000-0000-0000-0000-000000000000"
    return "x"


def _routes(app):
    """(method, url, rule) for every route and method, with sample values for its parts."""
    for rule in app.url_map.iter_rules():
        values = {arg: _sample(conv) for arg, conv in rule._converters.items()}
        path = rule.build(values, append_unknown=False)[1]
        for method in sorted(rule.methods - {"HEAD", "OPTIONS"}):
            yield method, path, rule


def _is_public(path: str) -> bool:
    return path in PUBLIC_PATHS or path.startswith(PUBLIC_PREFIXES)


def test_the_walk_covers_the_admin_ui(admin_app):
    walked = {path for _, path, _ in _routes(admin_app) if not _is_public(path)}
    assert {
        "/",
        "/orders",
        "/orders/1",
        "/channels",
        "/channels/new",
        "/stock",
        "/jobs",
        "/inbox",
        "/tokens",
    } <= walked


def test_every_route_but_the_public_ones_refuses_an_anonymous_request(admin_app):
    client = admin_app.test_client()
    client.get("/login")  # an anonymous session with a CSRF token: tests auth, not CSRF
    token = csrf_of(client)
    checked = 0
    for method, path, rule in _routes(admin_app):
        if _is_public(path):
            continue
        answer = client.open(
            path, method=method, data={"csrf_token": token}, headers={"X-CSRF-Token": token}
        )
        checked += 1
        if path.startswith(API_PREFIX):
            assert answer.status_code == 401, f"{method} {rule} answered {answer.status_code}"
        else:
            assert answer.status_code == 302, f"{method} {rule} answered {answer.status_code}"
            assert answer.headers["Location"].startswith("/login"), f"{method} {rule}"
    assert checked >= 20


def test_every_form_post_without_its_csrf_token_is_refused(browser):
    """Signed in, yet every cookie-borne write without the token is refused: 400."""
    checked = 0
    for method, path, rule in _routes(browser.app):
        # The unsubscribe link takes mail clients' cookie-less one-click POST (RFC 8058).
        if method == "GET" or path.startswith(
            ("/webhooks/", API_PREFIX, "/aftercare/unsubscribe/")
        ):
            continue
        for data in ({}, {"csrf_token": "forged"}):
            answer = browser.client.open(path, method=method, data=data)
            assert answer.status_code == 400, f"{method} {rule} answered {answer.status_code}"
            assert "This form cannot be accepted" in answer.get_data(as_text=True)
        checked += 1
    assert checked >= 10


def test_a_forged_post_changes_nothing(browser, admin_hub, make_order):
    order_id = make_order(admin_hub)
    client = browser.client
    assert (
        client.post(f"/orders/{order_id}/transition", data={"event": "cancel"}).status_code == 400
    )
    assert (
        client.post(
            "/channels/new/vault", data={"name": "Forged", "account": "a", "api_token": "t"}
        ).status_code
        == 400
    )
    assert client.post("/logout").status_code == 400
    with admin_hub.db.read() as db:
        assert db.get(Order, order_id).status == "pending"
        assert db.query(Channel).filter_by(name="Forged").count() == 0
    assert browser.get("/").status_code == 200  # still signed in


def test_the_csrf_token_changes_when_signing_in(admin_app):
    from admin_helpers import sign_in

    client = admin_app.test_client()
    client.get("/login")
    before = csrf_of(client)
    sign_in(client)
    assert csrf_of(client) != before


def test_pages_send_a_strict_content_security_policy(browser):
    answer = browser.get("/")
    assert "script-src 'self'" in answer.headers["Content-Security-Policy"]
    assert answer.headers["X-Frame-Options"] == "DENY"
    assert answer.headers["Cache-Control"] == "no-store"
    html = answer.get_data(as_text=True)
    # No inline script and no third-party resource: the policy would block them.
    assert not re.search(r"<script(?![^>]*\bsrc=)", html)
    assert not re.search(r"""(src|href)=["']https?://""", html)


@pytest.fixture
def channel_with_secrets(browser, admin_hub):
    answer = browser.post(
        "/channels/new/vault",
        {
            "name": "Secret store",
            "account": "acct-1",
            "api_token": SECRET_TOKEN,
            "signing_secret": SECRET_SIGNING,
            "mode": "live",
        },
    )
    assert answer.status_code == 302, answer.get_data(as_text=True)
    with admin_hub.db.read() as db:
        return db.query(Channel).filter_by(name="Secret store").one().id


def test_no_page_ever_shows_a_stored_secret(
    browser, admin_hub, channel_with_secrets, make_order, caplog
):
    caplog.set_level(logging.DEBUG)
    order_id = make_order(admin_hub)
    with admin_hub.db.read() as db:
        token = db.get(Order, order_id).tracking_token
    channel_id = channel_with_secrets
    pages = []
    for method, path, rule in _routes(browser.app):
        if method == "GET" and not path.startswith(("/static/", "/api/", "/webhooks/", "/metrics")):
            pages.append(
                rule.build(
                    {k: channel_id if k == "channel_id" else 1 for k in rule.arguments},
                    append_unknown=False,
                )[1]
            )
    pages += ["/channels/new/vault", "/jobs?status=dead", "/inbox?status=failed", f"/track/{token}"]
    # A failed edit re-shows the form: still no secret in it.
    failed = browser.post(
        f"/channels/{channel_id}",
        {"name": "", "account": "acct-1", "api_token": "another-secret-typed-in"},
    )
    assert failed.status_code == 422
    bodies = [failed.get_data(as_text=True)]
    # Test the connection too: its message must not echo the secret either.
    bodies.append(
        browser.post(f"/channels/{channel_id}/test", follow_redirects=True).get_data(as_text=True)
    )
    shown = 0
    for page in pages:
        answer = browser.get(page)
        assert answer.status_code in (200, 302, 404), page
        shown += answer.status_code == 200
        bodies.append(answer.get_data(as_text=True))
    assert shown >= 12
    for body in bodies:
        for secret in (SECRET_TOKEN, SECRET_SIGNING, "another-secret-typed-in"):
            assert secret not in body
    edit = browser.get(f"/channels/{channel_id}").get_data(as_text=True)
    assert 'placeholder="leave blank to keep"' in edit
    assert caplog.text and SECRET_TOKEN not in caplog.text and SECRET_SIGNING not in caplog.text


def test_secrets_are_encrypted_in_the_database_file(browser, admin_hub, channel_with_secrets):
    admin_hub.db.dispose()  # flush the WAL into the file
    raw = b"".join(p.read_bytes() for p in admin_hub.settings.data_dir.glob("hub.db*"))
    assert SECRET_TOKEN.encode() not in raw and SECRET_SIGNING.encode() not in raw
    with admin_hub.db.read() as db:
        channel = db.get(Channel, channel_with_secrets)
        assert set(channel.config["api_token"]) == {"$enc"}
        assert admin_hub.decrypt_config("vault", channel.config)["api_token"] == SECRET_TOKEN
