"""POST /webhooks/<slug>: verify the raw body, store it once, answer at once."""

from __future__ import annotations

import io
import json

import pytest
from sqlalchemy import func, select

from hub.channels import create_channel
from hub.db import Database
from hub.models import Job, Order, WebhookEvent
from hub.testing import WebhookTestConnector, WebhookTestPlugin, truncate_all

SECRET = "whsec_test_0123456789"


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
def shop(hub):
    with hub.db.transaction() as session:
        return create_channel(hub, session, name="Test shop", connector="webhook_test",
                              config={"webhook_secret": SECRET}).slug


def body_for(event_id: str, external_id: str = "5001", **extra) -> bytes:
    payload = {"id": event_id, "topic": "orders/create",
               "order": {"external_id": external_id, "email": "ann@example.com", "price": "12.50"}}
    payload.update(extra)
    return json.dumps(payload).encode()


def post(client, slug: str, body: bytes, *, secret: str | None = SECRET, headers=None, **kwargs):
    headers = dict(headers or {})
    if secret is not None:
        headers[WebhookTestConnector.SIGNATURE_HEADER] = WebhookTestConnector.sign(secret, body)
    return client.post(f"/webhooks/{slug}", data=body, headers=headers,
                       content_type="application/json", **kwargs)


def count(hub, model, *where) -> int:
    with hub.db.read() as session:
        return session.scalar(select(func.count()).select_from(model).where(*where))


def test_signed_webhook_is_accepted_stored_and_processed_into_an_order(hub, client, shop, run_jobs):
    response = post(client, shop, body_for("evt-1"))

    assert response.status_code == 200
    assert response.get_json() == {"status": "accepted"}
    with hub.db.read() as session:
        event = session.scalars(select(WebhookEvent)).one()
        assert (event.event_id, event.topic, event.status) == ("evt-1", "orders/create", "received")
        assert session.scalars(select(Job.kind).where(Job.kind == "webhook.process")).all() == ["webhook.process"]
    run_jobs(hub)
    with hub.db.read() as session:
        assert session.scalars(select(WebhookEvent.status)).one() == "processed"
        order = session.scalars(select(Order)).one()
        assert (order.external_id, order.total) == ("5001", 1250)


def test_the_same_event_again_is_a_duplicate_and_adds_nothing(hub, client, shop, run_jobs):
    body = body_for("evt-2")
    first = post(client, shop, body)
    run_jobs(hub)
    second = post(client, shop, body)
    run_jobs(hub)

    assert first.get_json() == {"status": "accepted"}
    assert second.status_code == 200
    assert second.get_json() == {"status": "duplicate"}
    assert count(hub, WebhookEvent) == 1
    assert count(hub, Order) == 1
    assert count(hub, Job, Job.kind == "webhook.process") == 1


def test_raw_bytes_are_verified_and_stored_exactly_as_sent(hub, client, shop):
    # Odd spacing, key order and escapes: any parse-and-reserialise before verifying breaks this.
    body = b'{ "topic":"orders/create" ,\n  "id" : "evt-raw", "note": "caf\\u00e9 \xe2\x98\x95" }'

    response = post(client, shop, body)

    assert response.get_json() == {"status": "accepted"}
    with hub.db.read() as session:
        assert session.scalars(select(WebhookEvent.body)).one().encode() == body


@pytest.mark.parametrize("secret", [None, "not-the-secret"], ids=["missing", "wrong"])
def test_bad_or_missing_signature_is_refused_and_nothing_is_stored(hub, client, shop, secret, caplog):
    response = post(client, shop, body_for("evt-3"), secret=secret)

    assert response.status_code == 401
    assert response.get_json()["error"]["code"] == "bad_signature"
    assert count(hub, WebhookEvent) == 0
    assert count(hub, Job) == 0
    assert "refused" in caplog.text
    rejected = hub.metrics.registry.get_sample_value(
        "hub_webhooks_total", {"channel": shop, "outcome": "rejected"})
    assert rejected == 1


def test_signed_but_unreadable_body_is_a_400_and_nothing_is_stored(hub, client, shop):
    response = post(client, shop, b"this is not json")

    assert response.status_code == 400
    assert response.get_json()["error"]["code"] == "malformed"
    assert count(hub, WebhookEvent) == 0


def test_unknown_channel_is_404(hub, client, shop):
    response = post(client, "no-such-shop", body_for("evt-4"))

    assert response.status_code == 404
    assert response.get_json()["error"]["code"] == "not_found"


def test_disabled_channel_is_404_and_stores_nothing(hub, client, shop):
    with hub.db.transaction() as session:
        from hub.channels import get_channel

        get_channel(session, shop).enabled = False

    response = post(client, shop, body_for("evt-5"))

    assert response.status_code == 404
    assert count(hub, WebhookEvent) == 0


def test_channel_whose_connector_takes_no_webhooks_refuses_clearly(hub, client):
    response = post(client, "manual", body_for("evt-6"))

    assert response.status_code == 422
    assert "does not accept webhooks" in response.get_json()["error"]["message"]
    assert count(hub, WebhookEvent) == 0


def test_body_over_the_limit_is_413_before_anything_is_stored(hub, client, shop):
    client.application.config["WEBHOOK_MAX_BYTES"] = 1000
    small = body_for("evt-7", note="x" * 100)
    big = body_for("evt-8", note="x" * 2000)

    assert post(client, shop, small).status_code == 200
    response = post(client, shop, big)

    assert response.status_code == 413
    assert response.get_json()["error"]["details"] == {"max_bytes": 1000}
    assert count(hub, WebhookEvent) == 1


def test_chunked_body_without_length_is_cut_off_at_the_limit(hub, client, shop):
    client.application.config["WEBHOOK_MAX_BYTES"] = 1000
    big = body_for("evt-9", note="x" * 5000)
    stream = io.BytesIO(big)

    response = client.post(
        f"/webhooks/{shop}", input_stream=stream,
        headers={"Transfer-Encoding": "chunked",
                 WebhookTestConnector.SIGNATURE_HEADER: WebhookTestConnector.sign(SECRET, big)},
        environ_overrides={"wsgi.input_terminated": True})

    assert response.status_code == 413
    assert stream.tell() <= 1001 + 64 * 1024  # stopped reading soon after the limit
    assert count(hub, WebhookEvent) == 0


def test_default_limit_comes_from_the_hub_setting(make_hub):
    from hub.web import create_app

    hub = make_hub(plugins=[WebhookTestPlugin()], webhook_max_bytes=50)
    with hub.db.transaction() as session:
        create_channel(hub, session, name="Tiny", connector="webhook_test", config={"webhook_secret": SECRET})
    client = create_app({"HUB": hub, "TESTING": True}).test_client()

    assert post(client, "tiny", body_for("evt-10")).status_code == 413


def test_wrong_method_is_a_json_405(hub, client, shop):
    response = client.get(f"/webhooks/{shop}")

    assert response.status_code == 405
    assert response.get_json()["error"]["code"] == "method_not_allowed"
    assert "POST" in response.headers["Allow"]


def test_processing_failure_stays_on_the_event_visible_and_replayable(hub, client, shop, run_jobs):
    # A body the connector verifies but cannot turn into an order (quantity is not a number).
    body = body_for("evt-11", order={"external_id": "9", "quantity": "many"})
    assert post(client, shop, body).get_json() == {"status": "accepted"}

    run_jobs(hub)

    with hub.db.read() as session:
        event = session.scalars(select(WebhookEvent)).one()
        assert event.status == "failed"
        assert "ValueError" in event.error
    assert count(hub, Order) == 0
