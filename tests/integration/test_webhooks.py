"""POST /webhooks/<slug>: verify the raw body, store it once, answer at once."""

from __future__ import annotations

import io
import json
import threading
import time
from collections import Counter

import pytest
from sqlalchemy import func, select, text

from hub.channels import inbox
from hub.channels.manage import create_channel, get_channel, update_config
from hub.core.exceptions import NotFound, SignatureError
from hub.queue.jobs import job_row
from hub.runtime.hub import Hub
from hub.store.db import Database
from hub.store.models import Channel, Job, Order, WebhookEvent, utcnow
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
        return create_channel(
            hub,
            session,
            name="Test shop",
            connector="webhook_test",
            config={"webhook_secret": SECRET},
        ).slug


def body_for(event_id: str, external_id: str = "5001", **extra) -> bytes:
    payload = {
        "id": event_id,
        "topic": "orders/create",
        "order": {"external_id": external_id, "email": "ann@example.com", "price": "12.50"},
    }
    payload.update(extra)
    return json.dumps(payload).encode()


def post(client, slug: str, body: bytes, *, secret: str | None = SECRET, headers=None, **kwargs):
    headers = dict(headers or {})
    if secret is not None:
        headers[WebhookTestConnector.SIGNATURE_HEADER] = WebhookTestConnector.sign(secret, body)
    return client.post(
        f"/webhooks/{slug}", data=body, headers=headers, content_type="application/json", **kwargs
    )


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
        assert session.scalars(select(Job.kind).where(Job.kind == "webhook.process")).all() == [
            "webhook.process"
        ]
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
def test_bad_or_missing_signature_is_refused_and_nothing_is_stored(
    hub, client, shop, secret, caplog
):
    response = post(client, shop, body_for("evt-3"), secret=secret)

    assert response.status_code == 401
    assert response.get_json()["error"]["code"] == "bad_signature"
    assert count(hub, WebhookEvent) == 0
    assert count(hub, Job) == 0
    assert "refused" in caplog.text
    rejected = hub.metrics.registry.get_sample_value(
        "hub_webhooks_total", {"channel": shop, "outcome": "rejected"}
    )
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
        f"/webhooks/{shop}",
        input_stream=stream,
        headers={
            "Transfer-Encoding": "chunked",
            WebhookTestConnector.SIGNATURE_HEADER: WebhookTestConnector.sign(SECRET, big),
        },
        environ_overrides={"wsgi.input_terminated": True},
    )

    assert response.status_code == 413
    assert stream.tell() <= 1001 + 64 * 1024  # stopped reading soon after the limit
    assert count(hub, WebhookEvent) == 0


def test_default_limit_comes_from_the_hub_setting(make_hub):
    from hub.web import create_app

    hub = make_hub(plugins=[WebhookTestPlugin()], webhook_max_bytes=50)
    with hub.db.transaction() as session:
        create_channel(
            hub, session, name="Tiny", connector="webhook_test", config={"webhook_secret": SECRET}
        )
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


# --- many senders at once, channels changed elsewhere ----------------------------------------------
# Deliveries that arrive together are stored together (group commit): each is
# answered only once its event is committed, a duplicate among them is still a
# duplicate, and one that cannot be stored fails alone. Ingest keeps what it read
# of a channel for ``channel_cache_seconds``; a change made in this process, or a
# secret changed anywhere, applies to the very next delivery.


def deliver(hub, slug: str, event_id: str, secret: str = SECRET) -> str:
    body = body_for(event_id)
    headers = {WebhookTestConnector.SIGNATURE_HEADER: WebhookTestConnector.sign(secret, body)}
    return inbox.receive(hub, slug, headers, body, {}).status


@pytest.fixture
def elsewhere(hub):
    """The same hub as another process sees it: its own engine, its own caches."""
    other = Hub(hub.settings, pm=hub.pm)
    yield other
    other.close()


def test_forty_senders_at_once_each_event_stored_once_with_one_job(hub, shop):
    # 40 threads, 25 distinct events, each sent by one or two of them at the same moment.
    event_ids = [f"evt-{n % 25}" for n in range(40)]
    answers: dict[str, list[str]] = {e: [] for e in event_ids}
    errors: list[BaseException] = []
    start = threading.Barrier(len(event_ids))

    def send(event_id):
        start.wait()
        try:
            answers[event_id].append(deliver(hub, shop, event_id))
        except BaseException as exc:  # noqa: BLE001 - reported below
            errors.append(exc)

    threads = [threading.Thread(target=send, args=(e,)) for e in event_ids]
    for t in threads:
        t.start()
    for t in threads:
        t.join()

    assert errors == []
    for event_id, said in answers.items():
        expected = Counter({"accepted": 1, "duplicate": event_ids.count(event_id) - 1})
        assert Counter(said) == +expected, event_id
    assert count(hub, WebhookEvent) == 25
    with hub.db.read() as session:
        jobs = session.scalars(select(Job.payload).where(Job.kind == "webhook.process")).all()
        events = session.scalars(select(WebhookEvent.id)).all()
    assert sorted(j["webhook_event_id"] for j in jobs) == sorted(events)


def store_in_one_batch(hub, rows: dict[str, dict]) -> dict[str, object]:
    """Store ``rows`` from one thread each, all of them in the same batch; each one's outcome."""
    writer = inbox.GroupCommit(hub.db)
    outcomes: dict[str, object] = {}

    def store(name, row):
        try:
            outcomes[name] = writer.store(row)
        except Exception as exc:  # noqa: BLE001 - the outcome under test
            outcomes[name] = exc

    # Hold writes: a first delivery takes the writer's place and waits there,
    # and the others queue up behind it to go in one batch after it.
    release = hold_writes(hub)
    threads = [threading.Thread(target=store, args=("first", event_row(hub, "e-first")))]
    threads[0].start()
    while not writer._writing:
        time.sleep(0.001)
    for name, row in rows.items():
        threads.append(threading.Thread(target=store, args=(name, row)))
        threads[-1].start()
    deadline = time.monotonic() + 10
    while len(writer._waiting) < len(rows) and time.monotonic() < deadline:
        time.sleep(0.01)
    assert len(writer._waiting) == len(rows)
    release()
    for t in threads:
        t.join(10)
    assert isinstance(outcomes.pop("first"), int)
    return outcomes


def hold_writes(hub):
    """Make the next write to the inbox wait until the returned function is called."""
    if hub.db.is_sqlite:  # this process's write turn
        hub.db._write_lock.acquire()
        return hub.db._write_lock.release
    # PostgreSQL: a lock on the events table that no insert can pass
    conn = hub.db.engine.connect()
    conn.execute(text("LOCK TABLE webhook_events IN SHARE ROW EXCLUSIVE MODE"))

    def release():
        conn.rollback()
        conn.close()

    return release


def event_row(hub, event_id, channel_id=None):
    if channel_id is None:
        with hub.db.read() as session:
            channel_id = session.scalar(
                select(func.min(Channel.id)).where(Channel.connector == "webhook_test")
            )
    return {
        "channel_id": channel_id,
        "event_id": event_id,
        "topic": "orders/create",
        "headers": {},
        "body": "{}",
        "status": "received",
        "attempts": 0,
        "received_at": utcnow(),
    }


def test_in_one_batch_a_delivery_that_cannot_be_stored_fails_alone(hub, shop):
    outcomes = store_in_one_batch(
        hub,
        {
            "ok-1": event_row(hub, "e-1"),
            "bad": event_row(hub, "e-2", channel_id=999_999),
            "ok-2": event_row(hub, "e-3"),
        },
    )

    assert isinstance(outcomes["bad"], Exception)
    assert isinstance(outcomes["ok-1"], int) and isinstance(outcomes["ok-2"], int)
    with hub.db.read() as session:
        assert sorted(session.scalars(select(WebhookEvent.event_id))) == ["e-1", "e-3", "e-first"]
        assert session.scalar(select(func.count()).select_from(Job)) == 3


def test_in_one_batch_a_second_copy_of_an_event_is_a_duplicate(hub, shop):
    outcomes = store_in_one_batch(
        hub,
        {
            "copy-1": event_row(hub, "e-1"),
            "other": event_row(hub, "e-2"),
            "copy-2": event_row(hub, "e-1"),
        },
    )

    assert [v is None for v in outcomes.values()].count(True) == 1
    assert count(hub, WebhookEvent) == 3
    with hub.db.read() as session:
        events = session.scalars(select(WebhookEvent)).all()
        jobs = session.scalars(select(Job).order_by(Job.id)).all()
    # One job per event, just as enqueue() would have made it.
    expected = [
        job_row(
            "webhook.process",
            {"webhook_event_id": e.id},
            channel_id=e.channel_id,
            dedupe_key=f"webhook.process:{e.id}",
        )
        for e in events
    ]
    keys = (
        "kind",
        "payload",
        "channel_id",
        "order_id",
        "dedupe_key",
        "status",
        "attempts",
        "max_attempts",
    )
    assert sorted(
        [{k: getattr(j, k) for k in keys} for j in jobs], key=lambda j: j["dedupe_key"]
    ) == sorted([{k: e[k] for k in keys} for e in expected], key=lambda j: j["dedupe_key"])
    assert all(j.run_at <= utcnow() and j.created_at == j.run_at for j in jobs)


def test_a_channel_disabled_here_refuses_the_very_next_delivery(hub, client, shop):
    assert post(client, shop, body_for("evt-1")).status_code == 200  # the channel is read and kept

    with hub.db.transaction() as session:
        get_channel(session, shop).enabled = False

    assert post(client, shop, body_for("evt-2")).status_code == 404
    assert count(hub, WebhookEvent) == 1


def test_a_secret_changed_in_another_process_applies_to_the_next_delivery(hub, shop, elsewhere):
    assert deliver(hub, shop, "evt-1") == "accepted"  # the old secret is read and kept

    with elsewhere.db.transaction() as session:
        update_config(
            elsewhere, session, get_channel(session, shop), {"webhook_secret": "whsec_rotated_987"}
        )

    assert deliver(hub, shop, "evt-2", secret="whsec_rotated_987") == "accepted"
    with pytest.raises(SignatureError):
        deliver(hub, shop, "evt-3", secret=SECRET)
    assert count(hub, WebhookEvent) == 2


def test_a_channel_disabled_in_another_process_refuses_deliveries_within_the_cache_time(make_hub):
    hub = make_hub(plugins=[WebhookTestPlugin()], channel_cache_seconds=0.3)
    with hub.db.transaction() as session:
        slug = create_channel(
            hub, session, name="Shop", connector="webhook_test", config={"webhook_secret": SECRET}
        ).slug
    other = Hub(hub.settings, pm=hub.pm)
    try:
        assert deliver(hub, slug, "evt-1") == "accepted"
        with other.db.transaction() as session:
            get_channel(session, slug).enabled = False
        time.sleep(0.35)
        with pytest.raises(NotFound):
            deliver(hub, slug, "evt-2")
    finally:
        other.close()


def test_the_flask_view_and_the_ingress_below_flask_answer_alike(hub, shop):
    """Deliveries are answered by ``Ingress`` before Flask; the route's own view gives the same answers."""
    from hub.web import create_app

    def answers(app, prefix: str) -> list:
        client = app.test_client()
        big = body_for(f"{prefix}-big", note="x" * 6_000_000)
        return [
            (r.status_code, r.get_json(), r.headers.get("Content-Type"))
            for r in (
                post(client, shop, body_for(f"{prefix}-1")),
                post(client, shop, body_for(f"{prefix}-1")),
                post(client, shop, body_for(f"{prefix}-2"), secret="wrong-secret"),
                post(client, shop, b"{not json"),
                post(client, "no-such-shop", body_for(f"{prefix}-3")),
                post(client, shop, big),
                client.get(f"/webhooks/{shop}"),
            )
        ]

    below = create_app({"HUB": hub})
    plain = create_app({"HUB": hub})
    assert type(below.wsgi_app).__name__ == "Ingress"
    plain.wsgi_app = plain.wsgi_app.wsgi_app  # the Flask app alone
    seen = answers(below, "below")
    assert seen == answers(plain, "plain")
    assert [status for status, _, _ in seen] == [200, 200, 401, 400, 404, 413, 405]
    assert [body.get("status") for _, body, _ in seen[:2]] == ["accepted", "duplicate"]
    assert count(hub, WebhookEvent) == 2
