"""Suggestions (issue 21): what to buy, rounded to the supplier's terms; drafts per supplier."""

from __future__ import annotations

from datetime import UTC, datetime

from sqlalchemy import select

from hub.inventory.levels import LevelChange, set_on_hand, upsert_location
from hub.replenishment.policies import set_policy
from hub.store.models import PurchaseOrder, PurchaseOrderLine, Supplier, SupplierSku


def fixed(low: int, high: int) -> dict:
    return {
        "kind": "fixed",
        "min_quantity": low,
        "max_quantity": high,
        "service_level": 0.95,
        "lead_time_days": 7,
        "review_days": 7,
    }


def seed_shop(hub) -> dict[str, int]:
    """Three SKUs at "wh": MUG and CAP below their points, TEE fine; two suppliers."""
    with hub.db.transaction() as session:
        wh = upsert_location(session, "wh", name="Warehouse").id
        set_on_hand(
            session,
            [
                LevelChange("MUG", "wh", 4),
                LevelChange("CAP", "wh", 2),
                LevelChange("TEE", "wh", 50),
            ],
            actor="test",
            reason="count",
        )
        # MUG: order up to 30; 4 here and 3 on their way -> 23, to a minimum of 30 in 12s: 36.
        set_policy(session, "MUG", wh, fixed(10, 30), actor="user:ann")
        # CAP: order up to 17; 2 here -> 15, in packs of 6: 18.
        set_policy(session, "CAP", wh, fixed(5, 17), actor="user:ann")
        set_policy(session, "TEE", wh, fixed(5, 60), actor="user:ann")
        mugs = Supplier(
            name="Mugs Ltd",
            email="po@mugs.example",
            currency="EUR",
            minimum_order_quantity=30,
            pack_size=12,
            lead_time_days=10,
        )
        caps = Supplier(
            name="Cap Co",
            email="po@caps.example",
            currency="EUR",
            minimum_order_quantity=1,
            pack_size=6,
            lead_time_days=5,
        )
        session.add_all([mugs, caps])
        session.flush()
        session.add_all(
            [
                SupplierSku(supplier_id=mugs.id, sku="MUG", cost_price=350, preferred=True),
                SupplierSku(supplier_id=caps.id, sku="CAP", cost_price=420, preferred=True),
            ]
        )
        session.add(
            PurchaseOrder(
                number="PO-2026-900001",
                supplier_id=mugs.id,
                location_id=wh,
                status="sent",
                currency="EUR",
                expected_at=datetime(2026, 12, 20, tzinfo=UTC),
                lines=[PurchaseOrderLine(sku="MUG", quantity=3, unit_cost=350)],
            )
        )
        session.flush()
        return {"wh": wh, "mugs": mugs.id, "caps": caps.id}


def test_suggestions_round_up_to_the_suppliers_minimum_and_pack(hub, api):
    ids = seed_shop(hub)
    answer = api.get("/api/v1/replenishment")
    assert answer.status_code == 200
    assert answer.get_json()["data"] == [
        {
            "sku": "CAP",
            "location": "wh",
            "location_id": ids["wh"],
            "available": 2,
            "incoming": 0,
            "reorder_point": 5,
            "order_up_to": 17,
            "suggested_quantity": 18,
            "supplier_id": ids["caps"],
        },
        {
            "sku": "MUG",
            "location": "wh",
            "location_id": ids["wh"],
            "available": 4,
            "incoming": 3,
            "reorder_point": 10,
            "order_up_to": 30,
            "suggested_quantity": 36,
            "supplier_id": ids["mugs"],
        },
    ]


def test_ticked_rows_become_one_draft_per_supplier_at_its_cost_price(hub, api):
    ids = seed_shop(hub)
    made = api.post(
        "/api/v1/replenishment/purchase-orders",
        json={
            "rows": [
                {"sku": "MUG", "location": "wh", "quantity": 36},
                {"sku": "CAP", "location": "wh", "quantity": 18},
            ]
        },
    )
    assert made.status_code == 201, made.get_json()
    drafts = made.get_json()["data"]
    assert sorted((d["supplier_id"], d["lines"]) for d in drafts) == sorted(
        [(ids["mugs"], 1), (ids["caps"], 1)]
    )
    with hub.db.read() as session:
        pos = session.scalars(
            select(PurchaseOrder).where(PurchaseOrder.status == "draft").order_by(PurchaseOrder.id)
        ).all()
        got = {
            (po.supplier_id, line.sku, line.quantity, line.unit_cost)
            for po in pos
            for line in po.lines
        }
    assert got == {(ids["mugs"], "MUG", 36, 350), (ids["caps"], "CAP", 18, 420)}


def test_a_row_without_a_preferred_supplier_is_refused_and_nothing_is_drafted(hub, api):
    seed_shop(hub)
    refused = api.post(
        "/api/v1/replenishment/purchase-orders",
        json={
            "rows": [
                {"sku": "MUG", "location": "wh", "quantity": 36},
                {"sku": "TEE", "location": "wh", "quantity": 10},
            ]
        },
    )
    assert refused.status_code == 422
    assert "TEE: no preferred supplier" in refused.get_json()["error"]["message"]
    with hub.db.read() as session:
        assert (
            session.scalars(select(PurchaseOrder).where(PurchaseOrder.status == "draft")).all()
            == []
        )


def test_allow_backorders_is_a_sku_setting_in_the_api(hub, api):
    seed_shop(hub)
    assert api.get("/api/v1/skus/MUG/settings").get_json() == {
        "sku": "MUG",
        "allow_backorder": False,
    }
    put = api.open("PUT", "/api/v1/skus/MUG/settings", json={"allow_backorder": True})
    assert put.status_code == 200 and put.get_json()["allow_backorder"] is True
    assert api.get("/api/v1/skus/MUG/settings").get_json()["allow_backorder"] is True
    bad = api.open("PUT", "/api/v1/skus/MUG/settings", json={"allow_backorder": "maybe"})
    assert bad.status_code == 422
    assert api.get("/api/v1/skus/NOPE/settings").status_code == 404
