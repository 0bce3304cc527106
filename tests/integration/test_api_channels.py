"""/api/v1/channels and /api/v1/connectors: CRUD, config validation, masked secrets, test, sync."""

from __future__ import annotations

import pytest
from marshmallow import Schema
from sqlalchemy import select

from hub import hookimpl
from hub.accounts.users import create_token
from hub.integration.connectors import NotificationConnector
from hub.integration.jobs import PeriodicJob
from hub.queue.jobs import Worker
from hub.store.models import Channel, Job, WebhookEvent
from hub.store.secrets import MASK
from hub.testing import WebhookTestPlugin

SECRET = "whsec_live_abcdef123456"


@pytest.fixture
def hub(make_hub):
    return make_hub(plugins=[WebhookTestPlugin()])


def create(api, **body):
    body.setdefault("name", "Test shop")
    body.setdefault("connector", "webhook_test")
    body.setdefault("config", {"webhook_secret": SECRET})
    return api.post("/api/v1/channels", json=body)


def test_create_answers_201_with_id_slug_webhook_url_and_masked_secrets(api):
    response = create(api, name="Main Store")

    assert response.status_code == 201
    data = response.get_json()
    assert data["slug"] == "main-store"
    assert data["webhook_url"] == "http://localhost/webhooks/main-store"
    assert data["config"] == {"webhook_secret": MASK, "api_key": "", "fail_check": False}
    assert data["roles"] == ["sales"]
    assert response.headers["Location"] == f"/api/v1/channels/{data['id']}"
    assert api.get(response.headers["Location"]).get_json()["name"] == "Main Store"


def test_webhook_url_uses_the_public_url_when_configured(api):
    api.client.application.config["PUBLIC_URL"] = "https://hub.example.com/"

    assert create(api).get_json()["webhook_url"] == "https://hub.example.com/webhooks/test-shop"


def test_config_errors_come_back_per_field_under_config(api, hub):
    response = create(api, config={"fail_check": "maybe"})

    assert response.status_code == 422
    error = response.get_json()["error"]
    assert error["code"] == "validation_error"
    assert set(error["details"]["config"]) == {"webhook_secret", "fail_check"}
    with hub.db.read() as session:
        assert session.scalars(select(Channel.slug)).all() == ["manual"]


@pytest.mark.parametrize(
    "body, field",
    [
        ({"name": ""}, "name"),
        ({"connector": "no-such"}, "connector"),
        ({"slug": "Bad Slug!"}, "slug"),
        ({"schedule_seconds": "often"}, "schedule_seconds"),
        ({"colour": "blue"}, "colour"),
        ({"payment_channel_id": 999}, "payment_channel_id"),
    ],
)
def test_bad_create_fields_are_422_naming_the_field(api, body, field):
    response = create(api, **body)

    assert response.status_code == 422
    assert field in response.get_json()["error"]["details"]


def test_taken_slug_is_422(api):
    create(api, slug="shop")

    response = create(api, name="Other shop", slug="shop")

    assert response.status_code == 422
    assert response.get_json()["error"]["details"] == {"slug": ["is taken"]}


def test_list_and_get_show_every_channel_masked(api):
    created = create(api).get_json()

    listed = api.get("/api/v1/channels").get_json()["data"]

    assert [c["slug"] for c in listed] == ["manual", "test-shop"]
    assert listed[1] == created


def test_patch_with_blank_or_masked_secret_keeps_the_stored_one(api, hub):
    channel_id = create(api).get_json()["id"]

    for kept in ("", MASK, None):
        response = api.patch(
            f"/api/v1/channels/{channel_id}",
            json={"name": "Renamed", "config": {"webhook_secret": kept}},
        )
        assert response.status_code == 200, response.get_json()
    response = api.patch(f"/api/v1/channels/{channel_id}", json={"config": {"api_key": "key-2"}})

    assert response.get_json()["name"] == "Renamed"
    assert response.get_json()["config"]["api_key"] == MASK
    with hub.db.read() as session:
        info = hub.channel_info(session.get(Channel, channel_id))
    assert info.config["webhook_secret"] == SECRET
    assert info.config["api_key"] == "key-2"


def test_patch_replaces_a_secret_and_validates_config(api, hub):
    channel_id = create(api).get_json()["id"]

    bad = api.patch(f"/api/v1/channels/{channel_id}", json={"config": {"fail_check": "perhaps"}})
    good = api.patch(
        f"/api/v1/channels/{channel_id}",
        json={"config": {"webhook_secret": "new-secret"}, "enabled": False},
    )

    assert bad.status_code == 422
    assert "fail_check" in bad.get_json()["error"]["details"]["config"]
    assert good.status_code == 200
    assert good.get_json()["enabled"] is False
    with hub.db.read() as session:
        assert (
            hub.channel_info(session.get(Channel, channel_id)).config["webhook_secret"]
            == "new-secret"
        )


def test_patch_links_a_payment_channel_only_of_the_payment_role(api):
    shop = create(api).get_json()["id"]
    other = create(api, name="Other shop").get_json()["id"]

    response = api.patch(f"/api/v1/channels/{shop}", json={"payment_channel_id": other})

    assert response.status_code == 422
    assert "not a payment channel" in response.get_json()["error"]["message"]


def test_delete_removes_an_unused_channel_and_its_inbox(api, hub, client):
    channel = create(api).get_json()
    from hub.testing import WebhookTestConnector

    body = b'{"id": "e1", "topic": "x"}'
    client.post(
        f"/webhooks/{channel['slug']}",
        data=body,
        headers={WebhookTestConnector.SIGNATURE_HEADER: WebhookTestConnector.sign(SECRET, body)},
    )

    Worker(hub).run_until_idle()  # its event is processed: no work left for the channel
    response = api.delete(f"/api/v1/channels/{channel['id']}")

    assert response.status_code == 204
    assert api.get(f"/api/v1/channels/{channel['id']}").status_code == 404
    with hub.db.read() as session:
        assert session.scalars(select(WebhookEvent)).all() == []


def test_a_channel_with_work_pending_is_disabled_and_drained_not_deleted_under_it(
    api, hub, run_jobs
):
    from hub.queue.scheduler import fire

    channel = create(api).get_json()
    sync = api.post(f"/api/v1/channels/{channel['id']}/sync")
    assert sync.status_code == 202

    busy = api.delete(f"/api/v1/channels/{channel['id']}")

    assert busy.status_code == 409
    error = busy.get_json()["error"]
    assert error["details"] == {"jobs": 1, "enabled": False}
    assert "delete it again once they are done" in error["message"]
    assert api.get(f"/api/v1/channels/{channel['id']}").get_json()["enabled"] is False
    # The scheduler starts nothing new for it, and what was queued runs to its end.
    assert (
        fire(hub, PeriodicJob(kind="sales.pull", every_seconds=60, channel_id=channel["id"]))
        is None
    )
    run_jobs(hub)
    with hub.db.read() as session:
        statuses = {
            job.status
            for job in session.scalars(select(Job).where(Job.channel_id == channel["id"]))
        }
    assert statuses and statuses <= {"succeeded", "dead"}
    assert api.delete(f"/api/v1/channels/{channel['id']}").status_code == 204
    # A schedule read before the deletion enqueues nothing for the channel that is gone.
    assert (
        fire(hub, PeriodicJob(kind="sales.pull", every_seconds=60, channel_id=channel["id"]))
        is None
    )


def test_delete_is_refused_while_orders_belong_to_the_channel(api, make_order, hub):
    make_order(hub)
    manual_id = api.get("/api/v1/channels").get_json()["data"][0]["id"]
    shop = create(api).get_json()["id"]
    with hub.db.transaction() as session:
        from hub.orders import intake
        from hub.testing import order_data

        intake.upsert_order(
            session, session.get(Channel, shop), order_data(external_id="X1"), actor="test"
        )

    response = api.delete(f"/api/v1/channels/{shop}")
    manual = api.delete(f"/api/v1/channels/{manual_id}")

    assert response.status_code == 409
    error = response.get_json()["error"]
    assert error["code"] == "conflict"
    assert "1 order(s) belong to it; disable it instead" in error["message"]
    assert manual.status_code == 409


def test_connection_check_success_and_failure(api):
    ok = create(api).get_json()["id"]
    failing = create(
        api, name="Broken", config={"webhook_secret": "s", "fail_check": True}
    ).get_json()["id"]

    good = api.post(f"/api/v1/channels/{ok}/test")
    bad = api.post(f"/api/v1/channels/{failing}/test")

    assert good.status_code == 200
    assert good.get_json() == {"ok": True, "message": "connected to the test shop"}
    assert bad.status_code == 502
    assert bad.get_json()["error"]["code"] == "external_error"
    assert "invalid API key" in bad.get_json()["error"]["message"]


class _Silent(NotificationConnector):
    """A connector with no connection check and nothing to sync."""

    name = "silent"
    config_schema = Schema


class _SilentPlugin:
    @hookimpl
    def hub_register_connectors(self):
        return [_Silent]


def test_connector_without_a_connection_check_is_422_with_its_reason(make_hub):
    from hub.testing import ApiClient
    from hub.web import create_app

    hub = make_hub(plugins=[_SilentPlugin()])
    with hub.db.transaction() as session:
        token = create_token(session, "t", scope="admin")[1]
    api = ApiClient(create_app({"HUB": hub, "TESTING": True}).test_client(), token)
    channel_id = create(api, connector="silent", config={}).get_json()["id"]

    response = api.post(f"/api/v1/channels/{channel_id}/test")

    assert response.status_code == 422
    assert response.get_json()["error"] == {
        "code": "config_error",
        "message": "the silent connector has no connection check",
        "details": {},
    }


def test_sync_queues_one_pull_and_reuses_it_while_queued(api, hub, run_jobs):
    channel_id = create(api).get_json()["id"]

    first = api.post(f"/api/v1/channels/{channel_id}/sync")
    second = api.post(f"/api/v1/channels/{channel_id}/sync")

    assert first.status_code == 202
    assert first.get_json()["status"] == "queued"
    assert first.get_json()["job_ids"] == second.get_json()["job_ids"]
    with hub.db.read() as session:
        assert session.scalars(select(Job.kind).where(Job.channel_id == channel_id)).all() == [
            "channel.pull"
        ]
    run_jobs(hub)
    with hub.db.read() as session:
        channel = session.get(Channel, channel_id)
        assert channel.last_sync_at is not None
        assert channel.state["cursor"] == {"pulled": True}


def test_sync_of_a_disabled_channel_is_409_and_of_a_connector_that_never_pulls_422(api):
    channel_id = create(api, enabled=False).get_json()["id"]
    manual_id = api.get("/api/v1/channels").get_json()["data"][0]["id"]

    disabled = api.post(f"/api/v1/channels/{channel_id}/sync")
    manual = api.post(f"/api/v1/channels/{manual_id}/sync")

    assert disabled.status_code == 409
    assert "disabled" in disabled.get_json()["error"]["message"]
    assert manual.status_code == 422


def test_unknown_channel_ids_are_404_everywhere(api):
    for method, path in [
        ("GET", "/api/v1/channels/999"),
        ("PATCH", "/api/v1/channels/999"),
        ("DELETE", "/api/v1/channels/999"),
        ("POST", "/api/v1/channels/999/test"),
        ("POST", "/api/v1/channels/999/sync"),
        ("GET", "/api/v1/channels/0"),
        ("GET", "/api/v1/channels/99999999999999999999"),
    ]:
        response = api.open(method, path, json={} if method == "PATCH" else None)
        assert response.status_code == 404, (method, path)
        assert response.get_json()["error"]["code"] == "not_found"


def test_connectors_lists_config_fields_with_secret_flags(api):
    data = api.get("/api/v1/connectors").get_json()["data"]

    test = next(c for c in data if c["name"] == "webhook_test")
    fields = {f["name"]: f for f in test["config_fields"]}
    assert fields["webhook_secret"]["secret"] is True
    assert fields["webhook_secret"]["required"] is True
    assert fields["fail_check"]["type"] == "boolean"
    manual = next(c for c in data if c["name"] == "manual")
    assert "USD" in manual["config_fields"][0]["choices"]
