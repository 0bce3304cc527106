"""One delay notice per cause even when two workers announce two holds of one order at once."""

from __future__ import annotations

import threading

import pytest
from inventory_helpers import order_state, stock
from sqlalchemy import func, select

from hub.orders import transitions
from hub.queue.jobs import Worker, claim, run
from hub.store.models import OrderAuditEvent

pytestmark = pytest.mark.postgres


def test_two_holds_for_stock_announced_at_once_tell_the_customer_once(pg_hub, new_order):
    hub = pg_hub
    stock(hub, {("A", "wh"): 0})
    oid = new_order(hub, ("A", 2))
    # Held out of stock, released by a person, checked and held again: two holds whose
    # announcements (order.event) have not run yet.
    for kind in ("order.event", "order.process"):
        Worker(hub, kinds=(kind,), worker_id="setup").run_until_idle()
    with hub.db.transaction() as session:
        transitions.release(session, oid, actor="user:ann")
    Worker(hub, kinds=("order.process",), worker_id="setup").run_until_idle()
    assert order_state(hub, oid).hold_reasons == ["out_of_stock"]

    outcomes: list[str] = []
    start = threading.Barrier(4)

    def worker(n: int) -> None:
        name = f"worker-{n}"
        start.wait()
        while jobs := claim(hub, name, kinds=("order.event",), limit=1):
            for ctx in jobs:
                outcomes.append(run(hub, ctx, name))

    threads = [threading.Thread(target=worker, args=(n,)) for n in range(4)]
    for t in threads:
        t.start()
    for t in threads:
        t.join()

    assert outcomes and set(outcomes) == {"succeeded"}
    with hub.db.read() as session:
        holds = session.scalar(
            select(func.count()).where(
                OrderAuditEvent.order_id == oid, OrderAuditEvent.name == "order.held"
            )
        )
        notices = session.scalar(
            select(func.count()).where(
                OrderAuditEvent.order_id == oid, OrderAuditEvent.name == "order.delayed"
            )
        )
    assert (holds, notices) == (2, 1)
