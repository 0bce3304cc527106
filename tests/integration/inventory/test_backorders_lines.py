"""What a backordered line shows and what taking units off it does.

- ``GET /api/v1/orders/<id>``: each line's backordered units and when the last of them is due.
- Units refunded or removed on the channel come off the line's backorder first (the
  incoming stock is free for other orders); what is left comes off its reservation.
"""

from __future__ import annotations

from backorder_helpers import ARRIVES, allow_backorders, backordered, on_its_way
from inventory_helpers import check_invariants, levels, order_state, stock
from sqlalchemy import select

from hub.core.order import Customer, Line
from hub.orders import intake
from hub.purchasing.receiving import receive
from hub.store.models import Job
from hub.testing import ensure_manual_channel, order_data

BUYER = Customer(email="bo@example.com", name="Bo")


def place(hub, quantity: int) -> int:
    with hub.db.transaction() as session:
        channel = ensure_manual_channel(hub, session)
        return intake.upsert_order(
            session,
            channel,
            order_data(
                external_id="BO-1",
                customer=BUYER,
                lines=[Line(sku="A", name="A", quantity=quantity, unit_price=1000)],
            ),
            actor="test",
        ).order.id


def channel_takes_off(hub, left: int, removed: int) -> None:
    """The channel sends the order again with ``removed`` units of A refunded."""
    with hub.db.transaction() as session:
        channel = ensure_manual_channel(hub, session)
        intake.upsert_order(
            session,
            channel,
            order_data(
                external_id="BO-1",
                customer=BUYER,
                lines=[
                    Line(
                        sku="A",
                        name="A",
                        quantity=left,
                        unit_price=1000,
                        removed_quantity=removed,
                    )
                ],
            ),
            actor="test",
        )


def test_the_api_shows_each_lines_backordered_units_and_their_expected_date(hub, api, run_jobs):
    stock(hub, {("A", "wh"): 1})
    allow_backorders(hub, "A")
    po_id = on_its_way(hub, "A", 5)
    oid = place(hub, 3)
    run_jobs(hub)

    [line] = api.get(f"/api/v1/orders/{oid}").get_json()["lines"]
    assert (line["quantity"], line["backordered_quantity"]) == (3, 2)
    assert line["backorder_expected_at"] == ARRIVES.isoformat()

    with hub.db.transaction() as session:
        receive(session, po_id, [("A", 5)], actor="test")
    run_jobs(hub)
    [line] = api.get(f"/api/v1/orders/{oid}").get_json()["lines"]
    assert (line["backordered_quantity"], line["backorder_expected_at"]) == (0, None)


def test_the_openapi_document_describes_the_backorder_fields(api):
    schema = api.get("/api/v1/openapi.json").get_json()["components"]["schemas"]
    line = next(s for name, s in schema.items() if name.startswith("OrderLineOut"))
    assert line["properties"]["backordered_quantity"]["type"] == "integer"
    assert line["properties"]["backorder_expected_at"]["format"] == "date-time"
    assert {"backordered_quantity", "backorder_expected_at"} <= set(line["required"])


def test_units_refunded_on_the_channel_cancel_the_backorder_before_the_reservation(
    hub, run_jobs, new_order
):
    stock(hub, {("A", "wh"): 1})
    allow_backorders(hub, "A")
    on_its_way(hub, "A", 5)
    oid = place(hub, 3)  # 1 reserved, 2 backordered
    run_jobs(hub)
    assert backordered(hub, oid) == 2

    channel_takes_off(hub, left=2, removed=1)
    assert backordered(hub, oid) == 1
    assert levels(hub)[("A", "wh")] == (1, 1)  # the unit on the shelf stays the order's

    # The freed incoming unit can be promised to another order: 5 on the way, 1 promised.
    other = new_order(hub, ("A", 4))
    run_jobs(hub)
    assert order_state(hub, other).status == "confirmed" and backordered(hub, other) == 4
    check_invariants(hub)


def test_an_order_that_waited_only_for_refunded_units_goes_on_to_fulfilment(hub, run_jobs):
    stock(hub, {("A", "wh"): 1})
    allow_backorders(hub, "A")
    on_its_way(hub, "A", 5)
    oid = place(hub, 3)
    run_jobs(hub)

    channel_takes_off(hub, left=1, removed=2)
    assert backordered(hub, oid) == 0
    assert levels(hub)[("A", "wh")] == (1, 1)
    reduced = next(e for e in order_state(hub, oid).events if e.name == "order.lines_reduced")
    assert reduced.data["backorder_cancelled"] == 2
    with hub.db.read() as session:
        fulfil = session.scalars(
            select(Job).where(Job.kind == "order.fulfill", Job.order_id == oid)
        ).all()
    assert any("unbackordered" in (job.dedupe_key or "") for job in fulfil)
    check_invariants(hub)


def test_refunding_more_than_is_backordered_gives_back_the_reserved_rest(hub, run_jobs):
    stock(hub, {("A", "wh"): 2})
    allow_backorders(hub, "A")
    on_its_way(hub, "A", 5)
    oid = place(hub, 4)  # 2 reserved, 2 backordered
    run_jobs(hub)

    channel_takes_off(hub, left=1, removed=3)
    assert backordered(hub, oid) == 0
    assert levels(hub)[("A", "wh")] == (2, 1)
    check_invariants(hub)
