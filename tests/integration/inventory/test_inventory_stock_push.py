"""Stock push: available per SKU to every sales channel that takes it, changed SKUs only, batched."""

from __future__ import annotations

import pytest
from inventory_helpers import FakeStore, create_channel_for, stock
from sqlalchemy import select, update

from hub import hookimpl
from hub.core.exceptions import ExternalError
from hub.integration.connectors import Capability
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


# --- per location, channel state and idempotency key (issue 18) ----------------------


class ByLocation(FakeStore):
    """A channel whose config maps some hub locations to its own: it takes stock per location."""

    name = "fake-by-location"
    capabilities = frozenset({Capability.PUSH_STOCK, Capability.STOCK_BY_LOCATION})
    wanted: list[str] | None = ["east", "west", "closed", "typo"]

    def stock_locations(self):
        return ByLocation.wanted


class ByLocationPlugin:
    @hookimpl
    def hub_register_connectors(self):
        return [ByLocation]


def by_location(call) -> dict[tuple[str, str], int]:
    return {(lv.sku, lv.location_code): lv.available for lv in call}


def test_a_channel_that_asks_for_locations_gets_each_location_not_the_sum(
    make_hub, fakes, run_jobs
):
    hub = make_hub(plugins=[fakes, ByLocationPlugin()])
    create_channel_for(hub, "fake-by-location")
    stock(hub, {("A", "east"): 3, ("A", "west"): 4, ("B", "east"): 1, ("A", "closed"): 9})
    with hub.db.transaction() as session:
        upsert_location(session, "closed", active=False)
    run_due_now(hub, run_jobs)
    [call] = FakeStore.pushed
    # Every location asked for, for every changed SKU: none at west is 0, an inactive
    # location sells nothing (0), a code the hub does not have is left out.
    assert by_location(call) == {
        ("A", "closed"): 0,
        ("A", "east"): 3,
        ("A", "west"): 4,
        ("B", "closed"): 0,
        ("B", "east"): 1,
        ("B", "west"): 0,
    }


def test_a_channel_without_a_location_mapping_still_gets_the_sum(make_hub, fakes, run_jobs):
    ByLocation.wanted = None
    try:
        hub = make_hub(plugins=[fakes, ByLocationPlugin()])
        create_channel_for(hub, "fake-by-location")
        stock(hub, {("A", "east"): 3, ("A", "west"): 4})
        run_due_now(hub, run_jobs)
    finally:
        ByLocation.wanted = ["east", "west", "closed", "typo"]
    assert [by_location(c) for c in FakeStore.pushed] == [{("A", ""): 7}]


def test_batches_never_split_one_skus_locations(make_hub, fakes, run_jobs, monkeypatch):
    monkeypatch.setattr(inventory, "PUSH_BATCH_SIZE", 3)
    hub = make_hub(plugins=[fakes, ByLocationPlugin()])
    create_channel_for(hub, "fake-by-location")
    stock(hub, {(sku, "east"): 1 for sku in "ABCD"} | {(sku, "west"): 2 for sku in "ABCD"})
    run_due_now(hub, run_jobs)
    batches = [[(lv.sku, lv.location_code) for lv in call] for call in FakeStore.pushed]
    # Three locations per SKU (closed does not exist here: east, west): each SKU whole in one call.
    for batch in batches:
        for sku in {s for s, _ in batch}:
            assert [c for s, c in batch if s == sku] == ["east", "west"]
    assert sorted(s for b in batches for s, _ in b) == sorted("AABBCCDD")


class Flaky(FakeStore):
    """Fails its first push after recording it, as a service that timed out would."""

    name = "fake-flaky"
    failures = 1

    def push_stock(self, levels, *, state, idempotency_key):
        super().push_stock(levels, state=state, idempotency_key=idempotency_key)
        if Flaky.failures:
            Flaky.failures -= 1
            raise ExternalError("the shop timed out", retryable=True)


class FlakyPlugin:
    @hookimpl
    def hub_register_connectors(self):
        return [Flaky]


def test_push_stock_gets_the_channels_state_and_a_key_that_a_retry_repeats(
    make_hub, fakes, run_jobs
):
    hub = make_hub(plugins=[fakes, FlakyPlugin()])
    channel_id = create_channel_for(hub, "fake-flaky")
    with hub.db.transaction() as session:
        session.get(Channel, channel_id).state = {"catalogue": {"A": 17}}
    stock(hub, {("A", "wh"): 5})
    run_due_now(hub, run_jobs)
    with hub.db.read() as session:
        [job] = session.scalars(select(Job).where(Job.kind == "stock.push.channel")).all()
        assert job.status == "failed"  # the first attempt, waiting for its retry
    with hub.db.transaction() as session:
        session.execute(update(Job).where(Job.id == job.id).values(run_at=utcnow()))
    run_jobs(hub)
    with hub.db.read() as session:
        assert session.get(Job, job.id).status == "succeeded"
    assert [pushed(c) for c in FakeStore.pushed] == [{"A": 5}, {"A": 5}]
    (state1, key1), (state2, key2) = FakeStore.calls
    assert state1 == state2 == {"catalogue": {"A": 17}}
    assert key1 == key2 == f"hub-job-{job.id}-1"
