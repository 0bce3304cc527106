"""Returns in the admin UI: the order page's Returns section, its forms, and the returns list."""

from __future__ import annotations

import re

import pytest
from admin_helpers import flashes
from sqlalchemy import select

from hub.channels.manage import create_channel
from hub.core.order import PaymentData, ShipmentData
from hub.inventory import levels as inventory
from hub.orders import records, shipments, transitions
from hub.store.models import Job, Order, Return, StockLevel

TOTAL = 2 * 1999 + 500  # make_order: 2 × TSHIRT-M at 19.99 + 5.00 shipping


@pytest.fixture
def shipped(admin_hub, make_order):
    """A shipped order of 2 × TSHIRT-M paid through a Stripe channel (captured), stock kept at "wh"."""
    with admin_hub.db.transaction() as db:
        create_channel(
            admin_hub,
            db,
            name="Stripe",
            connector="stripe",
            slug="stripe",
            config={
                "secret_key": "sk_test_never_called",
                "capture": "automatic",
                "api_base_url": "http://127.0.0.1:9",
            },
        )
        inventory.upsert_location(db, "wh", priority=10)
        inventory.upsert_location(db, "outlet")
        inventory.set_on_hand(db, [inventory.LevelChange("TSHIRT-M", "wh", 5)], actor="test")
    order_id = make_order(
        admin_hub,
        payments=[
            PaymentData(
                reference="pi_1",
                amount=TOTAL,
                status="captured",
                channel="stripe",
                captured_amount=TOTAL,
            )
        ],
    )
    with admin_hub.unit_of_work() as work:
        db = work.session
        transitions.confirm(work, order_id, actor="test")
        transitions.start_fulfillment(db, order_id, actor="test")
        shipments.ship(db, order_id, ShipmentData(external_id="s1"), actor="test")
        line_id = records.get_order(db, order_id).lines[0].id
    return order_id, line_id


def messages(answer) -> str:
    return " ".join(flashes(answer.get_data(as_text=True)))


def returns_of(hub, order_id) -> list[tuple[str, int, int]]:
    """(status, refund amount, refunded amount) of each return of the order, oldest first."""
    with hub.db.read() as db:
        return [
            (r.status, r.refund_amount + r.shipping_refund, r.refunded_amount)
            for r in db.scalars(
                select(Return).where(Return.order_id == order_id).order_by(Return.id)
            )
        ]


def refund_jobs(hub) -> list[int]:
    with hub.db.read() as db:
        return [
            j.payload["amount"] for j in db.scalars(select(Job).where(Job.kind == "payment.refund"))
        ]


def open_return(browser, order_id, line_id, qty=1, **extra):
    return browser.post(
        f"/orders/{order_id}/returns",
        {f"qty-{line_id}": str(qty), "reason": "too small", **extra},
        follow_redirects=True,
    )


def test_a_return_opened_on_the_order_page_is_listed_there_with_its_next_step(
    browser, admin_hub, shipped
):
    order_id, line_id = shipped
    page = browser.get(f"/orders/{order_id}").get_data(as_text=True)
    assert "Open a return" in page
    assert f'name="qty-{line_id}" min="0" max="2"' in page
    assert "Also refund the shipping (5.00 USD)" in page

    answer = open_return(
        browser, order_id, line_id, 1, refund_shipping="on", **{f"loc-{line_id}": "outlet"}
    )

    assert "Return 1 opened for 1 unit: it refunds 24.99 USD once received." in messages(answer)
    assert returns_of(admin_hub, order_id) == [("requested", 1999 + 500, 0)]
    html = answer.get_data(as_text=True)
    section = html[html.index('id="returns"') : html.index("<h2>Timeline</h2>")]
    assert "too small" in section and "back to outlet" in section and "+ 5.00 shipping" in section
    assert 'class="badge return-requested"' in section
    assert re.search(r'action="/returns/1/approve"', section)
    assert 'action="/returns/1/reject"' in section
    assert "order.return_requested" in html


def test_approve_receive_and_refund_from_the_order_page(browser, admin_hub, shipped):
    order_id, line_id = shipped
    open_return(browser, order_id, line_id, 2)

    approved = browser.post("/returns/1/approve", follow_redirects=True)
    assert "Return 1 approved." in messages(approved)
    assert 'action="/returns/1/receive"' in approved.get_data(as_text=True)
    received = browser.post(
        "/returns/1/receive", {f"dest-{line_id}": "outlet"}, follow_redirects=True
    )
    assert "Return 1 received. Restocked: 2 × TSHIRT-M at outlet." in messages(received)
    page = received.get_data(as_text=True)
    assert "At most 44.98 USD can still be refunded" in page
    refunded = browser.post("/returns/1/refund", {"amount": ""}, follow_redirects=True)

    assert (
        "Return 1 refunded. 39.98 USD goes back through the order's payments; the order is now returned."
        in messages(refunded)
    )
    assert returns_of(admin_hub, order_id) == [("refunded", 3998, 3998)]
    assert refund_jobs(admin_hub) == [3998]
    with admin_hub.db.read() as db:
        assert db.get(Order, order_id).status == "returned"
        levels = {(lv.location.code, lv.on_hand) for lv in db.scalars(select(StockLevel))}
    assert levels == {("wh", 3), ("outlet", 2)}
    assert 'class="badge refund-pending"' in refunded.get_data(as_text=True)


def test_a_refund_over_what_can_be_refunded_is_refused_with_the_figure_and_queues_nothing(
    browser, admin_hub, shipped
):
    order_id, line_id = shipped
    open_return(browser, order_id, line_id, 1)
    browser.post("/returns/1/approve")
    browser.post("/returns/1/receive", {f"dest-{line_id}": "write_off"})

    answer = browser.post("/returns/1/refund", {"amount": "50.00"}, follow_redirects=True)

    assert "cannot refund 50.00 USD for return 1: only 44.98 USD of order" in messages(answer)
    assert refund_jobs(admin_hub) == []
    assert returns_of(admin_hub, order_id) == [("received", 1999, 0)]
    bad = browser.post("/returns/1/refund", {"amount": "ten"}, follow_redirects=True)
    assert "The refund amount 'ten' is not an amount in USD" in messages(bad)
    assert refund_jobs(admin_hub) == []


def test_return_forms_without_their_csrf_token_change_nothing(browser, admin_hub, shipped):
    order_id, line_id = shipped
    open_return(browser, order_id, line_id, 1)
    client = browser.client  # posts without the token

    for url, data in (
        (f"/orders/{order_id}/returns", {f"qty-{line_id}": "1", "reason": "forged"}),
        ("/returns/1/approve", {}),
        ("/returns/1/reject", {"reason": "forged"}),
        ("/returns/1/receive", {}),
        ("/returns/1/refund", {"amount": "1.00"}),
    ):
        assert client.post(url, data=data).status_code == 400, url
        assert client.post(url, data={**data, "csrf_token": "forged"}).status_code == 400, url

    assert returns_of(admin_hub, order_id) == [("requested", 1999, 0)]
    assert refund_jobs(admin_hub) == []


def test_what_the_forms_cannot_accept_is_explained(browser, admin_hub, shipped):
    order_id, line_id = shipped
    nothing = browser.post(
        f"/orders/{order_id}/returns", {f"qty-{line_id}": "0", "reason": ""}, follow_redirects=True
    )
    assert "To open a return, give how many units of which line come back, a reason." in messages(
        nothing
    )
    not_a_number = open_return(browser, order_id, line_id, "two")
    assert "a whole number of units (not 'two')" in messages(not_a_number)
    too_many = open_return(browser, order_id, line_id, 3)
    assert f"2 of line {line_id} (TSHIRT-M) can be returned" in messages(too_many)
    assert returns_of(admin_hub, order_id) == []

    open_return(browser, order_id, line_id, 2)
    out_of_order = browser.post("/returns/1/refund", follow_redirects=True)
    assert "return 1 is requested: cannot refund it (only when received)" in messages(out_of_order)
    no_reason = browser.post("/returns/1/reject", {"reason": " "}, follow_redirects=True)
    assert "Rejecting a return needs a reason" in messages(no_reason)
    rejected = browser.post("/returns/1/reject", {"reason": "worn"}, follow_redirects=True)
    assert "Return 1 rejected." in messages(rejected)
    assert returns_of(admin_hub, order_id) == [("rejected", 3998, 0)]
    assert "Every shipped unit is already on a return." not in rejected.get_data(as_text=True)
    missing = browser.post("/returns/99/approve", follow_redirects=True)
    assert "return 99 does not exist" in messages(missing)


def test_an_order_that_has_not_shipped_offers_no_return(browser, admin_hub, make_order):
    order_id = make_order(admin_hub)
    page = browser.get(f"/orders/{order_id}").get_data(as_text=True)
    assert "No returns." in page and "Returns open once the order has shipped." in page
    assert "Open a return" not in page


def test_the_returns_page_lists_them_by_status(browser, admin_hub, shipped):
    order_id, line_id = shipped
    open_return(browser, order_id, line_id, 1)
    open_return(browser, order_id, line_id, 1, reason="arrived damaged")
    browser.post("/returns/1/approve")

    every = browser.get("/returns").get_data(as_text=True)
    assert "too small" in every and "arrived damaged" in every and "#1001" in every
    waiting = browser.get("/returns?status=requested").get_data(as_text=True)
    assert "arrived damaged" in waiting and "too small" not in waiting
    assert "No refunded returns." in browser.get("/returns?status=refunded").get_data(as_text=True)
