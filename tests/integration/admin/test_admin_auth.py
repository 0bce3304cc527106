"""Signing in and out: passwords, throttling, sessions, redirects."""

from __future__ import annotations

import re
from datetime import timedelta
from email.utils import parsedate_to_datetime

from admin_helpers import ADMIN_EMAIL, ADMIN_PASSWORD, csrf_of, flashes, sign_in

from hub.accounts import throttle
from hub.accounts.users import set_admin
from hub.runtime.hub import Hub
from hub.store.config import Settings
from hub.store.models import LoginThrottle, utcnow
from hub.testing import TEST_SECRET_KEY
from hub.web import create_app


def test_an_anonymous_visitor_is_sent_to_sign_in_and_back_afterwards(admin_app):
    client = admin_app.test_client()
    answer = client.get("/orders?status=pending")
    assert answer.status_code == 302
    assert answer.headers["Location"].startswith("/login?next=")
    client.get(answer.headers["Location"])
    signed = client.post(
        "/login",
        data={
            "email": ADMIN_EMAIL,
            "password": ADMIN_PASSWORD,
            "csrf_token": csrf_of(client),
            "next": "/orders?status=pending",
        },
    )
    assert signed.status_code == 302
    assert signed.headers["Location"] == "/orders?status=pending"
    assert client.get("/orders").status_code == 200


def test_a_wrong_password_is_refused_with_a_message(admin_app):
    client = admin_app.test_client()
    answer = sign_in(client, password="not the password")
    assert answer.status_code == 401
    assert "Wrong email or password." in flashes(answer.get_data(as_text=True))
    assert client.get("/").status_code == 302


def test_email_is_matched_whatever_its_case(admin_app):
    assert sign_in(admin_app.test_client(), email="  Admin@Example.COM ").status_code == 302


def test_five_failures_lock_that_email_from_that_address(admin_app, admin_hub):
    client = admin_app.test_client()
    for _ in range(throttle.MAX_FAILURES - 1):
        assert sign_in(client, password="guess").status_code == 401
    locked = sign_in(client, password="guess")
    assert locked.status_code == 429
    message = " ".join(flashes(locked.get_data(as_text=True)))
    assert "Too many failed sign-ins" in message and "15 minutes" in message
    # Even the right password is refused while locked, and nobody is signed in.
    again = sign_in(client)
    assert again.status_code == 429
    assert client.get("/").status_code == 302
    # Another address is not locked out by someone else's guessing.
    other = admin_app.test_client()
    other.environ_base["REMOTE_ADDR"] = "10.1.2.3"
    assert sign_in(other).status_code == 302


def test_behind_a_proxy_the_lock_is_per_client_not_per_proxy(make_hub):
    hub = make_hub(proxy_hops=1)
    with hub.db.transaction() as session:
        set_admin(session, ADMIN_EMAIL, ADMIN_PASSWORD)
    app = create_app({"HUB": hub, "TESTING": True})

    def through_the_proxy(client_address):
        client = app.test_client()
        client.environ_base["REMOTE_ADDR"] = "127.0.0.1"
        client.environ_base["HTTP_X_FORWARDED_FOR"] = client_address
        return client

    guesser = through_the_proxy("198.51.100.7")
    for _ in range(throttle.MAX_FAILURES):
        sign_in(guesser, password="guess")
    assert sign_in(guesser).status_code == 429
    # The merchant behind the same proxy is not locked out by someone else's guessing.
    assert sign_in(through_the_proxy("203.0.113.20")).status_code == 302


def test_a_lock_ends_after_its_time_and_a_success_clears_the_count(admin_hub):
    start = utcnow()
    with admin_hub.db.transaction() as db:
        for i in range(throttle.MAX_FAILURES):
            lock = throttle.record_failure(
                db, "a@example.com", "1.2.3.4", now=start + timedelta(seconds=i)
            )
        assert lock is not None
        assert (
            throttle.check(db, "a@example.com", "1.2.3.4", now=start + timedelta(minutes=5))
            is not None
        )
        later = start + throttle.LOCKOUT + timedelta(seconds=10)
        assert throttle.check(db, "a@example.com", "1.2.3.4", now=later) is None
        # After the lock, counting starts afresh: one failure does not lock again.
        assert throttle.record_failure(db, "a@example.com", "1.2.3.4", now=later) is None
        throttle.clear(db, "a@example.com", "1.2.3.4")
    with admin_hub.db.read() as db:
        assert db.query(LoginThrottle).count() == 0


def test_failures_spread_beyond_the_window_do_not_lock(admin_hub):
    start = utcnow()
    with admin_hub.db.transaction() as db:
        for i in range(throttle.MAX_FAILURES * 2):
            step = start + i * (throttle.WINDOW / 2)
            assert throttle.record_failure(db, "b@example.com", "1.2.3.4", now=step) is None


def test_success_clears_earlier_failures(admin_app, admin_hub):
    client = admin_app.test_client()
    for _ in range(throttle.MAX_FAILURES - 1):
        sign_in(client, password="guess")
    assert sign_in(client).status_code == 302
    with admin_hub.db.read() as db:
        assert db.query(LoginThrottle).count() == 0


def test_next_never_leads_off_the_site(admin_app):
    for target in (
        "https://evil.example/x",
        "//evil.example",
        "/\\evil.example",
        "javascript:alert(1)",
    ):
        client = admin_app.test_client()
        answer = sign_in(client, next=target)
        assert answer.status_code == 302
        assert answer.headers["Location"] == "/", target


def test_sign_out_ends_the_session(browser):
    assert browser.get("/").status_code == 200
    answer = browser.post("/logout")
    assert answer.status_code == 302
    assert browser.get("/").status_code == 302


def test_changing_the_password_ends_other_sessions(browser, admin_hub):
    with admin_hub.db.transaction() as db:
        set_admin(db, ADMIN_EMAIL, "a brand new password")
    assert browser.get("/").status_code == 302


def test_the_session_cookie_is_http_only_and_same_site(admin_app):
    client = admin_app.test_client()
    answer = sign_in(client)
    cookie = answer.headers["Set-Cookie"]
    assert "HttpOnly" in cookie and "SameSite=Lax" in cookie
    expires = parsedate_to_datetime(re.search(r"Expires=([^;]+)", cookie).group(1))
    assert timedelta(hours=11) < expires - utcnow() <= timedelta(hours=12)


def test_the_session_key_is_derived_from_the_hub_secret_not_a_constant(
    admin_app, make_hub, tmp_path
):
    other_key = "Jm3Ai0mX3cZ2H4a0b2oDkZJ0h1xQw8h6Y2QyPq8kM1U="
    other_hub = Hub(Settings.from_env({}, data_dir=tmp_path / "other", secret_key=other_key))
    other = create_app({"HUB": other_hub, "TESTING": True})
    other_hub.close()
    assert admin_app.secret_key and other.secret_key
    assert admin_app.secret_key != other.secret_key
    assert TEST_SECRET_KEY.encode() not in (admin_app.secret_key, other.secret_key)
    # The same hub key gives the same session key: several web processes share sessions.
    again = create_app({"HUB": make_hub(), "TESTING": True})
    assert again.secret_key == admin_app.secret_key
