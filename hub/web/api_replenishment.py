"""The REST API's replenishment views: one SKU's demand, its reorder policy and settings,
and the suggestions of what to buy (with the draft purchase orders made from them).

On the API's blueprint, with its token check and errors. The figures are
:mod:`hub.replenishment`'s (:func:`hub.replenishment.demand.sku_demand`, the one
read the admin's SKU page shares); these views load, call and serialise.
"""

from __future__ import annotations

import logging
from datetime import date, datetime
from typing import Any

from flask import g, jsonify
from marshmallow import Schema, fields, validate

from hub.inventory import backorders
from hub.inventory.levels import get_location
from hub.purchasing import suggestions
from hub.replenishment import demand, policies
from hub.replenishment.forecasts import forecasts_of
from hub.replenishment.schemas import KINDS, ReorderPolicyInSchema
from hub.web import get_hub
from hub.web.api import bp, created
from hub.web.api_schemas import OutSchema
from hub.web.apidoc import operation

log = logging.getLogger(__name__)

_DATE = {"format": "date"}
_LOCATION = {"description": "A location's code; left out: all locations together."}


# --- schemas ----------------------------------------------------------------------------------


class DemandQuerySchema(Schema):
    location = fields.String(validate=validate.Length(min=1, max=100), metadata=_LOCATION)
    days = fields.Integer(
        load_default=demand.HISTORY_DAYS,
        validate=validate.Range(min=1, max=demand.MAX_HISTORY_DAYS),
        metadata={"description": "Days of history, up to yesterday (UTC)."},
    )


class PolicyQuerySchema(Schema):
    location = fields.String(validate=validate.Length(min=1, max=100), metadata=_LOCATION)


class DayQuantitySchema(OutSchema):
    date = fields.String(required=True, metadata=_DATE)
    quantity = fields.Float(
        required=True, metadata={"description": "Units sold less units returned that day."}
    )


class ForecastDaySchema(DayQuantitySchema):
    lower = fields.Float(required=True, metadata={"description": "The 80% band's low edge."})
    upper = fields.Float(required=True, metadata={"description": "The 80% band's high edge."})


class ForecastSchema(OutSchema):
    method = fields.String(required=True, metadata={"description": "AutoETS, IMAPA, mean or none."})
    demand_class = fields.String(
        required=True, metadata={"description": "smooth, intermittent, short or none."}
    )
    history_days = fields.Integer(required=True)
    mean_daily = fields.Float(required=True)
    sigma = fields.Float(
        required=True, metadata={"description": "Standard deviation of one day's error."}
    )
    computed_at = fields.String(required=True, metadata={"format": "date-time"})
    days = fields.List(fields.Nested(ForecastDaySchema), required=True)


class StockRowSchema(OutSchema):
    location = fields.String(required=True)
    location_name = fields.String(required=True)
    on_hand = fields.Integer(required=True)
    reserved = fields.Integer(required=True)
    available = fields.Integer(required=True)


class ArithmeticSchema(OutSchema):
    lead_time_days = fields.Integer(required=True)
    review_days = fields.Integer(required=True)
    service_level = fields.Float(required=True)
    sigma = fields.Float(required=True)
    z = fields.Float(required=True)
    lead_time_daily = fields.Float(required=True)
    lead_time_demand = fields.Float(required=True)
    safety_stock = fields.Float(required=True)
    reorder_point = fields.Integer(required=True)
    review_demand = fields.Float(required=True)
    order_up_to = fields.Integer(required=True)
    lines = fields.List(fields.String(), required=True)


class ReorderPolicySchema(OutSchema):
    sku = fields.String(required=True)
    location = fields.String(required=True, allow_none=True, metadata=_LOCATION)
    kind = fields.String(required=True, validate=validate.OneOf(KINDS))
    stored = fields.Boolean(
        required=True, metadata={"description": "false: the default policy, never set."}
    )
    min_quantity = fields.Integer(required=True, allow_none=True)
    max_quantity = fields.Integer(required=True, allow_none=True)
    service_level = fields.Float(required=True)
    lead_time_days = fields.Integer(required=True)
    review_days = fields.Integer(required=True)
    updated_by = fields.String(required=True, allow_none=True)
    updated_at = fields.String(required=True, allow_none=True, metadata={"format": "date-time"})
    reorder_point = fields.Integer(
        required=True, allow_none=True, metadata={"description": "null: no forecast yet."}
    )
    order_up_to = fields.Integer(required=True, allow_none=True)
    arithmetic = fields.Nested(ArithmeticSchema, required=True, allow_none=True)
    lines = fields.List(
        fields.String(), required=True, metadata={"description": "The arithmetic in words."}
    )


class SkuDemandSchema(OutSchema):
    sku = fields.String(required=True)
    location = fields.String(required=True, allow_none=True, metadata=_LOCATION)
    history = fields.List(fields.Nested(DayQuantitySchema), required=True)
    forecast = fields.Nested(ForecastSchema, required=True, allow_none=True)
    stock = fields.List(fields.Nested(StockRowSchema), required=True)
    available = fields.Integer(required=True)
    days_of_cover = fields.Float(
        required=True,
        allow_none=True,
        metadata={"description": "available / mean daily forecast; null without demand."},
    )
    policy = fields.Nested(ReorderPolicySchema, required=True)


# --- views ------------------------------------------------------------------------------------


def plain(value: Any) -> Any:
    """Dates and times as ISO strings, all the way down."""
    if isinstance(value, datetime | date):
        return value.isoformat()
    if isinstance(value, dict):
        return {k: plain(v) for k, v in value.items()}
    if isinstance(value, list):
        return [plain(v) for v in value]
    return value


@bp.get("/skus/<sku>/demand")
@operation(
    "Get a SKU's demand",
    tag="replenishment",
    query=DemandQuerySchema,
    ok=(200, SkuDemandSchema, "History, forecast, stock, days of cover and the reorder policy."),
)
def get_sku_demand(sku: str, query):
    """Daily net demand (sales less returns, cancelled orders left out) up to yesterday, the
    stored forecast of the next 28 days with its 80% band, stock per location, days of
    cover and the reorder policy with its arithmetic. See docs/replenishment.md."""
    with get_hub().db.read() as db:
        out = demand.sku_demand(db, sku, location=query.get("location"), days=query["days"])
    policy = {"sku": sku, "location": out["location"], **out["policy"]}
    return jsonify(plain({**out, "policy": policy}))


def _policy_json(db, sku: str, location: str | None) -> dict[str, Any]:
    location_id = demand.location_id_of(db, location)
    applied = policies.apply(
        policies.policy_of(db, sku, location_id), forecasts_of(db, sku).get(location_id)
    )
    return plain({"sku": sku, "location": location, **applied})


@bp.get("/skus/<sku>/reorder-policy")
@operation(
    "Get a SKU's reorder policy",
    tag="replenishment",
    query=PolicyQuerySchema,
    ok=(200, ReorderPolicySchema, "The policy (the default when none was set) and its figures."),
)
def get_reorder_policy(sku: str, query):
    with get_hub().db.read() as db:
        demand.known_sku(db, sku)
        return jsonify(_policy_json(db, sku, query.get("location")))


@bp.put("/skus/<sku>/reorder-policy")
@operation(
    "Set a SKU's reorder policy",
    tag="replenishment",
    body=ReorderPolicyInSchema,
    ok=(200, ReorderPolicySchema, "The policy as stored and its figures."),
)
def put_reorder_policy(sku: str, body):
    """``fixed`` takes ``min_quantity`` and ``max_quantity``; ``computed`` takes the
    service level, lead time and review period and works the figures out from the forecast."""
    with get_hub().db.transaction() as db:
        demand.known_sku(db, sku)
        location = body["location"]
        policies.set_policy(
            db, sku, demand.location_id_of(db, location), body, actor=g.caller.actor
        )
        out = _policy_json(db, sku, location)
    log.info("reorder policy of %s at %s set by %s", sku, location or "all", g.caller.actor)
    return jsonify(out)


# --- per-SKU settings, suggestions and the drafts made from them (hub.purchasing.suggestions) --


class SkuSettingsSchema(OutSchema):
    sku = fields.String(required=True)
    allow_backorder = fields.Boolean(
        required=True,
        metadata={
            "description": "Orders lacking stock wait for units on a purchase order instead "
            "of being held out_of_stock."
        },
    )


class SkuSettingsInSchema(Schema):
    allow_backorder = fields.Boolean(required=True)


class SuggestionSchema(OutSchema):
    sku = fields.String(required=True)
    location = fields.String(required=True)
    location_id = fields.Integer(required=True)
    available = fields.Integer(
        required=True,
        metadata={"description": "On hand − reserved − promised to backorders there."},
    )
    incoming = fields.Integer(required=True, metadata={"description": "On purchase orders."})
    reorder_point = fields.Integer(required=True)
    order_up_to = fields.Integer(required=True)
    suggested_quantity = fields.Integer(
        required=True,
        metadata={
            "description": "order_up_to − available − incoming, rounded up to the preferred "
            "supplier's minimum order and pack size."
        },
    )
    supplier_id = fields.Integer(
        required=True, allow_none=True, metadata={"description": "The preferred supplier."}
    )


class SuggestionsSchema(OutSchema):
    data = fields.List(fields.Nested(SuggestionSchema), required=True)


class PickSchema(Schema):
    sku = fields.String(required=True, validate=validate.Length(min=1, max=100))
    location = fields.String(required=True, validate=validate.Length(min=1, max=100))
    quantity = fields.Integer(required=True, validate=validate.Range(min=1, max=10_000_000))


class DraftsInSchema(Schema):
    rows = fields.List(
        fields.Nested(PickSchema), required=True, validate=validate.Length(min=1, max=500)
    )


class DraftMadeSchema(OutSchema):
    id = fields.Integer(required=True)
    number = fields.String(required=True)
    supplier_id = fields.Integer(required=True)
    location = fields.String(required=True)
    lines = fields.Integer(required=True)


class DraftsMadeSchema(OutSchema):
    data = fields.List(fields.Nested(DraftMadeSchema), required=True)


def _settings_json(db, sku: str) -> dict[str, Any]:
    return {"sku": sku, "allow_backorder": sku in backorders.allows_backorder(db, [sku])}


@bp.get("/skus/<sku>/settings")
@operation(
    "Get a SKU's settings",
    tag="replenishment",
    ok=(200, SkuSettingsSchema, "Whether orders may wait for stock on its way."),
)
def get_sku_settings(sku: str):
    with get_hub().db.read() as db:
        demand.known_sku(db, sku)
        return jsonify(_settings_json(db, sku))


@bp.put("/skus/<sku>/settings")
@operation(
    "Set a SKU's settings",
    tag="replenishment",
    body=SkuSettingsInSchema,
    ok=(200, SkuSettingsSchema, "The settings as stored."),
)
def put_sku_settings(sku: str, body):
    """``allow_backorder``: an order short of this SKU is confirmed with the missing units
    backordered from a sent purchase order (``order.backordered``) instead of held."""
    with get_hub().db.transaction() as db:
        demand.known_sku(db, sku)
        backorders.set_allow_backorder(db, sku, body["allow_backorder"], actor=g.caller.actor)
        out = _settings_json(db, sku)
    log.info("backorders of %s %s by %s", sku, out["allow_backorder"], g.caller.actor)
    return jsonify(out)


@bp.get("/replenishment")
@operation(
    "List replenishment suggestions",
    tag="replenishment",
    ok=(200, SuggestionsSchema, "Every SKU and location below its reorder point, by SKU."),
)
def list_replenishment():
    """Rows where available + incoming is below the reorder point, with what to buy and
    from whom. See docs/replenishment.md, Suggestions."""
    with get_hub().db.read() as db:
        return jsonify(data=suggestions.suggestions(db))


@bp.post("/replenishment/purchase-orders")
@operation(
    "Make draft purchase orders from suggestions",
    tag="replenishment",
    body=DraftsInSchema,
    ok=(201, DraftsMadeSchema, "One draft per preferred supplier and location."),
)
def draft_from_suggestions(body):
    """Each row's SKU goes to its preferred supplier's draft for that location, at the
    supplier's cost price; 422 naming the row when a SKU has no preferred supplier
    (nothing is made then)."""
    with get_hub().db.transaction() as db:
        picks = [
            (row["sku"], get_location(db, row["location"]).id, row["quantity"])
            for row in body["rows"]
        ]
        made = suggestions.draft_orders(db, picks, actor=g.caller.actor)
        out = [
            {
                "id": po.id,
                "number": po.number,
                "supplier_id": po.supplier_id,
                "location": po.location.code,
                "lines": len(po.lines),
            }
            for po in made
        ]
    log.info("%d draft purchase order(s) from suggestions by %s", len(out), g.caller.actor)
    return created({"data": out})
