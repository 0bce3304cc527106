"""Stock push: available per SKU to every sales channel that takes it, changed SKUs only, batched."""

from __future__ import annotations

import pytest
from inventory_helpers import FakeStore, create_channel_for, stock
from sqlalchemy import select, update

from hub.inventory import levels as inventory
from hub.inventory.levels import LevelChange, set_on_hand, upsert_location
from hub.store.models import Channel, Job, utcnow


class Clock:
    """The debounce clock, moved on by hand: each push covers one window of changes."""

    def __init__(self):
        self.now = 1_000_000.0

    def time(self) -> float:
        return self.now


@pytest.fixture(autouse=True)
def clock(monkeypatch):
    c = Clock()
    monkeypatch.setattr(inventory, "time", c)
    return c


def run_due_now(hub, run_jobs, clock=None) -> None:
    """Run every queued job, the debounced ones included, then move to the next debounce window."""
    with hub.db.transaction() as session:
        session.execute(update(Job).where(Job.status == "queued").values(run_at=utcnow()))
    run_jobs(hub)
    if clock is not None:
        clock.now += inventory.PUSH_DEBOUNCE_SECONDS


def pushed(call) -> dict[str, int]:
    return {lv.sku: lv.available for lv in call}


def test_first_push_sends_everything_then_only_what_changed(
    make_hub, fakes, new_order, run_jobs, clock
):
    hub = make_hub(plugins=[fakes])
    create_channel_for(hub, "fake-store")
    stock(hub, {("A", "east"): 3, ("A", "west"): 4, ("B", "east"): 1}, priorities={"east": 1})
    run_due_now(hub, run_jobs, clock)
    assert [pushed(c) for c in FakeStore.pushed] == [{"A": 7, "B": 1}]
    FakeStore.pushed.clear()

    new_order(hub, ("B", 1))
    run_jobs(hub)  # confirmed: B is reserved
    run_due_now(hub, run_jobs, clock)
    assert [pushed(c) for c in FakeStore.pushed] == [{"B": 0}]
    FakeStore.pushed.clear()

    run_due_now(hub, run_jobs)
    assert FakeStore.pushed == []


def test_inactive_locations_do_not_count_and_levels_go_in_batches(
    make_hub, fakes, run_jobs, monkeypatch
):
    monkeypatch.setattr(inventory, "PUSH_BATCH_SIZE", 2)
    hub = make_hub(plugins=[fakes])
    create_channel_for(hub, "fake-store")
    stock(hub, {("A", "shop"): 2, ("B", "shop"): 2, ("C", "shop"): 2, ("A", "closed"): 50})
    with hub.db.transaction() as session:
        upsert_location(session, "closed", active=False)
    run_due_now(hub, run_jobs)
    assert [pushed(c) for c in FakeStore.pushed] == [{"A": 2, "B": 2}, {"C": 2}]


def test_only_enabled_channels_whose_connector_takes_stock_are_pushed(make_hub, fakes, run_jobs):
    hub = make_hub(plugins=[fakes])
    off = create_channel_for(hub, "fake-store")
    with hub.db.transaction() as session:
        session.get(Channel, off).enabled = False
    stock(hub, {("A", "wh"): 1})
    run_due_now(hub, run_jobs)
    assert FakeStore.pushed == []
    with hub.db.read() as session:
        kinds = set(session.scalars(select(Job.kind)))
    assert (
        "stock.push" in kinds and "stock.push.channel" not in kinds
    )  # the manual channel takes none


def test_changes_in_one_transaction_enqueue_one_debounced_push(hub):
    with hub.db.transaction() as session:
        upsert_location(session, "wh")
        set_on_hand(session, [LevelChange(f"S{i}", "wh", i + 1) for i in range(20)], actor="test")
    with hub.db.read() as session:
        jobs = session.scalars(select(Job).where(Job.kind == "stock.push")).all()
        assert len(jobs) == 1 and jobs[0].dedupe_key == "stock.push:200001"


def test_a_movement_committed_after_a_higher_one_was_pushed_is_pushed_next_time(
    make_hub, fakes, run_jobs, clock
):
    from hub.store.models import StockMovement

    hub = make_hub(plugins=[fakes])
    create_channel_for(hub, "fake-store")
    stock(hub, {("A", "wh"): 1, ("B", "wh"): 1, ("C", "wh"): 1})
    run_due_now(hub, run_jobs, clock)
    with hub.db.transaction() as session:
        set_on_hand(
            session,
            [LevelChange("A", "wh", 2), LevelChange("B", "wh", 3), LevelChange("C", "wh", 2)],
            actor="test",
        )
        # As if B's movement (between A's and C's) were still uncommitted at the push.
        late = sorted(session.scalars(select(StockMovement.id)))[-2]
        session.delete(session.get(StockMovement, late))
    FakeStore.pushed.clear()
    run_due_now(hub, run_jobs, clock)
    assert [pushed(c) for c in FakeStore.pushed] == [{"A": 2, "C": 2}]
    with hub.db.transaction() as session:
        set_on_hand(session, [LevelChange("B", "wh", 5)], actor="test")
        newest = session.scalar(select(StockMovement).order_by(StockMovement.id.desc()))
        newest.id = late  # the late transaction commits its lower id now
    FakeStore.pushed.clear()
    run_due_now(hub, run_jobs, clock)
    assert [pushed(c) for c in FakeStore.pushed] == [{"B": 5}]
    FakeStore.pushed.clear()
    run_due_now(hub, run_jobs, clock)
    assert FakeStore.pushed == []
