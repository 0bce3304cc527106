"""Returns: create -> approve -> receive -> refund through the payment channel, once."""

from __future__ import annotations

import json
from datetime import timedelta
from urllib.parse import parse_qs

import pytest
import responses
from inventory_helpers import FakeMailer, create_channel_for, levels, order_state, stock
from sqlalchemy import select, update

from hub.core.exceptions import Conflict, ValidationError
from hub.core.order import Customer, PaymentData, ShipmentData
from hub.orders import payments, records, shipments
from hub.returns import actions as returns
from hub.returns.actions import ReturnLineRequest, ReturnRequest
from hub.returns.schemas import ReturnCreateSchema
from hub.store.db import Database
from hub.store.models import Job, Refund, utcnow
from hub.testing import truncate_all

GATEWAY = "https://pay.example.test"
TOTAL = 2 * 1999 + 500  # order_data(): 2 × 19.99 + 5.00 shipping


class StripeLikeStub:
    """POST /v1/refunds: one refund per Idempotency-Key, like Stripe; counts every request."""

    def __init__(self, rsps: responses.RequestsMock):
        self.requests: list[tuple[str, dict]] = []
        self.refunds: dict[str, dict] = {}
        rsps.add_callback(responses.POST, f"{GATEWAY}/v1/refunds", callback=self)

    def __call__(self, request):
        key = request.headers["Idempotency-Key"]
        form = {k: v[0] for k, v in parse_qs(request.body).items()}
        self.requests.append((key, form))
        if key not in self.refunds:
            self.refunds[key] = {
                "id": f"re_{len(self.refunds) + 1}",
                "amount": int(form["amount"]),
                "status": "succeeded",
            }
        return 200, {}, json.dumps(self.refunds[key])


@pytest.fixture(params=["sqlite", "postgresql"])
def shop(request, make_hub, fakes, new_order, run_jobs):
    """A hub with a gateway and a mailer, stock at "wh", and a shipped, paid order of 2 × TSHIRT-M."""
    url = None
    if request.param == "postgresql":
        url = request.getfixturevalue("pg_url")
        db = Database(url)
        truncate_all(db)
        db.dispose()
    hub = make_hub(plugins=[fakes], database_url=url)
    create_channel_for(hub, "fake-gateway", api_base_url=GATEWAY)
    create_channel_for(hub, "fake-mailer")
    stock(hub, {("TSHIRT-M", "wh"): 5})
    oid = new_order(
        hub,
        customer=Customer(email="ann@example.com", name="Ann"),
        payments=[
            PaymentData(
                reference="pi_1",
                amount=TOTAL,
                status="captured",
                channel="fake-gateway",
                captured_amount=TOTAL,
            )
        ],
    )
    run_jobs(hub)
    line_id = ship_everything(hub, oid)[0]
    run_jobs(hub)
    assert levels(hub)[("TSHIRT-M", "wh")] == (3, 0)
    return hub, oid, line_id


def ship_everything(hub, oid) -> list[int]:
    """Ship the whole order in one shipment; return its line ids."""
    with hub.db.transaction() as session:
        shipments.ship(session, oid, ShipmentData(external_id="s1"), actor="carrier")
        return [line.id for line in records.get_order(session, oid).lines]


def open_return(hub, oid, line_id, qty, **kw):
    with hub.db.transaction() as session:
        ret = returns.create_return(
            session,
            oid,
            ReturnRequest(
                lines=[ReturnLineRequest(line_id, qty)], reason=kw.pop("reason", "too small"), **kw
            ),
            actor="user:ann",
        )
        return ret.id


def received(hub, rid, **kw):
    with hub.db.transaction() as session:
        returns.approve_return(session, rid, actor="user:ann")
        returns.receive_return(session, rid, actor="user:ann", **kw)


def test_partial_return_refunds_once_restocks_and_tells_the_customer(shop, run_jobs):
    hub, oid, line_id = shop
    rid = open_return(hub, oid, line_id, 1)
    received(hub, rid)  # restocked where it shipped from
    assert levels(hub)[("TSHIRT-M", "wh")] == (4, 0)
    with responses.RequestsMock() as rsps:
        gateway = StripeLikeStub(rsps)
        with hub.db.transaction() as session:
            returns.refund_return(session, rid, actor="user:ann")
        run_jobs(hub)
        # The refund job runs again, as after a worker died between its commit and its finish.
        with hub.db.transaction() as session:
            session.execute(
                update(Job)
                .where(Job.kind == "payment.refund")
                .values(
                    status="running",
                    locked_by="dead-worker",
                    locked_until=utcnow() - timedelta(seconds=1),
                )
            )
        run_jobs(hub)
    assert gateway.requests == [(gateway.requests[0][0], {"payment": "pi_1", "amount": "1999"})]
    order = order_state(hub, oid)
    assert order.status == "partially_returned"
    assert order.financial_status == "partially_refunded"
    assert [(p.refunded, p.refunds) for p in order.payments] == [(1999, 1)]
    assert ("order.refunded", oid, "ann@example.com") in FakeMailer.sent
    assert ("order.partially_returned", oid, "ann@example.com") in FakeMailer.sent
    with hub.db.read() as session:
        detail = returns.return_detail(returns.get_return(session, rid))
    assert (detail["status"], detail["refunded_amount"], detail["refund"]["status"]) == (
        "refunded",
        "19.99",
        "succeeded",
    )


def test_a_refund_the_gateway_refuses_is_a_dead_job_shown_on_the_return(shop, run_jobs):
    hub, oid, line_id = shop
    rid = open_return(hub, oid, line_id, 1)
    received(hub, rid)
    with responses.RequestsMock() as rsps:
        rsps.add(
            responses.POST,
            f"{GATEWAY}/v1/refunds",
            status=400,
            json={"error": {"message": "charge already refunded"}},
        )
        with hub.db.transaction() as session:
            returns.refund_return(session, rid, actor="user:ann")
        run_jobs(hub)
    with hub.db.read() as session:
        progress = returns.refund_progress(session, returns.get_return(session, rid))
    assert progress["status"] == "failed"
    assert "charge already refunded" in progress["jobs"][0]["error"]
    order = order_state(hub, oid)
    assert order.financial_status == "paid" and [p.refunded for p in order.payments] == [0]


def test_a_gateway_answer_lost_in_a_crash_is_recorded_once_on_retry(shop, run_jobs, monkeypatch):
    hub, oid, line_id = shop
    rid = open_return(hub, oid, line_id, 2)
    received(hub, rid, write_off=True)
    assert levels(hub)[("TSHIRT-M", "wh")] == (3, 0)  # written off: nothing restocked
    real = payments.apply_payment_update
    calls = {"n": 0}

    def crash_once(*args, **kwargs):
        calls["n"] += 1
        if calls["n"] == 1:
            raise ConnectionError("database went away")
        return real(*args, **kwargs)

    monkeypatch.setattr(payments, "apply_payment_update", crash_once)
    with responses.RequestsMock() as rsps:
        gateway = StripeLikeStub(rsps)
        with hub.db.transaction() as session:
            returns.refund_return(session, rid, actor="user:ann")
        run_jobs(hub)
        with hub.db.transaction() as session:  # the retry's backoff, skipped
            session.execute(update(Job).where(Job.kind == "payment.refund").values(run_at=utcnow()))
        run_jobs(hub)
    keys = {key for key, _ in gateway.requests}
    assert len(gateway.requests) == 2 and len(keys) == 1 and len(gateway.refunds) == 1
    with hub.db.read() as session:
        assert [r.amount for r in session.scalars(select(Refund))] == [2 * 1999]
    assert order_state(hub, oid).status == "returned"


def test_several_partial_refunds_with_shipping_add_up_to_the_total(shop, run_jobs):
    hub, oid, line_id = shop
    with responses.RequestsMock() as rsps:
        gateway = StripeLikeStub(rsps)
        first = open_return(hub, oid, line_id, 1)
        received(hub, first)
        with hub.db.transaction() as session:
            returns.refund_return(session, first, actor="user:ann")
        second = open_return(hub, oid, line_id, 1, refund_shipping=True)
        received(hub, second)
        with hub.db.transaction() as session:
            ret = returns.refund_return(session, second, actor="user:ann")
            assert (ret.refund_amount, ret.shipping_refund) == (1999, 500)
        run_jobs(hub)
    assert sorted(int(form["amount"]) for _, form in gateway.requests) == [1999, 2499]
    order = order_state(hub, oid)
    assert order.status == "returned" and order.financial_status == "refunded"
    assert levels(hub)[("TSHIRT-M", "wh")] == (5, 0)


def test_never_more_than_captured_counting_refunds_still_on_their_way(shop):
    hub, oid, line_id = shop
    first = open_return(hub, oid, line_id, 1)
    received(hub, first)
    with hub.db.transaction() as session:
        returns.refund_return(session, first, actor="user:ann")  # 19.99 queued, not yet sent
    second = open_return(hub, oid, line_id, 1, refund_amount="30.00")
    received(hub, second)
    with pytest.raises(ValidationError, match=r"cannot refund 30\.00 USD .* only 24\.99 USD"):
        with hub.db.transaction() as session:
            returns.refund_return(session, second, actor="user:ann")
    with hub.db.read() as session:
        assert returns.get_return(session, second).status == "received"
        assert (
            returns.refund_progress(session, returns.get_return(session, first))["status"]
            == "pending"
        )
        jobs = session.scalars(select(Job).where(Job.kind == "payment.refund")).all()
        assert [j.payload["amount"] for j in jobs] == [1999]


def test_return_quantities_are_checked_against_what_shipped_and_other_returns(shop):
    hub, oid, line_id = shop
    with pytest.raises(ValidationError) as err:
        open_return(hub, oid, line_id, 3)
    assert err.value.details == {
        "lines.0.quantity": [f"2 of line {line_id} (TSHIRT-M) can be returned"]
    }
    first = open_return(hub, oid, line_id, 2)
    with pytest.raises(ValidationError, match="0 of line"):
        open_return(hub, oid, line_id, 1)
    with hub.db.transaction() as session:
        returns.reject_return(session, first, actor="user:ann", reason="worn")
    open_return(hub, oid, line_id, 1)  # rejected units can be returned again


def test_an_order_that_did_not_ship_takes_no_return(hub, new_order, run_jobs):
    oid = new_order(hub)
    run_jobs(hub)
    with hub.db.read() as session:
        line_id = records.get_order(session, oid, lock=False).lines[0].id
    with pytest.raises(ValidationError, match="is confirmed: only orders that shipped"):
        open_return(hub, oid, line_id, 1)


def test_steps_must_come_in_order(shop):
    hub, oid, line_id = shop
    rid = open_return(hub, oid, line_id, 1)
    with pytest.raises(Conflict, match="is requested: cannot receive"):
        with hub.db.transaction() as session:
            returns.receive_return(session, rid, actor="user:ann")
    with pytest.raises(Conflict, match="is requested: cannot refund"):
        with hub.db.transaction() as session:
            returns.refund_return(session, rid, actor="user:ann")


def test_an_order_paid_on_the_channel_is_closed_with_a_zero_refund(hub, new_order, run_jobs):
    stock(hub, {("TSHIRT-M", "wh"): 5})
    oid = new_order(hub)
    run_jobs(hub)
    line_id = ship_everything(hub, oid)[0]
    rid = open_return(hub, oid, line_id, 2)
    received(hub, rid, location="wh")
    with pytest.raises(ValidationError, match="no payment the hub can refund"):
        with hub.db.transaction() as session:
            returns.refund_return(session, rid, actor="user:ann")
    with hub.db.transaction() as session:
        returns.refund_return(session, rid, actor="user:ann", amount=0)
    assert order_state(hub, oid).status == "returned"
    assert levels(hub)[("TSHIRT-M", "wh")] == (5, 0)


def test_line_shares_carry_order_tax_and_discount_and_sum_to_the_total(hub, new_order, run_jobs):
    from hub.core.order import Line

    stock(hub, {("A", "wh"): 9, ("B", "wh"): 9})
    # 3 × 10.00 + 1 × 5.00 = 35.00, tax 2.80, discount 3.50, shipping 4.00 -> total 38.30
    oid = new_order(
        hub,
        lines=[
            Line(sku="A", name="A", quantity=3, unit_price=1000),
            Line(sku="B", name="B", quantity=1, unit_price=500),
        ],
        tax=280,
        discount=350,
        shipping=400,
    )
    run_jobs(hub)
    a, b = ship_everything(hub, oid)
    amounts = []
    for line_id in (a, a, a, b):
        with hub.db.transaction() as session:
            ret = returns.create_return(
                session,
                oid,
                ReturnRequest(
                    lines=[ReturnLineRequest(line_id, 1)], reason="r", refund_shipping=True
                ),
                actor="t",
            )
            amounts.append(ret.refund_amount + ret.shipping_refund)
    assert sum(amounts) == 3830
    assert amounts[0] == 400 + amounts[1]  # shipping once, with the first return


def test_the_schema_loads_a_return_request_and_refuses_bad_input():
    request = ReturnCreateSchema().load(
        {
            "lines": [{"line_id": 7, "quantity": 2, "restock_location": "wh"}],
            "reason": "damaged",
            "refund_shipping": True,
            "refund_amount": "12.50",
        }
    )
    assert request == ReturnRequest(
        lines=[ReturnLineRequest(7, 2, "wh", False)],
        reason="damaged",
        refund_shipping=True,
        refund_amount="12.50",
    )
    from marshmallow import ValidationError as SchemaError

    with pytest.raises(SchemaError) as err:
        ReturnCreateSchema().load({"lines": [{"line_id": "x", "quantity": 0}]})
    assert set(err.value.messages) == {"lines", "reason"}


def test_without_tracked_stock_a_return_restocks_nothing(hub, new_order, run_jobs):
    oid = new_order(hub)
    run_jobs(hub)
    line_id = ship_everything(hub, oid)[0]
    rid = open_return(hub, oid, line_id, 1)
    received(hub, rid)
    with hub.db.read() as session:
        assert [
            rl["disposition"]
            for rl in returns.return_detail(returns.get_return(session, rid))["lines"]
        ] == ["untracked"]
    assert levels(hub) == {}
