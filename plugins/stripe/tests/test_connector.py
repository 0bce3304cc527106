"""The Stripe connector against recorded answers (``responses``): wire format, retries, errors."""

from __future__ import annotations

import json
from datetime import UTC, datetime
from urllib.parse import parse_qsl

import pytest
import requests
import responses

from hub.core.exceptions import ExternalError, PaymentDeclined, RetryLater, ValidationError
from hub.integration.connectors import ChannelInfo, PaymentRef
from plugins.stripe.connector import StripeConnector, StripeError, encode_form, idempotency_header

BASE = "https://api.stripe.com"
KEY = "sk_test_unit0000000000000000"


def make_connector(**config) -> StripeConnector:
    loaded = StripeConnector.validate_config(
        {"secret_key": KEY, "webhook_secret": "whsec_unit", **config}
    )
    connector = StripeConnector(
        ChannelInfo(id=7, slug="stripe", name="Stripe", connector="stripe", config=loaded)
    )
    connector.sleeps = []
    connector.http.sleep = connector.sleeps.append  # backoff without waiting
    return connector


def payment(amount=4498, currency="USD", reference="pi_123") -> PaymentRef:
    return PaymentRef(
        reference=reference,
        currency=currency,
        amount=amount,
        captured_amount=0,
        refunded_amount=0,
        status="authorized",
    )


def intent(status="succeeded", amount=4498, received=4498, currency="usd", id="pi_123"):
    return {
        "id": id,
        "object": "payment_intent",
        "status": status,
        "amount": amount,
        "amount_received": received,
        "amount_capturable": 0,
        "currency": currency,
    }


def form(call) -> dict[str, str]:
    return dict(parse_qsl(call.request.body))


def stripe_error(type_="invalid_request_error", message="bad", **extra):
    return {"error": {"type": type_, "message": message, **extra}}


CAPTURE = f"{BASE}/v1/payment_intents/pi_123/capture"


# --- wire format ---------------------------------------------------------------------------------


def test_form_encoding_nests_like_stripe():
    assert encode_form(
        {
            "amount": 100,
            "metadata": {"order": "#1", "skip": None},
            "expand": ["latest_charge"],
            "confirm": True,
            "items": [{"price": "p_1", "quantity": 2}],
        }
    ) == [
        ("amount", "100"),
        ("metadata[order]", "#1"),
        ("expand[0]", "latest_charge"),
        ("confirm", "true"),
        ("items[0][price]", "p_1"),
        ("items[0][quantity]", "2"),
    ]


@responses.activate
def test_capture_posts_a_form_with_bearer_auth_version_and_the_jobs_idempotency_key():
    responses.post(CAPTURE, json=intent(received=3000))
    connector = make_connector(api_version="2025-03-31.basil")
    result = connector.capture(payment(), 3000, idempotency_key="hub-job-42")
    assert (result.status, result.captured_amount) == ("captured", 3000)
    request = responses.calls[0].request
    assert request.headers["Authorization"] == f"Bearer {KEY}"
    assert request.headers["Stripe-Version"] == "2025-03-31.basil"
    assert request.headers["Idempotency-Key"] == "hub-job-42"
    assert request.headers["Content-Type"] == "application/x-www-form-urlencoded"
    assert form(responses.calls[0]) == {"amount_to_capture": "3000"}


@responses.activate
def test_capture_of_the_whole_authorisation_sends_no_amount():
    responses.post(CAPTURE, json=intent())
    make_connector().capture(payment(), 4498, idempotency_key="k")
    assert form(responses.calls[0]) == {}


@responses.activate
def test_refund_sends_intent_amount_and_reason_and_maps_its_status():
    responses.post(
        f"{BASE}/v1/refunds",
        json={
            "id": "re_1",
            "object": "refund",
            "amount": 1000,
            "currency": "usd",
            "status": "pending",
            "payment_intent": "pi_123",
        },
    )
    result = make_connector().refund(payment(), 1000, idempotency_key="hub-job-9", reason="damaged")
    assert (result.external_id, result.amount, result.status) == ("re_1", 1000, "pending")
    assert form(responses.calls[0]) == {
        "payment_intent": "pi_123",
        "amount": "1000",
        "metadata[hub_reason]": "damaged",
    }
    assert responses.calls[0].request.headers["Idempotency-Key"] == "hub-job-9"


@pytest.mark.parametrize(
    ("currency", "hub_amount", "stripe_amount"),
    [
        ("JPY", 1500, "1500"),  # zero-decimal: yen are yen
        ("KWD", 1500, "1500"),  # three decimals: 1.500 KWD
        ("USD", 1500, "1500"),
        ("MGA", 2500, "25"),  # ISO gives MGA 2 decimals, Stripe counts whole ariary
        ("ISK", 5, "500"),  # ISO 0 decimals, Stripe still takes 2
    ],
)
@responses.activate
def test_amounts_are_sent_in_stripes_units(currency, hub_amount, stripe_amount):
    responses.post(
        f"{BASE}/v1/refunds",
        json={
            "id": "re_1",
            "amount": int(stripe_amount),
            "currency": currency.lower(),
            "status": "succeeded",
        },
    )
    result = make_connector().refund(
        payment(currency=currency, amount=hub_amount * 2), hub_amount, idempotency_key="k"
    )
    assert form(responses.calls[0])["amount"] == stripe_amount
    assert result.amount == hub_amount


def test_an_amount_stripe_cannot_carry_is_refused_before_any_request():
    with pytest.raises(ValidationError, match="MGA"):
        make_connector().refund(payment(currency="MGA", amount=5000), 2550, idempotency_key="k")


def kwd_payment(authorised=44980, captured=44980, refunded=0) -> PaymentRef:
    return PaymentRef(
        reference="pi_123",
        currency="KWD",
        amount=authorised,
        captured_amount=captured,
        refunded_amount=refunded,
        status="captured" if captured else "authorized",
    )


@responses.activate
def test_a_three_decimal_refund_is_rounded_to_stripes_step_and_says_so():
    responses.post(
        f"{BASE}/v1/refunds",
        json={
            "id": "re_1",
            "object": "refund",
            "amount": 5120,
            "currency": "kwd",
            "status": "succeeded",
        },
    )
    result = make_connector().refund(kwd_payment(), 5124, idempotency_key="k")
    assert form(responses.calls[0])["amount"] == "5120"  # Stripe refuses 5124
    assert result.amount == 5120  # the ledger gets what Stripe refunded, not what was asked
    assert result.message == (
        "KWD 5.124 refunded as 5.120 at Stripe: Stripe takes three-decimal currencies "
        "in multiples of 0.010"
    )


@responses.activate
def test_rounding_never_refunds_more_than_is_left():
    responses.post(
        f"{BASE}/v1/refunds",
        json={"id": "re_1", "amount": 5120, "currency": "kwd", "status": "succeeded"},
    )
    # 5.126 is all that is left: the nearest step, 5.130, would be more than was taken.
    make_connector().refund(kwd_payment(captured=10126, refunded=5000), 5126, idempotency_key="k")
    assert form(responses.calls[0])["amount"] == "5120"


@responses.activate
def test_a_three_decimal_partial_capture_is_rounded_within_the_authorisation_and_says_so():
    responses.post(CAPTURE, json=intent(amount=46130, received=46120, currency="kwd"))
    result = make_connector().capture(
        kwd_payment(authorised=46130, captured=0), 46124, idempotency_key="k"
    )
    assert form(responses.calls[0]) == {"amount_to_capture": "46120"}
    assert result.captured_amount == 46120
    assert result.message == (
        "KWD 46.124 captured as 46.120 at Stripe: Stripe takes three-decimal currencies "
        "in multiples of 0.010"
    )


def test_an_amount_below_stripes_step_is_refused_before_any_request():
    with pytest.raises(ValidationError, match="KWD 0.004 cannot be refunded at Stripe"):
        make_connector().refund(kwd_payment(), 4, idempotency_key="k")


def test_overlong_idempotency_keys_become_a_stable_digest_stripe_accepts():
    key = "x" * 300
    assert len(idempotency_header(key)) <= 255
    assert idempotency_header(key) == idempotency_header(key) != idempotency_header("y" * 300)
    assert idempotency_header("hub-job-1") == "hub-job-1"


@responses.activate
def test_gets_carry_no_idempotency_key():
    responses.get(
        f"{BASE}/v1/account",
        json={"id": "acct_1", "settings": {"dashboard": {"display_name": "Shop"}}},
    )
    assert make_connector().check_connection() == "Stripe account acct_1 (Shop), test mode"
    assert "Idempotency-Key" not in responses.calls[0].request.headers


# --- retries ---------------------------------------------------------------------------------------


@pytest.mark.parametrize("status", [409, 500, 502, 503])
@responses.activate
def test_409_and_5xx_are_retried_with_the_same_idempotency_key(status):
    responses.post(CAPTURE, status=status, json=stripe_error("api_error"))
    responses.post(CAPTURE, json=intent())
    connector = make_connector()
    assert connector.capture(payment(), 4498, idempotency_key="hub-job-1").status == "captured"
    assert len(responses.calls) == 2
    assert {c.request.headers["Idempotency-Key"] for c in responses.calls} == {"hub-job-1"}
    assert len(connector.sleeps) == 1


@responses.activate
def test_connection_errors_are_retried():
    responses.post(CAPTURE, body=requests.ConnectionError("reset by peer"))
    responses.post(CAPTURE, json=intent())
    assert make_connector().capture(payment(), 4498, idempotency_key="k").status == "captured"
    assert len(responses.calls) == 2


@pytest.mark.parametrize("status", [400, 401, 403, 404])
@responses.activate
def test_other_4xx_are_not_retried_and_the_job_goes_dead(status):
    responses.post(
        f"{BASE}/v1/refunds",
        status=status,
        json=stripe_error(
            message="Charge ch_1 has already been refunded.", code="charge_already_refunded"
        ),
    )
    with pytest.raises(StripeError) as caught:
        make_connector().refund(payment(), 100, idempotency_key="k")
    assert len(responses.calls) == 1
    assert caught.value.retryable is False
    assert "Charge ch_1 has already been refunded." in caught.value.message
    assert caught.value.code == "charge_already_refunded"


@responses.activate
def test_429_is_not_retried_by_the_client_but_the_job_retries_after_the_wait():
    responses.post(
        f"{BASE}/v1/refunds",
        status=429,
        headers={"Retry-After": "7"},
        json=stripe_error(code="rate_limit", message="Too many requests"),
    )
    with pytest.raises(StripeError) as caught:
        make_connector().refund(payment(), 100, idempotency_key="k")
    assert len(responses.calls) == 1
    assert caught.value.retryable is True
    assert caught.value.retry_after == 7


@responses.activate
def test_stripe_should_retry_false_stops_a_5xx_retry():
    responses.post(
        f"{BASE}/v1/refunds",
        status=500,
        headers={"Stripe-Should-Retry": "false"},
        json=stripe_error("api_error", "An unknown error occurred"),
    )
    with pytest.raises(StripeError) as caught:
        make_connector().refund(payment(), 100, idempotency_key="k")
    assert len(responses.calls) == 1
    assert caught.value.retryable is False


@responses.activate
def test_stripe_should_retry_true_retries_even_a_4xx():
    responses.post(
        f"{BASE}/v1/refunds",
        status=400,
        headers={"Stripe-Should-Retry": "true"},
        json=stripe_error(code="lock_timeout"),
    )
    responses.post(
        f"{BASE}/v1/refunds",
        json={"id": "re_1", "amount": 100, "currency": "usd", "status": "succeeded"},
    )
    assert make_connector().refund(payment(), 100, idempotency_key="k").status == "succeeded"
    assert len(responses.calls) == 2


@responses.activate
def test_5xx_that_never_ends_leaves_a_retryable_error_for_the_job():
    responses.get(f"{BASE}/v1/account", status=503, json=stripe_error("api_error"))
    connector = make_connector()
    with pytest.raises(StripeError) as caught:
        connector.check_connection()
    assert len(responses.calls) == 1 + connector.max_retries
    assert caught.value.retryable is True


# --- errors and states ------------------------------------------------------------------------------


@responses.activate
def test_a_redirect_is_an_error_naming_where_it_pointed_and_is_not_followed():
    responses.get(
        f"{BASE}/v1/account", status=301, headers={"Location": "https://elsewhere.example/v1?k=1"}
    )
    with pytest.raises(ExternalError) as caught:
        make_connector().check_connection()
    assert caught.value.message == (
        "stripe: GET /v1/account answered 301, a redirect to https://elsewhere.example/v1: "
        "not followed"
    )
    assert not caught.value.retryable
    assert len(responses.calls) == 1


@responses.activate
def test_a_402_card_error_is_a_decline_with_its_reason():
    responses.post(
        CAPTURE,
        status=402,
        json={
            "error": {
                "type": "card_error",
                "code": "card_declined",
                "decline_code": "insufficient_funds",
                "message": "Your card has insufficient funds.",
                "payment_intent": intent("requires_payment_method"),
            }
        },
    )
    with pytest.raises(PaymentDeclined) as caught:
        make_connector().capture(payment(), 4498, idempotency_key="k")
    assert len(responses.calls) == 1
    assert caught.value.retryable is False
    assert caught.value.decline_code == "insufficient_funds"
    assert "Your card has insufficient funds." in caught.value.message


@responses.activate
def test_capturing_an_intent_captured_already_answers_with_its_state():
    responses.post(
        CAPTURE,
        status=400,
        json=stripe_error(
            message="This PaymentIntent could not be captured because it has a status of succeeded.",
            code="payment_intent_unexpected_state",
        ),
    )
    responses.get(f"{BASE}/v1/payment_intents/pi_123", json=intent(received=4000))
    result = make_connector().capture(payment(), 4498, idempotency_key="k")
    assert (result.status, result.captured_amount) == ("captured", 4000)


@responses.activate
def test_capturing_a_canceled_intent_is_a_decline():
    responses.post(CAPTURE, status=400, json=stripe_error(code="payment_intent_unexpected_state"))
    responses.get(
        f"{BASE}/v1/payment_intents/pi_123",
        json={**intent("canceled", received=0), "cancellation_reason": "automatic"},
    )
    with pytest.raises(PaymentDeclined, match="canceled before capture"):
        make_connector().capture(payment(), 4498, idempotency_key="k")


@responses.activate
def test_a_capture_still_processing_is_checked_again_later():
    responses.post(CAPTURE, json=intent("processing", received=0))
    responses.get(f"{BASE}/v1/payment_intents/pi_123", json=intent("processing", received=0))
    with pytest.raises(RetryLater):
        make_connector().capture(payment(), 4498, idempotency_key="k")


@responses.activate
def test_a_replayed_server_error_falls_back_to_a_derived_key_only_while_uncaptured():
    responses.post(
        CAPTURE,
        status=500,
        headers={"Stripe-Should-Retry": "false"},
        json=stripe_error("api_error", "An unknown error occurred"),
    )
    responses.get(f"{BASE}/v1/payment_intents/pi_123", json=intent("requires_capture", received=0))
    responses.post(CAPTURE, json=intent())
    result = make_connector().capture(payment(), 4498, idempotency_key="hub-job-5")
    assert result.status == "captured"
    keys = [
        c.request.headers.get("Idempotency-Key")
        for c in responses.calls
        if c.request.method == "POST"
    ]
    assert keys == ["hub-job-5", "hub-job-5:after-server-error"]


@responses.activate
def test_void_cancels_and_an_intent_canceled_already_is_voided():
    responses.post(
        f"{BASE}/v1/payment_intents/pi_123/cancel",
        status=400,
        json=stripe_error(code="payment_intent_unexpected_state"),
    )
    responses.get(f"{BASE}/v1/payment_intents/pi_123", json=intent("canceled", received=0))
    result = make_connector().void(payment(), idempotency_key="hub-job-3")
    assert (result.status, result.captured_amount) == ("voided", 0)
    assert responses.calls[0].request.headers["Idempotency-Key"] == "hub-job-3"


# --- configuration -------------------------------------------------------------------------------------


def test_config_defaults_and_capture_events():
    assert make_connector().capture_events() == ("order.confirmed",)
    assert make_connector(capture_on="ship").capture_events() == (
        "order.partially_shipped",
        "order.shipped",
    )
    assert make_connector(capture="automatic").capture_events() == ()
    config = make_connector().config
    assert (config["api_base_url"], config["webhook_tolerance"], config["capture"]) == (
        "https://api.stripe.com",
        300,
        "manual",
    )
    assert StripeConnector.secret_fields() == {"secret_key", "webhook_secret"}


@pytest.mark.parametrize(
    ("field", "value", "message"),
    [
        ("secret_key", "pk_test_abcdefgh", "publishable key"),
        ("secret_key", "abcdefghijk", "secret key"),
        ("webhook_secret", "secret", "whsec_"),
        ("capture", "sometimes", "one of"),
        ("capture_on", "deliver", "one of"),
        ("webhook_tolerance", -1, "greater than or equal"),
        ("api_base_url", "ftp://example.com", "URL"),
    ],
)
def test_bad_config_is_refused_with_the_field_named(field, value, message):
    with pytest.raises(ValidationError) as caught:
        StripeConnector.validate_config({"secret_key": KEY, field: value})
    assert message in json.dumps(caught.value.details[field])


# --- webhooks ---------------------------------------------------------------------------------------------


class FakePort:
    def __init__(self, known=True):
        self.updates, self.known = [], known

    def apply_payment_update(self, update):
        self.updates.append(update)
        return 1 if self.known else None


def event(type_, obj, created=1_700_000_000):
    return json.dumps(
        {
            "id": "evt_1",
            "object": "event",
            "type": type_,
            "created": created,
            "data": {"object": obj},
        }
    ).encode()


def test_charge_refunded_records_each_embedded_refund():
    port = FakePort()
    charge = {
        "id": "ch_1",
        "object": "charge",
        "payment_intent": "pi_123",
        "currency": "jpy",
        "amount_captured": 5000,
        "amount_refunded": 3000,
        "refunds": {
            "object": "list",
            "has_more": False,
            "data": [
                {"id": "re_1", "amount": 1000, "currency": "jpy", "status": "succeeded"},
                {"id": "re_2", "amount": 2000, "currency": "jpy", "status": "succeeded"},
            ],
        },
    }
    assert (
        str(
            make_connector().handle_webhook(
                port, "charge.refunded", event("charge.refunded", charge), {}
            )
        )
        == "processed"
    )
    (update,) = port.updates
    assert update.reference == "pi_123"
    assert update.occurred_at == datetime.fromtimestamp(1_700_000_000, UTC)
    assert (update.captured_amount, update.refunded_amount) == (5000, 3000)
    assert [(r.external_id, r.amount) for r in update.refunds] == [("re_1", 1000), ("re_2", 2000)]


@responses.activate
def test_charge_refunded_without_embedded_refunds_lists_them_page_by_page():
    responses.get(
        f"{BASE}/v1/refunds",
        json={
            "object": "list",
            "has_more": True,
            "data": [{"id": "re_2", "amount": 2000, "currency": "usd", "status": "succeeded"}],
        },
    )
    responses.get(
        f"{BASE}/v1/refunds",
        json={
            "object": "list",
            "has_more": False,
            "data": [{"id": "re_1", "amount": 1000, "currency": "usd", "status": "succeeded"}],
        },
    )
    port = FakePort()
    charge = {
        "id": "ch_1",
        "payment_intent": "pi_123",
        "currency": "usd",
        "amount_captured": 4498,
        "amount_refunded": 3000,
    }
    make_connector().handle_webhook(port, "charge.refunded", event("charge.refunded", charge), {})
    assert [r.external_id for r in port.updates[0].refunds] == ["re_2", "re_1"]
    assert dict(parse_qsl(responses.calls[1].request.url.split("?", 1)[1])) == {
        "payment_intent": "pi_123",
        "limit": "100",
        "starting_after": "re_2",
    }


def test_webhook_outcomes_for_unknown_payments_and_other_types():
    connector = make_connector()
    assert (
        str(
            connector.handle_webhook(
                FakePort(known=False), "x", event("payment_intent.succeeded", intent()), {}
            )
        )
        == "ignored: unknown payment"
    )
    assert (
        str(
            connector.handle_webhook(
                FakePort(), "x", event("customer.created", {"id": "cus_1"}), {}
            )
        )
        == "ignored: customer.created"
    )


def test_payment_failed_carries_the_decline_reason():
    port = FakePort()
    failed = {
        **intent("requires_payment_method", received=0),
        "last_payment_error": {
            "code": "card_declined",
            "decline_code": "insufficient_funds",
            "message": "Your card has insufficient funds.",
        },
    }
    make_connector().handle_webhook(port, "x", event("payment_intent.payment_failed", failed), {})
    assert port.updates[0].status == "failed"
    assert (
        port.updates[0].failure_reason == "Your card has insufficient funds. (insufficient_funds)"
    )
