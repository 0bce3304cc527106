"""The sandbox over loopback behaves like Stripe where the connector depends on it."""

from __future__ import annotations

import threading

import pytest
import requests

from plugins.stripe.sandbox import DEFAULT_SECRET_KEY

AUTH = {"Authorization": f"Bearer {DEFAULT_SECRET_KEY}"}


@pytest.fixture
def api(sandbox_url):
    session = requests.Session()
    session.headers.update(AUTH)

    def call(method, path, data=None, key=None, **kwargs):
        headers = {"Idempotency-Key": key} if key else {}
        return session.request(
            method, sandbox_url + path, data=data, headers=headers, timeout=10, **kwargs
        )

    yield call
    session.close()


def authorised(sandbox, amount=5000, currency="usd"):
    return sandbox.create_intent(amount, currency)["id"]


def test_create_confirm_capture_and_refund_over_http(api, sandbox):
    created = api(
        "POST",
        "/v1/payment_intents",
        {
            "amount": "5000",
            "currency": "usd",
            "capture_method": "manual",
            "payment_method": "pm_card_visa",
            "confirm": "true",
        },
        key="k1",
    )
    assert created.status_code == 200
    intent = created.json()
    assert (intent["status"], intent["amount_capturable"]) == ("requires_capture", 5000)
    captured = api(
        "POST",
        f"/v1/payment_intents/{intent['id']}/capture",
        {"amount_to_capture": "4000"},
        key="k2",
    )
    assert (captured.json()["status"], captured.json()["amount_received"]) == ("succeeded", 4000)
    refund = api(
        "POST", "/v1/refunds", {"payment_intent": intent["id"], "amount": "1500"}, key="k3"
    ).json()
    assert (refund["status"], refund["amount"]) == ("succeeded", 1500)
    listed = api("GET", "/v1/refunds", params={"payment_intent": intent["id"]}).json()
    assert [r["id"] for r in listed["data"]] == [refund["id"]]
    assert sandbox.effects == {"confirmations": 1, "captures": 1, "refunds": 1}
    assert [e["type"] for e in sandbox.events] == [
        "payment_intent.amount_capturable_updated",
        "payment_intent.succeeded",
        "charge.refunded",
    ]


def test_the_same_key_replays_the_first_answer_without_doing_it_again(api, sandbox):
    pi = authorised(sandbox)
    first = api("POST", f"/v1/payment_intents/{pi}/capture", {}, key="cap-1")
    again = api("POST", f"/v1/payment_intents/{pi}/capture", {}, key="cap-1")
    assert again.status_code == first.status_code == 200
    assert again.json() == first.json()
    assert again.headers["Idempotent-Replayed"] == "true"
    assert "Idempotent-Replayed" not in first.headers
    assert sandbox.effects["captures"] == 1
    # Without the key, the same request is a new one: Stripe refuses a second capture.
    other = api("POST", f"/v1/payment_intents/{pi}/capture", {}, key="cap-2")
    assert other.status_code == 400
    assert other.json()["error"]["code"] == "payment_intent_unexpected_state"


def test_the_same_key_with_other_parameters_is_an_idempotency_error(api, sandbox):
    pi = authorised(sandbox)
    api("POST", f"/v1/payment_intents/{pi}/capture", {"amount_to_capture": "1000"}, key="cap-1")
    answer = api(
        "POST", f"/v1/payment_intents/{pi}/capture", {"amount_to_capture": "2000"}, key="cap-1"
    )
    assert answer.status_code == 400
    assert answer.json()["error"]["type"] == "idempotency_error"
    assert sandbox.effects["captures"] == 1


def test_the_same_key_while_the_first_request_runs_is_a_409(api, sandbox):
    pi = authorised(sandbox)
    sandbox.faults.plan(
        "timeout",
        path=f"/v1/payment_intents/{pi}/capture",
        method="POST",
        when="after",
        seconds=0.5,
    )
    first: list[requests.Response] = []
    thread = threading.Thread(
        target=lambda: first.append(
            api("POST", f"/v1/payment_intents/{pi}/capture", {}, key="cap-1")
        )
    )
    thread.start()
    try:
        for _ in range(200):  # the first request is in flight once its POST is logged
            if sandbox.posts("*/capture"):
                break
            threading.Event().wait(0.005)
        concurrent = api("POST", f"/v1/payment_intents/{pi}/capture", {}, key="cap-1")
    finally:
        thread.join(timeout=10)
    assert concurrent.status_code == 409
    assert concurrent.json()["error"]["code"] == "idempotency_key_in_use"
    assert first[0].status_code == 200
    assert sandbox.effects["captures"] == 1


def test_a_stored_500_is_replayed_and_says_not_to_retry(api, sandbox):
    pi = authorised(sandbox)
    sandbox.faults.plan(500, path="/v1/payment_intents/*/capture", method="POST", when="stored")
    first = api("POST", f"/v1/payment_intents/{pi}/capture", {}, key="cap-1")
    again = api("POST", f"/v1/payment_intents/{pi}/capture", {}, key="cap-1")
    assert first.status_code == again.status_code == 500
    assert again.headers["Stripe-Should-Retry"] == "false"
    assert again.json()["error"]["type"] == "api_error"
    assert sandbox.effects["captures"] == 0


def test_faults_before_the_endpoint_are_not_remembered(api, sandbox):
    pi = authorised(sandbox)
    sandbox.faults.plan(429, path="/v1/payment_intents/*/capture", method="POST", retry_after=3)
    limited = api("POST", f"/v1/payment_intents/{pi}/capture", {}, key="cap-1")
    assert (limited.status_code, limited.headers["Retry-After"]) == (429, "3")
    assert limited.json()["error"]["code"] == "rate_limit"
    assert api("POST", f"/v1/payment_intents/{pi}/capture", {}, key="cap-1").status_code == 200
    assert sandbox.effects["captures"] == 1


def test_a_lost_answer_happened_all_the_same(api, sandbox):
    pi = authorised(sandbox)
    sandbox.faults.plan(502, path="/v1/payment_intents/*/capture", method="POST", when="after")
    assert api("POST", f"/v1/payment_intents/{pi}/capture", {}, key="cap-1").status_code == 502
    replay = api("POST", f"/v1/payment_intents/{pi}/capture", {}, key="cap-1")
    assert (replay.status_code, replay.json()["status"]) == (200, "succeeded")
    assert sandbox.effects["captures"] == 1


def test_refunds_never_exceed_what_was_captured(api, sandbox):
    pi = authorised(sandbox, 5000)
    api("POST", f"/v1/payment_intents/{pi}/capture", {}, key="c")
    assert (
        api("POST", "/v1/refunds", {"payment_intent": pi, "amount": "3000"}, key="r1").status_code
        == 200
    )
    too_much = api("POST", "/v1/refunds", {"payment_intent": pi, "amount": "2001"}, key="r2")
    assert too_much.status_code == 400
    assert too_much.json()["error"]["code"] == "amount_too_large"
    assert (
        api("POST", "/v1/refunds", {"payment_intent": pi, "amount": "2000"}, key="r3").status_code
        == 200
    )
    done = api("POST", "/v1/refunds", {"payment_intent": pi, "amount": "1"}, key="r4")
    assert done.json()["error"]["code"] == "charge_already_refunded"
    assert sandbox.effects["refunds"] == 2


def test_stripe_error_shapes_for_auth_unknown_params_routes_and_declines(sandbox_url, api, sandbox):
    unauth = requests.get(sandbox_url + "/v1/account", timeout=10)
    assert unauth.status_code == 401
    wrong = requests.get(
        sandbox_url + "/v1/account",
        headers={"Authorization": "Bearer sk_test_wrongwrong"},
        timeout=10,
    )
    assert wrong.status_code == 401
    assert "sk_test_wrongwrong" not in wrong.text  # Stripe masks the key it refuses
    pi = authorised(sandbox)
    unknown = api("POST", f"/v1/payment_intents/{pi}/capture", {"amount": "10"}, key="x")
    assert (unknown.status_code, unknown.json()["error"]["code"]) == (400, "parameter_unknown")
    assert api("GET", "/v1/nothing").json()["error"]["type"] == "invalid_request_error"
    declined = api(
        "POST",
        "/v1/payment_intents",
        {
            "amount": "100",
            "currency": "usd",
            "confirm": "true",
            "payment_method": "pm_card_chargeDeclinedInsufficientFunds",
        },
        key="d",
    )
    assert declined.status_code == 402
    assert declined.json()["error"]["decline_code"] == "insufficient_funds"
    assert sandbox.events[-1]["type"] == "payment_intent.payment_failed"


def test_cancel_follows_stripes_status_rules(api, sandbox):
    pi = authorised(sandbox)
    assert (
        api("POST", f"/v1/payment_intents/{pi}/cancel", {}, key="v1").json()["status"] == "canceled"
    )
    refused = api("POST", f"/v1/payment_intents/{pi}/cancel", {}, key="v2")
    assert refused.json()["error"]["code"] == "payment_intent_unexpected_state"
    assert sandbox.effects["cancels"] == 1


@pytest.mark.parametrize("currency", ["kwd", "bhd", "jod", "omr", "tnd"])
def test_three_decimal_amounts_must_end_in_0_as_stripe_requires(api, sandbox, currency):
    def refused(response, param):
        assert response.status_code == 400
        error = response.json()["error"]
        assert (error["type"], error["param"]) == ("invalid_request_error", param)
        assert "three-decimal" in error["message"]

    refused(api("POST", "/v1/payment_intents", {"amount": "5124", "currency": currency}), "amount")
    with pytest.raises(ValueError, match="three-decimal"):
        sandbox.create_intent(5124, currency)
    pi = sandbox.create_intent(46130, currency)["id"]
    refused(
        api("POST", f"/v1/payment_intents/{pi}/capture", {"amount_to_capture": "46124"}, key="c1"),
        "amount_to_capture",
    )
    assert (
        api(
            "POST", f"/v1/payment_intents/{pi}/capture", {"amount_to_capture": "46120"}, key="c1"
        ).status_code
        == 200
    )  # a refusal is not remembered under the key
    refused(
        api("POST", "/v1/refunds", {"payment_intent": pi, "amount": "5124"}, key="r1"), "amount"
    )
    assert sandbox.effects["refunds"] == 0
    assert (
        api("POST", "/v1/refunds", {"payment_intent": pi, "amount": "5120"}, key="r2").json()[
            "amount"
        ]
        == 5120
    )
