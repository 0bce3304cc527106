"""Reservation at confirmation: all lines or none, released on cancel, consumed by shipping."""

from __future__ import annotations

from inventory_helpers import (
    FakeShipping,
    check_invariants,
    create_channel_for,
    levels,
    order_state,
    stock,
)
from sqlalchemy import select

from hub import hookimpl
from hub.core.exceptions import ValidationError
from hub.core.order import ShipmentData
from hub.inventory.levels import LevelChange, adjust_on_hand, set_on_hand
from hub.orders import intake, records, shipments, transitions
from hub.store.models import FulfillmentGroup, StockMovement, StockReservation


def held_event(hub, order_id, reason):
    order = order_state(hub, order_id)
    return next(e for e in reversed(order.events) if e.name == "order.held" and e.reason == reason)


def test_confirm_reserves_every_line_at_the_highest_priority_location(hub, new_order, run_jobs):
    stock(
        hub,
        {("A", "east"): 5, ("B", "east"): 5, ("A", "west"): 5, ("B", "west"): 5},
        priorities={"east": 1, "west": 9},
    )
    oid = new_order(hub, ("A", 2), ("B", 1))
    run_jobs(hub)
    assert order_state(hub, oid).status == "confirmed"
    assert levels(hub) == {
        ("A", "east"): (5, 0),
        ("B", "east"): (5, 0),
        ("A", "west"): (5, 2),
        ("B", "west"): (5, 1),
    }
    check_invariants(hub)


def test_short_stock_holds_out_of_stock_naming_the_skus_and_reserves_nothing(
    hub, new_order, run_jobs
):
    stock(hub, {("A", "wh"): 5, ("B", "wh"): 1})
    oid = new_order(hub, ("A", 2), ("B", 3))
    run_jobs(hub)
    order = order_state(hub, oid)
    assert order.status == "on_hold"
    assert order.hold_reasons == ["out_of_stock"]
    assert held_event(hub, oid, "out_of_stock").data["skus"] == {"B": 2}
    # All or none: A was available but is not reserved either.
    assert levels(hub) == {("A", "wh"): (5, 0), ("B", "wh"): (1, 0)}


def test_release_runs_the_checks_again_and_confirms_once_stock_arrived(hub, new_order, run_jobs):
    stock(hub, {("A", "wh"): 1})
    oid = new_order(hub, ("A", 3))
    run_jobs(hub)
    assert order_state(hub, oid).status == "on_hold"
    with hub.db.transaction() as session:
        adjust_on_hand(session, "A", "wh", 4, actor="user:ann", reason="delivery", source="ui")
        transitions.release(session, oid, actor="user:ann")
    run_jobs(hub)
    order = order_state(hub, oid)
    assert order.status == "confirmed" and order.hold_reasons == []
    assert levels(hub)[("A", "wh")] == (5, 3)


def test_cancel_releases_the_reserved_stock(any_hub, new_order, run_jobs):
    hub = any_hub
    stock(hub, {("A", "wh"): 4})
    oid = new_order(hub, ("A", 3))
    run_jobs(hub)
    assert levels(hub)[("A", "wh")] == (4, 3)
    with hub.db.transaction() as session:
        transitions.cancel(session, oid, actor="user:ann", reason="customer asked")
    assert levels(hub)[("A", "wh")] == (4, 0)
    with hub.db.read() as session:
        statuses = set(session.scalars(select(StockReservation.status)))
    assert statuses == {"released"}
    check_invariants(hub)


def test_shipping_consumes_at_the_location_that_ships_and_a_void_restores_it(
    any_hub, new_order, run_jobs
):
    hub = any_hub
    stock(hub, {("A", "wh"): 10})
    oid = new_order(hub, ("A", 4))
    run_jobs(hub)
    with hub.db.transaction() as session:
        line_id = records.get_order(session, oid).lines[0].id
        shipments.ship(
            session, oid, ShipmentData(external_id="s1", lines={line_id: 1}), actor="carrier"
        )
    assert levels(hub)[("A", "wh")] == (9, 3)
    with hub.db.transaction() as session:
        shipments.ship(session, oid, ShipmentData(external_id="s2"), actor="carrier")
    assert levels(hub)[("A", "wh")] == (6, 0)
    assert order_state(hub, oid).status == "shipped"
    check_invariants(hub)
    with hub.db.transaction() as session:
        shipments.void_shipment(session, oid, "s2", actor="carrier")
    # The 3 units of the voided label are back on hand and reserved for the order again.
    assert levels(hub)[("A", "wh")] == (9, 3)
    assert order_state(hub, oid).status == "partially_shipped"
    check_invariants(hub)


def test_every_change_is_a_movement_with_who_why_and_where(hub, new_order, run_jobs):
    stock(hub, {("A", "wh"): 2})
    oid = new_order(hub, ("A", 2))
    run_jobs(hub)
    with hub.db.transaction() as session:
        transitions.cancel(session, oid, actor="user:bob", reason="fraud")
    with hub.db.read() as session:
        moves = [
            (m.on_hand_change, m.reserved_change, m.actor, m.source)
            for m in session.scalars(select(StockMovement).order_by(StockMovement.id))
        ]
    assert moves == [
        (2, 0, "test", "test"),
        (0, 2, "system", f"order:{oid}"),
        (0, -2, "user:bob", f"order:{oid}"),
    ]


def test_split_routing_uses_the_fewest_locations_and_makes_one_group_each(
    make_hub, fakes, new_order, run_jobs
):
    hub = make_hub(plugins=[fakes])
    create_channel_for(hub, "fake-shipping")
    # No location has both; "big" has neither; "a" and "b" together do.
    stock(
        hub,
        {("A", "a"): 2, ("B", "b"): 1, ("A", "c"): 1, ("B", "c"): 0, ("C", "b"): 5},
        priorities={"a": 5, "b": 3, "c": 9, "big": 10},
    )
    oid = new_order(hub, ("A", 2), ("B", 1), ("C", 1))
    run_jobs(hub)
    order = order_state(hub, oid)
    assert order.status == "processing"
    with hub.db.read() as session:
        groups = session.scalars(
            select(FulfillmentGroup)
            .where(FulfillmentGroup.order_id == oid)
            .order_by(FulfillmentGroup.id)
        ).all()
        by_sku = {line.id: line.sku for line in order.lines}
        plan = [
            (g.location_code, {by_sku[x["line_id"]]: x["quantity"] for x in g.lines}, g.key)
            for g in groups
        ]
    assert plan == [("a", {"A": 2}, f"hub-{oid}"), ("b", {"B": 1, "C": 1}, f"hub-{oid}-2")]
    assert levels(hub)[("A", "a")] == (2, 2) and levels(hub)[("A", "c")] == (1, 0)


def test_shipment_of_a_group_consumes_at_that_groups_location(make_hub, fakes, new_order, run_jobs):
    from hub.channels.port import ChannelPort
    from hub.integration.connectors import ShipmentNotice

    hub = make_hub(plugins=[fakes])
    ship_id = create_channel_for(hub, "fake-shipping")
    stock(hub, {("A", "a"): 1, ("A", "b"): 1}, priorities={"a": 2, "b": 1})
    oid = new_order(hub, ("A", 2))
    run_jobs(hub)
    ChannelPort(hub, ship_id).record_shipment(
        ShipmentNotice(key=f"hub-{oid}-2", shipment=ShipmentData("t-b"))
    )
    assert levels(hub) == {("A", "a"): (1, 1), ("A", "b"): (0, 0)}
    assert order_state(hub, oid).status == "partially_shipped"


def test_unknown_sku_is_held_while_stock_is_tracked(hub, new_order, run_jobs):
    stock(hub, {("A", "wh"): 5})
    oid = new_order(hub, ("A", 1), ("NOPE", 1))
    run_jobs(hub)
    order = order_state(hub, oid)
    assert order.status == "on_hold"
    assert order.hold_reasons == ["unknown_sku", "out_of_stock"]
    assert levels(hub)[("A", "wh")] == (5, 0)


def test_without_any_location_stock_is_not_tracked_and_orders_confirm(hub, new_order, run_jobs):
    oid = new_order(hub, ("ANY", 3))
    run_jobs(hub)
    assert order_state(hub, oid).status == "confirmed"
    assert levels(hub) == {}


def test_a_plugin_strategy_replaces_the_default_routing(make_hub, new_order, run_jobs):
    class AlwaysWest:
        @hookimpl
        def hub_allocate_order(self, order, lookup):
            return [("west", {line["id"]: line["quantity"] for line in order["lines"]})]

    hub = make_hub(plugins=[AlwaysWest()])
    stock(hub, {("A", "east"): 5, ("A", "west"): 5}, priorities={"east": 9, "west": 1})
    new_order(hub, ("A", 2))
    run_jobs(hub)
    assert levels(hub) == {("A", "east"): (5, 0), ("A", "west"): (5, 2)}


def test_a_plugin_strategy_reads_locations_and_stock_through_its_lookup(
    make_hub, new_order, run_jobs
):
    """A strategy given plain data: it ships everything from the location with most of it."""
    seen = []

    class MostStock:
        @hookimpl
        def hub_allocate_order(self, order, lookup):
            skus = {line["sku"] for line in order["lines"]}
            stock = lookup.available(skus)
            seen.append(([loc.code for loc in lookup.locations()], stock))
            best = max(
                lookup.locations(), key=lambda loc: sum(stock.get((s, loc.code), 0) for s in skus)
            )
            return [(best.code, {line["id"]: line["quantity"] for line in order["lines"]})]

    hub = make_hub(plugins=[MostStock()])
    stock(hub, {("A", "east"): 3, ("A", "west"): 7}, priorities={"east": 9, "west": 1})
    new_order(hub, ("A", 2))
    run_jobs(hub)
    # The default would take the higher priority (east); the plugin saw the stock and chose west.
    assert levels(hub) == {("A", "east"): (3, 0), ("A", "west"): (7, 2)}
    assert seen == [(["east", "west"], {("A", "east"): 3, ("A", "west"): 7})]


def test_held_after_confirmation_keeps_its_stock_and_is_not_reserved_twice(
    any_hub, new_order, run_jobs
):
    hub = any_hub
    stock(hub, {("A", "wh"): 5})
    oid = new_order(hub, ("A", 2))
    run_jobs(hub)
    with hub.db.transaction() as session:
        transitions.hold(session, oid, "address check", actor="user:ann")
    assert levels(hub)[("A", "wh")] == (5, 2)
    with hub.db.transaction() as session:
        transitions.release(session, oid, actor="user:ann")
    run_jobs(hub)
    assert order_state(hub, oid).status == "confirmed"
    assert levels(hub)[("A", "wh")] == (5, 2)
    check_invariants(hub)


def test_changed_lines_give_back_the_old_reservation(any_hub, new_order, run_jobs, make_order):
    hub = any_hub
    from hub.channels.manage import ensure_manual_channel
    from hub.core.order import Customer, Line
    from hub.testing import order_data

    stock(hub, {("A", "wh"): 5, ("B", "wh"): 5})
    oid = new_order(hub, ("A", 2), external_id="X1", customer=Customer(email="x@example.com"))
    run_jobs(hub)
    with hub.db.transaction() as session:
        transitions.hold(session, oid, "customer called", actor="user:ann")
        channel = ensure_manual_channel(hub, session)
        intake.upsert_order(
            session,
            channel,
            order_data(
                external_id="X1",
                customer=Customer(email="x@example.com"),
                lines=[Line(sku="B", name="B", quantity=1, unit_price=1000)],
            ),
            actor="user:ann",
        )
        transitions.release(session, oid, actor="user:ann")
    run_jobs(hub)
    assert levels(hub) == {("A", "wh"): (5, 0), ("B", "wh"): (5, 1)}
    check_invariants(hub)


def test_on_hand_cannot_be_set_below_what_orders_reserved(hub, new_order, run_jobs):
    stock(hub, {("A", "wh"): 5})
    new_order(hub, ("A", 3))
    run_jobs(hub)
    import pytest

    with pytest.raises(ValidationError, match="below the 3 reserved"):
        with hub.db.transaction() as session:
            set_on_hand(session, [LevelChange("A", "wh", 2)], actor="user:ann")
    with pytest.raises(ValidationError, match="below the 3 reserved"):
        with hub.db.transaction() as session:
            adjust_on_hand(session, "A", "wh", -3, actor="user:ann")
    assert levels(hub)[("A", "wh")] == (5, 3)


def test_fake_shipping_received_the_groups(make_hub, fakes, new_order, run_jobs):
    hub = make_hub(plugins=[fakes])
    create_channel_for(hub, "fake-shipping")
    stock(hub, {("A", "wh"): 5})
    new_order(hub, ("A", 1))
    run_jobs(hub)
    # Shipping flushes are batched a couple of seconds ahead; nothing sent yet, but planned.
    with hub.db.read() as session:
        assert [g.location_code for g in session.scalars(select(FulfillmentGroup))] == ["wh"]
    assert FakeShipping.submitted == []
