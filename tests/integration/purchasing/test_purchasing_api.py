"""Suppliers and purchase orders through the API: the cycle, its refusals and its scopes."""

from __future__ import annotations

from sqlalchemy import select

from hub.accounts.users import create_token
from hub.store.models import StockLevel, StockMovement

SUPPLIER = {
    "name": "Acme Textiles",
    "email": "orders@acme.example",
    "currency": "EUR",
    "lead_time_days": 10,
    "minimum_order_quantity": 12,
    "pack_size": 6,
}


def _supplier(api, **extra) -> int:
    r = api.post("/api/v1/suppliers", json={**SUPPLIER, **extra})
    assert r.status_code == 201, r.json
    return r.json["id"]


def _draft(api, supplier_id, lines=None) -> dict:
    r = api.post(
        "/api/v1/purchase-orders",
        json={
            "supplier_id": supplier_id,
            "location": "main",
            "lines": lines
            or [
                {"sku": "TEE-M", "quantity": 10, "unit_cost": "4.50"},
                {"sku": "TEE-L", "quantity": 5},
            ],
        },
    )
    return r


def _on_hand(hub, sku) -> int:
    with hub.db.read() as db:
        return db.scalar(select(StockLevel.on_hand).where(StockLevel.sku == sku)) or 0


def test_supplier_crud_and_prices_with_one_preferred_supplier(api):
    first = _supplier(api)
    second = _supplier(api, name="Bravo Goods", email="")
    assert api.post("/api/v1/suppliers", json=SUPPLIER).status_code == 409  # name taken
    bad = api.post("/api/v1/suppliers", json={**SUPPLIER, "name": "X", "currency": "EURO"})
    assert bad.status_code == 422 and "currency" in bad.json["error"]["details"]
    for supplier_id, price in ((first, "4.20"), (second, "3.99")):
        r = api.open(
            "PUT",
            f"/api/v1/suppliers/{supplier_id}/skus",
            json={"sku": "TEE-M", "cost_price": price, "preferred": True},
        )
        assert r.status_code == 200, r.json
    # the second preference took the first one's off: one preferred supplier per SKU
    skus = {s: api.get(f"/api/v1/suppliers/{s}/skus").json["data"][0] for s in (first, second)}
    assert (skus[first]["preferred"], skus[second]["preferred"]) == (False, True)
    assert skus[second]["cost_price"] == "3.99"
    r = api.patch(f"/api/v1/suppliers/{first}", json={"lead_time_days": 3})
    assert r.status_code == 200 and r.json["lead_time_days"] == 3
    assert api.get("/api/v1/suppliers/999").status_code == 404
    assert api.delete(f"/api/v1/suppliers/{second}").status_code == 204
    assert [s["name"] for s in api.get("/api/v1/suppliers").json["data"]] == ["Acme Textiles"]


def test_draft_numbered_priced_edited_at_its_version_and_not_received(api, shop):
    supplier_id = shop.supplier_id
    r = _draft(api, supplier_id)
    assert r.status_code == 201, r.json
    po = r.json
    assert po["number"].startswith("PO-") and po["status"] == "draft"
    assert {line["sku"]: line["unit_cost"] for line in po["lines"]} == {
        "TEE-M": "4.50",
        "TEE-L": "5.10",
    }
    assert po["total"] == "70.50"
    # edit lines in draft, at the version read; a stale version is refused
    r = api.patch(
        f"/api/v1/purchase-orders/{po['id']}",
        json={
            "version": po["version"],
            "lines": [
                {"sku": "TEE-M", "quantity": 12, "unit_cost": "4.50"},
                {"sku": "TEE-L", "quantity": 6},
            ],
        },
    )
    assert r.status_code == 200 and r.json["ordered"] == 18
    stale = api.patch(
        f"/api/v1/purchase-orders/{po['id']}",
        json={
            "version": po["version"],
            "lines": [{"sku": "TEE-M", "quantity": 1, "unit_cost": "1"}],
        },
    )
    assert stale.status_code == 409
    # receiving a draft is an illegal move
    r = api.post(
        f"/api/v1/purchase-orders/{po['id']}/receipts",
        json={"lines": [{"sku": "TEE-M", "quantity": 1}]},
    )
    assert r.status_code == 409


def test_receipts_partial_then_full_over_receipt_refused_unless_forced(hub, api, shop):
    po = _draft(api, shop.supplier_id).json
    assert (
        api.post(f"/api/v1/purchase-orders/{po['id']}/send", json={"version": 0}).status_code == 409
    )
    sent = api.post(f"/api/v1/purchase-orders/{po['id']}/send")
    assert sent.status_code == 200 and sent.json["status"] == "sent"
    assert sent.json["expected_at"] > sent.json["sent_at"]  # + the supplier's 10 days
    url = f"/api/v1/purchase-orders/{po['id']}/receipts"
    # more than ordered: refused naming the line, nothing booked
    r = api.post(url, json={"lines": [{"sku": "TEE-M", "quantity": 11}]})
    assert r.status_code == 422 and "TEE-M" in r.json["error"]["message"]
    assert _on_hand(hub, "TEE-M") == 0
    r = api.post(url, json={"lines": [{"sku": "NOPE", "quantity": 1}]})
    assert r.status_code == 422 and "NOPE" in r.json["error"]["message"]
    r = api.post(url, json={"location": "main", "lines": [{"sku": "TEE-M", "quantity": 4}]})
    assert r.status_code == 201, r.json
    assert r.json["status"] == "partially_received"
    assert {x["sku"]: x["open_quantity"] for x in r.json["lines"]} == {"TEE-M": 6, "TEE-L": 5}
    assert _on_hand(hub, "TEE-M") == 4
    with hub.db.read() as db:
        movement = db.scalars(select(StockMovement).where(StockMovement.sku == "TEE-M")).one()
    assert po["number"] in movement.reason and movement.on_hand_change == 4
    # the rest, one over on TEE-L on purpose
    r = api.post(
        url,
        json={
            "lines": [{"sku": "TEE-M", "quantity": 6}, {"sku": "TEE-L", "quantity": 6}],
            "force": True,
        },
    )
    assert r.status_code == 201 and r.json["status"] == "received"
    assert r.json["receipts"][-1]["forced"] is True
    assert (_on_hand(hub, "TEE-M"), _on_hand(hub, "TEE-L")) == (10, 6)
    # a received PO takes no more, and cannot be cancelled
    assert api.post(url, json={"lines": [{"sku": "TEE-M", "quantity": 1}]}).status_code == 409
    assert api.post(f"/api/v1/purchase-orders/{po['id']}/cancel").status_code == 409
    assert (
        api.post(
            "/api/v1/purchase-orders/999/receipts",
            json={"lines": [{"sku": "TEE-M", "quantity": 1}]},
        ).status_code
        == 404
    )


def test_lists_filter_by_status_and_supplier_in_cursor_pages(api, shop):
    ids = [_draft(api, shop.supplier_id).json["id"] for _ in range(3)]
    api.post(f"/api/v1/purchase-orders/{ids[0]}/cancel")
    page = api.get("/api/v1/purchase-orders?status=draft&limit=1").json
    assert [p["id"] for p in page["data"]] == [ids[2]] and page["next_cursor"]
    rest = api.get(f"/api/v1/purchase-orders?status=draft&cursor={page['next_cursor']}").json
    assert [p["id"] for p in rest["data"]] == [ids[1]] and rest["next_cursor"] is None
    assert api.get(f"/api/v1/purchase-orders?supplier_id={shop.supplier_id + 1}").json["data"] == []


def test_a_read_token_may_look_but_not_order(hub, client, shop):
    with hub.db.transaction() as db:
        token = create_token(db, "viewer", scope="read")[1]
    auth = {"Authorization": f"Bearer {token}"}
    assert client.get("/api/v1/purchase-orders", headers=auth).status_code == 200
    r = client.post(
        "/api/v1/purchase-orders",
        headers=auth,
        json={
            "supplier_id": shop.supplier_id,
            "location": "main",
            "lines": [{"sku": "TEE-M", "quantity": 1}],
        },
    )
    assert r.status_code == 403
    assert client.post("/api/v1/suppliers", headers=auth, json=SUPPLIER).status_code == 403


def test_stock_rows_show_what_is_incoming_until_it_is_received(hub, api, shop):
    po = _draft(api, shop.supplier_id).json
    api.post("/api/v1/stock", json={"levels": [{"sku": "TEE-M", "location": "main", "on_hand": 2}]})
    incoming = lambda: {r["sku"]: r["incoming"] for r in api.get("/api/v1/stock").json["data"]}  # noqa: E731
    assert incoming() == {"TEE-M": 0}  # a draft was never ordered
    api.post(f"/api/v1/purchase-orders/{po['id']}/send")
    assert incoming() == {"TEE-M": 10}
    api.post(
        f"/api/v1/purchase-orders/{po['id']}/receipts",
        json={"lines": [{"sku": "TEE-M", "quantity": 3}, {"sku": "TEE-L", "quantity": 5}]},
    )
    assert incoming() == {"TEE-M": 7, "TEE-L": 0}


def test_a_computed_reorder_policy_takes_the_preferred_suppliers_lead_time(api, shop):
    api.post("/api/v1/stock", json={"levels": [{"sku": "TEE-M", "location": "main", "on_hand": 5}]})
    url = "/api/v1/skus/TEE-M/reorder-policy"
    assert api.get(url).json["lead_time_days"] == 7  # the default: no preferred supplier yet
    api.open(
        "PUT",
        f"/api/v1/suppliers/{shop.supplier_id}/skus",
        json={"sku": "TEE-M", "cost_price": "4.50", "preferred": True},
    )
    policy = api.get(url).json
    assert policy["lead_time_days"] == 10
    assert "Acme Textiles's, the preferred supplier" in policy["lines"][0]
    fixed = {"kind": "fixed", "min_quantity": 3, "max_quantity": 9}
    assert api.open("PUT", url, json=fixed).json["lead_time_days"] == 7  # fixed: its own
