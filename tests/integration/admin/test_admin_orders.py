"""Orders in the admin UI: filters, paging, the order page and its transition buttons."""

from __future__ import annotations

import re

from admin_helpers import flashes

from hub.channels.manage import create_channel
from hub.core.order import Customer, PaymentData, ShipmentData
from hub.orders import intake, shipments, transitions
from hub.store.models import Order, OrderAuditEvent
from hub.testing import order_data


def _buttons(html: str) -> list[str]:
    return re.findall(r'name="event" value="(\w+)"', html)


def _order(hub, order_id) -> Order:
    with hub.db.read() as db:
        order = db.get(Order, order_id)
        db.expunge(order)
        return order


def test_the_list_filters_by_status_channel_and_search(browser, admin_hub, make_order):
    first = make_order(
        admin_hub, number="#2001", customer=Customer(email="bob@example.com", name="Bob")
    )
    make_order(admin_hub, number="#2002", customer=Customer(email="ann@example.com", name="Ann"))
    with admin_hub.db.transaction() as db:
        transitions.cancel(db, first, actor="test")
        store = create_channel(
            admin_hub,
            db,
            name="EU store",
            connector="vault",
            config={"account": "a", "api_token": "t"},
        )
        intake.upsert_order(db, store, order_data(external_id="77", number="#EU-77"), actor="test")
    every = browser.get("/orders").get_data(as_text=True)
    assert all(n in every for n in ("#2001", "#2002", "#EU-77"))
    cancelled = browser.get("/orders?status=cancelled").get_data(as_text=True)
    assert "#2001" in cancelled and "#2002" not in cancelled
    eu = browser.get("/orders?channel=eu-store").get_data(as_text=True)
    assert "#EU-77" in eu and "#2002" not in eu
    search = browser.get("/orders?q=2002").get_data(as_text=True)
    assert "#2002" in search and "#2001" not in search
    by_email = browser.get("/orders?q=ann@example").get_data(as_text=True)
    assert "#2002" in by_email and "#2001" not in by_email
    assert "No orders match these filters." in browser.get("/orders?q=nothing-like-it").get_data(
        as_text=True
    )


def test_the_list_pages_through_many_orders(browser, admin_hub, make_order):
    for n in range(55):
        make_order(admin_hub, number=f"#P{n:03d}")
    first = browser.get("/orders").get_data(as_text=True)
    assert "Page 1 of 2 · 55 in all" in first and "#P054" in first and "#P004" not in first
    second = browser.get("/orders?page=2").get_data(as_text=True)
    assert "#P004" in second and "#P054" not in second and "Page 2 of 2" in second
    assert browser.get("/orders?page=abc").status_code == 200


def test_the_order_page_shows_lines_totals_payments_and_timeline(browser, admin_hub, make_order):
    order_id = make_order(
        admin_hub, payments=[PaymentData(reference="pi_123", amount=4498, status="authorized")]
    )
    html = browser.get(f"/orders/{order_id}").get_data(as_text=True)
    assert "TSHIRT-M" in html and "T-shirt M" in html
    assert "19.99" in html and "39.98 USD" in html and "5.00 USD" in html and "44.98 USD" in html
    assert "pi_123" in html
    assert "order.created" in html
    assert "1 Main St" in html and "ann@example.com" in html
    assert browser.get("/orders/999999").status_code == 404


def test_buttons_are_exactly_the_events_the_status_allows(browser, admin_hub, make_order):
    order_id = make_order(admin_hub)
    assert _buttons(browser.get(f"/orders/{order_id}").get_data(as_text=True)) == [
        "confirm",
        "hold",
        "cancel",
    ]
    with admin_hub.unit_of_work() as work:
        db = work.session
        transitions.confirm(work, order_id, actor="test")
        transitions.start_fulfillment(db, order_id, actor="test")
    # Partial shipping follows from shipments; "ship" records one for the rest.
    assert _buttons(browser.get(f"/orders/{order_id}").get_data(as_text=True)) == [
        "hold",
        "ship",
        "cancel",
    ]
    with admin_hub.db.transaction() as db:
        shipments.ship(db, order_id, ShipmentData(external_id="s1"), actor="test")
        transitions.deliver(db, order_id, actor="test")
        transitions.complete(db, order_id, actor="test")
    html = browser.get(f"/orders/{order_id}").get_data(as_text=True)
    # Returned follows from a return received: no button a person could press in vain.
    assert _buttons(html) == []
    assert "Open a return" in html


def test_pressing_a_button_moves_the_order_and_writes_who_did_it(browser, admin_hub, make_order):
    order_id = make_order(admin_hub)
    answer = browser.post(
        f"/orders/{order_id}/transition", {"event": "confirm"}, follow_redirects=True
    )
    assert "Confirm done — it is now confirmed." in " ".join(flashes(answer.get_data(as_text=True)))
    assert _order(admin_hub, order_id).status == "confirmed"
    with admin_hub.db.read() as db:
        event = db.query(OrderAuditEvent).filter_by(order_id=order_id, name="order.confirmed").one()
        assert event.actor == "user:admin@example.com"


def test_hold_needs_a_reason(browser, admin_hub, make_order):
    order_id = make_order(admin_hub)
    html = browser.get(f"/orders/{order_id}").get_data(as_text=True)
    assert 'name="reason"' in html and "Reason for the hold" in html
    refused = browser.post(
        f"/orders/{order_id}/transition", {"event": "hold", "reason": "  "}, follow_redirects=True
    ).get_data(as_text=True)
    assert "A hold needs a reason" in " ".join(flashes(refused))
    assert _order(admin_hub, order_id).status == "pending"
    browser.post(
        f"/orders/{order_id}/transition", {"event": "hold", "reason": "address looks wrong"}
    )
    held = _order(admin_hub, order_id)
    assert held.status == "on_hold" and held.hold_reasons == ["address looks wrong"]
    page = browser.get(f"/orders/{order_id}").get_data(as_text=True)
    assert "On hold because:" in page and "address looks wrong" in page
    assert _buttons(page) == ["confirm", "release", "cancel"]


def test_an_invalid_transition_is_explained_and_changes_nothing(browser, admin_hub, make_order):
    order_id = make_order(admin_hub)
    html = browser.post(
        f"/orders/{order_id}/transition", {"event": "deliver"}, follow_redirects=True
    ).get_data(as_text=True)
    message = " ".join(flashes(html))
    assert "is pending: cannot deliver (allowed: confirm, hold, cancel)" in message
    assert _order(admin_hub, order_id).status == "pending"
    unknown = browser.post(
        f"/orders/{order_id}/transition", {"event": "explode"}, follow_redirects=True
    ).get_data(as_text=True)
    assert "cannot explode" in " ".join(flashes(unknown))


def test_the_order_page_links_the_customers_tracking_page(browser, admin_hub, make_order):
    order_id = make_order(admin_hub)
    token = _order(admin_hub, order_id).tracking_token
    assert f"/track/{token}" in browser.get(f"/orders/{order_id}").get_data(as_text=True)
