"""A hub stops what it started: ``Hub.close`` leaves no thread of its own running."""

from __future__ import annotations

import threading

from hub import hookimpl
from hub.queue.jobs import Worker, enqueue


def _lease_keepers() -> list[threading.Thread]:
    return [t for t in threading.enumerate() if t.name == "lease-keeper" and t.is_alive()]


def test_close_stops_the_lease_keeper(make_hub):
    before = len(_lease_keepers())
    hub = make_hub(plugins=[_Noop()])
    with hub.db.transaction() as session:
        enqueue(session, "test.noop", {})
    assert Worker(hub).run_until_idle(timeout=10) == 1
    assert len(_lease_keepers()) == before + 1  # running jobs started it

    hub.close()

    assert len(_lease_keepers()) == before


def test_stock_push_is_enqueued_by_the_hubs_sessions_only(hub):
    """The push a stock change asks for runs as the hub's transaction commits."""
    from sqlalchemy import select

    from hub.inventory import levels
    from hub.store.models import Job

    with hub.db.transaction() as session:
        levels.stock_changed(session)
    with hub.db.transaction() as session:
        levels.stock_changed(session)
        session.rollback()
    with hub.db.read() as session:
        kinds = session.scalars(select(Job.kind)).all()
    # With the push, the same slot's low-stock check (hub.pipeline.replenishment).
    assert sorted(kinds) == ["replenishment.low_stock", "stock.push"]


class _Noop:
    @hookimpl
    def hub_register_job_handlers(self):
        return {"test.noop": lambda ctx: None}
