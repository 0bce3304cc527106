"""The sandbox and the connector against ShipStation's V1 reference (the Swagger in shared/vendor).

The APIs-guru conversion of ShipStation's API Blueprint keeps request bodies
as JSON schemas made from the docs' examples, and responses as examples
only (no response schema; ``definitions`` are empty). So:

- a request body is validated against the path's body schema, loosened the
  way the conversion needs: a property typed ``"null"`` (null in the example)
  may hold anything, and every typed property may also be null; the
  ``required`` lists stand;
- a response is validated against a schema read off the path's example:
  every key of the example must be there (in an array, the keys all its
  examples share), with the example's JSON type or null.

Each exchange is one the connector makes (orders out, the shipment list,
the resource of a webhook, an order by id, the stores) or one the warehouse
and a person make at ShipStation (a label, a void, a webhook subscription),
played against the sandbox over loopback.
"""

from __future__ import annotations

import copy
import json
import re
from urllib.parse import parse_qsl, urlsplit

import pytest
import requests

from hub.integration.connectors import ChannelInfo, Parcel, ShippingOrder
from hub.testing import vendor_example, vendor_file
from plugins.shipstation.connector import ShipStationConnector
from plugins.shipstation.tests.conftest import API_KEY, API_SECRET, WEBHOOK_TOKEN

jsonschema = pytest.importorskip("jsonschema")
yaml = pytest.importorskip("yaml")

SWAGGER = "shipstation/shipstation-v1.apis-guru.swagger.yaml"

# --- the reference ------------------------------------------------------------------------------


@pytest.fixture(scope="module")
def swagger() -> dict:
    with vendor_file(SWAGGER).open(encoding="utf-8") as fh:
        return yaml.safe_load(fh)


def operation(swagger: dict, method: str, path: str) -> dict:
    """The Swagger operation for a concrete path (``/orders/123``); query templates ignored.

    ``GET /shipments`` is there twice (with and without its query template):
    the one with an example answer comes first.
    """
    found = []
    for template, item in swagger["paths"].items():
        pattern = re.sub(r"\\\{[^}]+\\\}", "[^/]+", re.escape(template.split("?")[0]))
        op = item.get(method.lower())
        if op is not None and re.fullmatch(pattern, path.split("?")[0]):
            found.append(op)
    assert found, f"the reference has no {method} {path}"
    return sorted(found, key=lambda op: _example(op) is None)[0]


def _example(op: dict):
    return op.get("responses", {}).get("200", {}).get("examples", {}).get("application/json")


def _resolve(swagger: dict, schema):
    """The schema with ``#/definitions/…`` references replaced by what they name."""
    if isinstance(schema, dict):
        if "$ref" in schema:
            name = schema["$ref"].removeprefix("#/definitions/")
            return _resolve(swagger, swagger["definitions"][name])
        return {k: _resolve(swagger, v) for k, v in schema.items()}
    if isinstance(schema, list):
        return [_resolve(swagger, v) for v in schema]
    return schema


def loosened(schema):
    """A converted schema as the docs mean it: ``"null"``-typed = any type; typed = or null."""
    if isinstance(schema, list):
        return [loosened(s) for s in schema]
    if not isinstance(schema, dict):
        return schema
    out = {
        k: loosened(v) if k in ("items", "additionalProperties") else v for k, v in schema.items()
    }
    if "properties" in schema:
        out["properties"] = {k: loosened(v) for k, v in schema["properties"].items()}
    types = schema.get("type")
    if types is not None:
        types = [types] if isinstance(types, str) else list(types)
        if set(types) == {"null"}:
            del out["type"]
        else:
            out["type"] = sorted(set(types) | {"null"})
    return out


def request_schema(swagger: dict, method: str, path: str) -> dict:
    op = operation(swagger, method, path)
    [body] = [p for p in op.get("parameters", []) if p.get("in") == "body"]
    return loosened(_resolve(swagger, body["schema"]))


def _json_type(value) -> str | None:
    if value is None:
        return None
    if isinstance(value, bool):
        return "boolean"
    if isinstance(value, int | float):
        return "number"
    return {str: "string", dict: "object", list: "array"}[type(value)]


def from_example(value) -> dict:
    """A schema an answer must meet to look like the example: its keys, its types (or null)."""
    kind = _json_type(value)
    if kind is None:
        return {}
    schema: dict = {"type": [kind, "null"]}
    if kind == "object":
        schema["properties"] = {k: from_example(v) for k, v in value.items()}
        schema["required"] = sorted(value)
    elif kind == "array" and value:
        schema["items"] = _merged([from_example(v) for v in value])
    return schema


def _merged(schemas: list[dict]) -> dict:
    """One schema for an array's examples: types joined, shared keys required."""
    if any(not s for s in schemas):
        return {}
    out: dict = {"type": sorted({t for s in schemas for t in s["type"]})}
    objects = [s for s in schemas if "properties" in s]
    if objects:
        names = {k for s in objects for k in s["properties"]}
        out["properties"] = {
            k: _merged([s["properties"][k] for s in objects if k in s["properties"]]) for k in names
        }
        out["required"] = sorted(set.intersection(*(set(s["required"]) for s in objects)))
    arrays = [s["items"] for s in schemas if "items" in s]
    if arrays:
        out["items"] = _merged(arrays)
    return out


def response_schema(swagger: dict, method: str, path: str) -> dict:
    op = operation(swagger, method, path)
    declared = op.get("responses", {}).get("200", {}).get("schema")
    if declared:
        return loosened(_resolve(swagger, declared))
    example = _example(op)
    assert example is not None, f"the reference has neither schema nor example for {method} {path}"
    return from_example(example)


def problems(schema: dict, instance) -> list[str]:
    validator = jsonschema.Draft4Validator(schema)
    return [
        f"{'/'.join(map(str, e.absolute_path)) or '(top)'}: {e.message}"
        for e in sorted(validator.iter_errors(instance), key=lambda e: list(map(str, e.path)))
    ]


# --- the exchanges ---------------------------------------------------------------------------------


class Recorder:
    """Every request a ``requests`` session sends, with its answer (a response hook)."""

    def __init__(self):
        self.exchanges: list[tuple[str, str, dict, object, int, object]] = []

    def __call__(self, response, *args, **kwargs):
        request = response.request
        parts = urlsplit(request.url)
        body = json.loads(request.body) if request.body else None
        self.exchanges.append(
            (
                request.method,
                parts.path,
                dict(parse_qsl(parts.query)),
                body,
                response.status_code,
                response.json(),
            )
        )

    def of(self, method: str, path: str) -> list:
        return [e for e in self.exchanges if e[0] == method and e[1] == path]


def _order(n: int) -> ShippingOrder:
    order = {
        "id": n,
        "number": f"#{1000 + n}",
        "currency": "USD",
        "email": "ann@example.com",
        "customer": {"email": "ann@example.com", "name": "Ann Smith", "phone": "555-0100"},
        "shipping_address": {
            "name": "Ann Smith",
            "address1": "1 Main St",
            "city": "Springfield",
            "province_code": "OR",
            "zip": "97477",
            "country_code": "US",
        },
        "billing_address": None,
        "shipping": "5.00",
        "tax": "1.00",
        "total": "26.00",
        "placed_at": "2024-01-10T20:00:00+00:00",
        "notes": None,
        "lines": [{"id": 1, "sku": "MUG", "name": "Mug", "quantity": 2, "unit_price": "10.00"}],
    }
    # Orders 2 and 3 carry what the service-level rules chose and the parcel (hub.routing).
    service: dict = (
        {
            "carrier_code": "ups",
            "service_code": "ups_ground",
            "requested_service": "Standard",
            "weight_grams": 700,
            "dimensions_mm": (120, 90, 200),
        }
        if n > 1
        else {}
    )
    return ShippingOrder(
        key=f"hub-{n}",
        order=order,
        lines=[{"line_id": 1, "sku": "MUG", "name": "Mug", "quantity": 2, "unit_price": "10.00"}],
        **service,
    )


@pytest.fixture
def played(sandbox):
    """The connector's calls and the warehouse's, against the sandbox, all recorded."""
    recorder = Recorder()
    connector = ShipStationConnector(
        ChannelInfo(
            id=1,
            slug="ss",
            name="SS",
            connector="shipstation",
            config={
                "api_key": API_KEY,
                "api_secret": API_SECRET,
                "webhook_token": WEBHOOK_TOKEN,
                "api_base_url": sandbox.base_url,
                "store_id": sandbox.store_id,
            },
            allow_private_targets=True,  # the sandbox listens on 127.0.0.1
        )
    )
    connector.http.session.hooks["response"].append(recorder)
    connector.quotes_http.session.hooks["response"].append(recorder)
    warehouse = requests.Session()
    warehouse.auth = (API_KEY, API_SECRET)
    warehouse.hooks["response"].append(recorder)
    try:
        assert connector.check_connection().startswith("connected")
        accepted = connector.submit_orders([_order(1)])  # createorder
        accepted.update(connector.submit_orders([_order(2), _order(3)]))  # createorders
        subscribe = {
            "target_url": "https://hub.example/webhooks/ss?token=x",
            "event": "SHIP_NOTIFY",
            "store_id": sandbox.store_id,
            "friendly_name": "hub",
        }
        assert warehouse.post(
            f"{sandbox.base_url}/webhooks/subscribe", json=subscribe, timeout=10
        ).ok
        assert warehouse.get(f"{sandbox.base_url}/webhooks", timeout=10).ok
        assert warehouse.get(f"{sandbox.base_url}/carriers", timeout=10).ok
        # Rate quotes for routing: the account's carriers, then getrates per carrier.
        assert connector.quote_rates(Parcel("78703", "US", "20500", "US", 680, to_state="DC"))
        assert warehouse.get(f"{sandbox.base_url}/orders/{accepted['hub-1']}", timeout=10).ok
        label = warehouse.post(
            f"{sandbox.base_url}/orders/createlabelfororder",
            timeout=10,
            json={
                "orderId": int(accepted["hub-1"]),
                "carrierCode": "ups",
                "serviceCode": "ups_ground",
                "packageCode": "package",
                "confirmation": None,
                "shipDate": "2024-03-11",
                "weight": {"value": 16, "units": "ounces"},
                "testLabel": False,
            },
        ).json()
        sandbox.create_labels(["hub-2", "hub-3"])
        [(_, notice)] = sandbox.outbox[-1:]
        assert warehouse.post(
            f"{sandbox.base_url}/shipments/voidlabel",
            timeout=10,
            json={"shipmentId": label["shipmentId"]},
        ).json()["approved"]
        # The shipments come back by webhook (with a shipment that does not name its order)
        # and by poll.
        sandbox.shipments_name_order_key = False  # as ShipStation's own list example
        port = _Port()
        connector.handle_webhook(port, "SHIP_NOTIFY", json.dumps(notice).encode(), {})
        list(connector.fetch_shipments(sandbox.now().replace(year=2000)))
        # Named by the orderId ShipStation answered at createorders (the hub keeps it with the group).
        assert {n.group_ref for n in port.notices} == {accepted["hub-2"], accepted["hub-3"]}
        yield recorder, notice
    finally:
        connector.close()
        warehouse.close()


class _Port:
    def __init__(self):
        self.notices = []

    def record_shipment(self, notice):
        self.notices.append(notice)
        return 1


#: The calls whose answers the test checks, each at least once.
CHECKED = [
    ("GET", "/stores"),
    ("POST", "/orders/createorder"),
    ("POST", "/orders/createorders"),
    ("POST", "/webhooks/subscribe"),
    ("GET", "/webhooks"),
    ("GET", "/carriers"),
    ("POST", "/orders/createlabelfororder"),
    ("POST", "/shipments/voidlabel"),
    ("GET", "/shipments"),
    ("GET", "/orders/{orderId}"),
    ("POST", "/shipments/getrates"),
]


def _template(path: str) -> str:
    return re.sub(r"^/orders/\d+$", "/orders/{orderId}", path)


def test_every_sandbox_answer_has_the_shape_of_shipstations_reference(played, swagger):
    recorder, _ = played
    seen = set()
    for method, path, _, _, status, answer in recorder.exchanges:
        assert status == 200, (method, path, answer)
        seen.add((method, _template(path)))
        found = problems(response_schema(swagger, method, path), answer)
        assert not found, f"{method} {path} answer differs from ShipStation's example: {found}"
    assert seen >= set(CHECKED)


def test_the_connectors_order_bodies_meet_shipstations_request_schemas(played, swagger):
    recorder, _ = played
    [(*_, one, _, _)] = recorder.of("POST", "/orders/createorder")
    [(*_, many, _, _)] = recorder.of("POST", "/orders/createorders")
    assert one["orderKey"] == "hub-1" and [o["orderKey"] for o in many] == ["hub-2", "hub-3"]
    rates = [body for *_, body, _, _ in recorder.of("POST", "/shipments/getrates")]
    assert rates
    for path, body in (
        ("/orders/createorder", one),
        ("/orders/createorders", many),
        *(("/shipments/getrates", r) for r in rates),
    ):
        found = problems(request_schema(swagger, "POST", path), body)
        assert not found, f"POST {path} body differs from ShipStation's schema: {found}"


def test_the_warehouses_request_bodies_in_this_test_meet_the_schemas_too(played, swagger):
    recorder, _ = played
    for method, path in (
        ("POST", "/webhooks/subscribe"),
        ("POST", "/orders/createlabelfororder"),
        ("POST", "/shipments/voidlabel"),
    ):
        [(*_, body, _, _)] = recorder.of(method, path)
        assert not problems(request_schema(swagger, method, path), body), path


def test_the_shipment_queries_use_documented_filters_and_values(played, swagger):
    recorder, _ = played
    [filters] = [
        item["get"]
        for template, item in swagger["paths"].items()
        if template.startswith("/shipments?")
    ]
    documented = {p["name"]: p for p in filters["parameters"]}
    # storeId is missing from this (apiary) copy; ShipStation's current V1 page lists it
    # (www.shipstation.com/docs/api/shipments/list/), and its own SHIP_NOTIFY URLs carry storeID
    # and batchId.
    names = {n.lower() for n in documented} | {"storeid", "batchid"}
    queries = [query for _, _, query, *_ in recorder.of("GET", "/shipments")]
    assert len(queries) >= 3  # the webhook's resource, the created window, the voided window
    for query in queries:
        assert {k.lower() for k in query} <= names, query
        for name, value in query.items():
            allowed = documented.get(name, {}).get("enum")
            assert allowed is None or value in allowed, (name, value, allowed)


def test_the_sandboxs_webhook_body_is_shipstations_documented_model(played):
    _, notice = played
    model = vendor_example("shipstation/webhook.model.docs.json")
    assert set(notice) == set(model["fields"])
    assert all(isinstance(notice[k], str) for k in model["fields"])
    assert notice["resource_type"] in model["resource_type_values"]
    assert len(notice["resource_url"]) <= 200  # "200-character limit"


def test_the_checks_catch_a_drifted_answer(swagger):
    # The schema read off the example refuses a shipment list that lost a key or changed a type.
    listed = vendor_example("shipstation/shipments.list.response.json")
    schema = response_schema(swagger, "GET", "/shipments")
    assert problems(schema, listed) == []
    drifted = copy.deepcopy(listed)
    del drifted["shipments"][0]["trackingNumber"]
    drifted["shipments"][1]["shipmentId"] = "33974373"
    assert len(problems(schema, drifted)) == 2
    order = request_schema(swagger, "POST", "/orders/createorder")
    assert problems(order, {"orderNumber": "1", "items": [{"sku": "A", "quantity": "2"}]})
