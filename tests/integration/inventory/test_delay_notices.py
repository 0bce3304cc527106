"""Delay notices: an order that waits tells its customer once per cause, with the day when known.

The customer's emails go through a real SMTP server, which counts them.
"""

from __future__ import annotations

import pytest
from backorder_helpers import ARRIVES, allow_backorders, on_its_way
from inventory_helpers import order_state, stock
from sqlalchemy import select

from hub.core.order import Customer
from hub.orders import transitions
from hub.queue.jobs import Worker
from hub.store.models import Order, OrderAuditEvent
from plugins.email.tests.conftest import SmtpServer
from tests.integration.test_invoice_email import with_email_channel


@pytest.fixture
def smtp():
    server = SmtpServer().start()
    yield server
    server.stop()


@pytest.fixture
def shop(fresh_hubs, smtp):
    """On SQLite and on PostgreSQL (the order's row lock makes a notice once per cause)."""
    return with_email_channel(fresh_hubs(), smtp)


def delayed(hub, order_id) -> list[dict]:
    with hub.db.read() as session:
        return [
            dict(e.data)
            for e in session.scalars(
                select(OrderAuditEvent).where(
                    OrderAuditEvent.order_id == order_id, OrderAuditEvent.name == "order.delayed"
                )
            )
        ]


def subjects(smtp) -> list[str]:
    return [str(m["Subject"]) for m in smtp.messages]


def body(message) -> str:
    part = message.get_body(preferencelist=("plain",))
    return part.get_content()


def test_an_order_held_out_of_stock_tells_the_customer_once_with_the_expected_day(
    shop, smtp, new_order, run_jobs
):
    stock(shop, {("A", "wh"): 1})
    on_its_way(shop, "A", 5)  # A does not allow backorders: the order is held
    oid = new_order(shop, ("A", 3), customer=Customer(email="zoe@example.com", name="Zoe"))
    run_jobs(shop)

    assert order_state(shop, oid).hold_reasons == ["out_of_stock"]
    [notice] = delayed(shop, oid)
    line_id = order_state(shop, oid).lines[0].id
    assert notice == {
        "cause": "out_of_stock",
        "lines": [{"line_id": line_id, "sku": "A", "quantity": 2}],
        "expected_at": ARRIVES.isoformat(),
    }
    [message] = [m for m in smtp.messages if "delayed" in str(m["Subject"])]
    assert message["To"].addresses[0].addr_spec == "zoe@example.com"
    assert "is delayed: some items are out of stock" in message["Subject"]
    text = body(message)
    assert "We expect new stock on December 20, 2026." in text and "- 2 × A" in text
    html = message.get_body(preferencelist=("html",)).get_content()
    assert "<strong>December 20, 2026</strong>" in html

    # Released by a person, checked again, held again for the same cause: nothing new is said.
    with shop.db.transaction() as session:
        transitions.release(session, oid, actor="user:ann")
    run_jobs(shop)
    assert order_state(shop, oid).hold_reasons == ["out_of_stock"]
    assert len(delayed(shop, oid)) == 1
    assert len([s for s in subjects(smtp) if "delayed" in s]) == 1


def test_without_stock_on_its_way_the_notice_gives_no_day(shop, smtp, new_order, run_jobs):
    stock(shop, {("A", "wh"): 0})
    oid = new_order(shop, ("A", 2))
    run_jobs(shop)
    [notice] = delayed(shop, oid)
    assert notice["expected_at"] is None
    [message] = [m for m in smtp.messages if "delayed" in str(m["Subject"])]
    assert "We do not know yet when new stock arrives" in body(message)


def test_a_backordered_order_is_told_once_by_the_delay_notice_not_twice(
    shop, smtp, new_order, run_jobs
):
    stock(shop, {("A", "wh"): 1})
    allow_backorders(shop, "A")
    on_its_way(shop, "A", 5)
    oid = new_order(shop, ("A", 3))
    run_jobs(shop)

    assert order_state(shop, oid).status == "confirmed"
    [notice] = delayed(shop, oid)
    assert notice["cause"] == "backordered" and notice["expected_at"] == ARRIVES.isoformat()
    assert [line["quantity"] for line in notice["lines"]] == [2]
    # The confirmation, and one email saying what waits and until when (no second one
    # for order.backordered: a new email channel leaves it off).
    assert len(smtp.messages) == 2
    [waits] = [m for m in smtp.messages if "on their way to us" in str(m["Subject"])]
    assert "expected on December 20, 2026" in body(waits)


def test_an_order_released_before_its_notice_went_out_is_told_nothing(
    shop, smtp, new_order, run_jobs
):
    stock(shop, {("A", "wh"): 0})
    oid = new_order(shop, ("A", 2))
    # The order is checked and held; the hold's own announcement has not run yet.
    for kind in ("order.event", "order.process"):
        Worker(shop, kinds=(kind,), worker_id="delay-test").run_until_idle()
    assert order_state(shop, oid).hold_reasons == ["out_of_stock"]
    stock(shop, {("A", "wh"): 5})
    with shop.db.transaction() as session:
        transitions.release(session, oid, actor="user:ann")
    run_jobs(shop)
    assert order_state(shop, oid).status != "on_hold"
    assert delayed(shop, oid) == []
    assert not [s for s in subjects(smtp) if "delayed" in s]


def test_the_tracking_page_shows_the_delay_while_it_holds(shop, smtp, new_order, run_jobs):
    from hub.web import create_app

    stock(shop, {("A", "wh"): 1})
    on_its_way(shop, "A", 5)
    oid = new_order(shop, ("A", 3))
    run_jobs(shop)
    with shop.db.read() as session:
        token = session.get(Order, oid).tracking_token
    client = create_app({"HUB": shop, "TESTING": True}).test_client()
    page = client.get(f"/track/{token}").get_data(as_text=True)
    assert "Some items are out of stock." in page
    assert "We expect new stock on <strong>Sunday 20 December</strong>" in page
    assert "2 × A" in page

    stock(shop, {("A", "wh"): 5})
    with shop.db.transaction() as session:
        transitions.release(session, oid, actor="user:ann")
    run_jobs(shop)
    page = client.get(f"/track/{token}").get_data(as_text=True)
    assert "out of stock" not in page


def late(hub, order_id: int, cause: str, promised: str) -> None:
    """What the order.late_check job records for a promise not kept (hub.pipeline.late)."""
    from hub.core.events import ORDER_LATE
    from hub.orders.records import get_order, record

    with hub.db.transaction() as session:
        record(
            session,
            get_order(session, order_id),
            ORDER_LATE,
            actor="system",
            data={"cause": cause, "group": "wh", "promised": promised},
        )


def test_a_promise_not_kept_tells_the_customer_once_per_cause_with_the_promised_day(
    shop, smtp, new_order, run_jobs
):
    stock(shop, {("A", "wh"): 5})
    oid = new_order(shop, ("A", 1), customer=Customer(email="kim@example.com", name="Kim"))
    run_jobs(shop)
    assert order_state(shop, oid).status in ("confirmed", "processing")

    late(shop, oid, "not_shipped", "2026-12-03")
    late(shop, oid, "not_shipped", "2026-12-03")  # found again: told once
    run_jobs(shop)
    [notice] = delayed(shop, oid)
    assert notice == {
        "cause": "late_shipping",
        "lines": [],
        "expected_at": None,
        "promised": "2026-12-03",
    }
    [message] = [m for m in smtp.messages if "running late" in str(m["Subject"])]
    assert "did not leave us by December 3, 2026, as we promised" in body(message)

    late(shop, oid, "not_delivered", "2026-12-06")
    run_jobs(shop)
    assert [n["cause"] for n in delayed(shop, oid)] == ["late_shipping", "late_delivery"]
    running_late = [m for m in smtp.messages if "running late" in str(m["Subject"])]
    assert len(running_late) == 2
    assert "has not reached you by December 6, 2026" in body(running_late[1])
