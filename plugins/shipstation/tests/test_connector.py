"""The connector against ShipStation's answers as ``responses`` plays them (no network)."""

from __future__ import annotations

import json
from datetime import UTC, datetime

import pytest
import responses
from responses import matchers

from hub.core.exceptions import (
    ConfigError,
    ExternalError,
    MalformedPayload,
    SignatureError,
    ValidationError,
)
from hub.integration.connectors import ChannelInfo, ShippingOrder, SubmissionRejected
from hub.testing import vendor_example
from plugins.shipstation.connector import ShipStationConnector, ShipStationLimiter

BASE = "https://ssapi.shipstation.com"
TOKEN = "tok-0123456789abcdef-ship"


def make_connector(**config) -> ShipStationConnector:
    values = {
        "api_key": "ShipStation",
        "api_secret": "Rocks",
        "webhook_token": TOKEN,
        "api_base_url": BASE,
        "store_id": None,
        **config,
    }
    connector = ShipStationConnector(
        ChannelInfo(id=1, slug="ss", name="SS", connector="shipstation", config=values)
    )
    connector.sleeps = []
    connector.http.sleep = connector.sleeps.append
    return connector


def group(key: str, order_id: int = 7) -> ShippingOrder:
    order = {
        "id": order_id,
        "number": f"#{order_id}",
        "currency": "USD",
        "email": "a@example.com",
        "customer": {"email": "a@example.com", "name": "Ann"},
        "shipping_address": None,
        "billing_address": None,
        "lines": [{"id": 1, "sku": "S", "name": "N", "quantity": 1, "unit_price": "10.00"}],
        "shipping": "0.00",
        "tax": "0.00",
        "total": "10.00",
        "placed_at": "2024-01-01T00:00:00+00:00",
    }
    return ShippingOrder(
        key=key,
        order=order,
        lines=[{"line_id": 1, "sku": "S", "name": "N", "quantity": 1, "unit_price": "10.00"}],
    )


def limit_headers(remaining: int, reset: int = 30) -> dict[str, str]:
    return {
        "X-Rate-Limit-Limit": "40",
        "X-Rate-Limit-Remaining": str(remaining),
        "X-Rate-Limit-Reset": str(reset),
    }


# --- orders out -------------------------------------------------------------------------------------


@responses.activate
def test_one_group_goes_to_createorder_with_basic_auth():
    responses.post(
        f"{BASE}/orders/createorder",
        json={"orderId": 555, "orderKey": "hub-7"},
        match=[matchers.header_matcher({"Authorization": "Basic U2hpcFN0YXRpb246Um9ja3M="})],
    )
    assert make_connector().submit_orders([group("hub-7")]) == {"hub-7": "555"}
    sent = json.loads(responses.calls[0].request.body)
    assert sent["orderKey"] == "hub-7" and sent["orderStatus"] == "awaiting_shipment"


@responses.activate
def test_many_groups_go_in_bulk_calls_of_at_most_100():
    def answer(request):
        orders = json.loads(request.body)
        assert len(orders) <= 100
        results = [
            {
                "orderId": 1000 + i,
                "orderKey": o["orderKey"],
                "orderNumber": o["orderNumber"],
                "success": True,
                "errorMessage": None,
            }
            for i, o in enumerate(orders)
        ]
        return 200, {}, json.dumps({"hasErrors": False, "results": results})

    responses.add_callback(responses.POST, f"{BASE}/orders/createorders", callback=answer)
    responses.post(f"{BASE}/orders/createorder", json={"orderId": 9})
    accepted = make_connector().submit_orders([group(f"hub-{i}", i) for i in range(1, 202)])
    assert len(accepted) == 201
    assert [c.request.url.rsplit("/", 1)[1] for c in responses.calls] == [
        "createorders",
        "createorders",
        "createorder",
    ]


@responses.activate
def test_bulk_errors_name_each_refused_order_and_keep_the_accepted_ones():
    responses.post(
        f"{BASE}/orders/createorders",
        json={
            "hasErrors": True,
            "results": [
                {
                    "orderId": 11,
                    "orderKey": "hub-1",
                    "orderNumber": "#1",
                    "success": True,
                    "errorMessage": None,
                },
                {
                    "orderId": 0,
                    "orderKey": "hub-2",
                    "orderNumber": "#2",
                    "success": False,
                    "errorMessage": "The order cannot be updated because it has shipped",
                },
            ],
        },
    )
    with pytest.raises(SubmissionRejected) as caught:
        make_connector().submit_orders([group("hub-1", 1), group("hub-2", 2), group("hub-3", 3)])
    assert caught.value.accepted == {"hub-1": "11"}
    assert caught.value.rejected == {
        "hub-2": "The order cannot be updated because it has shipped",
        "hub-3": "missing from ShipStation's answer",
    }
    assert not caught.value.retryable
    assert "hub-2: The order cannot be updated" in caught.value.message


@responses.activate
def test_a_single_refused_order_carries_shipstations_reason():
    responses.post(
        f"{BASE}/orders/createorder",
        status=400,
        json={
            "Message": "The request is invalid.",
            "ModelState": {"apiOrder.orderNumber": ["The orderNumber field is required."]},
        },
    )
    with pytest.raises(SubmissionRejected) as caught:
        make_connector().submit_orders([group("hub-7")])
    assert "The orderNumber field is required." in caught.value.rejected["hub-7"]


@responses.activate
def test_a_failing_service_is_an_error_to_retry_not_a_rejection():
    responses.post(f"{BASE}/orders/createorders", status=503, body="down")
    connector = make_connector()
    with pytest.raises(ExternalError) as caught:
        connector.submit_orders([group("hub-1", 1), group("hub-2", 2)])
    assert caught.value.retryable and not isinstance(caught.value, SubmissionRejected)


# --- rate limit ----------------------------------------------------------------------------------------


class FakeClock:
    def __init__(self):
        self.now = 1000.0

    def __call__(self):
        return self.now


@responses.activate
def test_requests_wait_for_the_window_when_none_are_left():
    responses.get(f"{BASE}/stores", json=[], headers=limit_headers(1))
    responses.get(f"{BASE}/stores", json=[], headers=limit_headers(0, reset=42))
    responses.get(f"{BASE}/stores", json=[], headers=limit_headers(39, reset=60))
    connector = make_connector()
    clock = FakeClock()
    connector.limiter = ShipStationLimiter(clock=clock)
    connector.http.limiter = connector.limiter
    connector.check_connection()
    connector.check_connection()
    assert connector.sleeps == []  # one was left: no wait
    connector.check_connection()
    assert connector.sleeps == [42.0]  # none left: wait for the reset first
    assert connector.limiter.waits == 1


@responses.activate
def test_a_429_waits_the_reset_seconds_then_succeeds():
    responses.get(
        f"{BASE}/stores",
        status=429,
        json={"message": "Too Many Requests"},
        headers=limit_headers(0, reset=17),
    )
    responses.get(
        f"{BASE}/stores", json=[{"storeId": 1, "storeName": "Main"}], headers=limit_headers(39)
    )
    connector = make_connector()
    clock = FakeClock()
    connector.limiter.clock = clock

    def sleep(seconds):
        connector.sleeps.append(seconds)
        clock.now += seconds

    connector.http.sleep = sleep
    assert connector.check_connection() == "connected to ShipStation: 1 store(s) (Main)"
    # The client's backoff honours X-Rate-Limit-Reset; the limiter then has nothing left to wait.
    assert len(connector.sleeps) == 1 and connector.sleeps[0] >= 17


def test_the_limiter_ignores_answers_without_headers():
    limiter = ShipStationLimiter(clock=FakeClock())

    class Answer:
        status_code, headers = 200, {}

    limiter.after_response(Answer())
    assert limiter.before_request() == 0.0


# --- connection ------------------------------------------------------------------------------------------


@responses.activate
def test_wrong_credentials_are_a_config_error_a_merchant_can_act_on():
    responses.get(f"{BASE}/stores", status=401, json={"Message": "Authorization has been denied"})
    with pytest.raises(ConfigError, match="refused the API key and secret"):
        make_connector().check_connection()


@responses.activate
def test_a_configured_store_must_exist():
    responses.get(f"{BASE}/stores", json=[{"storeId": 1, "storeName": "Main"}])
    with pytest.raises(ConfigError, match="no store 5"):
        make_connector(store_id=5).check_connection()


@pytest.mark.parametrize(
    "answer, said",
    [
        ({"json": {"stores": [{"storeId": 1}]}}, "answered JSON that is not a list"),
        ({"body": "<html>maintenance</html>"}, "answered 200 without JSON"),
    ],
)
@responses.activate
def test_a_stores_answer_that_is_not_a_list_is_a_502_naming_what_was_expected(
    hub, api, answer, said
):
    responses.get(f"{BASE}/stores", **answer)
    created = api.post(
        "/api/v1/channels",
        json={
            "name": "Warehouse",
            "connector": "shipstation",
            "config": {"api_key": "k", "api_secret": "s", "webhook_token": TOKEN},
        },
    )

    tested = api.post(f"/api/v1/channels/{created.get_json()['id']}/test")

    assert tested.status_code == 502
    assert tested.get_json()["error"]["message"] == f"shipstation: GET /stores {said}"


@responses.activate
def test_shipstations_own_error_message_is_named_and_nothing_else_of_the_body():
    responses.get(
        f"{BASE}/stores",
        status=400,
        json={"Message": "The request is invalid.", "Internal": "not for people"},
    )
    with pytest.raises(ExternalError) as caught:
        make_connector().check_connection()
    assert caught.value.message == (
        "shipstation: GET /stores answered 400: The request is invalid."
    )


# --- webhooks ----------------------------------------------------------------------------------------------


BODY = json.dumps(
    {
        "resource_url": f"{BASE}/shipments?storeID=1&batchId=9&includeShipmentItems=False",
        "resource_type": "SHIP_NOTIFY",
    }
).encode()


@pytest.mark.parametrize("query", [{}, {"token": ""}, {"token": "wrong"}, {"token": TOKEN + "x"}])
def test_a_missing_or_wrong_token_is_refused(query):
    with pytest.raises(SignatureError):
        make_connector().verify_webhook({}, BODY, query)


def test_the_event_id_is_a_hash_of_the_raw_body():
    connector = make_connector()
    receipt = connector.verify_webhook({}, BODY, {"token": TOKEN})
    assert receipt.topic == "SHIP_NOTIFY"
    assert receipt.event_id == connector.verify_webhook({}, BODY, {"token": TOKEN}).event_id
    other = BODY.replace(b"batchId=9", b"batchId=10")
    assert connector.verify_webhook({}, other, {"token": TOKEN}).event_id != receipt.event_id


@pytest.mark.parametrize("body", [b"not json", b"[]", b'{"resource_type": "SHIP_NOTIFY"}'])
def test_an_unreadable_body_is_malformed(body):
    with pytest.raises(MalformedPayload):
        make_connector().verify_webhook({}, body, {"token": TOKEN})


class Port:
    def __init__(self, known=("hub-12",)):
        self.known, self.notices = set(known), []

    def record_shipment(self, notice):
        self.notices.append(notice)
        return 1 if (notice.key or notice.group_ref) in self.known else None


SHIPMENT = {
    "shipmentId": 1,
    "orderKey": "hub-12",
    "trackingNumber": "9400111",
    "carrierCode": "stamps_com",
    "serviceCode": "usps_priority_mail",
    "createDate": "2024-03-11T09:15:00.0000000",
    "voided": False,
    "shipmentItems": [{"lineItemKey": "5", "quantity": 1}],
}


@responses.activate
def test_ship_notify_fetches_the_resource_with_items_and_records_each_shipment():
    responses.get(
        f"{BASE}/shipments",
        json={"shipments": [SHIPMENT], "total": 2, "page": 1, "pages": 2},
        match=[
            matchers.query_param_matcher(
                {
                    "storeID": "1",
                    "batchId": "9",
                    "includeShipmentItems": "true",
                    "pageSize": "500",
                    "page": "1",
                }
            )
        ],
    )
    responses.get(
        f"{BASE}/shipments",
        json={
            "shipments": [{**SHIPMENT, "shipmentId": 2, "orderKey": "x-1"}],
            "total": 2,
            "page": 2,
            "pages": 2,
        },
        match=[
            matchers.query_param_matcher(
                {
                    "storeID": "1",
                    "batchId": "9",
                    "includeShipmentItems": "true",
                    "pageSize": "500",
                    "page": "2",
                }
            )
        ],
    )
    port = Port()
    outcome = make_connector().handle_webhook(port, "SHIP_NOTIFY", BODY, {})
    assert str(outcome) == "processed: 1 shipment(s); ignored orderKey x-1"
    first = port.notices[0].shipment
    assert (first.carrier, first.tracking_number, first.lines) == ("USPS", "9400111", {5: 1})
    assert first.tracking_url.endswith("tLabels=9400111")


@responses.activate
def test_only_unknown_order_keys_is_ignored_with_the_reason():
    responses.get(
        f"{BASE}/shipments",
        json={
            "shipments": [{**SHIPMENT, "orderKey": "shopify-9"}],
            "total": 1,
            "page": 1,
            "pages": 1,
        },
    )
    outcome = make_connector().handle_webhook(Port(), "SHIP_NOTIFY", BODY, {})
    assert str(outcome) == "ignored: no hub order with orderKey shopify-9"


def documented_notice(resource_url: str, resource_type: str = "SHIP_NOTIFY") -> bytes:
    """A webhook body built from ShipStation's documented webhook model (its fields, its values)."""
    model = vendor_example("shipstation/webhook.model.docs.json")
    assert resource_type in model["resource_type_values"]
    values = {"resource_url": resource_url, "resource_type": resource_type}
    return json.dumps({field: values[field] for field in model["fields"]}).encode()


@pytest.mark.parametrize(
    "url",
    [
        "https://evil.example.com/shipments?batchId=1",
        "http://ssapi.shipstation.com/shipments?batchId=1",  # scheme differs
        "https://ssapi.shipstation.com:8443/shipments?batchId=1",  # port differs
        "https://ssapi.shipstation.com.evil.example/shipments",  # host only starts the same
        "https://user:pw@ssapi.shipstation.com/shipments",  # credentials in the URL
        "https://ssapi.shipstation.com/accounts/listtags",  # not a shipments resource
        "file:///etc/passwd",
        # The API host family is ssapiN.shipstation.com over https on port 443, nothing else:
        "https://ssapi6.shipstation.com.evil.com/shipments?batchId=1",
        "https://evilshipstation.com/shipments",
        "https://ssapi6.evilshipstation.com/shipments",
        "https://shipstation.com/shipments",
        "https://api.shipstation.com/shipments",
        "https://xssapi6.shipstation.com/shipments",
        "https://ssapi6.shipstation.com./shipments",
        "http://ssapi6.shipstation.com/shipments?batchId=1",
        "https://ssapi6.shipstation.com:8443/shipments",
        "https://ssapi6.shipstation.com:80/shipments",
        "https://user@ssapi6.shipstation.com/shipments",
        "https://ssapi6.shipstation.com\\@evil.example/shipments",
        "https://ssapi6.shipstation.com /shipments",
        "https://ssapi6.shipstation.com/orders?orderId=1",
        "https://169.254.169.254/shipments",
    ],
)
@responses.activate
def test_a_resource_url_off_the_api_host_is_never_fetched(url, caplog):
    port = Port()
    outcome = make_connector().handle_webhook(port, "SHIP_NOTIFY", documented_notice(url), {})
    assert str(outcome) == "ignored: resource_url not on the API host"
    assert len(responses.calls) == 0 and port.notices == []
    assert "refused resource_url" in caplog.text


@pytest.mark.parametrize(
    "host",
    [
        "ssapi6.shipstation.com",
        "ssapi2.shipstation.com",
        "SSAPI6.ShipStation.com",
        "ssapi6.shipstation.com:443",
        "ssapi.shipstation.com",
    ],
)
@responses.activate
def test_ship_notify_naming_a_sibling_api_host_is_fetched_there_with_basic_auth(host):
    resource = f"https://{host}/shipments?storeID=1&batchId=9&includeShipmentItems=False"
    responses.get(
        "https://" + host.lower().removesuffix(":443") + "/shipments",
        json={"shipments": [SHIPMENT], "total": 1, "page": 1, "pages": 1},
    )
    port = Port()
    outcome = make_connector().handle_webhook(port, "SHIP_NOTIFY", documented_notice(resource), {})
    assert str(outcome) == "processed: 1 shipment(s)"
    assert [n.shipment.tracking_number for n in port.notices] == ["9400111"]
    [call] = responses.calls
    assert call.request.url.startswith(
        "https://" + host.lower().removesuffix(":443") + "/shipments?"
    )
    assert call.request.headers["Authorization"] == "Basic U2hpcFN0YXRpb246Um9ja3M="


@pytest.mark.parametrize(
    "resource, location",
    [
        ("https://ssapi6.shipstation.com/shipments", "https://evil.example/shipments?batchId=9"),
        (
            "https://ssapi6.shipstation.com/shipments",
            "https://ssapi.shipstation.com/shipments?batchId=9",
        ),
        (f"{BASE}/shipments", "https://evil.example/shipments?batchId=9"),
    ],
)
@responses.activate
def test_a_redirect_from_the_resource_url_is_not_followed(resource, location):
    for url in (resource, "https://evil.example/shipments", f"{BASE}/shipments"):
        if url == resource:
            responses.get(url, status=302, headers={"Location": location})
        else:
            responses.get(url, json={"shipments": [SHIPMENT], "total": 1, "pages": 1})
    port = Port()
    with pytest.raises(ExternalError, match="redirect") as caught:
        make_connector().handle_webhook(
            port, "SHIP_NOTIFY", documented_notice(f"{resource}?batchId=9"), {}
        )
    assert not caught.value.retryable
    assert [c.request.url.split("?")[0] for c in responses.calls] == [resource]
    assert port.notices == []


@pytest.mark.parametrize(
    "url, fetched",
    [
        ("http://127.0.0.1:5000/shipments?batchId=1", True),
        ("http://127.0.0.1:5001/shipments?batchId=1", False),  # the sandbox's origin only
        ("http://localhost:5000/shipments?batchId=1", False),
        ("http://127.0.0.2:5000/shipments?batchId=1", False),
        ("https://ssapi6.shipstation.com/shipments?batchId=1", False),
    ],
)
@responses.activate
def test_a_loopback_api_base_accepts_its_exact_origin_only(url, fetched):
    responses.get(
        "http://127.0.0.1:5000/shipments", json={"shipments": [SHIPMENT], "total": 1, "pages": 1}
    )
    port = Port()
    outcome = make_connector(api_base_url="http://127.0.0.1:5000").handle_webhook(
        port, "SHIP_NOTIFY", documented_notice(url), {}
    )
    assert (str(outcome) == "processed: 1 shipment(s)") is fetched
    assert len(responses.calls) == (1 if fetched else 0)


@responses.activate
def test_shipments_without_an_order_key_are_matched_by_shipstations_order_id_without_a_request():
    # ShipStation's own list example names orderId and orderNumber, not orderKey.
    listed = vendor_example("shipstation/shipments.list.response.json")
    listed["shipments"].append(
        {
            **listed["shipments"][0],
            "shipmentId": 33974375,
            "trackingNumber": "9400111899561704681190",
        }
    )  # a second package
    responses.get("https://ssapi6.shipstation.com/shipments", json=listed)
    port = Port(
        known=("43945660",)
    )  # the orderId ShipStation answered when the hub created the order
    body = documented_notice("https://ssapi6.shipstation.com/shipments?storeID=1&batchId=9")
    outcome = make_connector().handle_webhook(port, "SHIP_NOTIFY", body, {})
    assert str(outcome) == "processed: 2 shipment(s); ignored orderId 43337328"
    assert [
        (n.group_ref, n.shipment.tracking_number, n.shipment.lines)
        for n in port.notices[:1] + port.notices[2:]
    ] == [
        ("43945660", "9400111899561704681189", {"SQ3785739": 1}),
        ("43945660", "9400111899561704681190", {"SQ3785739": 1}),
    ]
    assert len(responses.calls) == 1  # the shipments, nothing else


@pytest.mark.parametrize("total, requests_made", [(2, 1), (600, 2)])
@responses.activate
def test_a_page_count_of_zero_does_not_hide_shipments(total, requests_made):
    listed = vendor_example("shipstation/shipments.list.response.json")  # pages: 0, total: 2
    listed["total"] = total
    for shipment in listed["shipments"]:
        shipment["orderKey"] = "hub-12"
    responses.get(f"{BASE}/shipments", json=listed)
    responses.get(f"{BASE}/shipments", json={**listed, "page": 2})
    notices = list(make_connector().fetch_shipments(datetime(2014, 10, 1, tzinfo=UTC)))
    assert len(responses.calls) == requests_made * 2  # the created window, then the voided one
    assert len(notices) == 2


def test_other_topics_are_ignored():
    body = json.dumps(
        {"resource_url": f"{BASE}/orders?x=1", "resource_type": "ORDER_NOTIFY"}
    ).encode()
    assert (
        str(make_connector().handle_webhook(Port(), "ORDER_NOTIFY", body, {}))
        == "ignored: topic ORDER_NOTIFY"
    )


@responses.activate
def test_a_shipment_the_hub_refuses_fails_the_event_after_recording_the_others():
    responses.get(
        f"{BASE}/shipments",
        json={
            "shipments": [SHIPMENT, {**SHIPMENT, "shipmentId": 2}],
            "total": 2,
            "page": 1,
            "pages": 1,
        },
    )

    class Refusing(Port):
        def record_shipment(self, notice):
            if notice.shipment.external_id == "1":
                raise ValidationError("cannot ship 1 of line 5: 0 still open")
            return super().record_shipment(notice)

    port = Refusing()
    with pytest.raises(ValidationError, match="shipment 1 of orderKey hub-12: cannot ship"):
        make_connector().handle_webhook(port, "SHIP_NOTIFY", BODY, {})
    assert [n.shipment.external_id for n in port.notices] == ["2"]


# --- poll ----------------------------------------------------------------------------------------------------


@responses.activate
def test_poll_reads_created_and_voided_labels_all_pages_each_shipment_once():
    since = datetime(2024, 3, 11, 17, 0, 0, 900000, tzinfo=UTC)
    created = {
        "createDateStart": "2024-03-11 10:00:00",
        "sortBy": "CreateDate",
        "sortDir": "ASC",
        "includeShipmentItems": "true",
        "pageSize": "500",
        "storeId": "3",
    }
    voided = {
        "voidDateStart": "2024-03-11 10:00:00",
        "sortDir": "ASC",
        "includeShipmentItems": "true",
        "pageSize": "500",
        "storeId": "3",
    }
    responses.get(
        f"{BASE}/shipments",
        json={"shipments": [SHIPMENT], "total": 2, "page": 1, "pages": 2},
        match=[matchers.query_param_matcher({**created, "page": "1"})],
    )
    responses.get(
        f"{BASE}/shipments",
        json={"shipments": [{**SHIPMENT, "shipmentId": 2}], "total": 2, "page": 2, "pages": 2},
        match=[matchers.query_param_matcher({**created, "page": "2"})],
    )
    responses.get(
        f"{BASE}/shipments",
        json={
            "shipments": [
                {
                    **SHIPMENT,
                    "shipmentId": 2,
                    "voided": True,
                    "voidDate": "2024-03-11T11:00:00.0000000",
                },
                {**SHIPMENT, "shipmentId": 3, "voided": True},
            ],
            "total": 2,
            "page": 1,
            "pages": 1,
        },
        match=[matchers.query_param_matcher({**voided, "page": "1"})],
    )
    notices = list(make_connector(store_id=3).fetch_shipments(since))
    assert [(n.shipment.external_id, n.voided) for n in notices] == [
        ("1", False),
        ("2", False),
        ("2", True),
        ("3", True),
    ]
