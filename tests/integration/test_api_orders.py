"""/api/v1/orders: list with filters and cursor pages, detail, manual orders, transitions."""

from __future__ import annotations

from datetime import UTC, datetime, timedelta

import pytest
from sqlalchemy import func, select, update
from sqlalchemy.orm.exc import StaleDataError

from hub.channels.manage import create_channel
from hub.core.exceptions import ConcurrencyError
from hub.core.order import Customer
from hub.orders import commands, intake, transitions
from hub.store.models import Order, OrderAuditEvent
from hub.testing import WebhookTestPlugin, order_data


@pytest.fixture
def hub(make_hub):
    return make_hub(plugins=[WebhookTestPlugin()])


def manual_order(**overrides):
    body = {
        "external_id": "phone-1",
        "customer": {"email": "Bob@Example.com", "name": "Bob"},
        "shipping_address": {
            "name": "Bob",
            "address1": "2 High St",
            "city": "Leeds",
            "zip": "LS1",
            "country_code": "GB",
        },
        "lines": [{"sku": "MUG", "name": "Mug", "quantity": 3, "unit_price": "7.50"}],
        "currency": "GBP",
        "shipping": "4.99",
    }
    body.update(overrides)
    return body


def ids(response) -> list[int]:
    return [o["id"] for o in response.get_json()["data"]]


# --- creating -----------------------------------------------------------------------------------


def test_manual_order_is_created_with_decimal_totals_and_its_audit_trail(api):
    response = api.post("/api/v1/orders", json=manual_order())

    assert response.status_code == 201
    order = response.get_json()
    assert response.headers["Location"] == f"/api/v1/orders/{order['id']}"
    assert (order["channel"], order["external_id"], order["status"]) == (
        "manual",
        "phone-1",
        "pending",
    )
    assert (order["subtotal"], order["shipping"], order["total"], order["currency"]) == (
        "22.50",
        "4.99",
        "27.49",
        "GBP",
    )
    assert order["lines"][0] | {"id": 0} == {
        "id": 0,
        "sku": "MUG",
        "name": "Mug",
        "quantity": 3,
        "unit_price": "7.50",
        "tax": "0.00",
        "discount": "0.00",
        "requires_shipping": True,
        "removed_quantity": 0,
        "backordered_quantity": 0,
        "backorder_expected_at": None,
    }
    assert order["taxes_included"] is False
    assert order["customer"]["email"] == "bob@example.com"
    assert [e["name"] for e in order["events"]] == ["order.created"]
    assert order["events"][0]["actor"] == "api:tests"
    assert "confirm" in order["allowed_events"]


def test_a_tax_inclusive_desk_order_with_a_gift_card_is_confirmed_not_held(api, hub, run_jobs):
    # 3 mugs at 7.50 with 20% VAT inside (1.25 each), and a gift card no warehouse ships.
    body = manual_order(
        taxes_included=True,
        tax="3.75",
        lines=[
            {"sku": "MUG", "name": "Mug", "quantity": 3, "unit_price": "7.50", "tax": "3.75"},
            {
                "sku": "GIFT-25",
                "name": "Gift card",
                "quantity": 1,
                "unit_price": "25.00",
                "requires_shipping": False,
            },
        ],
    )
    order = api.post("/api/v1/orders", json=body).get_json()
    assert (order["total"], order["taxes_included"]) == (
        "52.49",
        True,
    )  # 22.50 + 25.00 + 4.99, no VAT on top
    run_jobs(hub)
    order = api.get(f"/api/v1/orders/{order['id']}").get_json()
    assert order["hold_reasons"] == [] and order["status"] == "confirmed"
    assert [line["requires_shipping"] for line in order["lines"]] == [True, False]


def test_the_same_external_id_again_returns_the_existing_order_and_creates_nothing(api, hub):
    first = api.post("/api/v1/orders", json=manual_order())
    second = api.post("/api/v1/orders", json=manual_order(shipping="99.00"))

    assert (first.status_code, second.status_code) == (201, 200)
    assert second.get_json()["id"] == first.get_json()["id"]
    assert second.get_json()["shipping"] == "4.99"
    with hub.db.read() as session:
        assert session.scalar(select(func.count()).select_from(Order)) == 1


def test_without_external_id_each_post_is_a_new_order(api):
    body = manual_order()
    del body["external_id"]

    first = api.post("/api/v1/orders", json=body).get_json()
    second = api.post("/api/v1/orders", json=body).get_json()

    assert first["id"] != second["id"]
    assert first["number"].startswith("M-")


@pytest.mark.parametrize(
    "change, field",
    [
        ({"lines": [{"sku": "MUG", "quantity": 1, "unit_price": "7.505"}]}, "lines.0.unit_price"),
        ({"lines": [{"sku": "MUG", "quantity": "1", "unit_price": "7.50"}]}, "lines"),
        ({"lines": []}, "lines"),
        ({"currency": "XXX"}, "currency"),
        ({"customer": {"email": "not-an-email"}}, "customer"),
        ({"shipping": "-1.00"}, "shipping"),
        ({"unknown_field": 1}, "unknown_field"),
        (
            {"lines": [{"sku": "MUG", "quantity": 1, "unit_price": "99999999999999999999"}]},
            "lines.0.unit_price",
        ),
        (
            {"lines": [{"sku": "MUG", "quantity": 1_000_000, "unit_price": "9999999999999.99"}]},
            "lines",
        ),
        ({"customer": {"email": "bob@example.com", "name": "n" * 201}}, "customer"),
    ],
)
def test_invalid_manual_orders_are_422_naming_the_field(api, hub, change, field):
    response = api.post("/api/v1/orders", json=manual_order(**change))

    assert response.status_code == 422
    error = response.get_json()["error"]
    assert error["code"] == "validation_error"
    assert field in error["details"]
    with hub.db.read() as session:
        assert session.scalar(select(func.count()).select_from(Order)) == 0


def test_unknown_payment_channel_is_422_and_stores_nothing(api, hub):
    body = manual_order(payments=[{"channel": "nope", "reference": "pi_1", "amount": "27.49"}])

    response = api.post("/api/v1/orders", json=body)

    assert response.status_code == 422
    with hub.db.read() as session:
        assert session.scalar(select(func.count()).select_from(Order)) == 0


@pytest.mark.parametrize(
    "data, status",
    [
        (b"{not json", 400),
        (b"", 400),
        (b"[1, 2]", 422),
        (b'"text"', 422),
    ],
)
def test_a_body_that_is_not_a_json_object_is_refused(api, data, status):
    response = api.post("/api/v1/orders", data=data, content_type="application/json")

    assert response.status_code == status
    assert set(response.get_json()["error"]) == {"code", "message", "details"}


def test_a_body_over_the_api_limit_is_413(api):
    api.client.application.config["API_MAX_BYTES"] = 500

    response = api.post("/api/v1/orders", json=manual_order(notes="x" * 1000))

    assert response.status_code == 413
    assert response.get_json()["error"]["code"] == "too_large"


# --- reading --------------------------------------------------------------------------------------


def test_detail_shows_payments_shipments_and_events(api):
    created = api.post(
        "/api/v1/orders",
        json=manual_order(
            payments=[{"reference": "cash-1", "amount": "27.49", "status": "captured"}]
        ),
    ).get_json()
    oid = created["id"]
    api.post(f"/api/v1/orders/{oid}/transitions", json={"event": "confirm"})
    api.post(f"/api/v1/orders/{oid}/transitions", json={"event": "start_fulfillment"})
    api.post(f"/api/v1/orders/{oid}/transitions", json={"event": "ship"})

    order = api.get(f"/api/v1/orders/{oid}").get_json()

    assert order["status"] == "shipped"
    assert order["fulfillment_status"] == "fulfilled"
    assert order["financial_status"] == "paid"
    assert order["payments"][0]["captured"] == "27.49"
    assert order["shipments"][0]["lines"] == [{"line_id": order["lines"][0]["id"], "quantity": 3}]
    assert [e["name"] for e in order["events"]][-1] == "order.shipped"


def test_unknown_order_is_404(api):
    response = api.get("/api/v1/orders/424242")

    assert response.status_code == 404
    assert response.get_json()["error"] == {
        "code": "not_found",
        "message": "order 424242 does not exist",
        "details": {},
    }


def test_list_pages_newest_first_with_an_opaque_cursor(api, hub, make_order):
    made = [make_order(hub) for _ in range(5)]

    first = api.get("/api/v1/orders?limit=2").get_json()
    second = api.get(f"/api/v1/orders?limit=2&cursor={first['next_cursor']}").get_json()
    third = api.get(f"/api/v1/orders?limit=2&cursor={second['next_cursor']}").get_json()

    assert [o["id"] for o in first["data"] + second["data"] + third["data"]] == made[::-1]
    assert third["next_cursor"] is None
    assert not first["next_cursor"].isdigit()


def test_list_filters(api, hub, make_order):
    with hub.db.transaction() as session:
        shop = create_channel(
            hub, session, name="Shop", connector="webhook_test", config={"webhook_secret": "s"}
        )
        in_shop = intake.upsert_order(
            session, shop, order_data(external_id="S1", number="#S1"), actor="test"
        ).order.id
    pending = make_order(hub, customer=Customer(email="zed@example.com"))
    confirmed = make_order(hub, number="#2002")
    with hub.unit_of_work() as work:
        session = work.session
        transitions.confirm(work, confirmed, actor="test")
        session.execute(
            update(Order)
            .where(Order.id == in_shop)
            .values(updated_at=datetime.now(UTC) - timedelta(days=3))
        )
    since = (datetime.now(UTC) - timedelta(days=1)).isoformat()

    def listed(**params):
        response = api.get("/api/v1/orders", query_string=params)
        assert response.status_code == 200, response.get_json()
        return sorted(ids(response))

    assert listed(status="confirmed") == [confirmed]
    assert listed(channel="shop") == [in_shop]
    assert listed(channel="manual") == sorted([pending, confirmed])
    assert listed(q="ZED@example.com") == [pending]
    assert listed(q="2002") == [confirmed]
    assert listed(q="#2002") == [confirmed]
    assert listed(q="S1") == [in_shop]
    assert listed(financial_status="pending", status="pending") == sorted([in_shop, pending])
    assert listed(fulfillment_status="fulfilled") == []
    assert listed(updated_since=since) == sorted([pending, confirmed])


@pytest.mark.parametrize(
    "params, field",
    [
        ({"status": "lost"}, "status"),
        ({"limit": "0"}, "limit"),
        ({"limit": "lots"}, "limit"),
        ({"cursor": "garbage!"}, "cursor"),
        ({"updated_since": "yesterday"}, "updated_since"),
        ({"channel": "nope"}, "channel"),
        ({"colour": "red"}, "colour"),
    ],
)
def test_bad_list_parameters_are_422_naming_the_parameter(api, params, field):
    response = api.get("/api/v1/orders", query_string=params)

    assert response.status_code == 422
    assert field in response.get_json()["error"]["details"]


# --- transitions ---------------------------------------------------------------------------------------


def test_transition_returns_the_updated_order_with_the_audit_event(api, hub, make_order):
    oid = make_order(hub)

    response = api.post(
        f"/api/v1/orders/{oid}/transitions", json={"event": "hold", "reason": "fraud check"}
    )

    assert response.status_code == 200
    order = response.get_json()
    assert (order["status"], order["hold_reasons"]) == ("on_hold", ["fraud check"])
    held = order["events"][-1]
    assert (held["name"], held["from"], held["to"], held["reason"], held["actor"]) == (
        "order.held",
        "pending",
        "on_hold",
        "fraud check",
        "api:tests",
    )


def test_an_event_the_status_does_not_allow_is_409_with_status_and_allowed_events(
    api, hub, make_order
):
    oid = make_order(hub)

    response = api.post(f"/api/v1/orders/{oid}/transitions", json={"event": "deliver"})

    assert response.status_code == 409
    error = response.get_json()["error"]
    assert error["code"] == "invalid_transition"
    assert error["details"]["status"] == "pending"
    assert error["details"]["allowed"] == ["confirm", "hold", "cancel"]
    with hub.db.read() as session:
        assert (
            session.scalar(
                select(func.count())
                .select_from(OrderAuditEvent)
                .where(OrderAuditEvent.order_id == oid)
            )
            == 1
        )


def test_repeating_the_current_status_is_a_no_op(api, hub, make_order):
    oid = make_order(hub)
    api.post(f"/api/v1/orders/{oid}/transitions", json={"event": "cancel"})

    again = api.post(f"/api/v1/orders/{oid}/transitions", json={"event": "cancel"})

    assert again.status_code == 200
    assert [e["name"] for e in again.get_json()["events"]].count("order.cancelled") == 1


@pytest.mark.parametrize(
    "body, status",
    [
        ({"event": "hold"}, 422),  # a hold needs a reason
        ({"event": "fly"}, 422),
        ({"event": "ship_partial"}, 422),
        ({}, 422),
        ({"event": 3}, 422),
    ],
)
def test_bad_transition_requests_are_refused(api, hub, make_order, body, status):
    oid = make_order(hub)

    assert api.post(f"/api/v1/orders/{oid}/transitions", json=body).status_code == status


def test_transition_of_an_unknown_order_is_404(api):
    assert api.post("/api/v1/orders/777/transitions", json={"event": "confirm"}).status_code == 404


@pytest.mark.parametrize(
    "error",
    [
        ConcurrencyError("order 1 was changed concurrently"),
        StaleDataError(
            "UPDATE statement on table 'orders' expected to update 1 row(s); 0 were matched."
        ),
    ],
)
def test_a_lost_update_race_is_a_409_conflict(api, hub, make_order, monkeypatch, error):
    oid = make_order(hub)

    def racing(*args, **kwargs):
        raise error

    monkeypatch.setattr(commands, "transition", racing)
    response = api.post(f"/api/v1/orders/{oid}/transitions", json={"event": "confirm"})

    assert response.status_code == 409
    assert response.get_json()["error"]["code"] == "conflict"


@pytest.mark.parametrize(
    "path",
    ["/api/v1/orders?status=pending&status=cancelled", "/api/v1/suppliers?active=true&active=x"],
)
def test_a_query_parameter_given_twice_is_refused_not_half_read(api, path):
    answer = api.get(path)
    assert answer.status_code == 422
    error = answer.get_json()["error"]
    assert "given more than once" in error["message"]
    assert list(error["details"]) == [path.split("?")[1].split("=")[0]]
