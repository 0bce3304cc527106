"""/api/v1/jobs and /api/v1/webhook-events: see what failed, retry it, replay it."""

from __future__ import annotations

import json

import pytest
from sqlalchemy import select

from hub.channels.manage import create_channel
from hub.queue.jobs import dead_letter, enqueue
from hub.store.models import Job, Order, WebhookEvent
from hub.testing import WebhookTestConnector, WebhookTestPlugin

SECRET = "whsec_jobs"


@pytest.fixture
def hub(make_hub):
    return make_hub(plugins=[WebhookTestPlugin()])


@pytest.fixture
def shop(hub):
    with hub.db.transaction() as session:
        return create_channel(
            hub, session, name="Shop", connector="webhook_test", config={"webhook_secret": SECRET}
        ).slug


def deliver(client, slug, payload: dict):
    body = json.dumps(payload).encode()
    return client.post(
        f"/webhooks/{slug}",
        data=body,
        headers={WebhookTestConnector.SIGNATURE_HEADER: WebhookTestConnector.sign(SECRET, body)},
    )


def test_jobs_list_by_status_and_kind_with_pages(api, hub):
    with hub.db.transaction() as session:
        queued = [enqueue(session, "notify", {"n": i}) for i in range(3)]
        dead = dead_letter(session, "payment.capture", {"payment_id": 1}, error="card declined")

    dead_list = api.get("/api/v1/jobs?status=dead").get_json()
    notify = api.get("/api/v1/jobs?kind=notify&limit=2").get_json()
    rest = api.get(f"/api/v1/jobs?kind=notify&limit=2&cursor={notify['next_cursor']}").get_json()

    assert [(j["id"], j["kind"], j["last_error"]) for j in dead_list["data"]] == [
        (dead, "payment.capture", "card declined")
    ]
    assert [j["id"] for j in notify["data"] + rest["data"]] == queued[::-1]
    assert api.get(f"/api/v1/jobs/{dead}").get_json()["status"] == "dead"
    assert api.get("/api/v1/jobs?status=sleeping").status_code == 422


def test_retry_queues_a_dead_job_now_and_refuses_others(api, hub):
    with hub.db.transaction() as session:
        dead = dead_letter(session, "notify", {}, error="smtp down")
        queued = enqueue(session, "notify", {})

    retried = api.post(f"/api/v1/jobs/{dead}/retry")
    refused = api.post(f"/api/v1/jobs/{queued}/retry")

    assert retried.status_code == 200
    assert (retried.get_json()["status"], retried.get_json()["attempts"]) == ("queued", 0)
    assert refused.status_code == 409
    assert "only failed or dead jobs" in refused.get_json()["error"]["message"]
    assert api.post("/api/v1/jobs/31337/retry").status_code == 404


def test_inbox_lists_events_with_filters_and_shows_one_with_its_raw_body(
    api, client, hub, shop, run_jobs
):
    deliver(
        client,
        shop,
        {"id": "e1", "topic": "orders/create", "order": {"external_id": "1", "quantity": "many"}},
    )
    deliver(client, shop, {"id": "e2", "topic": "ping"})
    run_jobs(hub)

    failed = api.get(f"/api/v1/webhook-events?channel={shop}&status=failed").get_json()["data"]
    ignored = api.get("/api/v1/webhook-events?status=ignored").get_json()["data"]

    assert [(e["event_id"], e["topic"], e["channel"]) for e in failed] == [
        ("e1", "orders/create", shop)
    ]
    assert "ValueError" in failed[0]["error"]
    assert [e["event_id"] for e in ignored] == ["e2"]
    detail = api.get(f"/api/v1/webhook-events/{failed[0]['id']}").get_json()
    assert json.loads(detail["body"])["id"] == "e1"
    assert "Authorization" not in detail["headers"]
    assert api.get("/api/v1/webhook-events?channel=nope").status_code == 422
    assert api.get("/api/v1/webhook-events/999").status_code == 404


def test_replay_processes_a_failed_event_again(api, client, hub, shop, run_jobs):
    deliver(
        client,
        shop,
        {"id": "e3", "topic": "orders/create", "order": {"external_id": "7", "quantity": "many"}},
    )
    run_jobs(hub)
    with hub.db.transaction() as session:
        event = session.scalars(select(WebhookEvent)).one()
        # The cause is fixed (here: the stored payload is corrected by hand).
        event.body = json.dumps(
            {"id": "e3", "topic": "orders/create", "order": {"external_id": "7"}}
        )
        event_id = event.id

    response = api.post(f"/api/v1/webhook-events/{event_id}/replay")
    run_jobs(hub)

    assert response.status_code == 202
    assert response.get_json()["status"] == "queued"
    with hub.db.read() as session:
        assert session.get(Job, response.get_json()["job_id"]).status == "succeeded"
        assert session.get(WebhookEvent, event_id).status == "processed"
        assert session.scalars(select(Order.external_id)).all() == ["7"]
    assert api.post("/api/v1/webhook-events/999/replay").status_code == 404
