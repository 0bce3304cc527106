"""Checks before confirmation: every reason listed, never dropped; release checks again."""

from __future__ import annotations

from datetime import UTC, datetime, timedelta

import pytest
from inventory_helpers import lines, order_state, stock

from hub import hookimpl
from hub.channels.manage import ensure_manual_channel
from hub.core.order import Address, Customer, Line
from hub.orders import intake, transitions
from hub.store.db import Database
from hub.testing import order_data, truncate_all

T0 = datetime(2026, 5, 1, 12, 0, tzinfo=UTC)


def test_a_sound_order_is_confirmed(hub, make_order, run_jobs):
    oid = make_order(hub)
    run_jobs(hub)
    order = order_state(hub, oid)
    assert order.status == "confirmed" and order.hold_reasons == []


def test_every_failing_check_is_listed_on_the_hold(make_hub, make_order, run_jobs):
    hub = make_hub(currencies="EUR,GBP")
    stock(hub, {("KNOWN", "wh"): 10})
    bad = dict(
        customer=Customer(email="eve@example.com"),
        shipping_address=Address(
            name="Eve", address1="1 Main St", country_code="US"
        ),  # no city, no zip
        lines=[
            Line(sku="KNOWN", name="k", quantity=0, unit_price=500),
            Line(sku="GHOST", name="g", quantity=1, unit_price=500),
        ],
        total=99_99,  # lines 5.00 + shipping 5.00 = 10.00
    )
    first = make_order(hub, placed_at=T0, **bad)
    second = make_order(hub, placed_at=T0 + timedelta(minutes=3), **bad)
    run_jobs(hub)
    common = [
        "address_incomplete",
        "unknown_sku",
        "invalid_quantity",
        "totals_mismatch",
        "currency_not_supported",
    ]
    assert order_state(hub, first).hold_reasons == common + ["out_of_stock"]
    assert order_state(hub, second).hold_reasons == common + ["possible_duplicate", "out_of_stock"]
    assert order_state(hub, second).status == "on_hold"


def test_postal_code_is_only_required_where_the_country_uses_one(hub, make_order, run_jobs):
    hk = make_order(
        hub,
        customer=Customer(email="a@example.com"),
        shipping_address=Address(
            name="Li", address1="1 Queen's Rd", city="Hong Kong", country_code="HK"
        ),
    )
    us = make_order(
        hub,
        customer=Customer(email="b@example.com"),
        shipping_address=Address(
            name="Al", address1="1 Main St", city="Springfield", country_code="US"
        ),
    )
    run_jobs(hub)
    assert order_state(hub, hk).status == "confirmed"
    assert order_state(hub, us).hold_reasons == ["address_incomplete"]


def test_totals_are_compared_to_the_currency_minor_unit(hub, make_order, run_jobs):
    # JPY has no minor unit: 3 × ¥1200 + ¥500 shipping + ¥360 tax − ¥100 discount = ¥4360.
    ok = make_order(
        hub,
        currency="JPY",
        customer=Customer(email="jp@example.com"),
        lines=[Line(sku="T", name="t", quantity=3, unit_price=1200)],
        shipping=500,
        tax=360,
        discount=100,
        total=4360,
    )
    off = make_order(
        hub,
        currency="JPY",
        customer=Customer(email="jp2@example.com"),
        lines=[Line(sku="T", name="t", quantity=3, unit_price=1200)],
        shipping=500,
        tax=360,
        discount=100,
        total=4361,
    )
    run_jobs(hub)
    assert order_state(hub, ok).status == "confirmed"
    assert order_state(hub, off).hold_reasons == ["totals_mismatch"]


def test_release_checks_again_and_confirms_once_the_address_is_fixed(hub, make_order, run_jobs):
    broken = Address(name="Ann", address1="", city="Springfield", zip="12345", country_code="US")
    oid = make_order(hub, external_id="A1", shipping_address=broken)
    run_jobs(hub)
    assert order_state(hub, oid).hold_reasons == ["address_incomplete"]
    with hub.db.transaction() as session:
        transitions.release(session, oid, actor="user:ann")
    run_jobs(hub)
    assert order_state(hub, oid).hold_reasons == ["address_incomplete"]  # nothing fixed: held again
    with hub.db.transaction() as session:
        channel = ensure_manual_channel(hub, session)
        fixed = Address(
            name="Ann", address1="1 Main St", city="Springfield", zip="12345", country_code="US"
        )
        intake.upsert_order(
            session, channel, order_data(external_id="A1", shipping_address=fixed), actor="user:ann"
        )
        transitions.release(session, oid, actor="user:ann")
    run_jobs(hub)
    order = order_state(hub, oid)
    assert order.status == "confirmed" and order.hold_reasons == []


def test_same_customer_same_lines_minutes_apart_is_a_likely_duplicate(
    any_hub, make_order, run_jobs
):
    hub = any_hub
    ann = Customer(email="ann@example.com")
    first = make_order(hub, customer=ann, placed_at=T0)
    again = make_order(hub, customer=ann, placed_at=T0 + timedelta(minutes=4))
    later = make_order(hub, customer=ann, placed_at=T0 + timedelta(minutes=30))
    other_lines = make_order(
        hub, customer=ann, placed_at=T0 + timedelta(minutes=5), **lines(("X", 1))
    )
    run_jobs(hub)
    assert order_state(hub, first).status == "confirmed"
    assert order_state(hub, again).hold_reasons == ["possible_duplicate"]
    assert order_state(hub, later).status == "confirmed"
    assert order_state(hub, other_lines).status == "confirmed"


def test_a_cancelled_original_makes_no_duplicate(hub, make_order, run_jobs):
    ann = Customer(email="ann@example.com")
    first = make_order(hub, customer=ann, placed_at=T0)
    run_jobs(hub)
    with hub.db.transaction() as session:
        transitions.cancel(session, first, actor="user:ann")
    again = make_order(hub, customer=ann, placed_at=T0 + timedelta(minutes=2))
    run_jobs(hub)
    assert order_state(hub, again).status == "confirmed"


def test_a_person_accepts_a_held_order_by_confirming_it_and_stock_is_still_reserved(
    hub, make_order, run_jobs
):
    from inventory_helpers import levels

    stock(hub, {("TSHIRT-M", "wh"): 10})
    ann = Customer(email="ann@example.com")
    make_order(hub, customer=ann, placed_at=T0)
    again = make_order(hub, customer=ann, placed_at=T0 + timedelta(minutes=1))
    run_jobs(hub)
    assert order_state(hub, again).hold_reasons == ["possible_duplicate"]
    with hub.unit_of_work() as work:
        transitions.confirm(work, again, actor="user:ann", reason="genuine second order")
    assert order_state(hub, again).status == "confirmed"
    assert levels(hub)[("TSHIRT-M", "wh")] == (10, 4)


def test_a_plugin_adds_its_own_rule(make_hub, make_order, run_jobs):
    class NoPoBoxes:
        @hookimpl
        def hub_validate_order(self, order, lookup):
            return ["po_box"] if "po box" in order["shipping_address"]["address1"].lower() else []

    hub = make_hub(plugins=[NoPoBoxes()])
    oid = make_order(
        hub,
        shipping_address=Address(
            name="Ann", address1="PO Box 12", city="X", zip="1", country_code="US"
        ),
        total=1,
    )
    run_jobs(hub)
    assert sorted(order_state(hub, oid).hold_reasons) == ["po_box", "totals_mismatch"]


def test_a_plugin_rule_reads_a_customers_recent_orders_through_its_lookup(
    make_hub, make_order, run_jobs
):
    """The example in docs/plugins.md: a third order of one customer within a day is held."""

    class NoBulkRepeats:
        @hookimpl
        def hub_validate_order(self, order, lookup):
            if not order.get("email") or not order.get("placed_at"):
                return []
            placed = datetime.fromisoformat(order["placed_at"])
            earlier = lookup.recent_orders(
                order["email"], since=placed - timedelta(days=1), until=placed
            )
            return (
                ["many_orders_today"]
                if len([o for o in earlier if o.id != order["id"]]) >= 2
                else []
            )

    hub = make_hub(plugins=[NoBulkRepeats()])
    ann = Customer(email="Ann@Example.com")
    ids = [
        make_order(hub, customer=ann, placed_at=T0 + timedelta(hours=h), **lines((f"S{h}", 1)))
        for h in (0, 5, 9)
    ]
    run_jobs(hub)
    assert [order_state(hub, i).hold_reasons for i in ids] == [[], [], ["many_orders_today"]]


@pytest.mark.parametrize("database", ["sqlite", "postgresql"])
def test_a_failing_rule_holds_nothing_and_aborts_nothing(
    database, make_hub, make_order, run_jobs, caplog, request
):
    """A plugin's rule that raises is logged and counted; the others decide, the job succeeds."""

    class Broken:
        @hookimpl
        def hub_validate_order(self, order, lookup):
            # Bad arguments: PostgreSQL refuses the read (and would abort the
            # transaction but for the rule's savepoint); SQLite reads nothing.
            lookup.recent_orders("ann@example.com", since="not a date", until="nor this")
            raise RuntimeError("the rule's own bug")

    class NoPoBoxes:
        @hookimpl
        def hub_validate_order(self, order, lookup):
            return ["po_box"] if "po box" in order["shipping_address"]["address1"].lower() else []

    url = None
    if database == "postgresql":
        url = request.getfixturevalue("pg_url")
        db = Database(url)
        truncate_all(db)
        db.dispose()
    hub = make_hub(plugins=[Broken(), NoPoBoxes()], database_url=url)
    sound, po_box = (
        make_order(hub),
        make_order(
            hub,
            shipping_address=Address(
                name="Ann", address1="PO Box 12", city="X", zip="1", country_code="US"
            ),
        ),
    )
    run_jobs(hub)
    assert order_state(hub, sound).status == "confirmed"
    assert order_state(hub, po_box).hold_reasons == ["po_box"]
    assert "failed in hub_validate_order" in caplog.text
    assert (
        hub.metrics.registry.get_sample_value(
            "hub_plugin_errors_total", {"plugin": _name(hub, Broken), "hook": "hub_validate_order"}
        )
        == 2
    )


def _name(hub, cls) -> str:
    return next(name for name, plugin in hub.pm.list_name_plugin() if isinstance(plugin, cls))
