"""The REST API's routing policy: how a sales channel's orders are routed to locations.

On the API's blueprint, with its token check and errors. The setting and the
strategies are :mod:`hub.routing.strategies`'; these views load, call and serialise.
"""

from __future__ import annotations

import logging

from flask import g, jsonify
from marshmallow import Schema, fields, validate

from hub.routing import strategies
from hub.store.models import Channel
from hub.web import get_hub
from hub.web.api import _get, bp
from hub.web.api_schemas import OutSchema
from hub.web.apidoc import ID, operation

log = logging.getLogger(__name__)

_STRATEGY = {
    "description": "`priority` (the highest-priority location with everything; the default), "
    "`nearest` (the closest location with everything, else the fewest shipments, then the "
    "least total great-circle distance) or `cheapest` (the lowest carrier rate quote of the "
    "nearest candidate plans; `nearest` when quotes fail)."
}


class RoutingPolicySchema(OutSchema):
    channel_id = fields.Integer(required=True)
    strategy = fields.String(
        required=True, validate=validate.OneOf(strategies.STRATEGIES), metadata=_STRATEGY
    )


class RoutingPolicyBodySchema(Schema):
    strategy = fields.String(
        required=True, validate=validate.OneOf(strategies.STRATEGIES), metadata=_STRATEGY
    )


@bp.get(f"/channels/<{ID}:channel_id>/routing")
@operation(
    "Get a channel's routing strategy",
    tag="routing",
    ok=(200, RoutingPolicySchema, "How the channel's orders are routed (`priority` unless set)."),
)
def get_routing_policy(channel_id: int):
    with get_hub().db.read() as db:
        _get(db, Channel, channel_id, "channel")
        strategy = strategies.strategy_of(db, channel_id)
    return jsonify(channel_id=channel_id, strategy=strategy)


@bp.put(f"/channels/<{ID}:channel_id>/routing")
@operation(
    "Set a channel's routing strategy",
    tag="routing",
    body=RoutingPolicyBodySchema,
    ok=(200, RoutingPolicySchema, "The strategy now."),
)
def put_routing_policy(channel_id: int, body):
    """Which locations ship the channel's orders from now on; orders already confirmed keep
    their reservations. Each order's `order.confirmed` event says how it was routed
    (`data.routing`: the candidate plans, their distance or cost, and why the winner won)."""
    with get_hub().db.transaction() as db:
        _get(db, Channel, channel_id, "channel")
        strategy = strategies.set_strategy(db, channel_id, body["strategy"])
    log.info("routing of channel %s set by %s: %s", channel_id, g.caller.actor, strategy)
    return jsonify(channel_id=channel_id, strategy=strategy)
