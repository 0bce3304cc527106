"""Substitutes in a delay notice, and the customer's choice on the tracking page.

The customer's emails go through a real SMTP server; refunds go to the Stripe sandbox
on loopback. The customer follows the link from the email as a browser does: the page,
then a button (a form with the session's CSRF token).
"""

from __future__ import annotations

import re
import time
from urllib.parse import urlsplit

import pytest
from backorder_helpers import allow_backorders, on_its_way
from inventory_helpers import order_state, stock
from sqlalchemy import select

from hub.aftercare.links import CHOICE_DAYS
from hub.core.order import Customer, PaymentData
from hub.orders import substitutes
from hub.pipeline.aftercare import aftercare_links
from hub.store.models import Order, OrderAuditEvent, StockLevel
from hub.web import create_app
from plugins.email.tests.conftest import SmtpServer
from plugins.stripe.sandbox import StripeSandbox
from plugins.stripe.tests.conftest import StripeSetup, serve
from tests.integration.test_invoice_email import with_email_channel


@pytest.fixture
def smtp():
    server = SmtpServer().start()
    yield server
    server.stop()


@pytest.fixture
def shop(fresh_hubs, smtp):
    """On SQLite and on PostgreSQL (the order's row lock makes the choice once)."""
    return with_email_channel(fresh_hubs(), smtp)


def delay_email(smtp):
    [message] = [m for m in smtp.messages if "delayed" in str(m["Subject"])]
    return message.get_body(preferencelist=("plain",)).get_content()


def choice_link(text: str) -> str:
    """The path of the choice link in the email's text."""
    [url] = re.findall(r"https?://\S+/track/choice/\S+", text)
    return urlsplit(url).path


def answers(hub, order_id) -> list[dict]:
    with hub.db.read() as session:
        return [
            dict(e.data)
            for e in session.scalars(
                select(OrderAuditEvent).where(
                    OrderAuditEvent.order_id == order_id,
                    OrderAuditEvent.name == substitutes.DELAY_ANSWERED,
                )
            )
        ]


def click(client, path: str, choice: str):
    """Open the page and press the button for ``choice``."""
    page = client.get(path)
    assert page.status_code == 200
    token = re.search(r'name="csrf_token" value="([^"]+)"', page.get_data(as_text=True))
    assert token, "the page offers no choice"
    return client.post(path, data={"csrf_token": token.group(1), "choice": choice})


def reserved(hub, sku: str) -> int:
    with hub.db.read() as session:
        return sum(session.scalars(select(StockLevel.reserved).where(StockLevel.sku == sku)))


def held_with_a_substitute(shop, new_order, run_jobs, *items, **order):
    stock(shop, {("A", "wh"): 0, ("B", "wh"): 5, ("C", "wh"): 5})
    with shop.db.transaction() as session:
        substitutes.set_substitutes(session, "A", ["Z", "B"], actor="user:ann")  # Z: none at all
    oid = new_order(
        shop,
        *(items or (("A", 2),)),
        customer=Customer(email="zoe@example.com", name="Zoe"),
        **order,
    )
    run_jobs(shop)
    assert order_state(shop, oid).hold_reasons == ["out_of_stock"]
    return oid


def test_the_customer_takes_the_alternative_offered_by_email_and_the_order_goes_on(
    shop, smtp, new_order, run_jobs
):
    oid = held_with_a_substitute(shop, new_order, run_jobs)
    text = delay_email(smtp)
    assert "We have an alternative in stock, at the same price:" in text
    assert "- 2 × B instead of A" in text
    path = choice_link(text)
    client = create_app({"HUB": shop, "TESTING": True}).test_client()
    page = client.get(path).get_data(as_text=True)
    assert "Take the alternative" in page and "Wait for the stock" in page
    assert "2 × B instead of A" in page

    answer = click(client, path, "substitute")
    assert answer.status_code == 200
    assert "You took the alternative" in answer.get_data(as_text=True)
    run_jobs(shop)

    state = order_state(shop, oid)
    assert [(line.sku, line.quantity) for line in state.lines] == [("B", 2)]
    assert state.status in ("confirmed", "processing") and state.hold_reasons == []
    assert reserved(shop, "B") == 2
    with shop.db.read() as session:
        order = session.get(Order, oid)
        assert order.total == 2 * 1000 + 500  # the same price: the total did not change
        token = order.tracking_token
    names = [e.name for e in state.events]
    assert {"order.edited", "order.delay_answered", "order.released"} <= set(names)
    [chosen] = answers(shop, oid)
    assert chosen["choice"] == "substitute"
    assert chosen["lines"][0]["substitute_sku"] == "B"

    # A second click does nothing more and shows what was chosen.
    with client.session_transaction() as sess:
        csrf = sess.get("csrf_token")
    second = client.post(path, data={"csrf_token": csrf, "choice": "cancel"})
    assert second.status_code == 200
    assert "You took the alternative" in second.get_data(as_text=True)
    run_jobs(shop)
    assert len(answers(shop, oid)) == 1
    assert [(line.sku, line.quantity) for line in order_state(shop, oid).lines] == [("B", 2)]
    # The plain tracking page says it too.
    assert "You took the alternative" in client.get(f"/track/{token}").get_data(as_text=True)


@pytest.fixture
def stripe(shop):
    sandbox = StripeSandbox()
    with serve(sandbox) as url:
        yield StripeSetup(shop, sandbox, url, capture="automatic")


def test_cancelling_the_missing_lines_refunds_them_at_stripe_and_ships_the_rest(
    shop, smtp, stripe, new_order, run_jobs
):
    total = 2 * 1000 + 1000 + 500  # 2 × A, 1 × C at 10.00, 5.00 shipping
    pi = stripe.sandbox.create_intent(total, capture_method="automatic")["id"]
    oid = held_with_a_substitute(
        shop,
        new_order,
        run_jobs,
        ("A", 2),
        ("C", 1),
        payments=[
            PaymentData(
                reference=pi,
                amount=total,
                status="captured",
                channel="stripe",
                captured_amount=total,
            )
        ],
    )
    path = choice_link(delay_email(smtp))
    client = create_app({"HUB": shop, "TESTING": True}).test_client()
    answer = click(client, path, "cancel")
    assert "You cancelled the missing items" in answer.get_data(as_text=True)
    assert "We refund 20.00 USD" in answer.get_data(as_text=True)
    run_jobs(shop)

    state = order_state(shop, oid)
    assert [(line.sku, line.quantity) for line in state.lines] == [("C", 1)]
    assert state.status in ("confirmed", "processing")
    assert reserved(shop, "C") == 1
    assert stripe.sandbox.effects["refunds"] == 1
    [refund] = stripe.sandbox.refunds.values()
    assert refund["amount"] == 2000 and refund["payment_intent"] == pi
    # A second click: nothing refunded twice.
    with client.session_transaction() as sess:
        csrf = sess.get("csrf_token")
    client.post(path, data={"csrf_token": csrf, "choice": "cancel"})
    run_jobs(shop)
    assert stripe.sandbox.effects["refunds"] == 1
    assert len(answers(shop, oid)) == 1


def test_an_expired_or_foreign_link_is_refused(shop, smtp, new_order, run_jobs, monkeypatch):
    oid = held_with_a_substitute(shop, new_order, run_jobs)
    path = choice_link(delay_email(smtp))
    client = create_app({"HUB": shop, "TESTING": True}).test_client()
    signer = aftercare_links(shop).signer

    # Another order's link (it has no choice to make) and a tampered one open nothing.
    stock(shop, {("C", "wh"): 5})
    other = new_order(shop, ("C", 1))
    run_jobs(shop)
    assert client.get(f"/track/choice/{signer.choice_token(other)}").status_code == 404
    token = path.rsplit("/", 1)[1]
    forged = signer.choice_token(other)[:-3] + token[-3:]
    assert client.get(f"/track/choice/{forged}").status_code == 404
    # A satisfaction check's link of the same order is no choice link.
    assert client.get(f"/track/choice/{signer.answer_token(oid)}").status_code == 404

    now = time.time()
    monkeypatch.setattr(time, "time", lambda: now - CHOICE_DAYS * 86400 - 60)
    old = signer.choice_token(oid)
    monkeypatch.setattr(time, "time", lambda: now)
    expired = client.post(f"/track/choice/{old}", data={"choice": "cancel"})
    assert expired.status_code in (400, 410)
    assert client.get(f"/track/choice/{old}").status_code == 410
    assert "This link has expired" in client.get(f"/track/choice/{old}").get_data(as_text=True)
    assert answers(shop, oid) == []
    assert [(line.sku, line.quantity) for line in order_state(shop, oid).lines] == [("A", 2)]


def test_without_a_substitute_in_stock_the_notice_offers_no_choice(shop, smtp, new_order, run_jobs):
    stock(shop, {("A", "wh"): 0, ("B", "wh"): 1})
    with shop.db.transaction() as session:
        substitutes.set_substitutes(session, "A", ["B"], actor="user:ann")
    new_order(shop, ("A", 2))  # 1 B is not enough for 2 A
    run_jobs(shop)
    text = delay_email(smtp)
    assert "alternative" not in text and "/track/choice/" not in text


def test_substitutes_are_set_and_read_through_the_api(hub, api):
    stock(hub, {("A", "wh"): 0, ("B", "wh"): 3})
    put = api.open("PUT", "/api/v1/skus/A/substitutes", json={"substitutes": ["B", "Q"]})
    assert put.status_code == 200
    assert put.get_json() == {
        "sku": "A",
        "substitutes": [
            {"sku": "B", "rank": 1, "available": 3},
            {"sku": "Q", "rank": 2, "available": 0},
        ],
    }
    assert api.get("/api/v1/skus/A/substitutes").get_json() == put.get_json()
    bad = api.open("PUT", "/api/v1/skus/A/substitutes", json={"substitutes": ["B", "A"]})
    assert bad.status_code == 422 and "its own alternative" in bad.get_data(as_text=True)
    twice = api.open("PUT", "/api/v1/skus/A/substitutes", json={"substitutes": ["B", "B"]})
    assert twice.status_code == 422
    assert [s["sku"] for s in api.get("/api/v1/skus/A/substitutes").get_json()["substitutes"]] == [
        "B",
        "Q",
    ]
    assert api.get("/api/v1/skus/NOPE/substitutes").status_code == 404
    cleared = api.open("PUT", "/api/v1/skus/A/substitutes", json={"substitutes": []})
    assert cleared.get_json()["substitutes"] == []


def test_two_answers_at_the_same_moment_are_applied_once(shop, smtp, new_order, run_jobs):
    """Two tabs press different buttons at once: the order's row lock lets one through."""
    import threading

    oid = held_with_a_substitute(shop, new_order, run_jobs)
    results: list[object] = []
    start = threading.Barrier(2)

    def press(choice: str) -> None:
        start.wait()
        try:
            with shop.db.transaction() as session:
                results.append(substitutes.choose(session, oid, choice).new)
        except Exception as exc:  # SQLite may refuse the second writer: nothing written
            results.append(exc)

    threads = [threading.Thread(target=press, args=(c,)) for c in ("substitute", "cancel")]
    for t in threads:
        t.start()
    for t in threads:
        t.join(timeout=30)
    assert results.count(True) == 1
    run_jobs(shop)
    [chosen] = answers(shop, oid)
    lines = [(line.sku, line.quantity) for line in order_state(shop, oid).lines]
    if chosen["choice"] == "substitute":
        assert lines == [("B", 2)]
    else:
        assert chosen["choice"] == "cancel" and order_state(shop, oid).status == "cancelled"


def test_once_the_order_moved_on_the_link_offers_nothing_and_changes_nothing(
    shop, smtp, new_order, run_jobs
):
    from hub.orders import transitions

    oid = held_with_a_substitute(shop, new_order, run_jobs)
    path = choice_link(delay_email(smtp))
    stock(shop, {("A", "wh"): 5})  # the stock came; a person released the order
    with shop.db.transaction() as session:
        transitions.release(session, oid, actor="user:ann")
    run_jobs(shop)
    client = create_app({"HUB": shop, "TESTING": True}).test_client()
    page = client.get(path).get_data(as_text=True)
    assert "there is nothing left to choose" in page
    assert "Take the alternative" not in page
    with client.session_transaction() as sess:  # a form left open in another tab
        sess["csrf_token"] = "token-of-the-tab"
    refused = client.post(path, data={"csrf_token": "token-of-the-tab", "choice": "substitute"})
    assert refused.status_code == 409
    assert "no longer open" in refused.get_data(as_text=True)
    assert answers(shop, oid) == []
    assert [(line.sku, line.quantity) for line in order_state(shop, oid).lines] == [("A", 2)]


def test_a_backordered_order_takes_the_alternative_instead_of_waiting_for_the_purchase_order(
    shop, smtp, new_order, run_jobs
):
    stock(shop, {("A", "wh"): 0, ("B", "wh"): 5})
    allow_backorders(shop, "A")
    on_its_way(shop, "A", 5)
    with shop.db.transaction() as session:
        substitutes.set_substitutes(session, "A", ["B"], actor="user:ann")
    oid = new_order(shop, ("A", 2))
    run_jobs(shop)
    assert order_state(shop, oid).status == "confirmed"
    [waits] = [m for m in smtp.messages if "on their way to us" in str(m["Subject"])]
    text = waits.get_body(preferencelist=("plain",)).get_content()
    assert "- 2 × B instead of A" in text
    client = create_app({"HUB": shop, "TESTING": True}).test_client()
    answer = click(client, choice_link(text), "substitute")
    assert "You took the alternative" in answer.get_data(as_text=True)
    run_jobs(shop)

    state = order_state(shop, oid)
    assert [(line.sku, line.quantity) for line in state.lines] == [("B", 2)]
    assert state.status in ("confirmed", "processing")
    assert reserved(shop, "B") == 2
    with shop.db.read() as session:
        from hub.inventory import backorders

        assert not backorders.waiting(session, oid)  # the purchase order's units are free again


def test_a_later_running_late_notice_leaves_the_link_working(shop, smtp, new_order, run_jobs):
    from hub.core.events import ORDER_LATE
    from hub.orders.records import get_order, record

    stock(shop, {("A", "wh"): 0, ("B", "wh"): 5})
    allow_backorders(shop, "A")
    on_its_way(shop, "A", 5)
    with shop.db.transaction() as session:
        substitutes.set_substitutes(session, "A", ["B"], actor="user:ann")
    oid = new_order(shop, ("A", 2))
    run_jobs(shop)
    [waits] = [m for m in smtp.messages if "on their way to us" in str(m["Subject"])]
    path = choice_link(waits.get_body(preferencelist=("plain",)).get_content())
    with shop.db.transaction() as session:
        record(
            session,
            get_order(session, oid),
            ORDER_LATE,
            actor="system",
            data={"cause": "not_shipped", "group": "wh", "promised": "2026-12-03"},
        )
    run_jobs(shop)
    assert [m for m in smtp.messages if "running late" in str(m["Subject"])]
    client = create_app({"HUB": shop, "TESTING": True}).test_client()
    answer = click(client, path, "wait")
    assert "You chose to wait" in answer.get_data(as_text=True)
    assert [a["choice"] for a in answers(shop, oid)] == ["wait"]
    assert [(line.sku, line.quantity) for line in order_state(shop, oid).lines] == [("A", 2)]
