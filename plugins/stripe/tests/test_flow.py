"""The hub, its jobs and the Stripe sandbox on loopback: nothing charged or refunded twice."""

from __future__ import annotations

import copy
import time
from datetime import timedelta
from types import SimpleNamespace

import pytest
from sqlalchemy import select, update

from hub.channels.manage import ensure_manual_channel, get_channel, update_config
from hub.core.exceptions import ValidationError
from hub.orders import commands, intake, payments, records
from hub.orders.schemas import ManualOrderSchema
from hub.orders.serialize import order_detail
from hub.queue.jobs import enqueue
from hub.store.models import Job, Order, Payment, Refund, WebhookEvent, utcnow
from plugins.stripe.connector import StripeError
from plugins.stripe.tests.conftest import StripeSetup

CAPTURE = "/v1/payment_intents/*/capture"


class Crash(BaseException):
    """The process dies here: nothing after it runs and nothing catches it (like kill -9)."""


def stripe_order(
    setup: StripeSetup,
    pi: str,
    *,
    amount: str = "44.98",
    status: str = "authorized",
    external_id: str | None = None,
    currency: str = "USD",
) -> int:
    """A manual order paid by a Stripe PaymentIntent, entered as the API's ``payments[]`` enters it."""
    data = ManualOrderSchema().load(
        {
            "external_id": external_id or pi,
            "customer": {"email": "ann@example.com", "name": "Ann Smith"},
            "shipping_address": {
                "name": "Ann Smith",
                "address1": "1 Main St",
                "city": "Springfield",
                "zip": "12345",
                "country_code": "US",
            },
            "lines": [
                {"sku": "TSHIRT-M", "name": "T-shirt M", "quantity": 2, "unit_price": "19.99"}
            ],
            "currency": currency,
            "shipping": "5.00",
            "payments": [
                {"channel": "stripe", "reference": pi, "amount": amount, "status": status}
            ],
        }
    )
    with setup.hub.db.transaction() as session:
        channel = ensure_manual_channel(setup.hub, session)
        return intake.upsert_order(session, channel, data, actor="test").order.id


def detail(hub, order_id: int) -> dict:
    with hub.db.read() as session:
        return order_detail(
            session.scalars(records.order_query().where(Order.id == order_id)).one()
        )


def jobs(hub, kind: str) -> list[SimpleNamespace]:
    with hub.db.read() as session:
        return [
            SimpleNamespace(id=j.id, status=j.status, attempts=j.attempts, last_error=j.last_error)
            for j in session.scalars(select(Job).where(Job.kind == kind).order_by(Job.id))
        ]


def transition(hub, order_id: int, event: str) -> None:
    with hub.unit_of_work() as work:
        commands.transition(work, order_id, event, actor="test")


def refund(hub, pi: str, amount: int, key: str) -> None:
    with hub.db.transaction() as session:
        payment = session.scalars(select(Payment).where(Payment.reference == pi)).one()
        payments.request_refund(session, payment, amount, key=key, reason="customer return")


def worker_died(hub) -> None:
    """The lease of every running job runs out, as when its worker was killed."""
    with hub.db.transaction() as session:
        session.execute(
            update(Job)
            .where(Job.status == "running")
            .values(locked_until=utcnow() - timedelta(seconds=1))
        )


@pytest.fixture
def ship_setup(hub, sandbox, sandbox_url) -> StripeSetup:
    """A Stripe channel that captures when the order ships (so confirming takes no money)."""
    return StripeSetup(hub, sandbox, sandbox_url, capture_on="ship")


# --- linking -----------------------------------------------------------------------------------------


def test_payments_from_the_api_are_linked_to_the_stripe_channel(stripe_setup):
    pi = stripe_setup.sandbox.create_intent(4498)["id"]
    order_id = stripe_order(stripe_setup, pi)
    with stripe_setup.hub.db.read() as session:
        payment = session.scalars(select(Payment).where(Payment.order_id == order_id)).one()
        assert (payment.reference, payment.channel_id, payment.amount, payment.status) == (
            pi,
            stripe_setup.channel_id,
            4498,
            "authorized",
        )


# --- capture -----------------------------------------------------------------------------------------


def test_a_manual_order_is_captured_on_confirm_then_ships(any_stripe_setup, run_jobs):
    setup = any_stripe_setup
    pi = setup.sandbox.create_intent(4498)["id"]
    order_id = stripe_order(setup, pi)
    run_jobs(setup.hub)
    order = detail(setup.hub, order_id)
    assert (order["status"], order["financial_status"]) == ("confirmed", "paid")
    assert order["payments"][0]["captured"] == "44.98"
    assert setup.sandbox.intents[pi]["status"] == "succeeded"
    assert setup.sandbox.effects["captures"] == 1
    (post,) = setup.sandbox.posts(CAPTURE)
    (job,) = jobs(setup.hub, "payment.capture")
    assert post.idempotency_key == f"hub-job-{job.id}"
    transition(setup.hub, order_id, "start_fulfillment")
    transition(setup.hub, order_id, "ship")
    run_jobs(setup.hub)
    assert detail(setup.hub, order_id)["status"] == "shipped"
    assert setup.sandbox.effects["captures"] == 1


def test_capture_on_ship_takes_the_money_when_the_order_ships(ship_setup, run_jobs):
    pi = ship_setup.sandbox.create_intent(4498)["id"]
    order_id = stripe_order(ship_setup, pi)
    run_jobs(ship_setup.hub)
    assert detail(ship_setup.hub, order_id)["financial_status"] == "authorized"
    assert ship_setup.sandbox.effects["captures"] == 0
    transition(ship_setup.hub, order_id, "start_fulfillment")
    transition(ship_setup.hub, order_id, "ship")
    run_jobs(ship_setup.hub)
    order = detail(ship_setup.hub, order_id)
    assert (order["status"], order["financial_status"]) == ("shipped", "paid")
    assert ship_setup.sandbox.effects["captures"] == 1


@pytest.mark.parametrize("when", ["before", "after"])
def test_a_capture_whose_first_attempt_gets_a_500_captures_once(stripe_setup, run_jobs, when):
    # before: the 500 came before Stripe did anything; after: Stripe captured, then the answer was lost.
    setup = stripe_setup
    pi = setup.sandbox.create_intent(4498)["id"]
    setup.sandbox.faults.plan(500, path=CAPTURE, method="POST", when=when)
    order_id = stripe_order(setup, pi)
    run_jobs(setup.hub)
    assert detail(setup.hub, order_id)["financial_status"] == "paid"
    assert setup.sandbox.effects["captures"] == 1
    posts = setup.sandbox.posts(CAPTURE)
    assert len(posts) == 2
    assert posts[0].idempotency_key == posts[1].idempotency_key
    assert setup.sandbox.replays == (1 if when == "after" else 0)


def test_a_500_stripe_keeps_for_the_key_is_overcome_once_without_a_second_capture(
    stripe_setup, run_jobs
):
    setup = stripe_setup
    pi = setup.sandbox.create_intent(4498)["id"]
    setup.sandbox.faults.plan(500, path=CAPTURE, method="POST", when="stored")
    order_id = stripe_order(setup, pi)
    run_jobs(setup.hub)
    assert detail(setup.hub, order_id)["financial_status"] == "paid"
    assert setup.sandbox.effects["captures"] == 1
    (job,) = jobs(setup.hub, "payment.capture")
    assert [p.idempotency_key for p in setup.sandbox.posts(CAPTURE)] == [
        f"hub-job-{job.id}",
        f"hub-job-{job.id}:after-server-error",
    ]


def test_the_hub_crashing_between_sending_a_capture_and_recording_it_captures_once(
    any_stripe_setup, run_jobs, monkeypatch
):
    setup = any_stripe_setup
    pi = setup.sandbox.create_intent(4498)["id"]
    order_id = stripe_order(setup, pi)

    def crash(*args, **kwargs):
        raise Crash("killed after Stripe captured, before the answer was committed")

    # 1. The capture job sends the capture; Stripe takes the money; the hub dies
    #    before it commits what Stripe answered.
    monkeypatch.setattr(payments, "apply_payment_update", crash)
    with pytest.raises(Crash):
        run_jobs(setup.hub)
    monkeypatch.undo()
    assert setup.sandbox.effects["captures"] == 1
    assert detail(setup.hub, order_id)["payments"][0]["status"] == "authorized"
    (job,) = jobs(setup.hub, "payment.capture")
    assert (job.status, job.attempts) == ("running", 1)

    # 2. Its lease runs out; a worker claims the job again: same job, same idempotency key.
    worker_died(setup.hub)
    run_jobs(setup.hub)

    # 3. Stripe replayed its first answer instead of capturing again; the hub recorded it.
    assert setup.sandbox.effects["captures"] == 1
    assert setup.sandbox.replays == 1
    first, second = setup.sandbox.posts(CAPTURE)
    assert first.idempotency_key == second.idempotency_key == f"hub-job-{job.id}"
    (job,) = jobs(setup.hub, "payment.capture")
    assert (job.status, job.attempts) == ("succeeded", 2)
    order = detail(setup.hub, order_id)
    assert (order["financial_status"], order["payments"][0]["status"]) == ("paid", "captured")
    assert order["payments"][0]["captured"] == "44.98"


def test_a_capture_that_times_out_is_retried_through_409_until_stripe_replays_it(
    stripe_setup, run_jobs
):
    setup = stripe_setup
    connector = setup.connector
    connector.http.timeout = (5.0, 0.3)
    connector.http.sleep = time.sleep  # real backoff: the first request is still running at Stripe
    pi = setup.sandbox.create_intent(4498)["id"]
    setup.sandbox.faults.plan("timeout", path=CAPTURE, method="POST", when="after", seconds=1.0)
    order_id = stripe_order(setup, pi)
    run_jobs(setup.hub)
    assert detail(setup.hub, order_id)["financial_status"] == "paid"
    assert setup.sandbox.effects["captures"] == 1
    posts = setup.sandbox.posts(CAPTURE)
    assert len(posts) >= 2
    assert {p.idempotency_key for p in posts} == {posts[0].idempotency_key}


def test_a_declined_capture_puts_the_order_on_hold_with_the_reason(stripe_setup, run_jobs):
    setup = stripe_setup
    pi = setup.sandbox.create_intent(4498)["id"]
    setup.sandbox.faults.plan(402, path=CAPTURE, method="POST")
    order_id = stripe_order(setup, pi)
    run_jobs(setup.hub)
    order = detail(setup.hub, order_id)
    assert (order["status"], order["hold_reasons"]) == ("on_hold", ["payment_failed"])
    assert order["payments"][0]["status"] == "failed"
    assert "Your card was declined." in order["payments"][0]["failure_reason"]
    (job,) = jobs(setup.hub, "payment.capture")
    assert job.status == "dead" and "declined" in job.last_error
    assert len(setup.sandbox.posts(CAPTURE)) == 1


# --- void ----------------------------------------------------------------------------------------------


def test_cancelling_before_capture_voids_the_payment_intent(ship_setup, run_jobs):
    pi = ship_setup.sandbox.create_intent(4498)["id"]
    order_id = stripe_order(ship_setup, pi)
    run_jobs(ship_setup.hub)
    transition(ship_setup.hub, order_id, "cancel")
    run_jobs(ship_setup.hub)
    order = detail(ship_setup.hub, order_id)
    assert (order["status"], order["financial_status"]) == ("cancelled", "voided")
    assert ship_setup.sandbox.intents[pi]["status"] == "canceled"
    assert ship_setup.sandbox.effects == {"confirmations": 1, "cancels": 1}


def test_an_intent_captured_elsewhere_before_the_void_is_refunded_instead(ship_setup, run_jobs):
    pi = ship_setup.sandbox.create_intent(4498)["id"]
    order_id = stripe_order(ship_setup, pi)
    run_jobs(ship_setup.hub)
    ship_setup.sandbox.capture_now(pi)  # in the dashboard; its webhook has not arrived yet
    transition(ship_setup.hub, order_id, "cancel")
    run_jobs(ship_setup.hub)
    order = detail(ship_setup.hub, order_id)
    assert (order["status"], order["financial_status"]) == ("cancelled", "refunded")
    assert ship_setup.sandbox.effects["refunds"] == 1
    assert ship_setup.sandbox.effects["cancels"] == 0


# --- refunds ---------------------------------------------------------------------------------------------


def test_partial_refunds_up_to_the_captured_amount_and_not_a_cent_more(stripe_setup, run_jobs):
    setup = stripe_setup
    hub = setup.hub
    pi = setup.sandbox.create_intent(4498)["id"]
    order_id = stripe_order(setup, pi)
    run_jobs(hub)
    refund(hub, pi, 1000, key="return-1")
    refund(hub, pi, 3000, key="return-2")
    run_jobs(hub)
    order = detail(hub, order_id)
    assert (order["financial_status"], order["payments"][0]["refunded"]) == (
        "partially_refunded",
        "40.00",
    )
    # 4.98 left: the hub refuses 5.00 before calling Stripe ...
    with pytest.raises(ValidationError, match="4.98"):
        refund(hub, pi, 500, key="return-3")
    # ... and Stripe refuses it when a job asks anyway: a dead job, Stripe's reason shown.
    with hub.db.transaction() as session:
        payment = session.scalars(select(Payment).where(Payment.reference == pi)).one()
        enqueue(
            session,
            "payment.refund",
            {"payment_id": payment.id, "amount": 500},
            channel_id=setup.channel_id,
            order_id=order_id,
        )
    run_jobs(hub)
    forced = jobs(hub, "payment.refund")[-1]
    assert forced.status == "dead"
    assert "greater than unrefunded amount" in forced.last_error
    assert setup.sandbox.effects["refunds"] == 2
    refund(hub, pi, 498, key="return-3")
    run_jobs(hub)
    order = detail(hub, order_id)
    assert (order["financial_status"], order["payments"][0]["refunded"]) == ("refunded", "44.98")
    assert setup.sandbox.effects["refunds"] == 3
    with hub.db.read() as session:
        assert sorted(r.amount for r in session.scalars(select(Refund))) == [498, 1000, 3000]


def test_a_three_decimal_refund_is_rounded_to_stripes_step_and_the_ledger_records_what_stripe_refunded(
    stripe_setup, run_jobs
):
    setup = stripe_setup
    hub = setup.hub
    pi = setup.sandbox.create_intent(44980, "kwd")["id"]
    order_id = stripe_order(setup, pi, amount="44.980", currency="KWD")
    run_jobs(hub)
    assert detail(hub, order_id)["payments"][0]["captured"] == "44.980"
    refund(hub, pi, 5124, key="return-1")  # KWD 5.124: Stripe refuses amounts not ending in 0
    run_jobs(hub)
    assert [j.status for j in jobs(hub, "payment.refund")] == ["succeeded"]
    order = detail(hub, order_id)
    assert (order["financial_status"], order["payments"][0]["refunded"]) == (
        "partially_refunded",
        "5.120",
    )
    with hub.db.read() as session:
        assert [r.amount for r in session.scalars(select(Refund))] == [5120]
    # The person is told what was rounded, on the order's timeline.
    [note] = [e for e in order["events"] if e["name"] == "order.payment_adjusted"]
    assert note["reason"] == (
        "KWD 5.124 refunded as 5.120 at Stripe: "
        "Stripe takes three-decimal currencies in multiples of 0.010"
    )


def test_a_payment_awaiting_authentication_is_pending_with_the_reason_until_the_customer_authenticates(
    ship_setup, run_jobs
):
    setup = ship_setup
    setup.webhooks_to_hub()
    pi = setup.sandbox.create_intent(4498, payment_method="pm_card_authenticationRequired")["id"]
    order_id = stripe_order(setup, pi, status="pending")
    deliver(setup, run_jobs)
    order = detail(setup.hub, order_id)
    assert (order["financial_status"], order["payments"][0]["status"], order["hold_reasons"]) == (
        "pending",
        "pending",
        [],
    )
    assert "awaiting the customer's authentication" in order["payments"][0]["failure_reason"]
    setup.sandbox.authenticate(pi)
    deliver(setup, run_jobs)
    order = detail(setup.hub, order_id)
    assert (order["financial_status"], order["payments"][0]["status"]) == (
        "authorized",
        "authorized",
    )


def test_a_dispute_shows_the_funds_withdrawn_then_that_the_dispute_was_won(stripe_setup, run_jobs):
    setup = stripe_setup
    setup.webhooks_to_hub()
    pi = setup.sandbox.create_intent(4498)["id"]
    order_id = stripe_order(setup, pi)
    deliver(setup, run_jobs)
    setup.sandbox.clock = lambda: time.time() + 86_400  # disputes come days after the capture
    dispute = setup.sandbox.dispute(pi)
    deliver(setup, run_jobs)
    order = detail(setup.hub, order_id)
    assert (order["hold_reasons"], order["payments"][0]["disputed"]) == (["dispute"], True)
    assert order["payments"][0]["failure_reason"] == (
        f"Dispute {dispute['id']} (fraudulent): USD 44.98 withdrawn by Stripe until the dispute is decided"
    )
    setup.sandbox.clock = lambda: time.time() + 30 * 86_400
    setup.sandbox.close_dispute(dispute["id"], won=True)
    deliver(setup, run_jobs)
    order = detail(setup.hub, order_id)
    assert order["payments"][0]["failure_reason"] == (
        f"Dispute {dispute['id']} (fraudulent): USD 44.98 reinstated by Stripe, the dispute was won"
    )
    # Won: no longer disputed, and the hold it caused is gone.
    assert order["payments"][0]["disputed"] is False
    assert "dispute" not in order["hold_reasons"] and order["status"] != "on_hold"
    assert "order.dispute_won" in [e["name"] for e in order["events"]]
    assert inbox_outcomes(setup.hub)[-1][:2] == ("charge.dispute.closed", "processed")
    assert detail(setup.hub, order_id)["payments"][0]["disputed"] is False


def test_a_lost_dispute_keeps_the_payment_disputed_and_says_the_funds_stay_with_the_customer(
    stripe_setup, run_jobs
):
    setup = stripe_setup
    setup.webhooks_to_hub()
    pi = setup.sandbox.create_intent(4498)["id"]
    order_id = stripe_order(setup, pi)
    deliver(setup, run_jobs)
    setup.sandbox.clock = lambda: time.time() + 86_400
    dispute = setup.sandbox.dispute(pi)
    deliver(setup, run_jobs)
    setup.sandbox.clock = lambda: time.time() + 30 * 86_400
    setup.sandbox.close_dispute(dispute["id"], won=False)
    deliver(setup, run_jobs)
    order = detail(setup.hub, order_id)
    assert order["payments"][0]["disputed"] is True and "dispute" in order["hold_reasons"]
    assert order["payments"][0]["failure_reason"] == (
        f"Dispute {dispute['id']} (fraudulent): USD 44.98 lost, the funds stay with the customer"
    )


def test_a_refund_retried_after_a_crash_refunds_once(any_stripe_setup, run_jobs, monkeypatch):
    setup = any_stripe_setup
    pi = setup.sandbox.create_intent(4498)["id"]
    order_id = stripe_order(setup, pi)
    run_jobs(setup.hub)
    refund(setup.hub, pi, 1500, key="return-1")

    def crash(*args, **kwargs):
        raise Crash("killed after Stripe refunded")

    monkeypatch.setattr(payments, "apply_payment_update", crash)
    with pytest.raises(Crash):
        run_jobs(setup.hub)
    monkeypatch.undo()
    worker_died(setup.hub)
    run_jobs(setup.hub)
    assert setup.sandbox.effects["refunds"] == 1
    order = detail(setup.hub, order_id)
    assert (order["financial_status"], order["payments"][0]["refunded"]) == (
        "partially_refunded",
        "15.00",
    )
    with setup.hub.db.read() as session:
        assert session.scalars(select(Refund)).one().external_id in setup.sandbox.refunds


def test_a_refund_that_fails_at_stripe_is_a_dead_job_not_a_success(stripe_setup, run_jobs):
    setup = stripe_setup
    pi = setup.sandbox.create_intent(4498)["id"]
    order_id = stripe_order(setup, pi)
    run_jobs(setup.hub)
    setup.sandbox.refund_statuses = ["failed"]
    refund(setup.hub, pi, 1000, key="return-1")
    run_jobs(setup.hub)
    (job,) = jobs(setup.hub, "payment.refund")
    assert job.status == "dead"
    assert "failed at the gateway" in job.last_error
    order = detail(setup.hub, order_id)
    assert (order["financial_status"], order["payments"][0]["refunded"]) == ("paid", "0.00")


# --- webhooks ----------------------------------------------------------------------------------------------


def deliver(setup: StripeSetup, run_jobs) -> None:
    setup.sandbox.deliver_pending()
    run_jobs(setup.hub)


def inbox_outcomes(hub) -> list[tuple[str, str, str | None]]:
    with hub.db.read() as session:
        return [
            (e.topic, e.status, e.error)
            for e in session.scalars(select(WebhookEvent).order_by(WebhookEvent.id))
        ]


def test_webhooks_drive_the_financial_status(any_stripe_setup, run_jobs):
    setup = any_stripe_setup
    with setup.hub.db.transaction() as session:  # the hub leaves capturing to the dashboard here
        update_config(setup.hub, session, get_channel(session, "stripe"), {"capture_on": "ship"})
    setup.webhooks_to_hub()
    sandbox, hub = setup.sandbox, setup.hub
    pi = sandbox.create_intent(4498)["id"]
    order_id = stripe_order(setup, pi)
    deliver(setup, run_jobs)
    assert detail(hub, order_id)["financial_status"] == "authorized"

    sandbox.capture_now(pi)
    deliver(setup, run_jobs)
    assert detail(hub, order_id)["financial_status"] == "paid"

    sandbox.refund_now(pi, 1000)
    deliver(setup, run_jobs)
    order = detail(hub, order_id)
    assert (order["financial_status"], order["payments"][0]["refunded"]) == (
        "partially_refunded",
        "10.00",
    )

    sandbox.dispute(pi)
    deliver(setup, run_jobs)
    order = detail(hub, order_id)
    assert (order["status"], order["hold_reasons"]) == ("on_hold", ["dispute"])
    assert order["payments"][0]["disputed"] is True

    sandbox.refund_now(pi)
    deliver(setup, run_jobs)
    order = detail(hub, order_id)
    assert (order["financial_status"], order["payments"][0]["refunded"]) == ("refunded", "44.98")
    with hub.db.read() as session:
        assert len(session.scalars(select(Refund)).all()) == 2
    # authorised, captured, refunded, dispute created, its funds withdrawn, refunded
    assert [status for _, status, _ in inbox_outcomes(hub)] == ["processed"] * 6
    assert sandbox.effects["captures"] == 1  # the hub never captured on its own


def test_a_webhook_delivered_twice_is_stored_once(stripe_setup, run_jobs):
    setup = stripe_setup
    pi = setup.sandbox.create_intent(4498)["id"]
    stripe_order(setup, pi)
    body, headers = setup.sandbox.signed(setup.sandbox.events[0])
    assert setup.post(body, headers).get_json() == {"status": "accepted"}
    assert setup.post(body, headers).get_json() == {"status": "duplicate"}
    run_jobs(setup.hub)
    assert len(inbox_outcomes(setup.hub)) == 1


def test_a_bad_signature_stores_nothing(stripe_setup):
    event = stripe_setup.sandbox.emit(
        "payment_intent.succeeded", {"id": "pi_x", "object": "payment_intent"}
    )
    body, headers = stripe_setup.sandbox.signed(event, secret="whsec_someone_else")
    assert stripe_setup.post(body, headers).status_code == 401
    assert inbox_outcomes(stripe_setup.hub) == []


def test_a_stale_event_never_moves_a_payment_back(ship_setup, run_jobs):
    setup = ship_setup
    setup.webhooks_to_hub()
    sandbox = setup.sandbox
    pi = sandbox.create_intent(4498)["id"]
    order_id = stripe_order(setup, pi)
    run_jobs(setup.hub)
    now = int(time.time())
    authorised = copy.deepcopy(sandbox.intents[pi])
    sandbox.emit("payment_intent.amount_capturable_updated", authorised, created=now + 100)
    deliver(setup, run_jobs)
    # Older facts arrive late: a failure and a smaller authorisation. Neither is applied.
    failed = authorised | {
        "status": "requires_payment_method",
        "amount_capturable": 0,
        "last_payment_error": {"message": "Your card was declined.", "code": "card_declined"},
    }
    sandbox.emit("payment_intent.payment_failed", failed, created=now + 50)
    sandbox.emit(
        "payment_intent.amount_capturable_updated",
        authorised | {"amount_capturable": 100},
        created=now + 51,
    )
    deliver(setup, run_jobs)
    order = detail(setup.hub, order_id)
    assert (order["status"], order["financial_status"], order["hold_reasons"]) == (
        "confirmed",
        "authorized",
        [],
    )
    payment = order["payments"][0]
    assert (payment["status"], payment["amount"], payment["failure_reason"]) == (
        "authorized",
        "44.98",
        "",
    )
    # A newer capture counts; an older cancellation after it does not undo it.
    captured = sandbox.capture_now(pi)
    sandbox.emit("payment_intent.succeeded", captured, created=now + 200)
    sandbox.emit("payment_intent.canceled", authorised | {"status": "canceled"}, created=now + 150)
    deliver(setup, run_jobs)
    order = detail(setup.hub, order_id)
    assert (order["financial_status"], order["payments"][0]["status"]) == ("paid", "captured")
    assert [status for _, status, _ in inbox_outcomes(setup.hub)] == ["processed"] * 7


def test_a_failed_payment_event_holds_the_order(ship_setup, run_jobs):
    setup = ship_setup
    setup.webhooks_to_hub()
    pi = setup.sandbox.create_intent(4498)["id"]
    order_id = stripe_order(setup, pi)
    run_jobs(setup.hub)
    failed = setup.sandbox.intents[pi] | {
        "status": "requires_payment_method",
        "last_payment_error": {
            "message": "Your card has insufficient funds.",
            "decline_code": "insufficient_funds",
        },
    }
    setup.sandbox.emit("payment_intent.payment_failed", failed, created=int(time.time()) + 5)
    deliver(setup, run_jobs)
    order = detail(setup.hub, order_id)
    assert (order["status"], order["hold_reasons"], order["financial_status"]) == (
        "on_hold",
        ["payment_failed"],
        "failed",
    )
    assert (
        order["payments"][0]["failure_reason"]
        == "Your card has insufficient funds. (insufficient_funds)"
    )


def test_an_authorisation_canceled_behind_the_hubs_back_holds_the_order(ship_setup, run_jobs):
    setup = ship_setup
    setup.webhooks_to_hub()
    pi = setup.sandbox.create_intent(4498)["id"]
    order_id = stripe_order(setup, pi)
    run_jobs(setup.hub)
    with setup.sandbox.lock:  # Stripe cancels uncaptured intents after 7 days
        intent = setup.sandbox.intents[pi]
        intent.update(status="canceled", cancellation_reason="automatic", amount_capturable=0)
        setup.sandbox.emit("payment_intent.canceled", intent, created=int(time.time()) + 5)
    deliver(setup, run_jobs)
    order = detail(setup.hub, order_id)
    assert (order["status"], order["hold_reasons"], order["financial_status"]) == (
        "on_hold",
        ["payment_failed"],
        "voided",
    )
    assert order["payments"][0]["failure_reason"] == "PaymentIntent canceled (automatic)"


def test_events_for_unknown_payments_and_other_types_are_ignored_visibly(stripe_setup, run_jobs):
    setup = stripe_setup
    setup.webhooks_to_hub()
    setup.sandbox.create_intent(1000)  # no order has it
    setup.sandbox.emit("customer.created", {"id": "cus_1", "object": "customer"})
    deliver(setup, run_jobs)
    assert inbox_outcomes(setup.hub) == [
        ("payment_intent.amount_capturable_updated", "ignored", "ignored: unknown payment"),
        ("customer.created", "ignored", "ignored: customer.created"),
    ]


def test_check_connection_names_the_account_or_says_the_key_is_wrong(stripe_setup, sandbox_url):
    assert (
        stripe_setup.connector.check_connection()
        == "Stripe account acct_hubsandbox (Hub Sandbox), test mode"
    )
    with stripe_setup.hub.db.transaction() as session:
        update_config(
            stripe_setup.hub,
            session,
            get_channel(session, "stripe"),
            {"secret_key": "sk_test_notthekey00000"},
        )
    with pytest.raises(StripeError) as caught:
        stripe_setup.hub.connector_for_id(stripe_setup.channel_id).check_connection()
    assert caught.value.status == 401 and caught.value.retryable is False
    assert "Invalid API Key provided" in caught.value.message
    assert "sk_test_notthekey00000" not in caught.value.message
