"""The REST API's view of a SKU's substitutes: ``GET``/``PUT /api/v1/skus/<sku>/substitutes``.

On the API's blueprint, with its token check and errors. The alternatives a
merchant offers when the SKU is missing, best first; a delay notice offers
those in stock and the customer may take one on the tracking page
(:mod:`hub.orders.substitutes`).
"""

from __future__ import annotations

import logging

from flask import g, jsonify
from marshmallow import Schema, fields, validate

from hub.inventory.levels import available_by_sku
from hub.orders import substitutes
from hub.replenishment import demand
from hub.web import get_hub
from hub.web.api import bp
from hub.web.api_schemas import OutSchema
from hub.web.apidoc import operation

log = logging.getLogger(__name__)


class SubstitutesInSchema(Schema):
    substitutes = fields.List(
        fields.String(validate=validate.Length(min=1, max=100)),
        required=True,
        validate=validate.Length(max=substitutes.MAX_SUBSTITUTES),
        metadata={"description": "SKUs offered instead, best first; [] clears them."},
    )


class SubstituteSchema(OutSchema):
    sku = fields.String(required=True)
    rank = fields.Integer(required=True, metadata={"description": "1 is offered first."})
    available = fields.Integer(
        required=True, metadata={"description": "Units available now over active locations."}
    )


class SubstitutesSchema(OutSchema):
    sku = fields.String(required=True)
    substitutes = fields.List(fields.Nested(SubstituteSchema), required=True)


def _json(db, sku: str) -> dict:
    subs = substitutes.substitutes_of(db, sku)
    available = available_by_sku(db, subs)
    return {
        "sku": sku,
        "substitutes": [
            {"sku": s, "rank": rank, "available": available.get(s, 0)}
            for rank, s in enumerate(subs, start=1)
        ],
    }


@bp.get("/skus/<sku>/substitutes")
@operation(
    "Get a SKU's substitutes",
    tag="stock",
    ok=(200, SubstitutesSchema, "The alternatives offered when it is missing, best first."),
)
def get_substitutes(sku: str):
    with get_hub().db.read() as db:
        demand.known_sku(db, sku)
        return jsonify(_json(db, sku))


@bp.put("/skus/<sku>/substitutes")
@operation(
    "Set a SKU's substitutes",
    tag="stock",
    body=SubstitutesInSchema,
    ok=(200, SubstitutesSchema, "The alternatives as stored."),
)
def put_substitutes(sku: str, body):
    """An out-of-stock delay notice offers, per missing line, the first of these with enough
    units available; the customer may take it at the same price on the tracking page."""
    with get_hub().db.transaction() as db:
        demand.known_sku(db, sku)
        substitutes.set_substitutes(db, sku, body["substitutes"], actor=g.caller.actor)
        out = _json(db, sku)
    log.info("substitutes of %s set by %s", sku, g.caller.actor)
    return jsonify(out)
