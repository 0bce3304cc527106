"""The app behind the production WSGI server (waitress), spoken to over real HTTP on loopback."""

from __future__ import annotations

import json
import threading

import pytest
import requests
from waitress import create_server

from hub.accounts.users import create_token
from hub.channels.manage import create_channel
from hub.testing import WebhookTestConnector, WebhookTestPlugin
from hub.web import create_app

SECRET = "whsec_e2e"


@pytest.fixture
def server(make_hub):
    hub = make_hub(plugins=[WebhookTestPlugin()])
    with hub.db.transaction() as session:
        create_channel(
            hub, session, name="Shop", connector="webhook_test", config={"webhook_secret": SECRET}
        )
        token = create_token(session, "e2e")[1]
    app = create_app({"HUB": hub, "WEBHOOK_MAX_BYTES": 4096})
    srv = create_server(app, host="127.0.0.1", port=0, threads=2)
    stop = threading.Event()

    def serve():
        # waitress' run() loop, in slices, so the test can stop it cleanly.
        while not stop.is_set():
            srv.asyncore.loop(timeout=0.05, map=srv._map, count=1)

    thread = threading.Thread(target=serve, daemon=True)
    thread.start()
    try:
        yield f"http://127.0.0.1:{srv.effective_port}", token, hub
    finally:
        stop.set()
        thread.join(timeout=5)
        srv.close()


def signed(body: bytes) -> dict[str, str]:
    return {
        WebhookTestConnector.SIGNATURE_HEADER: WebhookTestConnector.sign(SECRET, body),
        "Content-Type": "application/json",
    }


def test_webhook_then_api_over_http(server):
    base, token, _ = server
    body = json.dumps(
        {"id": "evt-http", "topic": "orders/create", "order": {"external_id": "h1"}}
    ).encode()

    first = requests.post(f"{base}/webhooks/shop", data=body, headers=signed(body), timeout=10)
    again = requests.post(f"{base}/webhooks/shop", data=body, headers=signed(body), timeout=10)
    events = requests.get(
        f"{base}/api/v1/webhook-events", timeout=10, headers={"Authorization": f"Bearer {token}"}
    )
    anonymous = requests.get(f"{base}/api/v1/webhook-events", timeout=10)

    assert (first.status_code, first.json()) == (200, {"status": "accepted"})
    assert again.json() == {"status": "duplicate"}
    assert [e["event_id"] for e in events.json()["data"]] == ["evt-http"]
    assert anonymous.status_code == 401


def test_oversized_webhooks_are_refused_with_or_without_a_length(server):
    base, _, _ = server
    big = json.dumps({"id": "evt-big", "pad": "x" * 10_000}).encode()

    declared = requests.post(f"{base}/webhooks/shop", data=big, headers=signed(big), timeout=10)
    chunked = requests.post(
        f"{base}/webhooks/shop",
        data=iter([big[:5000], big[5000:]]),
        headers=signed(big),
        timeout=10,
    )

    assert declared.status_code == 413
    assert chunked.status_code == 413
    assert chunked.json()["error"]["code"] == "too_large"


def test_a_small_chunked_webhook_is_read_whole(server):
    base, _, hub = server
    body = json.dumps({"id": "evt-chunked", "topic": "t"}).encode()

    response = requests.post(
        f"{base}/webhooks/shop", data=iter([body[:10], body[10:]]), headers=signed(body), timeout=10
    )

    assert response.json() == {"status": "accepted"}


def test_metrics_answer_loopback_over_http(server):
    base, _, _ = server

    response = requests.get(f"{base}/metrics", timeout=10)

    assert response.status_code == 200
    assert "hub_jobs_oldest_due_seconds" in response.text
