"""Customers on PostgreSQL: two workers ingesting one new customer at once make one customer."""

from __future__ import annotations

import threading
import time

import pytest
from sqlalchemy import func, select, text

from hub.channels.manage import create_channel
from hub.channels.port import ChannelPort
from hub.core.order import Customer as Buyer
from hub.orders import intake
from hub.store.db import Database
from hub.store.models import Channel, Customer, CustomerRef, Order
from hub.testing import WebhookTestPlugin, order_data, truncate_all

pytestmark = pytest.mark.postgres


@pytest.fixture
def shop(make_hub, pg_url):
    db = Database(pg_url)
    truncate_all(db)
    db.dispose()
    hub = make_hub(database_url=pg_url, plugins=[WebhookTestPlugin()])
    with hub.db.transaction() as session:
        channel_id = create_channel(
            hub,
            session,
            name="Shop",
            slug="shop",
            connector="webhook_test",
            config={"webhook_secret": "s3cret"},
        ).id
    return hub, channel_id


def waiting_on_a_lock(hub) -> bool:
    # A connection each time: pg_stat_activity is a snapshot kept for the transaction.
    with hub.db.engine.connect() as conn:
        return bool(
            conn.execute(
                text(
                    "SELECT count(*) FROM pg_stat_activity WHERE wait_event_type = 'Lock'"
                    " AND datname = current_database()"
                )
            ).scalar()
        )


def test_a_worker_racing_another_for_one_new_customer_reads_the_winner(shop):
    """A real race: the second insert of the customer waits on the first's, then reads it."""
    hub, channel_id = shop
    first = hub.db.sessions()
    first.begin()
    intake.upsert_order(
        first,
        first.get(Channel, channel_id),
        order_data(external_id="A", customer=Buyer(email="Ana@Example.com", external_id="c-1")),
        actor="test",
    )
    outcome: dict = {}

    def second_worker():
        try:
            outcome["ids"] = ChannelPort(hub, channel_id).upsert_orders(
                [order_data(external_id="B", customer=Buyer(email=" ana@example.com"))]
            )
        except BaseException as exc:  # reported below
            outcome["error"] = exc

    worker = threading.Thread(target=second_worker)
    worker.start()
    try:
        deadline = time.monotonic() + 20
        while not waiting_on_a_lock(hub):
            assert time.monotonic() < deadline, f"the second worker never waited: {outcome}"
            time.sleep(0.05)
    finally:
        first.commit()
        first.close()
        worker.join(30)
    assert "error" not in outcome, outcome.get("error")
    with hub.db.read() as session:
        assert session.scalar(select(func.count()).select_from(Customer)) == 1
        assert len(set(session.scalars(select(Order.customer_id)))) == 1


def test_many_workers_ingesting_one_new_customer_at_once_make_one(shop):
    hub, channel_id = shop
    workers = 8
    start = threading.Barrier(workers)
    errors: list[BaseException] = []

    def ingest(n: int):
        try:
            start.wait(10)
            ChannelPort(hub, channel_id).upsert_orders(
                [
                    order_data(
                        external_id=f"O{n}",
                        customer=Buyer(email=f"  BO@example.com{' ' * n}", external_id="c-9"),
                    )
                ]
            )
        except BaseException as exc:  # reported below
            errors.append(exc)

    threads = [threading.Thread(target=ingest, args=(n,)) for n in range(workers)]
    for thread in threads:
        thread.start()
    for thread in threads:
        thread.join(60)
    assert errors == []
    with hub.db.read() as session:
        assert session.scalars(select(Customer.email)).all() == ["bo@example.com"]
        assert session.scalar(select(func.count()).select_from(Order)) == workers
        assert len(set(session.scalars(select(Order.customer_id)))) == 1
        assert session.scalar(select(func.count()).select_from(CustomerRef)) == 1
