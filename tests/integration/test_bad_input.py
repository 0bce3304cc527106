"""Bad input at the boundary (issue 17): refused with a clear 4xx naming what is wrong, nothing stored.

Money that cannot be right (negative totals, floats, a discount larger than
what it discounts) from every entry point: the API, the CLI, a connector's
page through the port. JSON nested too deep, bodies that are not JSON, booleans
that are not booleans, webhook event ids longer than their column.
"""

from __future__ import annotations

import json

import pytest
from sqlalchemy import func, select

from hub.channels.manage import create_channel
from hub.channels.port import ChannelPort
from hub.notifications import outbox
from hub.store.db import Database
from hub.store.models import Job, Order, WebhookEvent
from hub.testing import (
    MANUAL_ORDER,
    WebhookTestConnector,
    WebhookTestPlugin,
    order_data,
    truncate_all,
)
from hub.web.json_body import MAX_JSON_DEPTH

SECRET = "whsec_bad_input"


@pytest.fixture(params=["sqlite", "postgresql"])
def hub(request, make_hub):
    """A hub with the signing test connector, on each database."""
    if request.param == "sqlite":
        return make_hub(plugins=[WebhookTestPlugin()])
    url = request.getfixturevalue("pg_url")
    db = Database(url)
    truncate_all(db)
    db.dispose()
    return make_hub(plugins=[WebhookTestPlugin()], database_url=url)


@pytest.fixture
def shop(hub) -> tuple[int, str]:
    with hub.db.transaction() as session:
        channel = create_channel(
            hub, session, name="Shop", connector="webhook_test", config={"webhook_secret": SECRET}
        )
        return channel.id, channel.slug


def count(hub, model, *where) -> int:
    with hub.db.read() as session:
        return session.scalar(select(func.count()).select_from(model).where(*where))


def manual_order(**overrides):
    return {**json.loads(json.dumps(MANUAL_ORDER)), **overrides}


def nested(depth: int) -> str:
    """A JSON value that is ``depth`` arrays deep."""
    return "[" * depth + "]" * depth


# --- money that cannot be right -----------------------------------------------------------------


def test_api_refuses_a_discount_larger_than_the_order_and_stores_nothing(api, hub):
    body = manual_order(
        lines=[{"sku": "MUG", "quantity": 1, "unit_price": "1.00"}],
        shipping="0",
        discount="500.00",
    )

    response = api.post("/api/v1/orders", json=body)

    assert response.status_code == 422
    error = response.get_json()["error"]
    assert error["code"] == "validation_error"
    assert "discount" in error["details"]
    assert count(hub, Order) == 0
    assert api.get("/api/v1/orders").status_code == 200


def test_api_refuses_a_line_discount_larger_than_the_line(api, hub):
    body = manual_order(
        lines=[{"sku": "MUG", "quantity": 2, "unit_price": "1.00", "discount": "2.01"}]
    )

    response = api.post("/api/v1/orders", json=body)

    assert response.status_code == 422
    assert "lines.0.discount" in response.get_json()["error"]["details"]
    assert count(hub, Order) == 0


def test_api_accepts_an_order_discounted_to_zero(api):
    body = manual_order(
        lines=[{"sku": "MUG", "quantity": 1, "unit_price": "10.00"}],
        shipping="5.00",
        discount="15.00",
    )

    response = api.post("/api/v1/orders", json=body)

    assert response.status_code == 201, response.get_json()
    assert response.get_json()["total"] == "0.00"


def test_cli_refuses_a_negative_order_naming_the_field(cli, hub):
    body = manual_order(
        lines=[{"sku": "MUG", "quantity": 1, "unit_price": "1.00"}], discount="500.00"
    )

    result = cli("orders", "create", input=json.dumps(body))

    assert result.exit_code == 1
    assert "discount" in result.output
    assert count(hub, Order) == 0


@pytest.mark.parametrize("bulk", [True, False], ids=["page-insert", "one-by-one"])
def test_a_connectors_order_with_money_that_cannot_be_right_is_dead_lettered_naming_the_field(
    hub, shop, api, bulk
):
    channel_id, _ = shop
    port = ChannelPort(hub, channel_id)
    port.bulk_create = bulk
    good = order_data(external_id="GOOD")
    floats = order_data(external_id="FLOAT", shipping=4.99)
    negative = order_data(external_id="NEGATIVE", shipping=0, discount=50_000)

    stored = port.upsert_orders([floats, good, negative], cursor={"page": 1})

    assert len(stored) == 1
    with hub.db.read() as session:
        assert session.scalars(select(Order.external_id)).all() == ["GOOD"]
        dead = {
            job.payload["external_id"]: job.last_error
            for job in session.scalars(select(Job).where(Job.kind == "channel.order_rejected"))
        }
    assert set(dead) == {"FLOAT", "NEGATIVE"}
    assert "shipping" in dead["FLOAT"]
    assert "discount" in dead["NEGATIVE"]
    assert api.get("/api/v1/orders").status_code == 200


# --- JSON nested too deep ---------------------------------------------------------------------------


def signed_post(client, slug: str, body: bytes, **headers):
    headers[WebhookTestConnector.SIGNATURE_HEADER] = WebhookTestConnector.sign(SECRET, body)
    return client.post(
        f"/webhooks/{slug}", data=body, headers=headers, content_type="application/json"
    )


@pytest.mark.parametrize("depth", [MAX_JSON_DEPTH, 100_000])
def test_a_webhook_nested_deeper_than_the_limit_is_400_and_nothing_is_stored(
    hub, client, shop, depth
):
    _, slug = shop
    body = f'{{"id": "evt-deep", "topic": "orders/create", "extra": {nested(depth)}}}'.encode()

    response = signed_post(client, slug, body)

    assert response.status_code == 400
    error = response.get_json()["error"]
    assert error["code"] == "invalid_json"
    assert str(MAX_JSON_DEPTH) in error["message"]
    assert count(hub, WebhookEvent) == 0
    assert count(hub, Job) == 0


def test_a_webhook_nested_up_to_the_limit_is_accepted(hub, client, shop):
    _, slug = shop
    body = f'{{"id": "evt-ok", "topic": "x", "extra": {nested(MAX_JSON_DEPTH - 1)}}}'.encode()

    response = signed_post(client, slug, body)

    assert response.status_code == 200, response.get_json()
    assert count(hub, WebhookEvent) == 1


@pytest.mark.parametrize("path", ["/api/v1/orders", "/api/v1/stock"])
@pytest.mark.parametrize("depth", [MAX_JSON_DEPTH + 1, 100_000])
def test_an_api_body_nested_deeper_than_the_limit_is_400(api, hub, path, depth):
    body = f'{{"notes": {nested(depth)}, "levels": {nested(depth)}}}'

    response = api.post(path, data=body, content_type="application/json")

    assert response.status_code == 400
    assert response.get_json()["error"]["code"] == "invalid_json"
    assert count(hub, Order) == 0


# --- what the API takes: media type, booleans, and what it says it answers ----------------------------


@pytest.mark.parametrize("content_type", ["text/plain", "application/x-www-form-urlencoded", None])
def test_json_sent_as_another_media_type_is_415_and_nothing_is_stored(api, hub, content_type):
    headers = {"Content-Type": content_type} if content_type else {}

    response = api.post("/api/v1/orders", data=json.dumps(manual_order()), headers=headers)

    assert response.status_code == 415
    assert response.get_json()["error"]["code"] == "unsupported_media_type"
    assert count(hub, Order) == 0


def test_json_with_a_charset_is_json(api):
    response = api.post(
        "/api/v1/orders",
        data=json.dumps(manual_order()),
        content_type="application/json; charset=utf-8",
    )

    assert response.status_code == 201


@pytest.mark.parametrize(
    "path, body, field",
    [
        ("/api/v1/orders", manual_order(taxes_included=0), "taxes_included"),
        ("/api/v1/orders", manual_order(taxes_included="false"), "taxes_included"),
        (
            "/api/v1/orders",
            manual_order(
                lines=[{"sku": "MUG", "quantity": 1, "unit_price": "1.00", "requires_shipping": 1}]
            ),
            "lines",
        ),
        ("/api/v1/locations", {"code": "MAIN", "active": 0}, "active"),
        (
            "/api/v1/channels",
            {
                "name": "S",
                "connector": "webhook_test",
                "config": {"webhook_secret": "s"},
                "enabled": "yes",
            },
            "enabled",
        ),
    ],
)
def test_a_boolean_is_true_or_false_and_nothing_else(api, hub, path, body, field):
    response = api.post(path, json=body)

    assert response.status_code == 422
    assert field in response.get_json()["error"]["details"]
    assert count(hub, Order) == 0


def test_a_delivery_in_progress_is_listed_with_an_outcome_the_document_names(api, hub, shop):
    channel_id, _ = shop
    with hub.db.transaction() as session:
        outbox.begin_attempt(
            session, "notify:1:1", channel_id=channel_id, order_id=None, event_id=1
        )

    listed = api.get("/api/v1/deliveries?outcome=sending")
    document = api.get("/api/v1/openapi.json").get_json()

    assert listed.status_code == 200, listed.get_json()
    assert [d["outcome"] for d in listed.get_json()["data"]] == ["sending"]
    outcome = document["components"]["schemas"]["Delivery"]["properties"]["outcome"]
    assert "sending" in outcome["enum"]


# --- webhook event ids -----------------------------------------------------------------------------------


def test_a_webhook_event_id_longer_than_the_inbox_keeps_is_refused_and_nothing_stored(
    hub, client, shop
):
    _, slug = shop
    body = json.dumps({"id": "e" * 201, "topic": "orders/create"}).encode()

    response = signed_post(client, slug, body)

    assert response.status_code == 400
    error = response.get_json()["error"]
    assert error["code"] == "malformed"
    assert "200" in error["message"]
    assert count(hub, WebhookEvent) == 0
    assert count(hub, Job) == 0
