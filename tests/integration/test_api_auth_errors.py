"""Bearer tokens guard every API route; every error is one JSON shape, never a traceback."""

from __future__ import annotations

import re
from datetime import timedelta

import pytest
from sqlalchemy import update

from hub.accounts.users import create_token, set_admin
from hub.store.models import ApiToken, utcnow


def api_routes(app):
    for rule in app.url_map.iter_rules():
        if rule.endpoint.startswith("api."):
            path = re.sub(r"<[^>]+>", "1", rule.rule)
            for method in sorted(rule.methods - {"HEAD", "OPTIONS"}):
                yield method, path


def test_every_api_route_refuses_a_request_without_a_token(app, client):
    routes = list(api_routes(app))
    assert len(routes) > 20

    for method, path in routes:
        response = client.open(path, method=method, json={})
        assert response.status_code == 401, (method, path)
        assert response.get_json()["error"]["code"] == "unauthorized"
        assert response.headers["WWW-Authenticate"].startswith("Bearer")


@pytest.mark.parametrize(
    "header",
    [
        "Bearer hub_not-a-real-token",
        "Bearer ",
        "Basic dXNlcjpwYXNz",
        "hub_xyz",
        "Bearer nothub_prefix",
    ],
)
def test_bad_credentials_are_401(client, header):
    response = client.get("/api/v1/orders", headers={"Authorization": header})

    assert response.status_code == 401
    assert set(response.get_json()["error"]) == {"code", "message", "details"}


def test_a_revoked_token_is_refused(api, hub):
    with hub.db.transaction() as session:
        session.execute(update(ApiToken).values(revoked_at=utcnow()))

    assert api.get("/api/v1/orders").status_code == 401


def test_last_used_at_is_recorded_but_not_rewritten_on_every_request(api, hub):
    assert api.get("/api/v1/orders").status_code == 200
    with hub.db.read() as session:
        first = session.query(ApiToken).one().last_used_at
    assert first is not None
    api.get("/api/v1/orders")
    with hub.db.read() as session:
        assert session.query(ApiToken).one().last_used_at == first
    with hub.db.transaction() as session:
        session.execute(update(ApiToken).values(last_used_at=utcnow() - timedelta(hours=1)))
    api.get("/api/v1/orders")
    with hub.db.read() as session:
        assert session.query(ApiToken).one().last_used_at > first


def test_the_docs_are_open_to_a_signed_in_admin_without_a_token(make_hub):
    from hub.web import create_app

    hub = make_hub()
    with hub.db.transaction() as session:
        set_admin(session, "admin@example.com", "correct horse")
    client = create_app({"HUB": hub, "TESTING": True}).test_client()
    assert client.get("/api/v1/docs").status_code == 401
    client.get("/login")
    with client.session_transaction() as session:
        csrf = session["csrf_token"]
    signed_in = client.post(
        "/login",
        data={"email": "admin@example.com", "password": "correct horse", "csrf_token": csrf},
    )
    assert signed_in.status_code == 302

    assert client.get("/api/v1/docs").status_code == 200
    assert client.get("/api/v1/openapi.json").status_code == 200
    assert client.get("/api/v1/orders").status_code == 401  # the data itself still needs a token
    with hub.db.transaction() as session:
        set_admin(session, "admin@example.com", "a new password")  # ends every session
    assert client.get("/api/v1/docs").status_code == 401


def test_unknown_api_path_is_a_json_404_and_a_wrong_method_a_json_405(api):
    missing = api.get("/api/v1/nothing-here")
    wrong = api.open("PUT", "/api/v1/orders")

    assert missing.status_code == 404
    assert missing.get_json()["error"]["code"] == "not_found"
    assert wrong.status_code == 405
    assert wrong.get_json()["error"]["code"] == "method_not_allowed"
    assert set(wrong.headers["Allow"].split(", ")) >= {"GET", "POST"}


def test_api_404s_stay_json_when_the_app_has_its_own_html_error_pages(app, api):
    app.register_error_handler(404, lambda exc: ("<h1>Not here</h1>", 404))
    app.register_error_handler(405, lambda exc: ("<h1>Not so</h1>", 405))

    assert api.get("/api/v1/nothing-here").get_json()["error"]["code"] == "not_found"
    assert api.open("PUT", "/api/v1/orders").get_json()["error"]["code"] == "method_not_allowed"
    assert api.client.get("/no-such-page").get_data(as_text=True) == "<h1>Not here</h1>"


def test_pages_outside_the_api_keep_their_html_errors(client):
    response = client.get("/no-such-page")

    assert response.status_code == 404
    assert response.mimetype == "text/html"


def test_an_unexpected_error_is_a_json_500_without_details_and_logged(api, monkeypatch, caplog):
    from hub.web import api as api_module

    def broken(order):
        raise RuntimeError("internal detail: /srv/hub/secret-path")

    monkeypatch.setattr(api_module, "order_summary", broken)
    api.post(
        "/api/v1/orders",
        json={
            "customer": {"email": "a@example.com"},
            "shipping_address": {},
            "currency": "USD",
            "lines": [{"sku": "A", "quantity": 1, "unit_price": "1.00"}],
        },
    )

    response = api.get("/api/v1/orders")

    assert response.status_code == 500
    text = response.get_data(as_text=True)
    assert "secret-path" not in text and "Traceback" not in text
    assert response.get_json()["error"]["code"] == "internal_error"
    assert "secret-path" in caplog.text


def test_a_second_token_works_alongside_the_first(api, hub, client):
    with hub.db.transaction() as session:
        _, other = create_token(session, "bi-tool")

    assert (
        client.get("/api/v1/jobs", headers={"Authorization": f"Bearer {other}"}).status_code == 200
    )
    assert api.get("/api/v1/jobs").status_code == 200
