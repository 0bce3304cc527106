"""/api/v1/locations and /api/v1/stock: places, levels, and who changed them."""

from __future__ import annotations

import pytest
from sqlalchemy import select

from hub.store.models import Job, StockMovement


@pytest.fixture
def warehouses(api):
    api.post("/api/v1/locations", json={"code": "EAST", "name": "East DC", "priority": 10})
    api.post("/api/v1/locations", json={"code": "WEST", "name": "West DC", "priority": 5})


def test_create_get_list_and_patch_locations(api):
    created = api.post(
        "/api/v1/locations", json={"code": "MAIN", "name": "Main warehouse", "priority": 3}
    )
    api.post("/api/v1/locations", json={"code": "SHOP", "priority": 7})

    assert created.status_code == 201
    assert created.headers["Location"] == "/api/v1/locations/MAIN"
    assert created.get_json() | {"id": 0, "created_at": ""} == {
        "id": 0,
        "code": "MAIN",
        "name": "Main warehouse",
        "priority": 3,
        "active": True,
        "created_at": "",
        # Where it is: not said yet (routing.md, "Where things are").
        "address": {
            "address1": "",
            "address2": "",
            "city": "",
            "province_code": "",
            "zip": "",
            "country_code": "",
        },
        "latitude": None,
        "longitude": None,
    }
    assert [x["code"] for x in api.get("/api/v1/locations").get_json()["data"]] == ["SHOP", "MAIN"]
    patched = api.patch("/api/v1/locations/MAIN", json={"priority": 9, "active": False})
    assert patched.get_json()["priority"] == 9
    assert patched.get_json()["name"] == "Main warehouse"
    assert api.get("/api/v1/locations/MAIN").get_json()["active"] is False


def test_location_errors(api):
    api.post("/api/v1/locations", json={"code": "MAIN"})

    duplicate = api.post("/api/v1/locations", json={"code": "MAIN"})
    bad_code = api.post("/api/v1/locations", json={"code": "a/b c"})
    bad_priority = api.patch("/api/v1/locations/MAIN", json={"priority": "high"})

    assert duplicate.status_code == 409
    assert bad_code.status_code == 422
    assert "code" in bad_code.get_json()["error"]["details"]
    assert bad_priority.status_code == 422
    assert api.get("/api/v1/locations/NOWHERE").status_code == 404
    assert api.patch("/api/v1/locations/NOWHERE", json={"priority": 1}).status_code == 404


def test_setting_levels_records_movements_with_the_token_as_actor(api, hub, warehouses):
    response = api.post(
        "/api/v1/stock",
        json={
            "levels": [
                {"sku": "MUG", "location": "EAST", "on_hand": 12},
                {"sku": "MUG", "location": "WEST", "on_hand": 3},
            ],
            "reason": "cycle count",
        },
    )

    assert response.status_code == 200
    body = response.get_json()
    assert body["changed"] == 2
    assert [(x["sku"], x["location"], x["on_hand"], x["available"]) for x in body["levels"]] == [
        ("MUG", "EAST", 12, 12),
        ("MUG", "WEST", 3, 3),
    ]
    with hub.db.read() as session:
        moves = session.scalars(select(StockMovement).order_by(StockMovement.id)).all()
        assert [(m.actor, m.reason, m.source, m.on_hand_change) for m in moves] == [
            ("tests", "cycle count", "api", 12),
            ("tests", "cycle count", "api", 3),
        ]
        assert session.scalars(select(Job.kind).where(Job.kind == "stock.push")).all() == [
            "stock.push"
        ]

    again = api.post(
        "/api/v1/stock", json={"levels": [{"sku": "MUG", "location": "EAST", "on_hand": 12}]}
    )
    assert again.get_json()["changed"] == 0


def test_stock_list_filters_and_pages(api, warehouses):
    api.post(
        "/api/v1/stock",
        json={
            "levels": [
                {"sku": s, "location": loc, "on_hand": 1}
                for s in ("A", "B", "C")
                for loc in ("EAST", "WEST")
            ]
        },
    )

    by_sku = api.get("/api/v1/stock?sku=B").get_json()["data"]
    by_location = api.get("/api/v1/stock?location=WEST").get_json()["data"]
    first = api.get("/api/v1/stock?limit=4").get_json()
    rest = api.get(f"/api/v1/stock?limit=4&cursor={first['next_cursor']}").get_json()

    assert sorted(x["location"] for x in by_sku) == ["EAST", "WEST"]
    assert sorted(x["sku"] for x in by_location) == ["A", "B", "C"]
    assert len(first["data"]) == 4 and len(rest["data"]) == 2 and rest["next_cursor"] is None
    assert api.get("/api/v1/stock?location=NOWHERE").status_code == 422


@pytest.mark.parametrize(
    "levels, field",
    [
        ([{"sku": "MUG", "location": "EAST", "on_hand": -1}], "levels"),
        ([{"sku": "MUG", "location": "EAST", "on_hand": 1.5}], "levels"),
        ([{"sku": "MUG", "on_hand": 1}], "levels"),
        ([], "levels"),
    ],
)
def test_bad_levels_are_422(api, warehouses, levels, field):
    response = api.post("/api/v1/stock", json={"levels": levels})

    assert response.status_code == 422
    assert field in response.get_json()["error"]["details"]


def test_an_unknown_location_refuses_the_whole_batch(api, hub, warehouses):
    response = api.post(
        "/api/v1/stock",
        json={
            "levels": [
                {"sku": "MUG", "location": "EAST", "on_hand": 5},
                {"sku": "MUG", "location": "MOON", "on_hand": 5},
            ]
        },
    )

    assert response.status_code == 422
    assert "MOON" in response.get_json()["error"]["message"]
    with hub.db.read() as session:
        assert session.scalars(select(StockMovement)).all() == []
