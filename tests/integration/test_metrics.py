"""/metrics: Prometheus text with webhooks, jobs, orders and outbound requests; guarded."""

from __future__ import annotations

import json

import pytest
import responses
from prometheus_client.parser import text_string_to_metric_families

from hub import hookimpl
from hub.channels.manage import create_channel
from hub.integration.http import HttpClient
from hub.testing import WebhookTestConnector, WebhookTestPlugin

SECRET = "whsec_metrics"
REMOTE = {"REMOTE_ADDR": "203.0.113.9"}


@pytest.fixture
def hub(make_hub):
    return make_hub(plugins=[WebhookTestPlugin()])


def samples(response) -> dict[tuple[str, tuple], float]:
    assert response.status_code == 200, response.get_data(as_text=True)
    out = {}
    for family in text_string_to_metric_families(response.get_data(as_text=True)):
        for s in family.samples:
            out[(s.name, tuple(sorted(s.labels.items())))] = s.value
    return out


def deliver(client, slug, event_id, secret=SECRET):
    body = json.dumps(
        {"id": event_id, "topic": "orders/create", "order": {"external_id": event_id}}
    ).encode()
    return client.post(
        f"/webhooks/{slug}",
        data=body,
        headers={WebhookTestConnector.SIGNATURE_HEADER: WebhookTestConnector.sign(secret, body)},
    )


def test_metrics_count_webhooks_jobs_orders_and_outbound_requests(
    hub, client, make_order, run_jobs
):
    with hub.db.transaction() as session:
        channel = create_channel(
            hub, session, name="Shop", connector="webhook_test", config={"webhook_secret": SECRET}
        )
    make_order(hub)
    deliver(client, "shop", "e1")
    deliver(client, "shop", "e1")
    deliver(client, "shop", "e2", secret="wrong")
    run_jobs(hub)
    with hub.db.read() as session:
        connector = hub.connector_for(session.get(type(channel), channel.id))
    with responses.RequestsMock() as mock:
        mock.get("https://shop.test/ping", json={})
        connector.http_client("https://shop.test").get("/ping")

    got = samples(client.get("/metrics"))

    def value(name, **labels):
        return got.get((name, tuple(sorted(labels.items()))))

    assert value("hub_webhooks_total", channel="shop", outcome="accepted") == 1
    assert value("hub_webhooks_total", channel="shop", outcome="duplicate") == 1
    assert value("hub_webhooks_total", channel="shop", outcome="rejected") == 1
    assert value("hub_orders", channel="manual", status="confirmed") == 1
    assert value("hub_orders", channel="shop", status="confirmed") == 1
    assert value("hub_jobs", kind="webhook.process", status="succeeded") == 1
    assert value("hub_job_duration_seconds_count", kind="webhook.process") == 1
    assert value("hub_jobs_finished_total", kind="webhook.process", status="succeeded") == 1
    assert value("hub_external_request_seconds_count", connector="webhook_test", status="200") == 1
    assert value("hub_webhook_events", status="processed") == 1
    assert value("hub_jobs_oldest_due_seconds") == 0
    assert value("hub_database_up") == 1


class _PlainHttpConnector(WebhookTestConnector):
    """Makes its HttpClient itself, without passing the metrics (as most plugins do)."""

    name = "plain_http"

    def __init__(self, channel):
        super().__init__(channel)
        self.http = HttpClient("https://plain.test", connector=self.name)


class _PlainHttpPlugin:
    @hookimpl
    def hub_register_connectors(self):
        return [_PlainHttpConnector]


def test_every_http_client_a_connector_holds_is_timed(make_hub):
    hub = make_hub(plugins=[_PlainHttpPlugin()])
    with hub.db.transaction() as session:
        channel = create_channel(
            hub, session, name="Plain", connector="plain_http", config={"webhook_secret": SECRET}
        )
    with hub.db.read() as session:
        connector = hub.connector_for(session.get(type(channel), channel.id))
    with responses.RequestsMock() as mock:
        mock.get("https://plain.test/orders", status=503)
        mock.get("https://plain.test/orders", json={})
        connector.http.sleep = lambda seconds: None
        connector.http.get("/orders")

    sample = hub.metrics.registry.get_sample_value
    assert (
        sample("hub_external_request_seconds_count", {"connector": "plain_http", "status": "503"})
        == 1
    )
    assert (
        sample("hub_external_request_seconds_count", {"connector": "plain_http", "status": "200"})
        == 1
    )


def test_queued_work_shows_its_age(hub, client):
    from datetime import timedelta

    from hub.queue.jobs import enqueue
    from hub.store.models import utcnow

    with hub.db.transaction() as session:
        enqueue(session, "notify", {}, run_at=utcnow() - timedelta(minutes=5))

    got = samples(client.get("/metrics"))

    assert got[("hub_jobs", (("kind", "notify"), ("status", "queued")))] == 1
    assert got[("hub_jobs_oldest_due_seconds", ())] >= 300


def test_metrics_are_refused_to_a_remote_caller_without_a_token(client):
    response = client.get("/metrics", environ_base=REMOTE)

    assert response.status_code == 403
    assert response.get_json()["error"]["code"] == "forbidden"
    assert "HUB_METRICS_PUBLIC" in response.get_json()["error"]["message"]


def test_a_remote_caller_with_an_api_token_may_read_them(client, api_token):
    ok = client.get(
        "/metrics", environ_base=REMOTE, headers={"Authorization": f"Bearer {api_token}"}
    )
    bad = client.get("/metrics", environ_base=REMOTE, headers={"Authorization": "Bearer hub_wrong"})

    assert ok.status_code == 200
    assert bad.status_code == 401


@pytest.mark.parametrize("remote", ["127.0.0.1", "127.8.9.10", "::1"])
def test_loopback_may_read_them(client, remote):
    assert client.get("/metrics", environ_base={"REMOTE_ADDR": remote}).status_code == 200


def test_metrics_public_opens_them_to_anyone(make_hub, monkeypatch):
    from hub.web import create_app

    monkeypatch.setenv("HUB_METRICS_PUBLIC", "1")
    client = create_app({"HUB": make_hub(), "TESTING": True}).test_client()

    assert client.get("/metrics", environ_base=REMOTE).status_code == 200


def test_behind_a_proxy_the_clients_own_address_is_the_one_checked(make_hub):
    from hub.web import create_app

    client = create_app({"HUB": make_hub(proxy_hops=1), "TESTING": True}).test_client()
    proxy = {"REMOTE_ADDR": "127.0.0.1"}  # nginx on the same machine

    remote = client.get("/metrics", environ_base=proxy, headers={"X-Forwarded-For": "203.0.113.9"})
    local = client.get("/metrics", environ_base=proxy, headers={"X-Forwarded-For": "127.0.0.1"})

    assert remote.status_code == 403
    assert local.status_code == 200


def test_without_proxy_hops_a_client_cannot_claim_another_address(client):
    response = client.get("/metrics", environ_base=REMOTE, headers={"X-Forwarded-For": "127.0.0.1"})

    assert response.status_code == 403


@pytest.mark.parametrize("hops", ["-1", "two", "11"])
def test_a_wrong_proxy_hops_setting_is_refused_clearly(hops):
    from hub.store.config import Settings

    with pytest.raises(ValueError, match="HUB_PROXY_HOPS must be a whole number from 0 to 10"):
        Settings.from_env({"HUB_PROXY_HOPS": hops})
