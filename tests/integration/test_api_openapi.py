"""/api/v1/openapi.json and /api/v1/docs: generated from the same declarations the views check."""

from __future__ import annotations

import re


def test_the_document_covers_every_api_route_with_bearer_security(api, app):
    spec = api.get("/api/v1/openapi.json").get_json()

    assert spec["openapi"].startswith("3.")
    assert spec["components"]["securitySchemes"]["bearerAuth"] == {
        "type": "http",
        "scheme": "bearer",
        "description": "An API token from `hub token create` (or the admin UI).",
    }
    assert spec["security"] == [{"bearerAuth": []}]
    documented = {(method.upper(), path) for path, ops in spec["paths"].items() for method in ops}
    routed = {
        (method, re.sub(r"<(?:[^:<>]+:)?([^<>]+)>", r"{\1}", rule.rule))
        for rule in app.url_map.iter_rules()
        if rule.endpoint.startswith("api.")
        for method in rule.methods - {"HEAD", "OPTIONS"}
    }
    assert documented == routed - {("GET", "/api/v1/openapi.json"), ("GET", "/api/v1/docs")}


def test_request_bodies_come_from_the_marshmallow_schemas(api):
    spec = api.get("/api/v1/openapi.json").get_json()
    schemas = spec["components"]["schemas"]

    create_order = spec["paths"]["/api/v1/orders"]["post"]
    assert create_order["requestBody"]["content"]["application/json"]["schema"] == {
        "$ref": "#/components/schemas/ManualOrder"
    }
    assert set(schemas["ManualOrder"]["required"]) == {
        "customer",
        "shipping_address",
        "lines",
        "currency",
    }
    assert schemas["ManualOrder"]["properties"]["currency"]["enum"][:2] == ["AED", "AFN"]
    assert {"200", "201", "400", "401", "422"} <= set(create_order["responses"])
    transition = spec["paths"]["/api/v1/orders/{order_id}/transitions"]["post"]
    assert "409" in transition["responses"]
    assert "ship_partial" not in schemas["TransitionIn"]["properties"]["event"]["enum"]
    order_id = transition["parameters"][0]
    assert order_id == {
        "in": "path",
        "name": "order_id",
        "required": True,
        "schema": {"type": "integer", "minimum": 1, "maximum": 2**31 - 1},
    }
    assert schemas["Error"]["properties"]["error"] == {"$ref": "#/components/schemas/ErrorBody"}


def test_the_docs_page_lists_every_operation_and_loads_nothing_from_elsewhere(api):
    spec = api.get("/api/v1/openapi.json").get_json()

    response = api.get("/api/v1/docs")

    assert response.status_code == 200
    assert response.mimetype == "text/html"
    html = response.get_data(as_text=True)
    for path, operations in spec["paths"].items():
        for op in operations.values():
            assert f'id="op-{op["operationId"]}"' in html
            assert path in html
    assert "ManualOrder" in html and "Longer" not in html
    assert "<script" not in html
    assert not re.search(r"""(src|href)=["']?(https?:)?//""", html)
