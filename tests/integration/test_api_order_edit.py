"""PATCH /api/v1/orders/<id>: a person's edit through the API, and manual orders paid outside
the hub (issue 19, "Orders entered by people")."""

from __future__ import annotations

import pytest

from hub.accounts.users import create_token
from hub.inventory import reservations
from hub.inventory.levels import LevelChange, set_on_hand, upsert_location
from hub.orders import transitions
from hub.testing import MANUAL_ORDER


@pytest.fixture
def stocked(hub):
    with hub.db.transaction() as session:
        upsert_location(session, "WH1", name="Main warehouse")
        set_on_hand(session, [LevelChange("TSHIRT-M", "WH1", 10)], actor="test")
    return hub


def _create(api, **overrides) -> dict:
    response = api.post("/api/v1/orders", json={**MANUAL_ORDER, **overrides})
    assert response.status_code == 201, response.get_json()
    return response.get_json()


def test_an_edit_answers_the_order_checked_and_reserved_again(api, stocked, run_jobs):
    order = _create(api, payment_outside="paid")
    run_jobs(stocked)
    assert api.get(f"/api/v1/orders/{order['id']}").get_json()["status"] == "confirmed"
    version = api.get(f"/api/v1/orders/{order['id']}").get_json()["version"]

    response = api.patch(
        f"/api/v1/orders/{order['id']}",
        json={
            "version": version,
            "lines": [{"sku": "TSHIRT-M", "name": "T-shirt", "quantity": 3, "unit_price": "19.99"}],
            "shipping_address": {**MANUAL_ORDER["shipping_address"], "city": "Shelbyville"},
        },
    )
    assert response.status_code == 200, response.get_json()
    body = response.get_json()
    assert response.headers["ETag"] == f'"{body["version"]}"'
    assert (body["subtotal"], body["total"]) == ("59.97", "64.97")
    assert body["status"] == "confirmed"  # revised, checked and confirmed again at once
    assert body["financial_status"] == "paid"
    edited = [e for e in body["events"] if e["name"] == "order.edited"][-1]
    assert edited["reason"] == "2 x TSHIRT-M -> 3 x TSHIRT-M; address changed"
    with stocked.db.read() as session:
        assert sum(r.quantity for r in reservations.active(session, order["id"])) == 3


def test_a_stale_version_or_if_match_is_409_and_changes_nothing(api, hub):
    order = _create(api)
    api.patch(f"/api/v1/orders/{order['id']}", json={"notes": "call first"})
    for request in (
        {"json": {"version": order["version"], "shipping": "9.00"}},
        {"json": {"shipping": "9.00"}, "headers": {"If-Match": f'"{order["version"]}"'}},
    ):
        response = api.patch(f"/api/v1/orders/{order['id']}", **request)
        assert response.status_code == 409
        error = response.get_json()["error"]
        assert error["code"] == "conflict"
        assert "changed by someone else" in error["message"]
    assert api.get(f"/api/v1/orders/{order['id']}").get_json()["shipping"] == "5.00"


def test_an_order_gone_to_the_warehouse_is_409(api, hub, run_jobs):
    order = _create(api)
    run_jobs(hub)
    with hub.db.transaction() as session:
        transitions.start_fulfillment(session, order["id"], actor="test")
    response = api.patch(f"/api/v1/orders/{order['id']}", json={"shipping": "0"})
    assert response.status_code == 409
    assert "gone to the warehouse" in response.get_json()["error"]["message"]


@pytest.mark.parametrize(
    ("body", "field"),
    [
        ({"lines": []}, "lines"),
        ({"lines": [{"sku": "X", "quantity": 0, "unit_price": "1"}]}, "lines"),
        ({"shipping": "1.234"}, "shipping"),
        ({"version": "7"}, "version"),
        ({"shipping_address": {"name": "Ann"}}, "shipping_address.address1"),
    ],
)
def test_bad_edits_are_422_naming_the_field(api, hub, body, field):
    order = _create(api)
    response = api.patch(f"/api/v1/orders/{order['id']}", json=body)
    assert response.status_code == 422, response.get_json()
    details = response.get_json()["error"]["details"]
    assert field.split(".")[0] in details or field in details, details


def test_a_read_token_may_not_edit(client, hub):
    with hub.db.transaction() as session:
        token = create_token(session, "bi", scope="read")[1]
    response = client.patch(
        "/api/v1/orders/1", json={"notes": "x"}, headers={"Authorization": f"Bearer {token}"}
    )
    assert response.status_code == 403


def test_an_order_paid_outside_the_hub_shows_as_paid_or_pending(api, hub, run_jobs):
    cash = _create(api, payment_outside="paid")
    invoice = _create(api, payment_outside="invoice", customer={"email": "bob@example.com"})
    assert (cash["financial_status"], invoice["financial_status"]) == ("paid", "pending")
    run_jobs(hub)
    assert api.get(f"/api/v1/orders/{invoice['id']}").get_json()["status"] == "confirmed"
    both = api.post(
        "/api/v1/orders",
        json={
            **MANUAL_ORDER,
            "payment_outside": "paid",
            "payments": [{"reference": "pi_1", "amount": "44.98"}],
        },
    )
    assert both.status_code == 422
    assert "payment_outside" in both.get_json()["error"]["details"]
