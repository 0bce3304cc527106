"""Backorders: an order for a SKU that allows them waits for stock on a purchase order."""

from __future__ import annotations

from datetime import UTC, datetime, timedelta

from backorder_helpers import ARRIVES, allow_backorders, backordered, on_its_way
from inventory_helpers import check_invariants, create_channel_for, levels, order_state, stock
from sqlalchemy import select

from hub.orders import transitions
from hub.purchasing.receiving import receive
from hub.store.models import FulfillmentGroup


def event(hub, order_id, name):
    return next(e for e in order_state(hub, order_id).events if e.name == name)


def test_an_order_short_of_stock_is_confirmed_backordered_with_the_expected_date(
    hub, new_order, run_jobs
):
    stock(hub, {("A", "wh"): 1})
    allow_backorders(hub, "A")
    on_its_way(hub, "A", 5)
    oid = new_order(hub, ("A", 3))
    run_jobs(hub)

    order = order_state(hub, oid)
    assert order.status == "confirmed" and order.hold_reasons == []
    # The unit on the shelf is reserved; the other two wait for the purchase order.
    assert levels(hub)[("A", "wh")] == (1, 1)
    assert backordered(hub, oid) == 2
    told = event(hub, oid, "order.backordered")
    line_id = order.lines[0].id
    assert told.data == {
        "lines": [
            {
                "line_id": line_id,
                "sku": "A",
                "location": "wh",
                "quantity": 2,
                "expected_at": ARRIVES.isoformat(),
            }
        ],
        "expected_at": ARRIVES.isoformat(),
    }
    check_invariants(hub)


def test_a_sku_that_does_not_allow_backorders_is_held_out_of_stock(hub, new_order, run_jobs):
    stock(hub, {("A", "wh"): 1})
    on_its_way(hub, "A", 5)
    oid = new_order(hub, ("A", 3))
    run_jobs(hub)
    order = order_state(hub, oid)
    assert order.status == "on_hold" and order.hold_reasons == ["out_of_stock"]
    assert backordered(hub, oid) == 0
    assert levels(hub)[("A", "wh")] == (1, 0)


def test_incoming_stock_is_promised_once(hub, new_order, run_jobs):
    stock(hub, {("A", "wh"): 0})
    allow_backorders(hub, "A")
    on_its_way(hub, "A", 5)
    first = new_order(hub, ("A", 3))
    run_jobs(hub)
    second = new_order(hub, ("A", 3))  # only 2 of the 5 are not promised
    run_jobs(hub)
    third = new_order(hub, ("A", 2))
    run_jobs(hub)

    assert order_state(hub, first).status == "confirmed" and backordered(hub, first) == 3
    assert order_state(hub, second).status == "on_hold"
    assert order_state(hub, second).hold_reasons == ["out_of_stock"]
    assert backordered(hub, second) == 0
    assert order_state(hub, third).status == "confirmed" and backordered(hub, third) == 2


def test_cancelling_a_backordered_order_frees_its_incoming_units(hub, new_order, run_jobs):
    stock(hub, {("A", "wh"): 0})
    allow_backorders(hub, "A")
    on_its_way(hub, "A", 3)
    first = new_order(hub, ("A", 3))
    run_jobs(hub)
    with hub.db.transaction() as session:
        transitions.cancel(session, first, actor="user:ann")
    second = new_order(hub, ("A", 3))
    run_jobs(hub)
    assert backordered(hub, first) == 0
    assert order_state(hub, second).status == "confirmed" and backordered(hub, second) == 3


def test_a_receipt_fills_backorders_oldest_order_first_and_releases_them_to_fulfilment(
    make_hub, fakes, new_order, run_jobs
):
    hub = make_hub(plugins=[fakes])
    create_channel_for(hub, "fake-shipping")
    stock(hub, {("A", "wh"): 0})
    allow_backorders(hub, "A")
    po = on_its_way(hub, "A", 5)
    now = datetime.now(UTC)
    # Made first but placed later: the older order is the one placed first.
    newer = new_order(hub, ("A", 2), placed_at=now - timedelta(hours=1))
    older = new_order(hub, ("A", 3), placed_at=now - timedelta(days=2))
    run_jobs(hub)
    assert backordered(hub, newer) == 2 and backordered(hub, older) == 3
    # Confirmed, but nothing goes to the warehouse while the order waits.
    assert order_state(hub, older).status == "confirmed"

    with hub.db.transaction() as session:
        receive(session, po, [("A", 3)], actor="user:ann", source="test")
    run_jobs(hub)
    assert backordered(hub, older) == 0 and backordered(hub, newer) == 2
    assert order_state(hub, older).status == "processing"
    assert order_state(hub, newer).status == "confirmed"
    assert any(e.name == "order.backorder_filled" for e in order_state(hub, older).events)
    assert levels(hub)[("A", "wh")] == (3, 3)

    with hub.db.transaction() as session:
        receive(session, po, [("A", 2)], actor="user:ann", source="test")
    run_jobs(hub)
    assert backordered(hub, newer) == 0
    assert order_state(hub, newer).status == "processing"
    with hub.db.read() as session:
        groups = session.scalars(
            select(FulfillmentGroup).where(FulfillmentGroup.order_id.in_([older, newer]))
        ).all()
    assert sorted(sum(x["quantity"] for x in g.lines) for g in groups) == [2, 3]
    check_invariants(hub)


def test_a_backordered_order_held_and_released_is_promised_once_again(hub, new_order, run_jobs):
    stock(hub, {("A", "wh"): 0})
    allow_backorders(hub, "A")
    on_its_way(hub, "A", 5)
    oid = new_order(hub, ("A", 3))
    run_jobs(hub)
    with hub.db.transaction() as session:
        transitions.hold(session, oid, "customer asked to wait", actor="user:ann")
    with hub.db.transaction() as session:
        transitions.release(session, oid, actor="user:ann")
    run_jobs(hub)
    assert order_state(hub, oid).status == "confirmed"
    assert backordered(hub, oid) == 3  # not 6: its own earlier promise is not counted twice
    other = new_order(hub, ("A", 2))
    run_jobs(hub)
    assert order_state(hub, other).status == "confirmed" and backordered(hub, other) == 2
