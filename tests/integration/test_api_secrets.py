"""A channel secret given to the API is never in the database file, the logs or an answer."""

from __future__ import annotations

import json
import logging

import pytest
from sqlalchemy import select

from hub.store.models import Channel
from hub.testing import WebhookTestConnector, WebhookTestPlugin

WEBHOOK_SECRET = "whsec_S3cr3t-Needle-7f2a9c"
API_KEY = "sk_live_Another-Needle-41d0"


@pytest.fixture
def hub(make_hub):
    return make_hub(plugins=[WebhookTestPlugin()])


def data_dir_bytes(hub) -> bytes:
    """Every file the hub keeps: the SQLite database, its WAL and shared memory, the key file."""
    files = sorted(p for p in hub.settings.data_dir.rglob("*") if p.is_file())
    assert any(p.name == "hub.db" for p in files)
    return b"".join(p.read_bytes() for p in files)


def test_channel_secrets_are_in_no_file_log_or_answer(api, client, hub, run_jobs, caplog):
    caplog.set_level(logging.DEBUG)  # every logger ...
    caplog.set_level(logging.DEBUG, logger="sqlalchemy.engine")  # ... SQL and its parameters too
    answers: list[str] = []

    def call(method, path, **kwargs):
        response = api.open(method, path, **kwargs)
        answers.append(response.get_data(as_text=True))
        return response

    created = call(
        "POST",
        "/api/v1/channels",
        json={
            "name": "Secret shop",
            "connector": "webhook_test",
            "config": {"webhook_secret": WEBHOOK_SECRET, "api_key": API_KEY},
        },
    )
    assert created.status_code == 201
    channel_id = created.get_json()["id"]
    call("GET", "/api/v1/channels")
    call("GET", f"/api/v1/channels/{channel_id}")
    call(
        "PATCH",
        f"/api/v1/channels/{channel_id}",
        json={"name": "Renamed", "config": {"webhook_secret": ""}},
    )
    call("POST", f"/api/v1/channels/{channel_id}/test")
    call("POST", f"/api/v1/channels/{channel_id}/sync")
    # A config error on a secret field must not echo the value either.
    call(
        "PATCH",
        f"/api/v1/channels/{channel_id}",
        json={"config": {"api_key": 12345, "fail_check": "no"}},
    )
    body = json.dumps(
        {"id": "evt-1", "topic": "orders/create", "order": {"external_id": "1"}}
    ).encode()
    hook = client.post(
        "/webhooks/secret-shop",
        data=body,
        headers={
            WebhookTestConnector.SIGNATURE_HEADER: WebhookTestConnector.sign(WEBHOOK_SECRET, body)
        },
    )
    run_jobs(hub)
    call("GET", "/api/v1/webhook-events")
    call("GET", "/api/v1/jobs")
    call("GET", "/api/v1/openapi.json")

    # The secrets are really stored and used: the webhook signed with one was accepted.
    assert hook.get_json() == {"status": "accepted"}
    with hub.db.read() as session:
        config = hub.channel_info(session.get(Channel, channel_id)).config
    assert (config["webhook_secret"], config["api_key"]) == (WEBHOOK_SECRET, API_KEY)
    assert "INSERT INTO channels" in caplog.text  # the SQL log was captured, parameters and all
    stored = data_dir_bytes(hub)
    for secret in (WEBHOOK_SECRET, API_KEY):
        assert secret.encode() not in stored
        assert secret not in caplog.text
        for answer in answers:
            assert secret not in answer


def test_the_api_token_is_stored_only_as_a_digest(api, api_token, hub, caplog):
    caplog.set_level(logging.DEBUG)
    caplog.set_level(logging.DEBUG, logger="sqlalchemy.engine")

    assert api.get("/api/v1/orders").status_code == 200

    assert api_token.encode() not in data_dir_bytes(hub)
    assert api_token not in caplog.text
    with hub.db.read() as session:
        channel = session.scalars(select(Channel)).first()
    assert channel is not None  # the database is the one that was searched
