"""A page of pulled orders: new ones are created together, the rest one by one, to the same rows."""

from __future__ import annotations

import threading
import time
from datetime import UTC, datetime, timedelta

from sqlalchemy import func, select, text, update

from hub import hookimpl
from hub.channels.manage import create_channel
from hub.channels.port import ChannelPort
from hub.core.order import Customer, Line, PaymentData
from hub.orders import bulk_intake, intake
from hub.queue.jobs import retry
from hub.store.db import Database
from hub.store.models import Channel, Job, Order, OrderAuditEvent, Payment
from hub.testing import WebhookTestPlugin, order_data, stored_rows, truncate_all

T0 = datetime(2026, 11, 1, 12, 0, tzinfo=UTC)


def shop_channel(hub, name: str = "Test shop") -> int:
    with hub.db.transaction() as session:
        return create_channel(
            hub,
            session,
            name=name,
            connector="webhook_test",
            config={"webhook_secret": "s3cret"},
        ).id


def order(n: int, minutes: int = 0, **overrides):
    """Order n of the shop, as it reads ``minutes`` after T0 (each its own customer)."""
    values = dict(
        external_id=f"S{n}",
        number=f"#{n}",
        placed_at=T0,
        updated_at=T0 + timedelta(minutes=minutes),
        customer=Customer(email=f"c{n}@example.com", name=f"Customer {n}"),
    )
    values.update(overrides)
    return order_data(**values)


def pages():
    """Two pages as a channel might send them, with every kind of order a page can hold."""
    paid = PaymentData(reference="pi_7", amount=4498, status="captured", captured_amount=4498)
    first = [
        order(1),
        order(
            2,
            currency="JPY",
            lines=[Line(sku="MUG", name="Mug", quantity=3, unit_price=1200)],
            shipping=0,
        ),
        order(3, cancelled=True, cancel_reason="customer"),
        order(4, lines=[]),  # cannot be stored: dead-lettered
        order(
            5,
            payments=[
                PaymentData(reference="pi_5", amount=10, status="authorized", channel="manual")
            ],
        ),
        order(
            6, payments=[PaymentData(reference="pi_6", amount=1, channel="no-such-gateway")]
        ),  # refused
        order(
            7, payments=[paid, paid], channel_financial_status="paid", tags=["vip"], is_test=True
        ),
        order(8, total=None, discount=300, notes="gift"),
        order(1),  # the same order twice in one page
        order(
            9,
            channel_financial_status="authorized",
            lines=[
                Line(sku="A", name="A", quantity=1, unit_price=500),
                Line(sku="B", name="B", quantity=0, unit_price=0, external_id="li-2"),
            ],
        ),
    ]
    second = [
        order(
            2,
            minutes=5,
            currency="JPY",
            lines=[Line(sku="MUG", name="Mug", quantity=4, unit_price=1200)],
            shipping=0,
        ),  # the lines changed: replaced (still pending)
        order(8, total=None, discount=300, notes="gift"),  # not newer: ignored
        order(10, minutes=5),
        order(11, minutes=5, cancelled=True),
    ]
    return [first, second]


def pull(hub, channel_id: int, *, bulk: bool) -> None:
    port = ChannelPort(hub, channel_id)
    port.bulk_create = bulk
    for n, page in enumerate(pages()):
        port.upsert_orders(page, cursor={"page": n})


def test_a_pulled_page_is_stored_alike_with_or_without_bulk_creation(fresh_hubs):
    stored = {}
    for bulk in (False, True):
        hub = fresh_hubs(plugins=[WebhookTestPlugin()])
        pull(hub, shop_channel(hub), bulk=bulk)
        stored[bulk] = stored_rows(hub)
    one_by_one, together = stored[False], stored[True]
    for table in ("orders", "lines", "payments", "events", "jobs"):
        assert together[table] == one_by_one[table], table
    # What both did, so the comparison is not between two empty hubs.
    orders = {o["external_id"]: o for o in together["orders"]}
    assert sorted(orders) == sorted(f"S{n}" for n in (1, 2, 3, 5, 7, 8, 9, 10, 11))
    assert orders["S3"]["status"] == "cancelled" and orders["S7"]["financial_status"] == "paid"
    assert orders["S9"]["financial_status"] == "authorized" and orders["S1"]["version"] == 1
    dead = [job for job in together["jobs"] if job[2]["status"] == "dead"]
    assert sorted(job[3]["external_id"] for job in dead) == ["S4", "S6"]
    kinds = [job[2]["kind"] for job in together["jobs"]]
    assert kinds.count("order.process") == 7 and kinds.count("order.event") == len(
        together["events"]
    )


def upsert_calls(monkeypatch) -> list[str]:
    """The external ids that go through ``upsert_order`` one by one, in order."""
    calls: list[str] = []
    real = intake.upsert_order

    def spy(session, channel, data, **kwargs):
        calls.append(data.external_id)
        return real(session, channel, data, **kwargs)

    monkeypatch.setattr(intake, "upsert_order", spy)
    return calls


def counts(hub, channel_id: int) -> dict[str, int]:
    with hub.db.read() as session:

        def count(model, *where):
            return session.scalar(select(func.count()).select_from(model).where(*where))

        return {
            "orders": count(Order, Order.channel_id == channel_id),
            "created": count(OrderAuditEvent, OrderAuditEvent.name == "order.created"),
            "updated": count(OrderAuditEvent, OrderAuditEvent.name == "order.updated"),
            "process": count(Job, Job.kind == "order.process"),
            "announce": count(Job, Job.kind == "order.event"),
            "dead": count(Job, Job.status == "dead"),
        }


def test_an_order_the_hub_has_already_is_upserted_while_the_new_ones_of_its_page_go_together(
    fresh_hubs, monkeypatch
):
    hub = fresh_hubs(plugins=[WebhookTestPlugin()])
    channel_id = shop_channel(hub)
    ChannelPort(hub, channel_id).upsert_orders([order(1)])
    calls = upsert_calls(monkeypatch)
    ids = ChannelPort(hub, channel_id).upsert_orders(
        [order(2), order(1, minutes=5, notes="ring twice"), order(3)], cursor={"page": 2}
    )
    assert calls == ["S1"]
    with hub.db.read() as session:
        # The ids come back in the page's order, whichever way each order went.
        assert [session.get(Order, i).external_id for i in ids] == ["S2", "S1", "S3"]
        assert session.get(Order, ids[1]).notes == "ring twice"
        assert session.get(Channel, channel_id).state["cursor"] == {"page": 2}
    assert counts(hub, channel_id) == {
        "orders": 3,
        "created": 3,
        "updated": 1,
        "process": 3,
        "announce": 4,
        "dead": 0,
    }


def test_a_page_read_again_stores_nothing_and_an_order_changed_since_is_updated(
    fresh_hubs, monkeypatch
):
    """Pulls overlap: what the hub holds already, or older, is passed over without a write."""
    hub = fresh_hubs(plugins=[WebhookTestPlugin()])
    channel_id = shop_channel(hub)
    port = ChannelPort(hub, channel_id)
    first = port.upsert_orders([order(1, minutes=5), order(2), order(3)], cursor={"page": 1})
    before = stored_rows(hub)
    calls = upsert_calls(monkeypatch)
    # The same page again, and an older copy of S1 (a webhook's, delivered late).
    again = port.upsert_orders(
        [order(1, minutes=5), order(2), order(3), order(1, notes="stale")], cursor={"page": 2}
    )
    assert calls == []
    assert again == first + [first[0]]
    after = stored_rows(hub)
    for table in ("orders", "lines", "payments", "events", "jobs"):
        assert after[table] == before[table], table
    with hub.db.read() as session:
        assert session.get(Channel, channel_id).state["cursor"] == {"page": 2}

    # S2 changed at the channel since; an unstorable copy of S3 goes the long way, to be refused.
    port.upsert_orders([order(2, minutes=1, notes="ring twice"), order(3, currency="XYZ")])
    assert calls == ["S2", "S3"]
    with hub.db.read() as session:
        assert session.get(Order, first[1]).notes == "ring twice"
        dead = session.scalars(select(Job).where(Job.status == "dead")).one()
        assert dead.payload == {"external_id": "S3"} and "currency" in dead.last_error
    assert counts(hub, channel_id)["updated"] == 1


def test_an_order_that_cannot_be_stored_is_dead_lettered_and_the_rest_of_its_page_created(
    fresh_hubs, monkeypatch
):
    hub = fresh_hubs(plugins=[WebhookTestPlugin()])
    channel_id = shop_channel(hub)
    calls = upsert_calls(monkeypatch)
    ChannelPort(hub, channel_id).upsert_orders(
        [order(1), order(2, currency="XYZ"), order(3)], cursor={"page": 1}
    )
    assert calls == ["S2"]
    assert counts(hub, channel_id) == {
        "orders": 2,
        "created": 2,
        "updated": 0,
        "process": 2,
        "announce": 2,
        "dead": 1,
    }
    with hub.db.read() as session:
        dead = session.scalars(select(Job).where(Job.status == "dead")).one()
        assert (dead.kind, dead.payload) == ("channel.order_rejected", {"external_id": "S2"})
        assert "currency" in dead.last_error
        assert session.get(Channel, channel_id).state["cursor"] == {"page": 1}


def test_an_order_seen_again_before_its_dead_letter_is_retried_stays_one_dead_letter(fresh_hubs):
    hub = fresh_hubs(plugins=[WebhookTestPlugin()])
    channel_id = shop_channel(hub)
    port = ChannelPort(hub, channel_id)

    def dead() -> list[tuple[str, str, str]]:
        with hub.db.read() as session:
            return [
                (j.payload["external_id"], j.status, j.last_error)
                for j in session.scalars(
                    select(Job).where(Job.kind == "channel.order_rejected").order_by(Job.id)
                )
            ]

    # Pulls overlap: the same unstorable order, and an unreadable one, on two pulls.
    port.upsert_orders(
        [order(1), order(2, currency="XYZ")], rejected={"S9": "not JSON"}, cursor={"page": 1}
    )
    port.upsert_orders(
        [order(2, currency="XYZ", minutes=1), order(3)],
        rejected={"S9": "still not JSON"},
        cursor={"page": 2},
    )
    assert [(e, s) for e, s, _ in dead()] == [("S2", "dead"), ("S9", "dead")]
    assert dead()[1][2] == "still not JSON"

    # A person retries S9's dead letter: while the retry is queued, S9 seen again adds nothing.
    with hub.db.transaction() as session:
        retry(
            session,
            session.scalars(
                select(Job.id).where(Job.payload["external_id"].as_string() == "S9")
            ).one(),
        )
    port.upsert_orders([], rejected={"S9": "unreadable again"})
    assert [(e, s) for e, s, _ in dead()] == [("S2", "dead"), ("S9", "queued")]

    # Once that retry has succeeded, the order failing again is news: a new dead letter.
    with hub.db.transaction() as session:
        session.execute(
            update(Job)
            .where(Job.status == "queued", Job.kind == "channel.order_rejected")
            .values(status="succeeded")
        )
    port.upsert_orders([], rejected={"S9": "broken once more"})
    assert dead() == [
        ("S2", "dead", dead()[0][2]),
        ("S9", "succeeded", "still not JSON"),
        ("S9", "dead", "broken once more"),
    ]
    # Another channel's order of the same id is its own.
    other = shop_channel(hub, name="Other shop")
    ChannelPort(hub, other).upsert_orders([], rejected={"S2": "other shop"})
    assert len(dead()) == 4


def test_an_order_created_by_a_webhook_after_the_pull_looked_loses_nothing_and_doubles_nothing(
    fresh_hubs, monkeypatch
):
    """The webhook's insert committed after the page's lookup: the page goes one by one instead."""
    hub = fresh_hubs(plugins=[WebhookTestPlugin()])
    channel_id = shop_channel(hub)
    ChannelPort(hub, channel_id).upsert_orders([order(2, notes="from the webhook")])
    monkeypatch.setattr(bulk_intake, "existing_orders", lambda *args, **kwargs: {})
    calls = upsert_calls(monkeypatch)
    ChannelPort(hub, channel_id).upsert_orders(
        [order(1), order(2, minutes=1), order(3)], cursor={"page": 1}
    )
    assert calls == ["S1", "S2", "S3"]
    assert counts(hub, channel_id) == {
        "orders": 3,
        "created": 3,
        "updated": 1,
        "process": 3,
        "announce": 4,
        "dead": 0,
    }
    with hub.db.read() as session:
        assert session.get(Channel, channel_id).state["cursor"] == {"page": 1}
        assert session.scalars(select(Order.notes).where(Order.external_id == "S2")).one() == ""
        assert session.scalar(select(func.count()).select_from(Payment)) == 0


def waiting_on_a_lock(db: Database) -> bool:
    # A connection each time: pg_stat_activity is a snapshot kept for the transaction.
    with db.engine.connect() as conn:
        return bool(
            conn.execute(
                text(
                    "SELECT count(*) FROM pg_stat_activity WHERE wait_event_type = 'Lock'"
                    " AND datname = current_database()"
                )
            ).scalar()
        )


def test_a_webhook_racing_the_pull_on_postgresql_loses_nothing_and_doubles_nothing(
    make_hub, pg_url
):
    """A real race: the page's insert waits on the webhook's uncommitted order, then loses to it."""
    db = Database(pg_url)
    truncate_all(db)
    hub = make_hub(database_url=pg_url, plugins=[WebhookTestPlugin()])
    channel_id = shop_channel(hub)
    webhook = hub.db.sessions()
    webhook.begin()
    intake.upsert_order(
        webhook, webhook.get(Channel, channel_id), order(2, notes="from the webhook"), actor="test"
    )
    outcome: dict = {}

    def pull_page():
        try:
            outcome["ids"] = ChannelPort(hub, channel_id).upsert_orders(
                [order(1), order(2, minutes=1), order(3)], cursor={"page": 1}
            )
        except BaseException as exc:  # reported below
            outcome["error"] = exc

    puller = threading.Thread(target=pull_page)
    puller.start()
    try:
        deadline = time.monotonic() + 20
        while not waiting_on_a_lock(db):
            assert time.monotonic() < deadline, (
                f"the page never waited on the webhook's order: {outcome}"
            )
            time.sleep(0.05)
    finally:
        webhook.commit()
        webhook.close()
        puller.join(30)
        db.dispose()
    assert "error" not in outcome, outcome.get("error")
    assert counts(hub, channel_id) == {
        "orders": 3,
        "created": 3,
        "updated": 1,
        "process": 3,
        "announce": 4,
        "dead": 0,
    }
    with hub.db.read() as session:
        assert [session.get(Order, i).external_id for i in outcome["ids"]] == ["S1", "S2", "S3"]
        assert session.get(Channel, channel_id).state["cursor"] == {"page": 1}


class Listener:
    def __init__(self):
        self.heard: list[tuple[str, str]] = []

    @hookimpl
    def hub_order_event(self, event, order):
        self.heard.append((event.name, order["external_id"]))


def test_plugins_hear_of_every_order_a_page_created_together(make_hub, run_jobs):
    listener = Listener()
    hub = make_hub(plugins=[WebhookTestPlugin(), listener])
    channel_id = shop_channel(hub)
    ChannelPort(hub, channel_id).upsert_orders([order(n) for n in range(1, 6)])
    run_jobs(hub)
    created = sorted(ext for name, ext in listener.heard if name == "order.created")
    assert created == ["S1", "S2", "S3", "S4", "S5"]
