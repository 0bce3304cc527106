"""/api/v1/customers: one customer per person across channels, through the API (issue 20)."""

from __future__ import annotations

import pytest

from hub.accounts.users import create_token
from hub.testing import MANUAL_ORDER, ApiClient


def post_order(
    api, external_id: str, email: str, name: str = "Ann Lee", phone: str = "", **extra
) -> dict:
    body = {**MANUAL_ORDER, "external_id": external_id, **extra}
    body["customer"] = {"email": email, "name": name, "phone": phone}
    answer = api.post("/api/v1/orders", json=body)
    assert answer.status_code == 201, answer.get_json()
    return answer.get_json()


@pytest.fixture
def token_for(hub, client):
    def make(scope: str) -> ApiClient:
        with hub.db.transaction() as session:
            return ApiClient(client, create_token(session, f"{scope}-tool", scope=scope)[1])

    return make


def test_orders_carry_their_customer_and_the_customer_its_figures(api):
    first = post_order(api, "A1", "Ann@Example.com")
    second = post_order(
        api,
        "A2",
        "ANN@example.com",
        lines=[{"sku": "MUG", "name": "Mug", "quantity": 1, "unit_price": "10.00"}],
    )
    assert first["customer_id"] == second["customer_id"] is not None
    listed = api.get("/api/v1/orders").get_json()["data"]
    assert {o["customer_id"] for o in listed} == {first["customer_id"]}

    customer = api.get(f"/api/v1/customers/{first['customer_id']}").get_json()
    assert customer["email"] == "ann@example.com" and customer["name"] == "Ann Lee"
    figures = customer["figures"]
    assert figures["order_count"] == 2
    # 44.98 (2 x 19.99 + 5.00) and 15.00 (10.00 + 5.00): 59.98 in all, 29.99 on average.
    assert figures["spent"] == [
        {"currency": "USD", "total": "59.98", "orders": 2, "average_order_value": "29.99"}
    ]
    assert [c["slug"] for c in figures["channels"]] == ["manual"]
    assert figures["addresses"][0]["address"]["city"] == "Springfield"
    assert [o["external_id"] for o in customer["recent_orders"]] == ["A2", "A1"]


def test_the_list_searches_email_name_and_phone_and_pages_by_cursor(api):
    for n in range(3):
        post_order(api, f"L{n}", f"buyer{n}@example.com", name=f"Buyer {n}")
    post_order(api, "Z", "zed@example.com", name="Zoë Quist", phone="(415) 555-2671")
    # The phone is kept in E.164 (read with the US address) and found by its digits.
    by_phone = api.get("/api/v1/customers?q=415 555 2671").get_json()["data"]
    assert [(c["email"], c["phone"]) for c in by_phone] == [("zed@example.com", "+14155552671")]
    assert [c["email"] for c in api.get("/api/v1/customers?q=quist").get_json()["data"]] == [
        "zed@example.com"
    ]
    first = api.get("/api/v1/customers?q=buyer&limit=2").get_json()
    assert [c["name"] for c in first["data"]] == ["Buyer 2", "Buyer 1"]
    rest = api.get(f"/api/v1/customers?q=buyer&limit=2&cursor={first['next_cursor']}").get_json()
    assert [c["name"] for c in rest["data"]] == ["Buyer 0"] and rest["next_cursor"] is None
    assert first["data"][0]["order_count"] == 1


def test_tags_and_note_are_set_and_bad_input_is_422(api):
    cid = post_order(api, "T1", "t@example.com")["customer_id"]
    answer = api.patch(f"/api/v1/customers/{cid}", json={"tags": ["b2b", " B2B ", "vip"]})
    assert answer.status_code == 200 and answer.get_json()["tags"] == ["b2b", "vip"]
    answer = api.patch(f"/api/v1/customers/{cid}", json={"note": "pays by invoice"})
    assert answer.get_json()["note"] == "pays by invoice" and answer.get_json()["tags"] == [
        "b2b",
        "vip",
    ]
    bad = api.patch(f"/api/v1/customers/{cid}", json={"tags": "b2b"})
    assert bad.status_code == 422 and "tags" in bad.get_json()["error"]["details"]
    assert api.patch("/api/v1/customers/999", json={"note": "x"}).status_code == 404


def test_merge_and_undo_through_the_api(api):
    a = post_order(api, "M1", "ann@example.com")
    b = post_order(api, "M2", "ann.lee@work.example")
    bad = api.post(f"/api/v1/customers/{a['customer_id']}/merge", json={"from": "x"})
    assert bad.status_code == 422
    itself = api.post(
        f"/api/v1/customers/{a['customer_id']}/merge", json={"from": a["customer_id"]}
    )
    assert itself.status_code == 422
    merged = api.post(
        f"/api/v1/customers/{a['customer_id']}/merge", json={"from": b["customer_id"]}
    )
    assert merged.status_code == 200
    merge = merged.get_json()
    assert merge["order_ids"] == [b["id"]] and merge["actor"] == "api:tests"
    moved = api.get(f"/api/v1/orders/{b['id']}").get_json()
    assert moved["customer_id"] == a["customer_id"]
    # The order changed: a client syncing by updated_since or holding its version sees it.
    assert moved["version"] == b["version"] + 1 and moved["updated_at"] > b["updated_at"]
    listed = api.get("/api/v1/customers").get_json()["data"]
    assert [c["id"] for c in listed] == [a["customer_id"]]  # the merged one is left out
    assert (
        api.get(f"/api/v1/customers/{a['customer_id']}").get_json()["figures"]["order_count"] == 2
    )
    again = api.post(f"/api/v1/customers/{a['customer_id']}/merge", json={"from": b["customer_id"]})
    assert again.status_code == 409

    undone = api.post(f"/api/v1/customer-merges/{merge['id']}/undo")
    assert undone.status_code == 200 and undone.get_json()["undone_at"]
    assert api.get(f"/api/v1/orders/{b['id']}").get_json()["customer_id"] == b["customer_id"]
    assert api.post(f"/api/v1/customer-merges/{merge['id']}/undo").status_code == 409


def test_erase_and_export_need_admin_and_merge_needs_write(token_for):
    admin, writer, reader = token_for("admin"), token_for("write"), token_for("read")
    order = post_order(writer, "E1", "erase.me@example.com", name="Erin Mae")
    cid = order["customer_id"]
    other = post_order(writer, "E2", "keep@example.com")["customer_id"]
    assert reader.get(f"/api/v1/customers/{cid}").status_code == 200
    assert reader.patch(f"/api/v1/customers/{cid}", json={"note": "x"}).status_code == 403
    assert reader.post(f"/api/v1/customers/{cid}/merge", json={"from": other}).status_code == 403
    for refused in (writer, reader):
        assert refused.get(f"/api/v1/customers/{cid}/export").status_code == 403
        assert refused.post(f"/api/v1/customers/{cid}/erase").status_code == 403

    export = admin.get(f"/api/v1/customers/{cid}/export")
    assert export.status_code == 200
    assert "attachment" in export.headers["Content-Disposition"]
    data = export.get_json()
    assert data["customer"]["email"] == "erase.me@example.com"
    assert [o["total"] for o in data["orders"]] == ["44.98"]

    erased = admin.post(f"/api/v1/customers/{cid}/erase")
    assert erased.status_code == 200
    assert erased.get_json()["customer"]["erased"] is True
    assert erased.get_json()["customer"]["email"] == ""
    kept = admin.get(f"/api/v1/orders/{order['id']}").get_json()
    assert (kept["number"], kept["total"], kept["email"]) == (order["number"], "44.98", "")
    assert kept["customer"]["name"] == "" and kept["shipping_address"] == {"country_code": "US"}
    assert admin.get("/api/v1/customers?q=erase").get_json()["data"] == []
    assert admin.patch(f"/api/v1/customers/{cid}", json={"note": "x"}).status_code == 409


def test_the_openapi_document_covers_customers(api):
    spec = api.get("/api/v1/openapi.json").get_json()
    paths = spec["paths"]
    assert {"get"} <= set(paths["/api/v1/customers"])
    assert paths["/api/v1/customers/{customer_id}/erase"]["post"]["x-required-scope"] == "admin"
    assert paths["/api/v1/customer-merges/{merge_id}/undo"]["post"]["x-required-scope"] == "write"
    assert "customer_id" in spec["components"]["schemas"]["OrderSummary"]["properties"]
