"""Admin sessions end on the server: sign-out, a new password, "sign out everywhere", idleness.

A session cookie only names a session the hub keeps; once that session has
ended, the same cookie (copied, stolen, kept in another browser) leads to the
sign-in page. Over HTTPS the cookie is marked ``Secure``.
"""

from __future__ import annotations

from datetime import timedelta

import pytest
from admin_helpers import ADMIN_EMAIL, ADMIN_PASSWORD, flashes, sign_in
from sqlalchemy import select, update

from hub.accounts.users import set_admin
from hub.store.models import AdminSession, utcnow
from hub.web import create_app


def _session_cookie(client) -> str:
    cookie = client.get_cookie("session")
    assert cookie is not None
    return cookie.value


def _browser_with(app, cookie: str):
    """Another browser holding a copy of ``cookie``."""
    other = app.test_client()
    other.set_cookie("session", cookie)
    return other


def _signed_in(app):
    client = app.test_client()
    assert sign_in(client).status_code == 302
    return client


def test_a_cookie_copied_before_sign_out_lands_on_the_sign_in_page(admin_app):
    client = _signed_in(admin_app)
    copied = _session_cookie(client)
    assert _browser_with(admin_app, copied).get("/orders").status_code == 200

    client.post("/logout", data={"csrf_token": _csrf(client)})

    replay = _browser_with(admin_app, copied).get("/orders")
    assert replay.status_code == 302
    assert replay.headers["Location"].startswith("/login")


def _csrf(client) -> str:
    with client.session_transaction() as session:
        return session["csrf_token"]


def test_a_new_password_ends_every_session_of_that_person(admin_app, admin_hub):
    laptop, phone = _signed_in(admin_app), _signed_in(admin_app)

    with admin_hub.db.transaction() as db:
        set_admin(db, ADMIN_EMAIL, "a brand new password")

    assert laptop.get("/").status_code == 302
    assert phone.get("/").status_code == 302
    with admin_hub.db.read() as db:
        assert db.scalars(select(AdminSession)).all() == []


def test_sign_out_everywhere_ends_the_other_browsers_sessions_too(admin_app):
    laptop, phone = _signed_in(admin_app), _signed_in(admin_app)
    page = laptop.get("/").get_data(as_text=True)
    assert "Sign out everywhere" in page

    answer = laptop.post("/logout/everywhere", data={"csrf_token": _csrf(laptop)})

    assert answer.status_code == 302 and answer.headers["Location"] == "/login"
    assert "You are signed out on every device." in flashes(
        laptop.get("/login").get_data(as_text=True)
    )
    assert phone.get("/").status_code == 302
    assert laptop.get("/").status_code == 302


def test_a_session_left_idle_past_the_limit_is_signed_out(make_hub, _admin_password_hash):
    from hub.store.models import User

    hub = make_hub(session_idle_minutes=30)
    with hub.db.transaction() as db:
        db.add(User(email=ADMIN_EMAIL, password_hash=_admin_password_hash))
    app = create_app({"HUB": hub, "TESTING": True})
    client = _signed_in(app)

    with hub.db.transaction() as db:
        db.execute(update(AdminSession).values(last_seen_at=utcnow() - timedelta(minutes=29)))
    assert client.get("/").status_code == 200  # 29 minutes idle: still signed in

    with hub.db.transaction() as db:
        db.execute(update(AdminSession).values(last_seen_at=utcnow() - timedelta(minutes=31)))
    answer = client.get("/orders")
    assert answer.status_code == 302
    assert answer.headers["Location"].startswith("/login")
    assert "Your session has ended: sign in again." in flashes(
        client.get(answer.headers["Location"]).get_data(as_text=True)
    )


def test_last_seen_is_written_at_most_once_a_minute(browser, admin_hub):
    def last_seen():
        with admin_hub.db.read() as db:
            return db.scalars(select(AdminSession.last_seen_at)).one()

    browser.get("/")
    first = last_seen()
    browser.get("/orders")
    assert last_seen() == first

    with admin_hub.db.transaction() as db:
        db.execute(update(AdminSession).values(last_seen_at=utcnow() - timedelta(minutes=2)))
    browser.get("/orders")
    assert last_seen() > first


def test_the_session_cookie_is_secure_over_https(admin_app):
    client = admin_app.test_client()
    client.get("/login", base_url="https://localhost")
    answer = client.post(
        "/login",
        base_url="https://localhost",
        data={"email": ADMIN_EMAIL, "password": ADMIN_PASSWORD, "csrf_token": _csrf(client)},
    )

    assert answer.status_code == 302
    assert "; Secure" in answer.headers["Set-Cookie"]


def test_over_plain_http_the_cookie_still_works_without_secure(admin_app):
    client = admin_app.test_client()
    answer = sign_in(client)

    assert answer.status_code == 302
    assert "Secure" not in answer.headers["Set-Cookie"]


@pytest.mark.parametrize(("forwarded", "secure"), [("https", True), ("http", False)])
def test_behind_a_proxy_the_cookie_is_secure_when_the_proxy_says_https(make_hub, forwarded, secure):
    hub = make_hub(proxy_hops=1)
    with hub.db.transaction() as db:
        set_admin(db, ADMIN_EMAIL, ADMIN_PASSWORD)
    client = create_app({"HUB": hub, "TESTING": True}).test_client()
    client.environ_base["HTTP_X_FORWARDED_PROTO"] = forwarded

    answer = sign_in(client)

    assert answer.status_code == 302
    assert ("; Secure" in answer.headers["Set-Cookie"]) is secure


def test_without_proxy_hops_a_forwarded_https_header_is_not_believed(admin_app):
    client = admin_app.test_client()
    client.environ_base["HTTP_X_FORWARDED_PROTO"] = "https"

    answer = sign_in(client)

    assert "Secure" not in answer.headers["Set-Cookie"]
