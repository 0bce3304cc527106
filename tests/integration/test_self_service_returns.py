"""Returns and exchanges the customer asks for on the tracking page (issue 23 item 5)."""

from __future__ import annotations

import sys
from pathlib import Path

import pytest
from flask import session as flask_session
from sqlalchemy import select, update

from hub.core.events import OrderEvent
from hub.returns import actions, exchanges
from hub.returns.policy import policy_for
from hub.store.models import (
    Channel,
    Job,
    Order,
    OrderAuditEvent,
    Return,
    StockLevel,
    User,
)
from hub.web.admin import sign_in as sign_in_session
from plugins.email.render import Renderer
from plugins.email.tests.conftest import SmtpServer

sys.path.insert(0, str(Path(__file__).resolve().parents[1] / "support"))
from returns_shop import (  # noqa: E402
    approval_emails,
    csrf,
    line_ids,
    returns_of,
    set_policy,
    shipped_days_ago,
    shipped_order,
    stock,
    token,
    with_email_channel,
)


@pytest.fixture(params=["sqlite", "postgresql"])
def hub(request, make_hub):
    """Every test on SQLite and on PostgreSQL (the app, client and API fixtures follow it)."""
    if request.param == "sqlite":
        return make_hub()
    return request.getfixturevalue("pg_hub")


@pytest.fixture
def smtp():
    server = SmtpServer().start()
    yield server
    server.stop()


@pytest.fixture
def admin_client(app, hub):
    """A test client signed in as an admin (as the sign-in page does it, without the password)."""
    client = app.test_client()
    with hub.db.transaction() as db:
        user = User(email="admin@example.com", password_hash="-")
        db.add(user)
        db.flush()
        with app.test_request_context():
            sign_in_session(db, user)
            values = dict(flask_session)
    with client.session_transaction() as session:
        session.update(values)
    return client


@pytest.fixture
def shop(hub, smtp, run_jobs):
    """The hub with stock of both tee sizes and the mug, an email channel, a shipped order."""
    stock(hub, {"TEE-M": 5, "TEE-L": 3, "MUG": 4})
    with_email_channel(hub, smtp)
    return hub, shipped_order(hub, run_jobs)


def page(client, hub, order_id) -> str:
    answer = client.get(f"/track/{token(hub, order_id)}")
    assert answer.status_code == 200
    return answer.get_data(as_text=True)


def post_form(client, hub, order_id, form: dict):
    html = page(client, hub, order_id)
    return client.post(
        f"/track/{token(hub, order_id)}/returns", data={"csrf_token": csrf(html), **form}
    )


def post_json(client, hub, order_id, body: dict):
    """As a script on the page would: the session's CSRF token in ``X-CSRF-Token``."""
    page(client, hub, order_id)
    with client.session_transaction() as session:
        session.setdefault("csrf_token", "script-token")
        sent = session["csrf_token"]
    return client.post(
        f"/track/{token(hub, order_id)}/returns", json=body, headers={"X-CSRF-Token": sent}
    )


def test_the_customer_asks_for_a_return_and_the_admin_and_api_list_it_requested(shop, client, api):
    hub, order_id = shop
    ids = line_ids(hub, order_id)
    html = page(client, hub, order_id)
    assert "Returns and exchanges" in html and f'name="qty-{ids["TEE-M"]}"' in html

    answer = post_form(client, hub, order_id, {f"qty-{ids['TEE-M']}": "1", "reason": "Too small"})

    assert answer.status_code == 303 and answer.headers["Location"].endswith("#returns")
    after = client.get(answer.headers["Location"]).get_data(as_text=True)
    assert "We have your return request" in after and "Requested: we will look at it" in after
    assert returns_of(hub, order_id) == [("requested", "refund", "customer")]
    listed = api.get("/api/v1/returns?status=requested").get_json()["data"]
    assert [(r["order_id"], r["refund_amount"], r["created_by"]) for r in listed] == [
        (order_id, "20.00", "customer")
    ]


def test_a_form_without_the_csrf_token_is_refused_and_writes_nothing(shop, client):
    hub, order_id = shop
    ids = line_ids(hub, order_id)
    answer = client.post(
        f"/track/{token(hub, order_id)}/returns",
        data={f"qty-{ids['TEE-M']}": "1", "reason": "Too small"},
    )
    assert answer.status_code in (400, 403)
    assert returns_of(hub, order_id) == []


def test_outside_the_window_the_page_and_the_request_say_so_in_words(shop, client):
    hub, order_id = shop
    shipped_days_ago(hub, order_id, 40)
    ids = line_ids(hub, order_id)

    html = page(client, hub, order_id)
    answer = post_json(
        client,
        hub,
        order_id,
        {"lines": [{"line_id": ids["TEE-M"], "quantity": 1}], "reason": "Too small"},
    )

    assert "The 30-day return window closed on" in html and 'name="qty-' not in html
    assert answer.status_code == 422
    assert answer.get_json()["error"]["message"].startswith("The 30-day return window closed on")
    assert returns_of(hub, order_id) == []


def test_a_final_sale_item_is_not_offered_and_refused_in_words(shop, client):
    hub, order_id = shop
    set_policy(hub, final_sale_skus=["MUG"])
    ids = line_ids(hub, order_id)

    html = page(client, hub, order_id)
    answer = post_form(
        client,
        hub,
        order_id,
        {f"qty-{ids['MUG']}": "1", f"qty-{ids['TEE-M']}": "1", "reason": "Changed my mind"},
    )

    assert "Final sale: not returnable" in html and f'name="qty-{ids["MUG"]}"' not in html
    assert answer.status_code == 422
    assert "Mug is final sale and cannot be returned" in answer.get_data(as_text=True)
    assert returns_of(hub, order_id) == []


def test_more_than_shipped_or_no_reason_is_refused_and_nothing_written(shop, client):
    hub, order_id = shop
    ids = line_ids(hub, order_id)
    too_many = post_json(
        client,
        hub,
        order_id,
        {"lines": [{"line_id": ids["TEE-M"], "quantity": 3}], "reason": "Too small"},
    )
    no_reason = post_form(client, hub, order_id, {f"qty-{ids['TEE-M']}": "1", "reason": ""})
    nothing = post_form(client, hub, order_id, {"reason": "Too small"})

    assert too_many.status_code == 422
    assert "2 of line" in too_many.get_json()["error"]["message"]
    assert no_reason.status_code == 422
    assert "choose why you send it back" in no_reason.get_data(as_text=True)
    assert nothing.status_code == 422
    assert "choose at least one item" in nothing.get_data(as_text=True)
    assert returns_of(hub, order_id) == []


def test_the_rule_approves_within_its_days_and_amount_and_the_email_goes_once(
    shop, client, run_jobs, smtp
):
    hub, order_id = shop
    set_policy(hub, auto_approve=True, auto_approve_days=14, auto_approve_max="25.00")
    ids = line_ids(hub, order_id)

    small = post_json(
        client,
        hub,
        order_id,
        {"lines": [{"line_id": ids["TEE-M"], "quantity": 1}], "reason": "Too small"},
    )
    large = post_json(
        client,
        hub,
        order_id,
        {
            "lines": [
                {"line_id": ids["TEE-M"], "quantity": 1},
                {"line_id": ids["MUG"], "quantity": 1},
            ],
            "reason": "Changed my mind",
        },
    )
    run_jobs(hub)
    run_jobs(hub)

    assert (small.status_code, small.get_json()["status"]) == (201, "approved")
    # 20.00 + 10.00 is over the 25.00 the rule approves alone: a person decides.
    assert (large.status_code, large.get_json()["status"]) == (201, "requested")
    [email] = approval_emails(smtp)
    assert email["Subject"] == "Your return for order #R1 is approved"
    text = email.get_body(("plain",)).get_content()
    html = email.get_body(("html",)).get_content()
    assert "1 × Tee, size M" in text and "we refund $20.00" in text
    assert "How to send it back" in html and "return number" in html
    with hub.db.read() as session:
        approved = session.scalars(
            select(OrderAuditEvent).where(OrderAuditEvent.name == "order.return_approved")
        ).all()
    assert [e.actor for e in approved] == ["rule:returns"]


def test_the_rule_leaves_a_late_request_to_a_person(shop, client):
    hub, order_id = shop
    set_policy(hub, window_days=60, auto_approve=True, auto_approve_days=14)
    shipped_days_ago(hub, order_id, 20)
    ids = line_ids(hub, order_id)

    answer = post_json(
        client,
        hub,
        order_id,
        {"lines": [{"line_id": ids["TEE-M"], "quantity": 1}], "reason": "Too small"},
    )

    assert (answer.status_code, answer.get_json()["status"]) == (201, "requested")


def test_an_exchange_reserves_the_replacement_on_approval_and_ships_it_on_receipt(
    shop, client, run_jobs, smtp
):
    hub, order_id = shop
    set_policy(hub, auto_approve=True)
    ids = line_ids(hub, order_id)
    html = page(client, hub, order_id)
    assert '<option value="TEE-L">Tee, size L</option>' in html

    answer = post_form(
        client,
        hub,
        order_id,
        {
            f"qty-{ids['TEE-M']}": "1",
            f"exchange-{ids['TEE-M']}": "TEE-L",
            "resolution": "exchange",
            "reason": "Too small",
        },
    )
    run_jobs(hub)

    assert answer.status_code == 303
    with hub.db.read() as session:
        ret = session.scalars(select(Return)).one()
        replacement = session.get(Order, ret.exchange_order_id)
        assert (ret.status, ret.resolution, ret.refund_amount) == ("approved", "exchange", 0)
        assert [(x.sku, x.quantity, x.unit_price) for x in replacement.lines] == [("TEE-L", 1, 0)]
        assert (replacement.total, replacement.status, replacement.email) == (
            0,
            "confirmed",
            "ann@example.com",
        )
        # 3 on hand: 1 reserved for Bo's earlier order, 1 for the replacement.
        assert exchanges.available(session, {"TEE-L"}) == {"TEE-L": 1}
        assert exchanges.waiting(session, replacement.id)
        replacement_id = replacement.id
    [email] = approval_emails(smtp)
    assert email["Subject"] == "Your exchange for order #R1 is approved"
    assert "(in exchange for TEE-L)" in email.get_body(("plain",)).get_content()

    with hub.db.transaction() as session:
        actions.receive_return(session, ret.id, actor="user:ann", write_off=True)
    run_jobs(hub)

    with hub.db.read() as session:
        assert not exchanges.waiting(session, replacement_id)
        names = [
            e.name
            for e in session.scalars(
                select(OrderAuditEvent).where(OrderAuditEvent.order_id == replacement_id)
            )
        ]
        fulfil = session.scalars(
            select(Job).where(Job.kind == "order.fulfill", Job.order_id == replacement_id)
        ).all()
    assert "order.exchange_released" in names
    assert len(fulfil) == 2  # at confirmation (waited), and on receipt


def test_an_exchange_for_a_variant_out_of_stock_is_refused(shop, client):
    hub, order_id = shop
    ids = line_ids(hub, order_id)
    answer = post_json(
        client,
        hub,
        order_id,
        {
            "lines": [{"line_id": ids["TEE-M"], "quantity": 2, "exchange_sku": "TEE-XL"}],
            "reason": "Too small",
            "resolution": "exchange",
        },
    )
    assert answer.status_code == 422
    assert (
        "TEE-XL is not another variant of Tee, size M in stock for 2"
        in (answer.get_json()["error"]["message"])
    )
    assert returns_of(hub, order_id) == []


def test_rejecting_an_approved_exchange_cancels_its_replacement(shop, client, run_jobs):
    hub, order_id = shop
    set_policy(hub, auto_approve=True)
    ids = line_ids(hub, order_id)
    post_json(
        client,
        hub,
        order_id,
        {
            "lines": [{"line_id": ids["TEE-M"], "quantity": 1, "exchange_sku": "TEE-L"}],
            "reason": "Too small",
            "resolution": "exchange",
        },
    )
    run_jobs(hub)
    with hub.db.transaction() as session:
        ret = session.scalars(select(Return)).one()
        actions.reject_return(session, ret.id, actor="user:ann", reason="never sent")
    run_jobs(hub)
    with hub.db.read() as session:
        replacement = session.get(Order, ret.exchange_order_id)
        assert replacement.status == "cancelled"
        assert exchanges.available(session, {"TEE-L"}) == {"TEE-L": 2}  # Bo's 1 reserved


def test_the_return_policy_is_set_through_the_api_and_wrong_values_are_refused(hub, api):
    channel = api.get("/api/v1/channels").get_json()["data"][0]["id"]
    url = f"/api/v1/channels/{channel}/return-policy"
    assert api.get(url).get_json()["window_days"] == 30

    ok = api.open(
        "PUT",
        url,
        json={
            "window_days": 14,
            "final_sale_skus": ["GIFT", "MUG"],
            "auto_approve": True,
            "auto_approve_max": "50",
            "exchange_ships": "at_once",
        },
    )
    bad = api.open("PUT", url, json={"window_days": -1, "exchange_ships": "later"})
    bad_amount = api.open("PUT", url, json={"window_days": 3, "auto_approve_max": "lots"})

    assert ok.status_code == 200
    assert ok.get_json() | {"channel_id": 0} == {
        "channel_id": 0,
        "window_days": 14,
        "final_sale_skus": ["GIFT", "MUG"],
        "auto_approve": True,
        "auto_approve_days": 30,
        "auto_approve_max": "50",
        "exchange_ships": "at_once",
    }
    assert bad.status_code == 422 and {"window_days", "exchange_ships"} <= set(
        bad.get_json()["error"]["details"]
    )
    assert bad_amount.status_code == 422
    assert api.get(url).get_json()["window_days"] == 14


def test_the_channel_page_saves_the_return_policy(hub, admin_client):
    with hub.db.read() as session:
        channel = session.scalars(select(Channel).where(Channel.slug == "manual")).one().id
    page_html = admin_client.get(f"/channels/{channel}").get_data(as_text=True)
    assert "Save returns" in page_html
    answer = admin_client.post(
        f"/channels/{channel}/returns",
        data={
            "csrf_token": csrf(page_html),
            "window_days": "21",
            "final_sale_skus": "GIFT, SOCKS",
            "auto_approve": "on",
            "auto_approve_days": "10",
            "auto_approve_max": "40.00",
            "exchange_ships": "on_receipt",
        },
        follow_redirects=True,
    )
    assert "Returns of “Manual orders” saved." in answer.get_data(as_text=True)
    wrong = admin_client.post(
        f"/channels/{channel}/returns",
        data={"csrf_token": csrf(page_html), "window_days": "soon", "auto_approve_days": "1"},
        follow_redirects=True,
    )
    assert "return window: &#39;soon&#39; is not a number of days" in wrong.get_data(as_text=True)
    with hub.db.read() as session:
        saved = policy_for(session, channel)
    assert (saved.window_days, sorted(saved.final_sale_skus), saved.auto_approve_max) == (
        21,
        ["GIFT", "SOCKS"],
        "40.00",
    )


def test_the_approval_email_renders_a_refund_and_an_exchange():
    order = {
        "id": 7,
        "number": "#7",
        "currency": "EUR",
        "lines": [{"id": 1, "sku": "TEE-M", "name": "Tee <M>", "quantity": 2}],
        "shipments": [],
        "tracking_token": "tok",
        "customer": {"name": "Zoë", "email": "z@example.com"},
        "returns": [
            {
                "id": 5,
                "resolution": "exchange",
                "currency": "EUR",
                "refund_amount": "0.00",
                "shipping_refund": "0.00",
                "lines": [{"line_id": 1, "sku": "TEE-M", "quantity": 1, "exchange_sku": "TEE-L"}],
            }
        ],
    }
    event = OrderEvent(
        name="order.return_approved",
        order_id=7,
        id=1,
        data={"return_id": 5, "exchange_order": "#7-X5"},
    )
    rendered = Renderer().render(event, order, public_url="https://shop.example")
    assert rendered.subject == "Your exchange for order #7 is approved"
    assert "1 × Tee <M> (in exchange for TEE-L)" in rendered.text
    assert "Tee &lt;M&gt;" in rendered.html and "order <strong>#7-X5</strong>" in rendered.html


def test_the_admin_returns_list_shows_an_exchange_and_its_replacement(
    shop, client, admin_client, run_jobs
):
    hub, order_id = shop
    set_policy(hub, auto_approve=True)
    ids = line_ids(hub, order_id)
    post_json(
        client,
        hub,
        order_id,
        {
            "lines": [{"line_id": ids["TEE-M"], "quantity": 1, "exchange_sku": "TEE-L"}],
            "reason": "Too small",
            "resolution": "exchange",
        },
    )
    with hub.db.read() as session:
        replacement_id = session.scalars(select(Return)).one().exchange_order_id

    html = admin_client.get("/returns?status=approved").get_data(as_text=True)

    assert "1 × <code>TEE-M</code> → <code>TEE-L</code>" in html
    assert f'href="/orders/{replacement_id}">replacement order</a>' in html


def test_an_exchange_whose_variant_sold_out_meanwhile_waits_for_a_person(shop, client, monkeypatch):
    hub, order_id = shop
    set_policy(hub, auto_approve=True)
    ids = line_ids(hub, order_id)
    reserve = exchanges.reserve_replacement

    def sold_out_first(session, ret, **kwargs):
        # Offered when the request was checked; the last units sold when the rule approves it.
        session.execute(
            update(StockLevel).where(StockLevel.sku == "TEE-L").values(reserved=StockLevel.on_hand)
        )
        return reserve(session, ret, **kwargs)

    monkeypatch.setattr(exchanges, "reserve_replacement", sold_out_first)
    answer = post_json(
        client,
        hub,
        order_id,
        {
            "lines": [{"line_id": ids["TEE-M"], "quantity": 1, "exchange_sku": "TEE-L"}],
            "reason": "Too small",
            "resolution": "exchange",
        },
    )

    assert (answer.status_code, answer.get_json()["status"]) == (201, "requested")
    with hub.db.read() as session:
        ret = session.scalars(select(Return)).one()
        assert (ret.status, ret.exchange_order_id) == ("requested", None)
        assert not session.scalars(
            select(Order).where(Order.external_id == f"exchange-{ret.id}")
        ).all()
