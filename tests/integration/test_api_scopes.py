"""Token scopes: a read token reads, a write token also changes things, only admin configures.

The scope each route needs comes from one table (:data:`hub.web.api_access.ROUTE_SCOPES`)
checked before every API view; these tests walk the app's own routes, so a route
added without a scope, or with a looser one than intended, fails here.
"""

from __future__ import annotations

import re

import pytest

from hub.accounts.scopes import Scope
from hub.accounts.users import create_token
from hub.store import migrate
from hub.store.db import Database
from hub.testing import ApiClient, WebhookTestPlugin
from hub.web.api_access import ROUTE_SCOPES, required_scope, route_template

ORDER = {
    "customer": {"email": "desk@example.com"},
    "shipping_address": {"country": "US"},
    "currency": "USD",
    "lines": [{"sku": "SKU-1", "quantity": 1, "unit_price": "5.00"}],
}


def api_operations(app):
    """(method, route template, path with ids filled in) for every API route."""
    for rule in app.url_map.iter_rules():
        if rule.endpoint.startswith("api."):
            path = re.sub(r"<[^>]+>", "1", rule.rule)
            for method in sorted(rule.methods - {"HEAD", "OPTIONS"}):
                yield method, route_template(rule.rule), path


CHANNEL = {"name": "Shop", "connector": "webhook_test", "config": {"webhook_secret": "s3cret"}}


@pytest.fixture
def hub(make_hub):
    return make_hub(plugins=[WebhookTestPlugin()])


@pytest.fixture
def token_for(hub, client):
    def make(scope: str) -> ApiClient:
        with hub.db.transaction() as session:
            plain = create_token(session, f"{scope}-tool", scope=scope)[1]
        return ApiClient(client, plain)

    return make


def test_a_read_token_lists_orders_but_gets_403_on_post(token_for):
    reader = token_for("read")

    assert reader.get("/api/v1/orders").status_code == 200
    refused = reader.post("/api/v1/orders", json=ORDER)

    assert refused.status_code == 403
    error = refused.get_json()["error"]
    assert error["code"] == "forbidden"
    assert "needs the write scope" in error["message"]
    assert reader.get("/api/v1/orders").get_json()["data"] == []  # nothing was made


def test_a_write_token_makes_orders_but_cannot_configure_channels(token_for):
    writer = token_for("write")

    assert writer.post("/api/v1/orders", json=ORDER).status_code == 201
    refused = writer.post("/api/v1/channels", json=CHANNEL)
    assert refused.status_code == 403
    assert "needs the admin scope" in refused.get_json()["error"]["message"]
    assert writer.delete("/api/v1/channels/1").status_code == 403
    assert writer.patch("/api/v1/channels/1", json={"name": "x"}).status_code == 403


def test_an_admin_token_configures_channels(token_for):
    admin = token_for("admin")

    created = admin.post("/api/v1/channels", json=CHANNEL)
    assert created.status_code == 201, created.get_json()
    renamed = admin.patch(created.headers["Location"], json={"name": "Shop EU"})
    assert renamed.status_code == 200, renamed.get_json()


def test_every_api_route_has_its_scope_in_the_table_and_none_is_stale(app):
    operations = {(method, template) for method, template, _ in api_operations(app)}
    listed = {
        (method, template) for template, methods in ROUTE_SCOPES.items() for method in methods
    }

    assert operations - listed == set(), "API routes without a scope: add them to ROUTE_SCOPES"
    assert listed - operations == set(), "ROUTE_SCOPES names routes that do not exist"


def test_no_api_route_needs_less_than_intended(app):
    for method, template, _ in api_operations(app):
        needed = required_scope(template, method)
        # Channel set-up (create, update, delete), tokens and settings are admin's; testing
        # or syncing a channel is everyday work.
        changes_a_channel = (
            template.startswith("/channels")
            and method != "GET"
            and not template.endswith(("/test", "/sync"))
        )
        configures = changes_a_channel or template.startswith(("/tokens", "/settings"))
        # A person's whole data in one file (GDPR export) is admin's, though only read.
        hands_over_a_person = template == "/customers/<customer_id>/export"
        if configures or hands_over_a_person:
            assert needed is Scope.ADMIN, (method, template)
        elif method != "GET":
            assert needed in (Scope.WRITE, Scope.ADMIN), (method, template)
        else:
            assert needed is Scope.READ, (method, template)


def test_every_route_refuses_a_token_below_its_scope_before_doing_anything(
    app, token_for, hub, make_order
):
    make_order(hub)
    below = {Scope.WRITE: token_for("read"), Scope.ADMIN: token_for("write")}
    reader = token_for("read")

    for method, template, path in api_operations(app):
        needed = required_scope(template, method)
        if needed in below:
            answer = below[needed].open(method, path, json={})
            assert answer.status_code == 403, (method, path)
            assert f"needs the {needed} scope" in answer.get_json()["error"]["message"]
        else:
            assert reader.open(method, path).status_code != 403, (method, path)


def test_the_openapi_document_names_each_operations_scope_and_its_403(token_for):
    spec = token_for("read").get("/api/v1/openapi.json").get_json()

    create_order = spec["paths"]["/api/v1/orders"]["post"]
    assert create_order["x-required-scope"] == "write"
    assert "403" in create_order["responses"]
    assert "`write` scope" in create_order["description"]
    assert spec["paths"]["/api/v1/channels"]["post"]["x-required-scope"] == "admin"
    assert spec["paths"]["/api/v1/orders"]["get"]["x-required-scope"] == "read"
    assert "403" not in spec["paths"]["/api/v1/orders"]["get"]["responses"]


def test_hub_token_create_takes_a_scope_and_defaults_to_write(cli, hub, client):
    made = cli("token", "create", "--name", "bi-tool", "--scope", "read")
    reader = ApiClient(client, made.output.strip().splitlines()[-1])
    assert reader.get("/api/v1/orders").status_code == 200
    assert reader.post("/api/v1/orders", json=ORDER).status_code == 403

    default = cli("token", "create", "--name", "storefront")
    writer = ApiClient(client, default.output.strip().splitlines()[-1])
    assert writer.post("/api/v1/orders", json=ORDER).status_code == 201
    assert writer.post("/api/v1/channels", json={}).status_code == 403

    listed = cli("token", "list").output
    assert re.search(r"bi-tool\s.*\bread\b", listed)
    assert re.search(r"storefront\s.*\bwrite\b", listed)


def test_hub_token_create_refuses_an_unknown_scope(cli):
    answer = cli("token", "create", "--name", "x", "--scope", "root")
    assert answer.exit_code == 2
    assert "read" in answer.output and "admin" in answer.output


def test_tokens_made_before_scopes_existed_keep_full_access(tmp_path):
    db = Database(f"sqlite:///{tmp_path / 'hub.db'}")
    migrate.upgrade(db, "0011")
    with db.engine.begin() as conn:
        conn.exec_driver_sql(
            "INSERT INTO api_tokens (name, token_hash, prefix, created_at) "
            "VALUES ('old-script', 'f00d', 'hub_abc', '2026-11-01 10:00:00')"
        )

    migrate.upgrade(db)

    with db.engine.connect() as conn:
        scope = conn.exec_driver_sql("SELECT scope FROM api_tokens").scalar()
    assert scope == "admin"
    db.dispose()
