"""The order pages a merchant works in (issue 19): the list's order, what a cancel did to
the money, why a released order is held again, and words instead of codes."""

from __future__ import annotations

import re
from datetime import UTC, datetime, timedelta

import pytest
from admin_helpers import flashes
from sqlalchemy import select

from hub.core.order import PaymentData, ShipmentData
from hub.orders import shipments, transitions
from hub.orders.queries import OrderFilters, search_orders
from hub.store.models import Job, Order, Payment
from hub.testing import order_data

#: Placed out of id order on purpose: an order pulled late was placed early, and the other way round.
PLACED_DAYS = [3, 400, 1, 0, 30, 2, 700, 1, 5, 60]


def _numbers(html: str) -> list[str]:
    return re.findall(r'href="/orders/\d+">(#D\d+)</a>', html)


def test_the_orders_list_runs_newest_placed_first_across_pages(browser, admin_hub, make_order):
    now = datetime(2026, 12, 1, 12, tzinfo=UTC)
    for n, days in enumerate(PLACED_DAYS * 6):  # 60 orders: two pages of 50
        make_order(admin_hub, number=f"#D{n:03d}", placed_at=now - timedelta(days=days))
    shown = _numbers(browser.get("/orders").get_data(as_text=True))
    shown += _numbers(browser.get("/orders?page=2").get_data(as_text=True))
    assert len(shown) == 60 and len(set(shown)) == 60
    days = [PLACED_DAYS[int(number[2:]) % len(PLACED_DAYS)] for number in shown]
    assert days == sorted(days), "newest placed first, on every page"
    # On a tie (the same time), the later order first: the one with the higher number here.
    today = [int(number[2:]) for number in shown if PLACED_DAYS[int(number[2:]) % 10] == 0]
    assert today == sorted(today, reverse=True)


@pytest.mark.parametrize("admin_hub", ["sqlite", "postgresql"], indirect=True)
def test_keyset_pages_follow_the_same_order(admin_hub, make_order):
    now = datetime(2026, 12, 1, 12, tzinfo=UTC)
    for n, days in enumerate(PLACED_DAYS * 2):
        make_order(admin_hub, number=f"#D{n:03d}", placed_at=now - timedelta(days=days))
    with admin_hub.db.read() as db:
        every = [o.id for o in search_orders(db, OrderFilters(), limit=100).rows]
        paged, before = [], None
        while True:
            found = search_orders(db, OrderFilters(), limit=3, before_id=before)
            paged += [o.id for o in found.rows]
            if found.last_id is None:
                break
            before = found.last_id
    assert paged == every and len(every) == 20


def test_the_api_pages_orders_newest_placed_first_by_its_cursor(api, hub, make_order):
    now = datetime(2026, 12, 1, 12, tzinfo=UTC)
    made = {
        make_order(hub, number=f"#D{n:03d}", placed_at=now - timedelta(days=days)): days
        for n, days in enumerate(PLACED_DAYS)
    }
    seen, cursor = [], ""
    while True:
        answer = api.get(f"/api/v1/orders?limit=3{cursor}").get_json()
        seen += [o["id"] for o in answer["data"]]
        if answer["next_cursor"] is None:
            break
        cursor = f"&cursor={answer['next_cursor']}"
    assert sorted(seen) == sorted(made)
    assert [made[i] for i in seen] == sorted(made.values())
    first = api.get("/api/v1/orders?limit=3").get_json()
    with hub.db.transaction() as db:  # the order the cursor points at is purged meanwhile
        db.delete(db.get(Order, seen[2]))
    gone = api.get(f"/api/v1/orders?limit=3&cursor={first['next_cursor']}")
    assert gone.status_code == 422 and "cursor" in gone.get_json()["error"]["details"]


# --- cancelling: what happened to the money -------------------------------------------------


def _cancel_paid_order(admin_hub, make_order, *, gateway: bool) -> tuple[int, int]:
    order_id = make_order(
        admin_hub, payments=[PaymentData(reference="pi_777", amount=4498, status="captured")]
    )
    with admin_hub.db.transaction() as db:
        payment = db.scalars(select(Payment).where(Payment.order_id == order_id)).one()
        payment.captured_amount = 4498
        if gateway:  # taken by a payment channel of the hub's, which can refund it
            payment.channel_id = db.get(Order, order_id).channel_id
        transitions.hold(db, order_id, "call the customer", actor="test")
        transitions.cancel(db, order_id, actor="test")
        return order_id, payment.id


def test_a_cancelled_order_shows_no_hold_banner_and_asks_for_the_refund(
    browser, admin_hub, make_order
):
    order_id, payment_id = _cancel_paid_order(admin_hub, make_order, gateway=True)
    page = browser.get(f"/orders/{order_id}").get_data(as_text=True)
    assert "On hold because" not in page and "call the customer" in page  # in the timeline only
    assert "Refund needed: 44.98 USD was captured and is not refunded." in page
    assert "Ask the gateway for the refund" in page

    answer = browser.post(f"/orders/{order_id}/refund", data={"payment_id": str(payment_id)})
    assert answer.status_code == 302
    page = browser.get(f"/orders/{order_id}").get_data(as_text=True)
    assert "refund of 44.98 USD requested from the payment gateway" in " ".join(flashes(page))
    assert "Refund requested: 44.98 USD, waiting for the gateway." in page
    assert "Ask the gateway for the refund" not in page
    with admin_hub.db.read() as db:
        refunds = db.scalars(select(Job).where(Job.kind == "payment.refund")).all()
        assert [(j.payload["payment_id"], j.payload["amount"]) for j in refunds] == [
            (payment_id, 4498)
        ]
    # Pressed again (a second tab): still one refund.
    browser.post(f"/orders/{order_id}/refund", data={"payment_id": str(payment_id)})
    with admin_hub.db.read() as db:
        assert len(db.scalars(select(Job).where(Job.kind == "payment.refund")).all()) == 1


def test_a_cancelled_order_paid_on_its_channel_says_to_refund_it_there(
    browser, admin_hub, make_order
):
    order_id, _ = _cancel_paid_order(admin_hub, make_order, gateway=False)
    page = browser.get(f"/orders/{order_id}").get_data(as_text=True)
    assert "Refund needed: 44.98 USD was paid on the sales channel — refund it there." in page


def test_a_cancelled_order_says_voided_or_refunded(browser, admin_hub, make_order):
    voided = make_order(
        admin_hub, payments=[PaymentData(reference="pi_v", amount=4498, status="authorized")]
    )
    refunded = make_order(
        admin_hub, payments=[PaymentData(reference="pi_r", amount=4498, status="captured")]
    )
    with admin_hub.db.transaction() as db:
        for order_id in (voided, refunded):
            transitions.cancel(db, order_id, actor="test")
        db.scalars(select(Payment).where(Payment.order_id == voided)).one().status = "voided"
        paid = db.scalars(select(Payment).where(Payment.order_id == refunded)).one()
        paid.captured_amount = paid.refunded_amount = 4498
    assert "Voided: nothing was taken." in browser.get(f"/orders/{voided}").get_data(as_text=True)
    assert "Refunded: 44.98 USD." in browser.get(f"/orders/{refunded}").get_data(as_text=True)


# --- releasing a hold the checks make again -------------------------------------------------


def test_releasing_a_system_hold_says_at_once_why_it_is_held_again(
    browser, admin_hub, make_order, run_jobs
):
    no_zip = order_data().shipping_address
    no_zip.zip = ""
    order_id = make_order(admin_hub, shipping_address=no_zip, total=9999)
    run_jobs(admin_hub)
    with admin_hub.db.read() as db:
        assert db.get(Order, order_id).status == "on_hold"
    page = browser.get(f"/orders/{order_id}").get_data(as_text=True)
    assert "The shipping address has no postal code" in page
    assert "address_incomplete" not in page and "totals_mismatch" not in page

    browser.post(f"/orders/{order_id}/transition", data={"event": "release"})
    page = browser.get(f"/orders/{order_id}").get_data(as_text=True)
    said = " ".join(flashes(page))
    assert "released, but held again" in said
    assert "The shipping address has no postal code" in said
    assert "do not add up to the total" in said
    assert "Held again after its release because:" in page
    # One row for the release, one for the hold with both reasons: not one per reason.
    timeline = page[page.index("<h2>Timeline</h2>") :]
    assert timeline.count('data-event="order.released"') == 1
    assert timeline.count('data-event="order.held"') == 2  # the first hold and this one
    # The job the release queued finds nothing more to do.
    run_jobs(admin_hub)
    again = browser.get(f"/orders/{order_id}").get_data(as_text=True)
    assert again[again.index("<h2>Timeline</h2>") :].count('data-event="order.held"') == 2


def test_releasing_a_hold_whose_checks_pass_confirms_at_once(browser, admin_hub, make_order):
    order_id = make_order(admin_hub)
    with admin_hub.db.transaction() as db:
        transitions.hold(db, order_id, "call the customer", actor="test")
    browser.post(f"/orders/{order_id}/transition", data={"event": "release"})
    page = browser.get(f"/orders/{order_id}").get_data(as_text=True)
    assert "released — the checks passed and it is now confirmed" in " ".join(flashes(page))


def test_the_orders_list_gives_hold_reasons_in_words(browser, admin_hub, make_order, run_jobs):
    order_id = make_order(admin_hub, number="#H1", total=9999)
    run_jobs(admin_hub)
    with admin_hub.db.read() as db:
        assert db.get(Order, order_id).hold_reasons == ["totals_mismatch"]
    listed = browser.get("/orders").get_data(as_text=True)
    rows = listed.split("<tbody>", 1)[1]  # the hold-reason filter's options carry the codes
    assert "do not add up to the total" in rows and "totals_mismatch" not in rows


# --- words ----------------------------------------------------------------------------------


def test_the_cancel_dialog_says_order_once(browser, admin_hub, make_order):
    order_id = make_order(admin_hub, number="#3001")
    page = browser.get(f"/orders/{order_id}").get_data(as_text=True)
    assert 'data-confirm="Really cancel order #3001?"' in page
    assert "order order" not in page


def test_a_discount_row_shows_only_when_there_is_one(browser, admin_hub, make_order):
    plain = make_order(admin_hub)
    discounted = make_order(admin_hub, discount=500, shipping=0)
    assert "<th>Discount</th><td" not in browser.get(f"/orders/{plain}").get_data(as_text=True)
    page = browser.get(f"/orders/{discounted}").get_data(as_text=True)
    assert "<th>Discount</th><td" in page and "−5.00 USD" in page


def test_the_tracking_page_names_the_service_in_words(browser, admin_hub, make_order):
    order_id = make_order(admin_hub)
    with admin_hub.unit_of_work() as work:
        transitions.confirm(work, order_id, actor="test")
        shipments.ship(
            work.session,
            order_id,
            ShipmentData(
                external_id="s1", carrier="ups", service="ups_ground", tracking_number="1Z9"
            ),
            actor="test",
        )
    with admin_hub.db.read() as db:
        token = db.get(Order, order_id).tracking_token
    page = browser.get(f"/track/{token}").get_data(as_text=True)
    assert "UPS Ground" in page and "ups_ground" not in page
    desk = browser.get(f"/orders/{order_id}").get_data(as_text=True)
    assert "UPS Ground" in desk and "ups_ground" not in desk
