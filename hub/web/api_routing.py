"""The REST API's service-level views: a SKU's attributes (one, or many from CSV) and the
ordered service-level rules. An order's delivery promise is part of its detail
(``delivery``, :func:`hub.routing.promise.delivery_json`).

On the API's blueprint, with its token check and errors. The rules and checks are
:mod:`hub.routing.service_levels`' and :mod:`hub.inventory.attributes`'; these views
load, call and serialise.
"""

from __future__ import annotations

import logging
from typing import Any

from flask import g, jsonify
from marshmallow import Schema, fields, validate

from hub.core.exceptions import NotFound
from hub.inventory import attributes
from hub.replenishment import demand
from hub.routing import promise, service_levels
from hub.store.models import ServiceLevelRule
from hub.web import get_hub
from hub.web.api import bp, created
from hub.web.api_schemas import OutSchema
from hub.web.apidoc import operation

log = logging.getLogger(__name__)


# --- SKU attributes -------------------------------------------------------------------------------


class SkuAttributesOutSchema(OutSchema):
    sku = fields.String(required=True)
    weight_grams = fields.Integer(required=True, allow_none=True, metadata={"description": "grams"})
    length_mm = fields.Integer(required=True, allow_none=True, metadata={"description": "mm"})
    width_mm = fields.Integer(required=True, allow_none=True, metadata={"description": "mm"})
    height_mm = fields.Integer(required=True, allow_none=True, metadata={"description": "mm"})
    hazardous = fields.Boolean(required=True)
    fragile = fields.Boolean(required=True)
    updated_by = fields.String(required=True)
    updated_at = fields.String(required=True, allow_none=True, metadata={"format": "date-time"})


class SkuAttributesImportSchema(Schema):
    csv = fields.String(
        required=True,
        validate=validate.Length(min=1, max=5_000_000),
        metadata={
            "description": "CSV text with a header: sku and any of "
            + ", ".join(attributes.CSV_COLUMNS[1:])
            + " (hazardous and fragile: yes/no)."
        },
    )


class RefusedRowSchema(OutSchema):
    line = fields.Integer(required=True)
    sku = fields.String(required=True)
    reason = fields.String(required=True)


class SkuAttributesImportedSchema(OutSchema):
    changed = fields.Integer(required=True)
    refused = fields.List(fields.Nested(RefusedRowSchema), required=True)


@bp.get("/skus/<sku>/attributes")
@operation(
    "Get a SKU's attributes",
    tag="routing",
    ok=(200, SkuAttributesOutSchema, "Weight (g), dimensions (mm), hazardous, fragile."),
)
def get_sku_attributes(sku: str):
    with get_hub().db.read() as db:
        demand.known_sku(db, sku)
        return jsonify(attributes.as_json(sku, attributes.get(db, sku)))


@bp.put("/skus/<sku>/attributes")
@operation(
    "Set a SKU's attributes",
    tag="routing",
    body=attributes.SkuAttributesSchema,
    ok=(200, SkuAttributesOutSchema, "The attributes as stored."),
)
def put_sku_attributes(sku: str, body):
    """Fields left out stay as they are; `null` clears a weight or a dimension."""
    with get_hub().db.transaction() as db:
        demand.known_sku(db, sku)
        row = attributes.set_attributes(db, sku, body, actor=g.caller.actor)
        out = attributes.as_json(sku, row)
    log.info("attributes of %s set by %s", sku, g.caller.actor)
    return jsonify(out)


@bp.post("/sku-attributes/import")
@operation(
    "Import SKU attributes from CSV",
    tag="routing",
    body=SkuAttributesImportSchema,
    ok=(200, SkuAttributesImportedSchema, "How many SKUs changed, and each refused row."),
)
def import_sku_attributes(body):
    """Every valid row is applied; a refused row (unknown SKU, a value out of range)
    comes back with its line number and reason. A file without a usable header is
    refused whole (422)."""
    with get_hub().db.transaction() as db:
        result = attributes.import_csv(db, body["csv"], actor=g.caller.actor)
    return jsonify(
        changed=result.changed,
        refused=[{"line": n, "sku": sku, "reason": why} for n, sku, why in result.refused],
    )


# --- service-level rules ----------------------------------------------------------------------------


class RuleOutSchema(OutSchema):
    id = fields.Integer(required=True)
    position = fields.Integer(required=True, metadata={"description": "Tried in this order."})
    name = fields.String(required=True)
    method_contains = fields.String(required=True)
    method_equals = fields.String(required=True)
    any_hazardous = fields.Boolean(required=True)
    any_fragile = fields.Boolean(required=True)
    weight_over_grams = fields.Integer(required=True, allow_none=True)
    weight_under_grams = fields.Integer(required=True, allow_none=True)
    countries = fields.List(fields.String(), required=True)
    action = fields.String(required=True, validate=validate.OneOf(service_levels.ACTIONS))
    carrier_code = fields.String(required=True)
    service_code = fields.String(required=True)
    enabled = fields.Boolean(required=True)
    conditions = fields.String(required=True, metadata={"description": "The conditions in words."})


class RulesSchema(OutSchema):
    data = fields.List(fields.Nested(RuleOutSchema), required=True)


def rule_json(rule: ServiceLevelRule) -> dict[str, Any]:
    return {
        "id": rule.id,
        "position": rule.position,
        "name": rule.name,
        "method_contains": rule.method_contains,
        "method_equals": rule.method_equals,
        "any_hazardous": rule.any_hazardous,
        "any_fragile": rule.any_fragile,
        "weight_over_grams": rule.weight_over_grams,
        "weight_under_grams": rule.weight_under_grams,
        "countries": list(rule.countries or []),
        "action": rule.action,
        "carrier_code": rule.carrier_code,
        "service_code": rule.service_code,
        "enabled": rule.enabled,
        "conditions": service_levels.conditions_in_words(rule),
    }


@bp.get("/service-level-rules")
@operation(
    "List the service-level rules",
    tag="routing",
    ok=(200, RulesSchema, "Every rule, in the order they are tried."),
)
def list_service_level_rules():
    """The first matching `service` rule names the carrier service; every matching
    `ground_only` rule applies on top (never an air service). See docs/routing.md."""
    with get_hub().db.read() as db:
        return jsonify(data=[rule_json(r) for r in service_levels.ordered_rules(db)])


@bp.post("/service-level-rules")
@operation(
    "Add a service-level rule",
    tag="routing",
    body=service_levels.RuleSchema,
    ok=(201, RuleOutSchema, "The rule, added last."),
)
def create_service_level_rule(body):
    with get_hub().db.transaction() as db:
        rule = service_levels.add_rule(db, body, actor=g.caller.actor)
        out = rule_json(rule)
    log.info("service-level rule %s added by %s", out["id"], g.caller.actor)
    return created(out)


@bp.put("/service-level-rules/<int:rule_id>")
@operation(
    "Change a service-level rule",
    tag="routing",
    body=service_levels.RuleSchema,
    ok=(200, RuleOutSchema, "The rule as stored (its place stays)."),
)
def put_service_level_rule(rule_id: int, body):
    with get_hub().db.transaction() as db:
        out = rule_json(service_levels.update_rule(db, rule_id, body, actor=g.caller.actor))
    log.info("service-level rule %s changed by %s", rule_id, g.caller.actor)
    return jsonify(out)


@bp.delete("/service-level-rules/<int:rule_id>")
@operation(
    "Delete a service-level rule",
    tag="routing",
    ok=(204, None, "Deleted; the rules after it move up."),
)
def delete_service_level_rule(rule_id: int):
    with get_hub().db.transaction() as db:
        service_levels.delete_rule(db, rule_id)
    log.info("service-level rule %s deleted by %s", rule_id, g.caller.actor)
    return "", 204


# --- when locations ship, and how long parcels travel (hub.routing.promise) ------------------------


class ShippingDaysSchema(OutSchema):
    location = fields.String(required=True)
    cutoff = fields.String(
        required=True, metadata={"description": "HH:MM in the shop's time zone."}
    )
    working_days = fields.String(
        required=True, metadata={"description": "ISO weekday digits: `12345` is Monday to Friday."}
    )


class ShippingDaysInSchema(Schema):
    cutoff = fields.String(required=True, validate=validate.Length(min=4, max=5))
    working_days = fields.String(required=True, validate=validate.Length(min=1, max=7))


class TransitTimeSchema(OutSchema):
    zone = fields.String(required=True, metadata={"description": "A country code, or `*`."})
    days = fields.Integer(required=True, metadata={"description": "Working days in transit."})
    air_days = fields.Integer(
        required=True, allow_none=True, metadata={"description": "When the service flies."}
    )


class TransitTimesSchema(OutSchema):
    data = fields.List(fields.Nested(TransitTimeSchema), required=True)


class TransitTimeInSchema(Schema):
    days = fields.Integer(required=True, strict=True, validate=validate.Range(min=0, max=60))
    air_days = fields.Integer(
        load_default=None, allow_none=True, strict=True, validate=validate.Range(min=0, max=60)
    )


@bp.get("/locations/<code>/shipping-days")
@operation(
    "Get when a location ships",
    tag="routing",
    ok=(200, ShippingDaysSchema, "Its cut-off and working days (the defaults when none are set)."),
)
def get_shipping_days(code: str):
    with get_hub().db.read() as db:
        days = promise.shipping_days(db, [code])
        if code not in days:
            raise NotFound(f"location {code!r} does not exist")
        return jsonify(
            location=code, cutoff=days[code].cutoff, working_days=days[code].working_days
        )


@bp.put("/locations/<code>/shipping-days")
@operation(
    "Set when a location ships",
    tag="routing",
    body=ShippingDaysInSchema,
    ok=(200, ShippingDaysSchema, "As stored."),
)
def put_shipping_days(code: str, body):
    """Orders routed before `cutoff` on a working day ship that day (the delivery promise)."""
    with get_hub().db.transaction() as db:
        row = promise.set_shipping_days(
            db, code, cutoff=body["cutoff"], working_days=body["working_days"], actor=g.caller.actor
        )
        out = {"location": code, "cutoff": row.cutoff, "working_days": row.working_days}
    return jsonify(out)


def _transit_json(row) -> dict[str, Any]:
    return {"zone": row.zone, "days": row.days, "air_days": row.air_days}


@bp.get("/transit-times")
@operation(
    "List the transit times",
    tag="routing",
    ok=(
        200,
        TransitTimesSchema,
        "Working days in transit per destination country; `*` for others.",
    ),
)
def list_transit_times():
    with get_hub().db.read() as db:
        return jsonify(data=[_transit_json(r) for r in promise.transit_table(db)])


@bp.put("/transit-times/<zone>")
@operation(
    "Set a transit time",
    tag="routing",
    body=TransitTimeInSchema,
    ok=(200, TransitTimeSchema, "As stored."),
)
def put_transit_time(zone: str, body):
    with get_hub().db.transaction() as db:
        out = _transit_json(
            promise.set_transit(db, zone, body["days"], body["air_days"], actor=g.caller.actor)
        )
    return jsonify(out)


@bp.delete("/transit-times/<zone>")
@operation("Delete a transit time", tag="routing", ok=(204, None, "Deleted."))
def delete_transit_time(zone: str):
    with get_hub().db.transaction() as db:
        promise.delete_transit(db, zone)
    return "", 204
