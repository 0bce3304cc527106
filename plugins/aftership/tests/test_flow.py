"""The carrier's word, end to end over loopback HTTP: the hub registers each shipment at the
AfterShip sandbox, the sandbox's carriers scan parcels and post signed webhooks to the hub's
web app, and the order moves: delivered, completed days later; a problem flags it and emails
the customer once (a real SMTP server counts)."""

from __future__ import annotations

import json
from datetime import timedelta

import pytest
from sqlalchemy import func, select, update

from hub.core.order import ShipmentData
from hub.orders import shipments, transitions
from hub.queue.jobs import enqueue
from hub.queue.kinds import JobKind
from hub.store.models import (
    Channel,
    Job,
    OrderAuditEvent,
    ShipmentTracking,
    ShipmentTrackingEvent,
    WebhookEvent,
    utcnow,
)
from plugins.aftership.sandbox import AfterShipSandbox
from plugins.email.tests.conftest import SmtpServer

API_KEY = "as-test-key-0001"
SECRET = "as-webhook-secret-0001"


@pytest.fixture
def hub(any_hub):
    """Every test here on SQLite and on PostgreSQL (row locks, the inbox's unique keys)."""
    return any_hub


@pytest.fixture
def admin_client(harness, hub):
    """A test client signed in as an admin (as the sign-in page does it, without the password)."""
    from flask import session as flask_session

    from hub.store.models import User
    from hub.web.admin import sign_in as sign_in_session

    client = harness.app.test_client()
    with hub.db.transaction() as db:
        user = User(email="admin@example.com", password_hash="-")
        db.add(user)
        db.flush()
        with harness.app.test_request_context():
            sign_in_session(db, user)
            values = dict(flask_session)
    with client.session_transaction() as session:
        session.update(values)
    return client


@pytest.fixture
def carrier(harness):
    """The AfterShip sandbox, a channel of it, and the hub's web app on loopback HTTP."""
    sandbox = AfterShipSandbox(api_key=API_KEY, webhook_secret=SECRET)
    base_url = harness.serve(sandbox)
    hub_url = harness.serve(harness.app)
    channel = harness.add_channel(
        "aftership",
        {"api_key": API_KEY, "webhook_secret": SECRET, "api_base_url": base_url},
        slug="aftership",
    )
    sandbox.webhook_url = f"{hub_url}/webhooks/{channel.slug}"
    return sandbox, channel


def ship(hub, make_order, *numbers: str, **order) -> int:
    """A confirmed order with one line per tracking number, each shipped with that number."""
    from hub.core.order import Line

    lines = [
        Line(sku=f"SKU-{i}", name=f"Item {i}", quantity=1, unit_price=1000)
        for i, _ in enumerate(numbers)
    ]
    order_id = make_order(hub, lines=lines, **order)
    with hub.unit_of_work() as work:
        transitions.confirm(work, order_id, actor="test")
        transitions.start_fulfillment(work.session, order_id, actor="test")
    for i, number in enumerate(numbers):
        with hub.db.transaction() as db:
            line_id = next(
                line.id
                for line in transitions.get_order(db, order_id).lines
                if line.sku == f"SKU-{i}"
            )
            shipments.ship(
                db,
                order_id,
                ShipmentData(
                    external_id=f"pkg-{number}",
                    carrier="ups",
                    tracking_number=number,
                    lines={line_id: 1},
                ),
                actor="test",
            )
    return order_id


def status(harness, order_id: int) -> str:
    return harness.api.get(f"/api/v1/orders/{order_id}").get_json()["status"]


def test_delivered_by_the_carrier_then_completed_days_later(harness, hub, make_order, carrier):
    sandbox, channel = carrier
    order_id = ship(hub, make_order, "1Z0001", "1Z0002")
    harness.run_jobs()

    # Each shipment registered once, with the courier mapped and the hub's id beside it.
    assert sandbox.calls["POST /v4/trackings"] == 2
    made = sandbox.find("1Z0001")
    assert made["slug"] == "ups"
    assert made["custom_fields"]["hub_shipment_id"].isdigit()
    harness.run_jobs()  # nothing more: registered is registered
    assert sandbox.calls["POST /v4/trackings"] == 2

    sandbox.scan("1Z0001", "InTransit", message="Departed facility", location="Louisville, KY")
    sandbox.deliver("1Z0001")
    assert set(sandbox.deliver_webhooks()) == {200}
    harness.run_jobs()
    assert status(harness, order_id) == "shipped"  # one parcel of two

    sandbox.deliver("1Z0002")
    assert set(sandbox.deliver_webhooks()) == {200}
    harness.run_jobs()
    assert status(harness, order_id) == "delivered"
    with hub.db.read() as db:
        delivered = db.scalars(
            select(OrderAuditEvent).where(
                OrderAuditEvent.order_id == order_id, OrderAuditEvent.name == "order.delivered"
            )
        ).one()
        assert delivered.actor == "channel:aftership"

    # Completion waits for the days set (3 here), then comes by itself.
    with hub.db.transaction() as db:
        hub.plugin_settings.save(db, "delivery", {"complete_after_days": 3}, actor="test")
    _delivered_days_ago(hub, order_id, 2)
    _run_completion(harness, hub)
    assert status(harness, order_id) == "delivered"
    _delivered_days_ago(hub, order_id, 4)
    _run_completion(harness, hub)
    assert status(harness, order_id) == "completed"
    with hub.db.read() as db:
        completed = db.scalars(
            select(OrderAuditEvent).where(
                OrderAuditEvent.order_id == order_id, OrderAuditEvent.name == "order.completed"
            )
        ).one()
    assert completed.actor == "system"


def _delivered_days_ago(hub, order_id: int, days: int) -> None:
    with hub.db.transaction() as db:
        db.execute(
            update(OrderAuditEvent)
            .where(OrderAuditEvent.order_id == order_id, OrderAuditEvent.name == "order.delivered")
            .values(created_at=utcnow() - timedelta(days=days))
        )


def _run_completion(harness, hub) -> None:
    """One firing of the periodic job, as the scheduler enqueues it."""
    with hub.db.transaction() as db:
        enqueue(db, JobKind.ORDER_COMPLETE_DELIVERED, {})
    harness.run_jobs(kinds=[JobKind.ORDER_COMPLETE_DELIVERED])


def test_a_replayed_webhook_doubles_nothing(harness, hub, make_order, carrier):
    sandbox, channel = carrier
    order_id = ship(hub, make_order, "1Z0101")
    harness.run_jobs()
    sandbox.scan("1Z0101", "InTransit", message="Arrival scan")
    body = sandbox.outbox[-1]
    sandbox.deliver_webhooks()
    harness.run_jobs()
    # The same event again (AfterShip retries), and the same checkpoints under a new event id.
    again = harness.post_webhook(channel, body)
    assert again.get_json() == {"status": "duplicate"}
    fresh = json.loads(body)
    fresh["event_id"] = "another-delivery-of-the-same-news"
    assert harness.post_webhook(channel, fresh).status_code == 200
    harness.run_jobs()
    with hub.db.read() as db:
        stored = db.scalar(select(func.count()).select_from(ShipmentTrackingEvent))
        updates = db.scalar(
            select(func.count()).where(
                OrderAuditEvent.order_id == order_id,
                OrderAuditEvent.name == "order.carrier_update",
            )
        )
    assert stored == 1
    assert updates == 1


def test_a_bad_signature_is_refused_and_nothing_is_stored(harness, hub, make_order, carrier):
    sandbox, channel = carrier
    order_id = ship(hub, make_order, "1Z0201")
    harness.run_jobs()
    sandbox.deliver("1Z0201")
    forged = sandbox.outbox[-1]
    sandbox.outbox.clear()

    wrong = harness.post_webhook(
        channel, forged, headers={"aftership-hmac-sha256": "AAAA"}, sign=False
    )
    missing = harness.post_webhook(channel, forged, sign=False)
    tampered_body = forged.replace(b"1Z0201", b"1Z0299")
    tampered = harness.post_webhook(
        channel,
        tampered_body,
        headers={"aftership-hmac-sha256": sandbox.signature(forged)},
        sign=False,
    )
    assert [wrong.status_code, missing.status_code, tampered.status_code] == [401, 401, 401]
    harness.run_jobs()
    with hub.db.read() as db:
        assert db.scalar(select(func.count()).select_from(WebhookEvent)) == 0
        assert db.scalar(select(func.count()).select_from(ShipmentTrackingEvent)) == 0
    assert status(harness, order_id) == "shipped"


def test_an_exception_flags_the_order_and_emails_the_customer_once(
    harness, hub, make_order, carrier, admin_client
):
    sandbox, channel = carrier
    server = SmtpServer().start()
    try:
        harness.add_channel(
            "email",
            {
                "smtp_host": "127.0.0.1",
                "smtp_port": server.port,
                "security": "none",
                "from_address": "shop@example.com",
                "events": ["order.delivery_exception"],
            },
        )
        order_id = ship(hub, make_order, "1Z0301", "1Z0302")
        harness.run_jobs()
        sandbox.fail("1Z0301", "Incorrect address")
        sandbox.scan("1Z0301", "AttemptFail", message="Customer not available")
        sandbox.return_to_sender("1Z0302")
        assert set(sandbox.deliver_webhooks()) == {200}
        harness.run_jobs()
        sandbox.deliver_webhooks()
        harness.run_jobs()

        problems = [m for m in server.messages if m["X-Hub-Event"] == "order.delivery_exception"]
        assert len(problems) == 1
        text = problems[0].get_body(("plain",)).get_content()
        assert "Incorrect address" in text
        assert "1Z0301" in text
        assert problems[0]["To"].addresses[0].addr_spec == "ann@example.com"

        with hub.db.read() as db:
            statuses = dict(
                db.execute(select(ShipmentTracking.tracking_number, ShipmentTracking.status)).all()
            )
        assert statuses == {"1Z0301": "exception", "1Z0302": "returned_to_sender"}
        assert status(harness, order_id) == "shipped"

        # The admin's order page flags it; the customer's page shows the carrier's words.
        page = admin_client.get(f"/orders/{order_id}").get_data(as_text=True)
        assert "The carrier reports a problem" in page
        assert "Returned to sender" in page
        token = harness.api.get(f"/api/v1/orders/{order_id}").get_json()["tracking_token"]
        track = harness.client.get(f"/track/{token}").get_data(as_text=True)
        assert "Incorrect address" in track
        assert "Delivery problem" in track

        # The orders with a carrier problem, found in the list and through the API.
        other = make_order(hub)
        listed = admin_client.get("/orders?carrier_problem=1").get_data(as_text=True)
        assert f"/orders/{order_id}" in listed and f'/orders/{other}"' not in listed
        assert "carrier problem" in listed
        found = harness.api.get("/api/v1/orders?carrier_problem=true").get_json()
        assert [o["id"] for o in found["data"]] == [order_id]
    finally:
        server.stop()


def test_registration_is_retried_when_aftership_is_down_then_done_once(
    harness, hub, make_order, carrier
):
    sandbox, channel = carrier
    sandbox.faults.plan(503, path="/v4/trackings", method="POST", times=1, when="after")
    ship(hub, make_order, "1Z0401")
    harness.run_jobs(advance=60)
    harness.run_jobs(advance=120)
    with hub.db.read() as db:
        row = db.scalars(select(ShipmentTracking)).one()
        jobs = db.scalars(select(Job).where(Job.kind == JobKind.TRACKING_REGISTER)).all()
    assert len(sandbox.trackings) == 1  # the lost answer's tracking, found again (4003)
    assert row.external_id == next(iter(sandbox.trackings))
    assert row.registered_at is not None
    assert [j.status for j in jobs] == ["succeeded"]


def test_an_older_update_arriving_late_moves_nothing_back(harness, hub, make_order, carrier):
    sandbox, channel = carrier
    order_id = ship(hub, make_order, "1Z0501")
    harness.run_jobs()
    sandbox.scan("1Z0501", "InTransit", message="Departed facility")
    in_transit = sandbox.outbox.pop()
    sandbox.deliver("1Z0501")
    assert set(sandbox.deliver_webhooks()) == {200}
    harness.run_jobs()
    assert status(harness, order_id) == "delivered"

    # AfterShip's retry of the earlier event comes last: its news is older than what is held.
    assert harness.post_webhook(channel, in_transit).status_code == 200
    harness.run_jobs()
    with hub.db.read() as db:
        tracking = db.scalars(select(ShipmentTracking)).one()
        changes = db.scalars(
            select(OrderAuditEvent.reason).where(
                OrderAuditEvent.order_id == order_id,
                OrderAuditEvent.name == "order.carrier_update",
            )
        ).all()
    assert tracking.status == "delivered"
    assert changes == ["Out for delivery", "Delivered"]
    assert status(harness, order_id) == "delivered"


def test_a_voided_label_s_news_does_not_deliver_the_order(harness, hub, make_order, carrier):
    sandbox, channel = carrier
    order_id = ship(hub, make_order, "1Z0601")
    harness.run_jobs()
    with hub.db.transaction() as db:
        shipments.void_shipment(db, order_id, "pkg-1Z0601", actor="test")
        line_id = transitions.get_order(db, order_id).lines[0].id
        shipments.ship(
            db,
            order_id,
            ShipmentData(
                external_id="pkg-1Z0602",
                carrier="ups",
                tracking_number="1Z0602",
                lines={line_id: 1},
            ),
            actor="test",
        )
    harness.run_jobs()
    sandbox.deliver("1Z0601")  # the voided label's parcel, scanned anyway
    sandbox.deliver_webhooks()
    harness.run_jobs()
    assert status(harness, order_id) == "shipped"
    sandbox.deliver("1Z0602")
    sandbox.deliver_webhooks()
    harness.run_jobs()
    assert status(harness, order_id) == "delivered"


def test_a_channel_added_later_follows_the_shipments_still_on_their_way(
    harness, hub, make_order, carrier
):
    from hub.pipeline.tracking import register_open_shipments

    sandbox, channel = carrier
    with hub.db.transaction() as db:  # shipped while the channel was off
        db.get(Channel, channel.id).enabled = False
    on_the_way = ship(hub, make_order, "1Z0701")
    arrived = ship(hub, make_order, "1Z0702")
    with hub.db.transaction() as db:
        transitions.deliver(db, arrived, actor="test")
    harness.run_jobs()
    assert sandbox.trackings == {}
    with hub.db.transaction() as db:
        db.get(Channel, channel.id).enabled = True
    with hub.db.transaction() as db:
        assert register_open_shipments(db, channel.id) == 1
        assert register_open_shipments(db, channel.id) == 0  # enqueued already
    harness.run_jobs()
    assert [t["tracking_number"] for t in sandbox.trackings.values()] == ["1Z0701"]
    sandbox.deliver("1Z0701")
    sandbox.deliver_webhooks()
    harness.run_jobs()
    assert status(harness, on_the_way) == "delivered"


def test_news_a_webhook_never_brought_is_read_by_the_poll(harness, hub, make_order, carrier):
    sandbox, channel = carrier
    order_id = ship(hub, make_order, "1Z0801")
    harness.run_jobs()
    sandbox.deliver("1Z0801")
    sandbox.outbox.clear()  # AfterShip gave up on these webhooks
    harness.run_jobs()
    assert status(harness, order_id) == "shipped"

    def poll() -> None:
        with hub.db.transaction() as db:
            enqueue(db, JobKind.TRACKING_POLL, {}, channel_id=channel.id)
        harness.run_jobs(kinds=[JobKind.TRACKING_POLL, JobKind.ORDER_EVENT])

    poll()  # news came within the last 12 hours: nothing is asked
    assert sandbox.calls["GET /v4/trackings/" + next(iter(sandbox.trackings))] == 0
    with hub.db.transaction() as db:
        db.execute(update(ShipmentTracking).values(updated_at=utcnow() - timedelta(hours=13)))
    poll()
    harness.run_jobs()
    assert status(harness, order_id) == "delivered"
    poll()  # delivered: never asked again
    assert sandbox.calls["GET /v4/trackings/" + next(iter(sandbox.trackings))] == 1
