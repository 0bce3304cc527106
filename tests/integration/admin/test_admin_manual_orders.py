"""The admin's New order and Edit order pages without a browser (issue 19, "Orders entered by
people"): the form posts as a person's browser does, with or without JavaScript."""

from __future__ import annotations

import re

import pytest
from admin_helpers import flashes

from hub.channels.manage import create_channel
from hub.inventory.levels import LevelChange, set_on_hand, upsert_location
from hub.orders import transitions
from hub.store.models import Order

FORM = {
    "external_id": "desk-1",
    "customer.email": "carol@example.com",
    "customer.name": "Carol Diaz",
    "customer.phone": "+1 555 0100",
    "shipping_address.name": "Carol Diaz",
    "shipping_address.address1": "5 Elm St",
    "shipping_address.city": "Springfield",
    "shipping_address.zip": "12345",
    "shipping_address.country_code": "us",
    "billing_same": "1",
    "currency": "USD",
    "line_rows": "3",
    "lines.0.sku": "TSHIRT-M",
    "lines.0.name": "T-shirt M",
    "lines.0.quantity": "2",
    "lines.0.unit_price": "19.99",
    "lines.1.sku": "MUG",
    "lines.1.name": "Mug",
    "lines.1.quantity": "1",
    "lines.1.unit_price": "8.50",
    "shipping": "5.00",
    "discount": "0",
    "tax": "0",
    "payment": "paid",
    "notes": "Picks up Friday",
}


@pytest.fixture
def stocked(admin_hub):
    with admin_hub.db.transaction() as session:
        upsert_location(session, "WH1", name="Main warehouse")
        set_on_hand(
            session, [LevelChange("TSHIRT-M", "WH1", 10), LevelChange("MUG", "WH1", 4)], actor="t"
        )
    return admin_hub


def _orders(hub) -> list[Order]:
    with hub.db.read() as session:
        found = list(session.query(Order).order_by(Order.id))
        session.expunge_all()
        return found


def test_the_form_offers_known_skus_with_their_stock(browser, stocked):
    page = browser.get("/orders/new").get_data(as_text=True)
    assert '<option value="MUG">4 available</option>' in page
    assert '<option value="TSHIRT-M">10 available</option>' in page
    assert page.count('class="line-row"') == 3
    assert 'href="/orders/new"' in browser.get("/orders").get_data(as_text=True)


def test_a_desk_order_is_created_checked_and_reserved(browser, stocked):
    response = browser.post("/orders/new", FORM, follow_redirects=True)
    assert response.status_code == 200
    (order,) = _orders(stocked)
    assert (order.total, order.financial_status, order.status) == (5348, "paid", "confirmed")
    assert (order.customer_phone, order.notes) == ("+1 555 0100", "Picks up Friday")
    assert order.channel.slug == "manual"
    assert flashes(response.get_data(as_text=True))[0] == (
        f"Order {order.number} created. The checks passed: it is confirmed."
    )
    # Sent twice (a double click, a reload): one order.
    again = browser.post("/orders/new", FORM, follow_redirects=True)
    assert "was created already" in flashes(again.get_data(as_text=True))[0]
    assert len(_orders(stocked)) == 1


def test_add_another_line_keeps_what_was_typed_and_saves_nothing(browser, stocked):
    page = browser.post("/orders/new", {**FORM, "add_line": "1"}).get_data(as_text=True)
    assert page.count('class="line-row"') == 4
    assert 'value="Picks up Friday"' in page or "Picks up Friday</textarea>" in page
    assert 'name="lines.1.sku" value="MUG"' in page
    assert "4 available" in page
    assert _orders(stocked) == []


def test_errors_are_shown_next_to_their_fields_and_nothing_is_stored(browser, stocked):
    bad = {
        **FORM,
        "customer.email": "not-an-email",
        "lines.1.unit_price": "8.505",
        "lines.1.quantity": "many",
        "shipping_address.city": "",
    }
    response = browser.post("/orders/new", bad)
    assert response.status_code == 422
    page = response.get_data(as_text=True)
    for name in ("customer.email", "lines.1.quantity", "shipping_address.city"):
        field = re.search(rf'name="{re.escape(name)}"[^>]*>\s*(<p class="field-error">[^<]+)', page)
        assert field, f"no error shown next to {name}"
    assert "Nothing was saved" in page
    assert _orders(stocked) == []


def test_an_order_without_lines_says_so(browser, stocked):
    empty = {k: v for k, v in FORM.items() if not k.startswith("lines.")}
    page = browser.post("/orders/new", empty).get_data(as_text=True)
    assert "an order needs at least one line" in page
    assert _orders(stocked) == []


def _created(browser, hub) -> Order:
    browser.post("/orders/new", FORM)
    return _orders(hub)[0]


def test_the_edit_page_changes_a_line_and_the_address(browser, stocked):
    order = _created(browser, stocked)
    page = browser.get(f"/orders/{order.id}").get_data(as_text=True)
    assert f'href="/orders/{order.id}/edit"' in page
    form = browser.get(f"/orders/{order.id}/edit").get_data(as_text=True)
    assert f'name="version" value="{order.version}"' in form
    assert "8 available, 2 more held for this order" in form  # 10 on hand, 2 reserved for it
    edit = {
        "version": str(order.version),
        "line_rows": "3",
        "lines.0.sku": "TSHIRT-M",
        "lines.0.name": "T-shirt M",
        "lines.0.quantity": "3",
        "lines.0.unit_price": "19.99",
        "lines.1.sku": "MUG",
        "lines.1.name": "Mug",
        "lines.1.quantity": "0",  # removed
        "lines.1.unit_price": "8.50",
        "shipping": "5.00",
        "discount": "0",
        "tax": "0",
        "shipping_address.name": "Carol Diaz",
        "shipping_address.address1": "77 Oak Ave",
        "shipping_address.city": "Springfield",
        "shipping_address.zip": "12345",
        "shipping_address.country_code": "US",
        "billing_same": "1",
        "notes": "Picks up Friday",
    }
    response = browser.post(f"/orders/{order.id}/edit", edit, follow_redirects=True)
    said = flashes(response.get_data(as_text=True))
    assert said[0].startswith(
        f"Order {order.number} saved: 2 x TSHIRT-M -> 3 x TSHIRT-M; removed 1 x MUG; address changed."
    )
    assert "it is confirmed" in said[0]
    (after,) = _orders(stocked)
    assert (after.total, after.shipping_address["address1"]) == (6497, "77 Oak Ave")

    # The same form again, now stale: refused, saying why.
    stale = browser.post(f"/orders/{order.id}/edit", {**edit, "lines.0.quantity": "1"})
    assert stale.status_code == 422
    assert "changed by someone else after you opened it" in stale.get_data(as_text=True)
    assert _orders(stocked)[0].total == 6497


def test_an_order_gone_to_the_warehouse_has_no_edit_button_and_no_edit_page(browser, stocked):
    order = _created(browser, stocked)
    with stocked.db.transaction() as session:
        transitions.start_fulfillment(session, order.id, actor="test")
    assert f"/orders/{order.id}/edit" not in browser.get(f"/orders/{order.id}").get_data(
        as_text=True
    )
    response = browser.get(f"/orders/{order.id}/edit", follow_redirects=True)
    assert "gone to the warehouse" in flashes(response.get_data(as_text=True))[0]


def test_a_payment_authorised_at_a_gateway_is_recorded_for_the_order_total(browser, stocked):
    with stocked.db.transaction() as session:
        create_channel(
            stocked,
            session,
            name="Stripe",
            connector="stripe",
            slug="stripe",
            config={"secret_key": "sk_test_123", "webhook_secret": "whsec_1", "capture": "manual"},
        )
    page = browser.get("/orders/new").get_data(as_text=True)
    assert 'value="gateway"' in page and '<option value="stripe"' in page
    missing = browser.post("/orders/new", {**FORM, "payment": "gateway"})
    assert "the gateway&#39;s reference of the payment is required" in missing.get_data(
        as_text=True
    )
    assert _orders(stocked) == []

    browser.post(
        "/orders/new",
        {**FORM, "payment": "gateway", "payment_reference": "pi_123", "payment_channel": "stripe"},
    )
    (order,) = _orders(stocked)
    with stocked.db.read() as session:
        (payment,) = session.get(Order, order.id).payments
        assert (payment.reference, payment.status, payment.amount) == ("pi_123", "authorized", 5348)
        assert payment.channel.slug == "stripe"
    assert (order.financial_status, order.status) == ("authorized", "confirmed")
