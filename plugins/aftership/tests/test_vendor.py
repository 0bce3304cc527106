"""AfterShip's own examples (its SDKs' fixtures and webhook docs, as archived in shared/vendor)
through the mapping, the connector (HTTP answered by ``responses``) and the sandbox.

The fixtures are of the Tracking API v4 (``{"meta", "data": {"tracking"}}``), which the
connector follows; the tags are the official Python SDK's ``TagV1``.
"""

from __future__ import annotations

import base64
import hashlib
import hmac
import json
from datetime import UTC, datetime

import pytest
import requests
import responses

from hub.core.exceptions import ExternalError, SignatureError
from hub.core.tracking import CarrierEvent
from hub.integration.connectors import ChannelInfo, TrackedShipment
from hub.integration.sandbox import serve
from hub.testing import vendor_example
from plugins.aftership.connector import AfterShipConnector
from plugins.aftership.mapping import TAG_EVENTS, carrier_update, create_request, tracking_of
from plugins.aftership.sandbox import AfterShipSandbox

BASE = "https://api.aftership.com"
SECRET = "as-webhook-secret-0001"


def connector(base: str = BASE, **config) -> AfterShipConnector:
    values = {"api_key": "as-key", "webhook_secret": SECRET, "api_base_url": base, **config}
    info = ChannelInfo(
        id=1,
        slug="aftership",
        name="AfterShip",
        connector="aftership",
        config=AfterShipConnector.validate_config(values),
        allow_private_targets=True,
    )
    return AfterShipConnector(info)


SHIPMENT = TrackedShipment(
    shipment_id=7,
    order_id=3,
    order_number="#1003",
    tracking_number="1111111111111",
    carrier="fedex",
)


def test_every_tag_of_aftership_s_sdk_has_a_place_in_the_mapping():
    tags = vendor_example("aftership/tracking_tags.tracking-sdk-python.json")["TagV1"]
    assert set(tags) == set(TAG_EVENTS)


def test_a_delivered_tracking_reads_as_its_checkpoints_in_order():
    tracking = tracking_of(vendor_example("aftership/tracking.get.response.json"))
    update = carrier_update(tracking)
    assert update.tracking_number == "111111111111"
    assert update.status is CarrierEvent.DELIVERED
    assert update.tracking_ref == "5b7658cec7c33c0e007de3c5"
    assert len(update.checkpoints) == len(tracking["checkpoints"])
    first, last = update.checkpoints[0], update.checkpoints[-1]
    assert first.event is None and first.tag == "InfoReceived"  # label data, no parcel yet
    assert first.occurred_at == datetime(2018, 7, 23, 6, 21, 39, tzinfo=UTC)  # -05:00 → UTC
    assert last.event is CarrierEvent.DELIVERED
    assert [c.event for c in update.checkpoints].count(CarrierEvent.OUT_FOR_DELIVERY) == 1
    assert len({c.key for c in update.checkpoints}) == len(update.checkpoints)
    # The same tracking read again makes the same keys: a replay stores nothing new.
    assert [c.key for c in carrier_update(tracking).checkpoints] == [
        c.key for c in update.checkpoints
    ]


def test_the_list_example_s_trackings_read_one_by_one():
    listed = vendor_example("aftership/trackings.list.response.json")["data"]["trackings"]
    updates = [carrier_update(t) for t in listed]
    assert [u.status for u in updates] == [
        CarrierEvent.DELIVERED,
        CarrierEvent.EXCEPTION,  # Expired: no news for weeks
        CarrierEvent.EXCEPTION,
    ]
    exceptions = [c for c in updates[0].checkpoints if c.event is CarrierEvent.EXCEPTION]
    assert [c.message for c in exceptions] == [
        "Shipment exception - Barcode label unreadable and replaced"
    ]
    assert exceptions[0].location == "KEASBEY, NJ"


def test_a_tracking_returned_to_sender_stands_there_whatever_its_tag():
    tracking = tracking_of(vendor_example("aftership/tracking.get.response.json"))
    tracking["return_to_sender"] = True
    assert carrier_update(tracking).status is CarrierEvent.RETURNED_TO_SENDER
    tracking = {
        **tracking,
        "return_to_sender": False,
        "tag": "Exception",
        "subtag": "Exception_011",
    }
    assert carrier_update(tracking).status is CarrierEvent.RETURNED_TO_SENDER


def test_the_create_request_has_the_vendor_s_field_names():
    vendor = vendor_example("aftership/tracking.create.request.json")["tracking"]
    made = create_request(SHIPMENT, {})["tracking"]
    assert set(made) <= set(vendor)
    assert made["slug"] == "fedex"
    assert made["custom_fields"] == {"hub_shipment_id": "7"}
    assert "emails" not in made and "smses" not in made  # the hub tells the customer itself


@responses.activate
def test_registering_sends_the_key_and_keeps_aftership_s_id():
    answer = vendor_example("aftership/tracking.create.response.json")
    call = responses.post(f"{BASE}/v4/trackings", json=answer, status=201)
    assert (
        connector().register_shipment(SHIPMENT, idempotency_key="k") == "5b766a5cc7c33c0e007de3c9"
    )
    sent = call.calls[0].request
    assert sent.headers["as-api-key"] == "as-key"
    assert json.loads(sent.body)["tracking"]["tracking_number"] == "1111111111111"


@responses.activate
def test_a_tracking_that_exists_already_is_taken_with_its_id():
    responses.post(
        f"{BASE}/v4/trackings",
        json={
            "meta": {"code": 4003, "message": "Tracking already exists.", "type": "BadRequest"},
            "data": {"tracking": {"id": "5b766a5cc7c33c0e007de3c9"}},
        },
        status=400,
    )
    assert (
        connector().register_shipment(SHIPMENT, idempotency_key="k") == "5b766a5cc7c33c0e007de3c9"
    )


@responses.activate
def test_a_refused_tracking_is_a_dead_job_saying_aftership_s_reason():
    responses.post(
        f"{BASE}/v4/trackings",
        json={"meta": {"code": 4005, "message": "The value of `tracking_number` is invalid."}},
        status=400,
    )
    with pytest.raises(ExternalError) as caught:
        connector().register_shipment(SHIPMENT, idempotency_key="k")
    assert not caught.value.retryable
    assert "4005" in str(caught.value)


def _signed(body: bytes, secret: str = SECRET) -> str:
    return base64.b64encode(hmac.new(secret.encode(), body, hashlib.sha256).digest()).decode()


def test_a_webhook_is_verified_as_aftership_s_docs_say():
    spec = vendor_example("aftership/webhook.spec.docs.json")["signature"]
    tracking = tracking_of(vendor_example("aftership/tracking.get.response.json"))
    body = json.dumps({"event": "tracking_update", "event_id": "e-1", "msg": tracking}).encode()
    receipt = connector().verify_webhook({spec["header"]: _signed(body)}, body, {})
    assert (receipt.event_id, receipt.topic) == ("e-1", "tracking_update")
    for headers in ({}, {spec["header"]: _signed(body, "another-secret")}):
        with pytest.raises(SignatureError):
            connector().verify_webhook(headers, body, {})
    with pytest.raises(SignatureError):  # the body changed after signing
        connector().verify_webhook({spec["header"]: _signed(body)}, body + b" ", {})


def test_the_sandbox_answers_in_the_vendor_s_shapes():
    sandbox = AfterShipSandbox(api_key="as-key")
    with serve(sandbox) as base:
        made = connector(base).register_shipment(SHIPMENT, idempotency_key="k")
        again = connector(base).register_shipment(SHIPMENT, idempotency_key="k")
        assert made == again and len(sandbox.trackings) == 1
        got = requests.get(
            f"{base}/v4/trackings/{made}", headers={"as-api-key": "as-key"}, timeout=5
        )
        tracking = tracking_of(got.json())
        assert connector(base).fetch_tracking(made).tracking_ref == made
        assert (
            connector(base).check_connection()
            == "AfterShip took the key (1 trackings in the account)"
        )
    vendor = tracking_of(vendor_example("aftership/tracking.create.response.json"))
    assert list(tracking) == list(vendor)
    sandbox.scan("1111111111111", "InTransit", location="MEMPHIS, TN")
    body = json.loads(sandbox.outbox[-1])
    assert set(body) == set(
        vendor_example("aftership/webhook.spec.docs.json")["delivery"]["body_fields"]
    )
    listed = vendor_example("aftership/trackings.list.response.json")["data"]
    with serve(sandbox) as base:
        ours = requests.get(f"{base}/v4/trackings", headers={"as-api-key": "as-key"}, timeout=5)
        assert set(ours.json()["data"]) == set(listed)
        refused = requests.get(f"{base}/v4/trackings", timeout=5)
        assert refused.status_code == 401 and refused.json()["meta"]["code"] == 401
