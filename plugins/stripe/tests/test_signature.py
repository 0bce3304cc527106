"""Stripe-Signature verification: the hub accepts and refuses exactly what Stripe's library does."""

from __future__ import annotations

import json

import pytest
import stripe

from hub.core.exceptions import MalformedPayload, SignatureError
from hub.integration.connectors import ChannelInfo
from plugins.stripe import signature
from plugins.stripe.connector import StripeConnector
from plugins.stripe.sandbox import StripeSandbox

SECRET = "whsec_test_secret"
OTHER = "whsec_previous_secret"
NOW = 1_700_000_000
BODY = json.dumps(
    {
        "id": "evt_1",
        "object": "event",
        "type": "payment_intent.succeeded",
        "created": NOW,
        "data": {"object": {"id": "pi_1", "object": "payment_intent"}},
    },
    indent=2,
).encode()


def v1(body: bytes = BODY, t: int = NOW, secret: str = SECRET) -> str:
    return signature.expected_signature(secret, t, body)


def v0(body: bytes = BODY, t: int = NOW) -> str:
    return signature.expected_signature(
        SECRET, t, body
    )  # Stripe's old scheme, same maths, other label


def verify(header, body=BODY, **kwargs):
    return signature.verify(body, header, SECRET, now=NOW + 10, **kwargs)


def test_a_valid_signature_returns_its_timestamp():
    assert verify(f"t={NOW},v1={v1()}") == NOW


def test_two_v1_during_a_secret_roll_pass_when_only_the_second_is_valid():
    assert verify(f"t={NOW},v1={v1(secret=OTHER)},v1={v1()}") == NOW


def test_v0_alone_is_not_a_signature():
    with pytest.raises(SignatureError, match="No signatures found with expected scheme v1"):
        verify(f"t={NOW},v0={v0()}")


def test_a_v0_beside_a_valid_v1_is_ignored():
    assert verify(f"t={NOW},v1={v1()},v0=garbage") == NOW


def test_too_old_is_refused_after_the_signature_matched():
    with pytest.raises(SignatureError, match="Timestamp outside the tolerance zone"):
        signature.verify(BODY, f"t={NOW},v1={v1()}", SECRET, now=NOW + 301)


def test_the_tolerance_is_configurable_and_zero_turns_the_age_check_off():
    header = f"t={NOW},v1={v1()}"
    assert signature.verify(BODY, header, SECRET, tolerance=600, now=NOW + 500) == NOW
    assert signature.verify(BODY, header, SECRET, tolerance=0, now=NOW + 10**6) == NOW


def test_a_tampered_body_does_not_match():
    tampered = BODY.replace(b"pi_1", b"pi_2")
    with pytest.raises(SignatureError, match="No signatures found matching the expected signature"):
        verify(f"t={NOW},v1={v1()}", body=tampered)


def test_the_signature_covers_the_timestamp():
    with pytest.raises(SignatureError, match="matching"):
        verify(f"t={NOW + 5},v1={v1()}")


def test_the_first_t_counts():
    assert verify(f"t={NOW},t={NOW + 5},v1={v1()}") == NOW
    with pytest.raises(SignatureError, match="matching"):
        verify(f"t={NOW + 5},t={NOW},v1={v1()}")


@pytest.mark.parametrize("header", ["garbage", f"v1={v1()}", "t=abc,v1=00", "t,v1=00"])
def test_an_unparsable_header_is_refused_first(header):
    with pytest.raises(
        SignatureError, match="Unable to extract timestamp and signatures from header"
    ):
        verify(header)


def test_errors_come_in_stripes_order():
    with pytest.raises(SignatureError, match="No Stripe-Signature header value was provided"):
        signature.verify(b"tampered", "", SECRET, now=NOW + 10**6)
    # Unparsable beats the rest; no v1 beats a bad body; no match beats too old.
    with pytest.raises(SignatureError, match="Unable to extract"):
        signature.verify(b"tampered", "v0=1", SECRET, now=NOW + 10**6)
    with pytest.raises(SignatureError, match="expected scheme"):
        signature.verify(b"tampered", f"t={NOW},v0={v0()}", SECRET, now=NOW + 10**6)
    with pytest.raises(SignatureError, match="matching"):
        signature.verify(b"tampered", f"t={NOW},v1={v1()}", SECRET, now=NOW + 10**6)


def test_no_configured_secret_refuses_everything():
    with pytest.raises(SignatureError, match="no webhook signing secret"):
        signature.verify(BODY, f"t={NOW},v1={v1()}", "", now=NOW)


# --- parity with Stripe's own library --------------------------------------------------------------

PARITY_CASES = [
    f"t={NOW},v1={v1()}",
    f"t={NOW},v1={v1(secret=OTHER)},v1={v1()}",
    f"t={NOW},v1={v1()},v1={v1(secret=OTHER)}",
    f"t={NOW},v0={v0()}",
    f"t={NOW},v1={v1(secret=OTHER)}",
    f"t={NOW - 1000},v1={v1(t=NOW - 1000)}",
    f"t={NOW + 1000},v1={v1(t=NOW + 1000)}",  # from the future: Stripe accepts it
    f"t={NOW}, v1={v1()}",  # a space: Stripe finds no v1
    f"v1={v1()},t={NOW}",
    f"t={NOW},t={NOW + 1},v1={v1()}",
    f"t={NOW},v1={v1()}=extra",
    f"t={NOW},v1={v1().upper()}",
    f"t={NOW},v1=",
    "t=,v1=00",
    "",
    "nonsense",
    f"t={NOW},scheme=x,v1={v1()}",
]


@pytest.mark.parametrize("header", PARITY_CASES)
def test_the_hub_and_stripes_library_agree(header, monkeypatch):
    monkeypatch.setattr("time.time", lambda: NOW + 10)
    try:
        stripe.WebhookSignature.verify_header(BODY.decode(), header, SECRET, tolerance=300)
        stripe_says = "ok"
    except stripe.SignatureVerificationError as exc:
        stripe_says = str(exc.user_message if hasattr(exc, "user_message") else exc)
    try:
        signature.verify(BODY, header, SECRET, tolerance=300, now=NOW + 10)
        hub_says = "ok"
    except SignatureError as exc:
        hub_says = exc.message
    assert hub_says == stripe_says


def test_stripes_library_accepts_the_sandboxs_signed_events():
    sandbox = StripeSandbox(webhook_secret=SECRET)
    intent = sandbox.create_intent(4498)
    assert [e["type"] for e in sandbox.events] == ["payment_intent.amount_capturable_updated"]
    body, headers = sandbox.signed(sandbox.events[0])
    event = stripe.Webhook.construct_event(body, headers["Stripe-Signature"], SECRET)
    assert event.id == sandbox.events[0]["id"]
    assert event.type == "payment_intent.amount_capturable_updated"
    assert event.data.object.id == intent["id"]
    # ... and refuses them under another secret, as the hub does.
    with pytest.raises(stripe.SignatureVerificationError):
        stripe.Webhook.construct_event(body, headers["Stripe-Signature"], OTHER)


def test_signed_headers_with_two_secrets_pass_stripe_and_the_hub():
    header = signature.sign_header(BODY, OTHER, extra_secrets=(SECRET,), timestamp=NOW)
    stripe.WebhookSignature.verify_header(BODY.decode(), header, SECRET, tolerance=None)
    assert signature.verify(BODY, header, SECRET, now=NOW) == NOW


# --- the connector's webhook check ------------------------------------------------------------------


def connector(**config) -> StripeConnector:
    loaded = StripeConnector.validate_config(
        {"secret_key": "sk_test_x1234567", "webhook_secret": SECRET, **config}
    )
    return StripeConnector(
        ChannelInfo(id=1, slug="stripe", name="Stripe", connector="stripe", config=loaded)
    )


def test_verify_webhook_returns_the_event_id_and_type(monkeypatch):
    monkeypatch.setattr("time.time", lambda: NOW + 10)
    receipt = connector().verify_webhook({"stripe-signature": f"t={NOW},v1={v1()}"}, BODY, {})
    assert (receipt.event_id, receipt.topic) == ("evt_1", "payment_intent.succeeded")


def test_verify_webhook_uses_the_channels_tolerance(monkeypatch):
    monkeypatch.setattr("time.time", lambda: NOW + 400)
    header = {"Stripe-Signature": f"t={NOW},v1={v1()}"}
    with pytest.raises(SignatureError, match="tolerance"):
        connector().verify_webhook(header, BODY, {})
    assert connector(webhook_tolerance=600).verify_webhook(header, BODY, {}).event_id == "evt_1"


def test_verify_webhook_refuses_a_missing_header_and_reads_only_verified_bodies(monkeypatch):
    monkeypatch.setattr("time.time", lambda: NOW)
    with pytest.raises(SignatureError, match="missing"):
        connector().verify_webhook({}, BODY, {})
    not_json = b"{not json"
    with pytest.raises(SignatureError):
        connector().verify_webhook({"Stripe-Signature": f"t={NOW},v1=00"}, not_json, {})
    with pytest.raises(MalformedPayload):
        connector().verify_webhook({"Stripe-Signature": f"t={NOW},v1={v1(not_json)}"}, not_json, {})
