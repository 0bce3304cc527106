"""Editing an order before it goes to the warehouse (hub.orders.edits; issue 19, "Orders
entered by people"): totals, stock reserved again, refusals, stale versions, the audit in words,
and what the payments cover of a new total."""

from __future__ import annotations

import threading

import pytest
from test_pull_pages import waiting_on_a_lock

from hub.core.exceptions import ConcurrencyError, Conflict, ValidationError
from hub.core.order import Line, PaymentData
from hub.inventory import reservations
from hub.inventory.levels import LevelChange, set_on_hand, upsert_location
from hub.orders import edits, records, transitions
from hub.orders.intake import upsert_order
from hub.pipeline.order_steps import check_order
from hub.store.models import Channel, Order, StockLevel
from hub.testing import order_data

ADDRESS = {
    "name": "Ann Smith",
    "address1": "9 New Road",
    "city": "Shelbyville",
    "zip": "54321",
    "country_code": "us",
}


def _line(sku: str, quantity: int, price: str = "19.99", name: str = "") -> dict:
    return {"sku": sku, "name": name or sku, "quantity": quantity, "unit_price": price}


@pytest.fixture
def stocked(any_hub):
    """A hub (SQLite, and PostgreSQL when configured) with stock at one location."""
    hub = any_hub
    with hub.db.transaction() as session:
        upsert_location(session, "WH1", name="Main warehouse")
        set_on_hand(
            session,
            [LevelChange("TSHIRT-M", "WH1", 10), LevelChange("MUG", "WH1", 5)],
            actor="test",
        )
    return hub


def _edit(hub, order_id: int, changes: dict, **kw) -> edits.EditOutcome:
    with hub.db.transaction() as session:
        outcome = edits.edit_order(session, order_id, changes, actor="user:ann", **kw)
        session.flush()
        return outcome


def _order(hub, order_id: int) -> Order:
    with hub.db.read() as session:
        order = session.scalars(records.order_query().where(Order.id == order_id)).one()
        session.expunge_all()
        return order


def _reserved(hub, order_id: int) -> dict[str, int]:
    with hub.db.read() as session:
        out: dict[str, int] = {}
        for r in reservations.active(session, order_id):
            out[r.sku] = out.get(r.sku, 0) + r.quantity
        return out


def _level(hub, sku: str) -> tuple[int, int]:
    with hub.db.read() as session:
        level = session.query(StockLevel).filter_by(sku=sku).one()
        return level.on_hand, level.reserved


def test_editing_a_confirmed_orders_lines_recomputes_totals_and_reserves_the_new_lines(
    stocked, make_order
):
    hub = stocked
    order_id = make_order(hub)  # 2 x TSHIRT-M at 19.99 + 5.00 shipping
    check_order(hub, order_id)
    assert _order(hub, order_id).status == "confirmed"
    assert _reserved(hub, order_id) == {"TSHIRT-M": 2}

    outcome = _edit(
        hub,
        order_id,
        {"lines": [_line("TSHIRT-M", 3), _line("MUG", 1, "8.50", "Mug")], "shipping": "6.00"},
    )
    assert outcome.changes == [
        "2 x TSHIRT-M -> 3 x TSHIRT-M",
        "added 1 x MUG",
        "shipping 5.00 -> 6.00",
    ]
    order = _order(hub, order_id)
    assert (order.subtotal, order.shipping, order.total) == (
        3 * 1999 + 850,
        600,
        3 * 1999 + 850 + 600,
    )
    # Revised to pending with the old stock given back, then checked and reserved again.
    assert order.status == "pending"
    assert _reserved(hub, order_id) == {}
    assert _level(hub, "TSHIRT-M") == (10, 0)
    assert [e.name for e in order.events][-2:] == ["order.edited", "order.revised"]
    check_order(hub, order_id)
    assert _order(hub, order_id).status == "confirmed"
    assert _reserved(hub, order_id) == {"TSHIRT-M": 3, "MUG": 1}
    assert _level(hub, "MUG") == (5, 1)


def test_the_audit_event_says_what_changed_in_words(stocked, make_order):
    hub = stocked
    order_id = make_order(hub)
    _edit(hub, order_id, {"lines": [_line("TSHIRT-M", 3)], "shipping_address": ADDRESS})
    event = _order(hub, order_id).events[-1]
    assert event.name == "order.edited"
    assert event.actor == "user:ann"
    assert event.reason == "2 x TSHIRT-M -> 3 x TSHIRT-M; address changed"
    assert event.data["total"] == "64.97"
    assert _order(hub, order_id).shipping_address["country_code"] == "US"


def test_removing_a_line_and_repricing_another_are_said(hub, make_order):
    order_id = make_order(hub, lines=[Line("TSHIRT-M", "T", 2, 1999), Line("MUG", "Mug", 1, 850)])
    outcome = _edit(hub, order_id, {"lines": [_line("TSHIRT-M", 2, "17.50")]})
    assert outcome.changes == ["TSHIRT-M price 19.99 -> 17.50", "removed 1 x MUG"]
    assert _order(hub, order_id).total == 2 * 1750 + 500


def test_an_edit_that_changes_nothing_records_nothing_and_keeps_the_version(hub, make_order):
    order_id = make_order(hub)
    before = _order(hub, order_id)
    outcome = _edit(hub, order_id, {"lines": [_line("TSHIRT-M", 2, name="T-shirt M")]})
    after = _order(hub, order_id)
    assert outcome.changes == []
    assert after.version == before.version
    assert len(after.events) == len(before.events)


def test_a_stale_version_is_refused_and_changes_nothing(hub, make_order):
    order_id = make_order(hub)
    version = _order(hub, order_id).version
    _edit(hub, order_id, {"shipping_address": ADDRESS}, version=version)
    with pytest.raises(ConcurrencyError, match="changed by someone else after you opened it"):
        _edit(hub, order_id, {"lines": [_line("TSHIRT-M", 5)]}, version=version)
    assert [line.quantity for line in _order(hub, order_id).lines] == [2]


@pytest.mark.parametrize("how", ["processing", "cancelled", "shipped"])
def test_an_order_gone_to_the_warehouse_is_refused(hub, make_order, how):
    order_id = make_order(hub)
    check_order(hub, order_id)
    with hub.db.transaction() as session:
        if how == "cancelled":
            transitions.cancel(session, order_id, actor="test")
        else:
            transitions.start_fulfillment(session, order_id, actor="test")
    if how == "shipped":
        with hub.unit_of_work() as work:
            from hub.orders import commands

            commands.transition(work, order_id, "ship", actor="test")
    before = _order(hub, order_id)
    with pytest.raises(Conflict) as refused:
        _edit(hub, order_id, {"lines": [_line("TSHIRT-M", 1)]})
    assert (
        "cancelled" if how == "cancelled" else "can no longer be edited"
    ) in refused.value.message
    after = _order(hub, order_id)
    assert (after.version, after.total) == (before.version, before.total)


def test_an_external_channels_order_has_only_its_address_edited(hub):
    with hub.db.transaction() as session:
        shop = Channel(slug="shop", name="Our Shopify", connector="shopify", config={})
        session.add(shop)
        session.flush()
        order_id = upsert_order(session, shop, order_data(total=4498), actor="test").order.id
    with pytest.raises(Conflict, match="its lines and amounts belong to that channel") as refused:
        _edit(hub, order_id, {"lines": [_line("TSHIRT-M", 3)], "shipping_address": ADDRESS})
    assert refused.value.details == {"lines": "set by the sales channel"}
    outcome = _edit(hub, order_id, {"shipping_address": ADDRESS})
    assert outcome.changes == ["address changed"]
    order = _order(hub, order_id)
    assert order.shipping_address["city"] == "Shelbyville"
    assert (order.total, [x.quantity for x in order.lines]) == (4498, [2])


def test_bad_amounts_and_an_incomplete_address_are_refused_naming_the_fields(hub, make_order):
    order_id = make_order(hub)
    with pytest.raises(ValidationError) as refused:
        _edit(
            hub,
            order_id,
            {
                "lines": [_line("TSHIRT-M", 1, "1.999")],
                "discount": "-1",
                "shipping_address": {**ADDRESS, "city": ""},
            },
        )
    assert set(refused.value.details) == {
        "lines.0.unit_price",
        "discount",
        "shipping_address.city",
    }
    assert _order(hub, order_id).lines[0].quantity == 2


def test_a_held_order_stays_held_with_its_stock_given_back(stocked, make_order):
    hub = stocked
    order_id = make_order(hub)
    check_order(hub, order_id)
    with hub.db.transaction() as session:
        transitions.hold(session, order_id, "customer called", actor="test")
    assert _reserved(hub, order_id) == {"TSHIRT-M": 2}
    _edit(hub, order_id, {"lines": [_line("TSHIRT-M", 4)]})
    assert _order(hub, order_id).status == "on_hold"
    assert _reserved(hub, order_id) == {}
    with hub.db.transaction() as session:
        transitions.release(session, order_id, actor="test")
    check_order(hub, order_id)
    assert _reserved(hub, order_id) == {"TSHIRT-M": 4}


def _paid(hub, make_order, status="authorized", captured=0) -> int:
    return make_order(
        hub,
        payments=[
            PaymentData(reference="pi_1", amount=4498, status=status, captured_amount=captured)
        ],
    )


def test_a_total_above_the_authorisation_is_said_not_silently_under_captured(hub, make_order):
    order_id = _paid(hub, make_order)
    outcome = _edit(hub, order_id, {"lines": [_line("TSHIRT-M", 3)]})
    assert outcome.payment_notes == [
        "the payments cover 44.98 USD of the new total 64.97 USD: 19.99 USD is not covered "
        "(a capture takes at most what was authorised); take the rest another way"
    ]
    edited = [e for e in _order(hub, order_id).events if e.name == "order.edited"][-1]
    assert edited.data["payment"] == outcome.payment_notes


def test_a_total_below_what_was_captured_asks_for_a_refund(hub, make_order):
    order_id = _paid(hub, make_order, status="captured", captured=4498)
    outcome = _edit(hub, order_id, {"lines": [_line("TSHIRT-M", 1)]})
    assert outcome.payment_notes == [
        "44.98 USD was captured but the order now totals 24.99 USD: refund 19.99 USD to the customer"
    ]


def test_a_total_below_the_authorisation_is_captured_as_the_new_total(hub, make_order):
    order_id = _paid(hub, make_order)
    outcome = _edit(hub, order_id, {"lines": [_line("TSHIRT-M", 1)]})
    assert outcome.payment_notes == [
        "44.98 USD is authorised; the capture will take 24.99 USD and the gateway lets the rest go"
    ]


def test_an_order_paid_outside_the_hub_says_the_difference_to_settle(hub, make_order):
    order_id = make_order(hub, channel_financial_status="paid")
    outcome = _edit(hub, order_id, {"shipping": "0"})
    assert outcome.payment_notes == [
        "paid outside the hub: the total went from 44.98 USD to 39.98 USD; "
        "settle the difference with the customer"
    ]
    assert _order(hub, order_id).financial_status == "paid"


def test_two_people_editing_one_version_at_once_on_postgresql_one_wins(pg_hub, make_order):
    """A real race: the second edit waits on the first's row lock, then finds a newer version."""
    hub = pg_hub
    order_id = make_order(hub)
    version = _order(hub, order_id).version
    first = hub.db.sessions()
    first.begin()
    edits.edit_order(first, order_id, {"lines": [_line("TSHIRT-M", 3)]}, actor="a", version=version)
    first.flush()
    outcome: dict = {}

    def second_edit():
        try:
            _edit(hub, order_id, {"lines": [_line("TSHIRT-M", 9)]}, version=version)
        except ConcurrencyError as exc:
            outcome["refused"] = exc.message

    racer = threading.Thread(target=second_edit)
    racer.start()
    for _ in range(500):  # bounded: until the second edit waits on the order's row
        if waiting_on_a_lock(hub.db):
            break
        racer.join(0.01)
    first.commit()
    first.close()
    racer.join(30)
    assert "changed by someone else" in outcome["refused"]
    assert [line.quantity for line in _order(hub, order_id).lines] == [3]
