"""No overselling of incoming stock: backorders raced on the real PostgreSQL."""

from __future__ import annotations

import threading

import pytest
from backorder_helpers import allow_backorders, backordered, on_its_way
from inventory_helpers import check_invariants, levels, stock
from sqlalchemy import func, select

from hub.queue.jobs import claim, run
from hub.store.models import Backorder, Job, Order

pytestmark = pytest.mark.postgres


def test_thirty_orders_racing_for_eight_incoming_units_backorder_at_most_eight(pg_hub, new_order):
    hub = pg_hub
    stock(hub, {("HOT", "wh"): 2})
    allow_backorders(hub, "HOT")
    on_its_way(hub, "HOT", 8)
    order_ids = [new_order(hub, ("HOT", 1)) for _ in range(30)]
    outcomes: list[str] = []
    start = threading.Barrier(8)

    def worker(n: int) -> None:
        name = f"worker-{n}"
        start.wait()
        while jobs := claim(hub, name, kinds=("order.process",)):
            for ctx in jobs:
                outcomes.append(run(hub, ctx, name))

    threads = [threading.Thread(target=worker, args=(n,)) for n in range(8)]
    for t in threads:
        t.start()
    for t in threads:
        t.join()

    assert outcomes == ["succeeded"] * 30
    with hub.db.read() as session:
        orders = session.execute(
            select(Order.id, Order.status, Order.hold_reasons).where(Order.id.in_(order_ids))
        ).all()
        promised = session.scalar(
            select(func.sum(Backorder.quantity)).where(Backorder.status == "active")
        )
        assert (
            session.scalar(select(func.count()).select_from(Job).where(Job.status == "failed")) == 0
        )
    confirmed = [o for o in orders if o.status == "confirmed"]
    held = [o for o in orders if o.status == "on_hold"]
    # 2 on the shelf reserved, 8 on the purchase order backordered, never more.
    assert len(confirmed) == 10 and promised == 8
    assert sum(backordered(hub, o.id) for o in confirmed) == 8
    assert len(held) == 20 and all(o.hold_reasons == ["out_of_stock"] for o in held)
    assert levels(hub) == {("HOT", "wh"): (2, 2)}
    check_invariants(hub)
