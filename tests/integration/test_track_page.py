"""The customer's tracking page: what it shows, and what it never shows."""

from __future__ import annotations

import pytest

from hub.core.order import PaymentData, ShipmentData
from hub.orders import shipments, transitions
from hub.store.models import Order
from hub.web.track import tracking_link


def _token(hub, order_id) -> str:
    with hub.db.read() as db:
        return db.get(Order, order_id).tracking_token


def test_the_page_needs_no_sign_in_and_shows_status_items_and_tracking(hub, client, make_order):
    order_id = make_order(
        hub,
        number="#1001",
        notes="VIP: call before delivery",
        payments=[PaymentData(reference="pi_secret_ref_42", amount=4498, status="captured")],
    )
    with hub.unit_of_work() as work:
        db = work.session
        transitions.hold(db, order_id, "fraud_check_manual", actor="test")
        transitions.confirm(work, order_id, actor="test")
        transitions.start_fulfillment(db, order_id, actor="test")
        shipments.ship(
            db,
            order_id,
            ShipmentData(
                external_id="s1",
                carrier="UPS",
                tracking_number="1Z999AA10123456784",
                lines={"TSHIRT-M": 1},
            ),
            actor="test",
        )
    answer = client.get(f"/track/{_token(hub, order_id)}")
    assert answer.status_code == 200
    html = answer.get_data(as_text=True)
    assert "Order #1001" in html and "Partly shipped" in html
    assert "2 ×</td><td>T-shirt M" in html and "Total 44.98 USD" in html
    assert 'href="https://www.ups.com/track?tracknum=1Z999AA10123456784"' in html
    assert "1 × T-shirt M" in html
    # Nothing internal: no notes, no hold reasons, no payment references, no email, no actors.
    for internal in (
        "VIP",
        "fraud_check_manual",
        "pi_secret_ref_42",
        "ann@example.com",
        ">test<",
        "Manual orders",
        "1 Main St",
    ):
        assert internal not in html
    assert answer.headers["Referrer-Policy"] == "no-referrer"
    assert "noindex" in answer.headers["X-Robots-Tag"]


def test_plain_words_for_each_status(hub, client, make_order):
    order_id = make_order(hub)
    token = _token(hub, order_id)
    assert "Received" in client.get(f"/track/{token}").get_data(as_text=True)
    with hub.db.transaction() as db:
        transitions.hold(db, order_id, "address_incomplete", actor="test")
    held = client.get(f"/track/{token}").get_data(as_text=True)
    assert "Being reviewed" in held and "address_incomplete" not in held
    with hub.db.transaction() as db:
        transitions.cancel(db, order_id, actor="test")
    assert "Cancelled" in client.get(f"/track/{token}").get_data(as_text=True)


def test_a_voided_shipment_is_not_shown(hub, client, make_order):
    order_id = make_order(hub)
    with hub.unit_of_work() as work:
        db = work.session
        transitions.confirm(work, order_id, actor="test")
        shipments.ship(
            db,
            order_id,
            ShipmentData(external_id="s1", carrier="FedEx", tracking_number="VOIDME1"),
            actor="test",
        )
        shipments.void_shipment(db, order_id, "s1", actor="test")
    html = client.get(f"/track/{_token(hub, order_id)}").get_data(as_text=True)
    assert "VOIDME1" not in html


@pytest.mark.parametrize("token", ["nope", "x" * 32, "bad token!", "a" * 200])
def test_an_unknown_token_is_a_404_page(hub, client, make_order, token):
    make_order(hub)
    answer = client.get(f"/track/{token}")
    assert answer.status_code == 404
    assert "We cannot find this order" in answer.get_data(as_text=True)


def test_tokens_are_long_and_random(hub, make_order):
    tokens = {_token(hub, make_order(hub)) for _ in range(5)}
    assert len(tokens) == 5 and all(len(t) >= 32 for t in tokens)


def test_tracking_links():
    assert tracking_link("UPS", "1Z 9", "") == "https://www.ups.com/track?tracknum=1Z%209"
    assert tracking_link("usps", "94001", "").startswith("https://tools.usps.com/")
    assert (
        tracking_link("Acme Freight", "123", "https://acme.example/t/123")
        == "https://acme.example/t/123"
    )
    assert tracking_link("Acme Freight", "123", "") is None
    # A URL that is not a web address is never made a link.
    assert tracking_link("Acme", "1", "javascript:alert(1)") is None
    assert tracking_link("UPS", "", "") is None
