"""/api/v1 returns: open, approve or reject, receive (restock or write off), refund."""

from __future__ import annotations

import pytest
from marshmallow import Schema
from sqlalchemy import select

from hub import hookimpl
from hub.channels.manage import create_channel
from hub.integration.connectors import PaymentConnector
from hub.store.models import Job
from hub.testing import MANUAL_ORDER


class _NoConfig(Schema):
    pass


class Gateway(PaymentConnector):
    """A payment channel: the API tests only queue refunds, a worker would send them."""

    name = "test_gateway"
    config_schema = _NoConfig


class GatewayPlugin:
    @hookimpl
    def hub_register_connectors(self):
        return [Gateway]


@pytest.fixture
def hub(make_hub):
    hub = make_hub(plugins=[GatewayPlugin()])
    with hub.db.transaction() as session:
        create_channel(hub, session, name="Gateway", connector="test_gateway", config={})
    return hub


def shipped_order(api, **overrides) -> dict:
    """2 × 19.99 + 5.00 shipping = 44.98 USD, captured through the gateway, shipped in full."""
    body = dict(
        MANUAL_ORDER,
        payments=[
            {"channel": "gateway", "reference": "pi_1", "amount": "44.98", "status": "captured"}
        ],
        **overrides,
    )
    order = api.post("/api/v1/orders", json=body).get_json()
    for event in ("confirm", "start_fulfillment", "ship"):
        answer = api.post(f"/api/v1/orders/{order['id']}/transitions", json={"event": event})
        assert answer.status_code == 200, answer.get_json()
    return answer.get_json()


def open_return(api, order, quantity=1, **extra):
    body = {
        "lines": [{"line_id": order["lines"][0]["id"], "quantity": quantity}],
        "reason": "too small",
        **extra,
    }
    return api.post(f"/api/v1/orders/{order['id']}/returns", json=body)


def refund_jobs(hub) -> list[int]:
    with hub.db.read() as session:
        return [
            j.payload["amount"]
            for j in session.scalars(select(Job).where(Job.kind == "payment.refund"))
        ]


def test_a_return_opened_through_the_api_is_listed_on_the_order_detail(api):
    order = shipped_order(api)

    answer = open_return(api, order, refund_shipping=True)

    assert answer.status_code == 201
    ret = answer.get_json()
    assert answer.headers["Location"] == f"/api/v1/returns/{ret['id']}"
    assert (ret["status"], ret["refund_amount"], ret["shipping_refund"], ret["created_by"]) == (
        "requested",
        "19.99",
        "5.00",
        "api:tests",
    )
    detail = api.get(f"/api/v1/orders/{order['id']}").get_json()
    assert [(r["id"], r["status"], r["reason"]) for r in detail["returns"]] == [
        (ret["id"], "requested", "too small")
    ]
    assert detail["returns"][0]["lines"][0] | {"id": 0} == {
        "id": 0,
        "line_id": order["lines"][0]["id"],
        "sku": "TSHIRT-M",
        "quantity": 1,
        "location": None,
        "write_off": False,
        "disposition": "",
        "exchange_sku": "",
    }
    assert "order.return_requested" in [e["name"] for e in detail["events"]]
    listed = api.get(f"/api/v1/orders/{order['id']}/returns").get_json()["data"]
    assert [r["id"] for r in listed] == [ret["id"]]
    assert api.get(f"/api/v1/returns/{ret['id']}").get_json()["refund"] == {
        "status": "none",
        "jobs": [],
    }


def test_approve_receive_refund_queues_the_refund_and_partly_returns_the_order(api, hub):
    order = shipped_order(api)
    rid = open_return(api, order).get_json()["id"]

    assert api.post(f"/api/v1/returns/{rid}/approve").get_json()["status"] == "approved"
    received = api.post(f"/api/v1/returns/{rid}/receive", json={"write_off": True}).get_json()
    assert received["status"] == "received"
    refunded = api.post(f"/api/v1/returns/{rid}/refund")

    assert refunded.status_code == 200
    body = refunded.get_json()
    assert (body["status"], body["refunded_amount"], body["refund"]["status"]) == (
        "refunded",
        "19.99",
        "pending",
    )
    assert [j["amount"] for j in body["refund"]["jobs"]] == ["19.99"]
    assert refund_jobs(hub) == [1999]
    [listed] = api.get("/api/v1/returns?status=refunded").get_json()["data"]
    assert (listed["id"], listed["refund"]["status"]) == (rid, "pending")
    detail = api.get(f"/api/v1/orders/{order['id']}").get_json()
    assert detail["status"] == "partially_returned"
    assert [e["name"] for e in detail["events"]][-3:] == [
        "order.return_received",
        "order.return_refunded",
        "order.partially_returned",
    ]


def test_a_refund_over_what_can_be_refunded_is_refused_with_the_figure_and_queues_nothing(api, hub):
    order = shipped_order(api)
    rid = open_return(api, order).get_json()["id"]
    api.post(f"/api/v1/returns/{rid}/approve", json={"note": "checked"})
    api.post(f"/api/v1/returns/{rid}/receive")

    answer = api.post(f"/api/v1/returns/{rid}/refund", json={"amount": "50.00"})

    assert answer.status_code == 422
    error = answer.get_json()["error"]
    assert error["code"] == "validation_error"
    assert "cannot refund 50.00 USD" in error["message"] and "only 44.98 USD" in error["message"]
    assert (error["details"]["refundable"], error["details"]["currency"]) == ("44.98", "USD")
    assert refund_jobs(hub) == []
    assert api.get(f"/api/v1/returns/{rid}").get_json()["status"] == "received"
    assert api.get(f"/api/v1/orders/{order['id']}").get_json()["status"] == "shipped"
    bad = api.post(f"/api/v1/returns/{rid}/refund", json={"amount": "1.234"})
    assert bad.status_code == 422 and "amount" in bad.get_json()["error"]["details"]
    # A smaller amount (the customer keeps the shipping, a restocking fee) goes through.
    assert api.post(f"/api/v1/returns/{rid}/refund", json={"amount": "15.00"}).status_code == 200
    assert refund_jobs(hub) == [1500]


def test_a_step_the_return_is_not_ready_for_is_a_409_naming_its_status(api, hub):
    order = shipped_order(api)
    rid = open_return(api, order).get_json()["id"]

    for step in ("receive", "refund"):
        answer = api.post(f"/api/v1/returns/{rid}/{step}")
        assert answer.status_code == 409, step
        error = answer.get_json()["error"]
        assert error["code"] == "conflict"
        assert error["details"]["status"] == "requested"
        assert f"cannot {step} it" in error["message"]
    api.post(f"/api/v1/returns/{rid}/approve")
    api.post(f"/api/v1/returns/{rid}/receive")
    assert api.post(f"/api/v1/returns/{rid}/reject", json={"reason": "late"}).status_code == 409
    assert refund_jobs(hub) == []


def test_returning_more_than_shipped_or_an_unshipped_order_is_a_422(api):
    order = shipped_order(api)
    line_id = order["lines"][0]["id"]

    too_many = open_return(api, order, quantity=3)
    assert too_many.status_code == 422
    assert too_many.get_json()["error"]["details"] == {
        "lines.0.quantity": [f"2 of line {line_id} (TSHIRT-M) can be returned"]
    }
    unshipped = api.post("/api/v1/orders", json=dict(MANUAL_ORDER, external_id="other")).get_json()
    answer = open_return(api, unshipped)
    assert (
        answer.status_code == 422
        and "only orders that shipped" in answer.get_json()["error"]["message"]
    )
    no_reason = api.post(
        f"/api/v1/orders/{order['id']}/returns",
        json={"lines": [{"line_id": line_id, "quantity": 1}]},
    )
    assert no_reason.status_code == 422 and "reason" in no_reason.get_json()["error"]["details"]
    assert api.get(f"/api/v1/orders/{order['id']}").get_json()["returns"] == []


def test_a_rejected_return_needs_a_reason_and_frees_its_units(api):
    order = shipped_order(api)
    rid = open_return(api, order, quantity=2).get_json()["id"]
    assert open_return(api, order).status_code == 422  # both units are taken

    assert api.post(f"/api/v1/returns/{rid}/reject").status_code == 400  # no body
    assert api.post(f"/api/v1/returns/{rid}/reject", json={}).status_code == 422
    rejected = api.post(f"/api/v1/returns/{rid}/reject", json={"reason": "worn"}).get_json()

    assert (rejected["status"], rejected["rejected_at"] is not None) == ("rejected", True)
    assert open_return(api, order, quantity=2).status_code == 201
    statuses = [
        r["status"] for r in api.get(f"/api/v1/orders/{order['id']}/returns").get_json()["data"]
    ]
    assert statuses == ["rejected", "requested"]


def test_receiving_restocks_each_line_where_it_is_told(api):
    api.post("/api/v1/locations", json={"code": "wh", "priority": 10})
    api.post("/api/v1/locations", json={"code": "outlet"})
    api.post(
        "/api/v1/stock", json={"levels": [{"sku": "TSHIRT-M", "location": "wh", "on_hand": 5}]}
    )
    order = shipped_order(api)
    line_id = order["lines"][0]["id"]
    rid = open_return(api, order, quantity=2).get_json()["id"]
    api.post(f"/api/v1/returns/{rid}/approve")

    unknown = api.post(f"/api/v1/returns/{rid}/receive", json={"lines": {str(line_id): "nowhere"}})
    assert unknown.status_code == 422 and "nowhere" in unknown.get_json()["error"]["message"]
    assert list(unknown.get_json()["error"]["details"]) == [f"lines.{line_id}"]
    received = api.post(
        f"/api/v1/returns/{rid}/receive", json={"lines": {str(line_id): "outlet"}}
    ).get_json()

    assert [(x["location"], x["disposition"]) for x in received["lines"]] == [
        ("outlet", "restocked")
    ]
    levels = {
        (x["location"], x["on_hand"])
        for x in api.get("/api/v1/stock?sku=TSHIRT-M").get_json()["data"]
    }
    assert levels == {("wh", 3), ("outlet", 2)}


def test_returns_are_listed_by_status_and_unknown_ones_are_404(api):
    order = shipped_order(api)
    first = open_return(api, order).get_json()["id"]
    second = open_return(api, order).get_json()["id"]
    api.post(f"/api/v1/returns/{first}/approve")

    waiting = api.get("/api/v1/returns?status=requested").get_json()
    assert [r["id"] for r in waiting["data"]] == [second]
    assert [r["id"] for r in api.get("/api/v1/returns?limit=1").get_json()["data"]] == [second]
    assert api.get("/api/v1/returns?status=lost").status_code == 422
    assert api.get("/api/v1/returns/999").status_code == 404
    assert api.post("/api/v1/returns/999/approve").status_code == 404
    assert api.get("/api/v1/orders/999/returns").status_code == 404


def test_the_openapi_document_describes_the_return_operations(api):
    spec = api.get("/api/v1/openapi.json").get_json()
    schemas = spec["components"]["schemas"]

    create = spec["paths"]["/api/v1/orders/{order_id}/returns"]["post"]
    assert create["requestBody"]["content"]["application/json"]["schema"] == {
        "$ref": "#/components/schemas/ReturnCreate"
    }
    assert {"201", "404", "422"} <= set(create["responses"])
    refund = spec["paths"]["/api/v1/returns/{return_id}/refund"]["post"]
    assert refund["requestBody"]["required"] is False and "409" in refund["responses"]
    assert (
        spec["paths"]["/api/v1/returns/{return_id}/reject"]["post"]["requestBody"]["required"]
        is True
    )
    assert "returns" in schemas["OrderDetail"]["properties"]
    assert schemas["ReturnDetail"]["properties"]["refund"]
