"""Races between the hub's payment jobs and what Stripe reports meanwhile (found by the reliability suite)."""

from __future__ import annotations

from hub.core.order import PaymentUpdate
from hub.orders import payments
from hub.queue.jobs import Worker
from hub.store.models import utcnow
from plugins.stripe.tests.test_flow import detail, jobs, stripe_order, transition


def run_kinds(hub, *kinds: str) -> None:
    Worker(hub, kinds=kinds, worker_id="test").run_until_idle()


def test_a_capture_reported_by_webhook_before_the_capture_job_still_moves_the_order_on(
    stripe_setup, run_jobs
):
    setup = stripe_setup
    setup.webhooks_to_hub()
    pi = setup.sandbox.create_intent(4498)["id"]
    setup.sandbox.deliver_pending()  # the checkout's own events, before the order exists
    order_id = stripe_order(setup, pi)
    run_kinds(setup.hub, "order.event", "order.process")  # confirmed; its capture job waits
    assert [j.status for j in jobs(setup.hub, "payment.capture")] == ["queued"]
    # The capture gets through and Stripe's webhook is processed before the capture job
    # records it (an earlier try whose answer was lost, or a dashboard capture).
    setup.sandbox.capture_now(pi)
    setup.sandbox.deliver_pending()
    run_kinds(setup.hub, "webhook.process", "order.event")
    assert detail(setup.hub, order_id)["financial_status"] == "paid"
    run_jobs(setup.hub)
    assert [j.status for j in jobs(setup.hub, "order.fulfill")] == ["succeeded"]
    assert setup.sandbox.effects["captures"] == 1


def test_an_order_cancelled_before_its_capture_job_ran_is_never_charged(stripe_setup, run_jobs):
    setup = stripe_setup
    pi = setup.sandbox.create_intent(4498)["id"]
    order_id = stripe_order(setup, pi)
    run_kinds(setup.hub, "order.event", "order.process")  # confirmed; its capture job waits
    transition(setup.hub, order_id, "cancel")
    run_jobs(setup.hub)
    order = detail(setup.hub, order_id)
    assert (order["status"], order["financial_status"]) == ("cancelled", "voided")
    assert setup.sandbox.effects["captures"] == 0
    assert setup.sandbox.intents[pi]["status"] == "canceled"


def test_a_capture_recorded_before_the_cancellations_void_ran_is_refunded(stripe_setup, run_jobs):
    setup = stripe_setup
    pi = setup.sandbox.create_intent(4498)["id"]
    order_id = stripe_order(setup, pi)
    run_kinds(setup.hub, "order.event", "order.process")
    transition(setup.hub, order_id, "cancel")  # the void is queued behind the capture in flight
    run_kinds(setup.hub, "order.event")
    # The capture was in flight when the order was cancelled: it lands first.
    setup.sandbox.capture_now(pi)
    with setup.hub.db.transaction() as session:
        payments.apply_payment_update(
            session,
            PaymentUpdate(
                reference=pi, occurred_at=utcnow(), status="captured", captured_amount=4498
            ),
            actor="test",
        )
    run_jobs(setup.hub)
    order = detail(setup.hub, order_id)
    assert (order["status"], order["financial_status"]) == ("cancelled", "refunded")
    assert setup.sandbox.effects["refunds"] == 1
