"""The REST API's returns policy of a sales channel: what customers may return themselves
on the tracking page, and which requests are approved without a person.

On the API's blueprint, with its token check and errors. The work is
:mod:`hub.returns.policy`'s; these views load, call and serialise. Money is a
decimal string in the order's currency (a channel sells in one; the maximum is
compared in minor units of the order's currency).
"""

from __future__ import annotations

import logging
from typing import Any

from flask import g, jsonify
from marshmallow import Schema, fields, validate

from hub.core.exceptions import NotFound
from hub.integration.fields import DecimalString
from hub.returns import policy
from hub.store.models import Channel
from hub.web import get_hub
from hub.web.api import _get, bp
from hub.web.api_schemas import OutSchema
from hub.web.apidoc import ID, operation

log = logging.getLogger(__name__)


class ReturnPolicySchema(OutSchema):
    channel_id = fields.Integer(required=True)
    window_days = fields.Integer(required=True)
    final_sale_skus = fields.List(fields.String(), required=True)
    auto_approve = fields.Boolean(required=True)
    auto_approve_days = fields.Integer(required=True)
    auto_approve_max = fields.String(required=True, allow_none=True)
    exchange_ships = fields.String(required=True, validate=validate.OneOf(policy.EXCHANGE_SHIPS))


class ReturnPolicyBodySchema(Schema):
    window_days = fields.Integer(
        required=True,
        strict=True,
        validate=validate.Range(min=0, max=policy.MAX_WINDOW_DAYS),
        metadata={
            "description": "Days after delivery (else the last shipment) a customer may ask "
            "for a return on the tracking page; 0: never online."
        },
    )
    final_sale_skus = fields.List(
        fields.String(validate=validate.Length(min=1, max=100)),
        load_default=list,
        validate=validate.Length(max=policy.MAX_FINAL_SALE_SKUS),
        metadata={"description": "SKUs sold as final sale: never returned by the customer."},
    )
    auto_approve = fields.Boolean(
        load_default=False, metadata={"description": "Approve requests the rule allows at once."}
    )
    auto_approve_days = fields.Integer(
        load_default=policy.DEFAULT_WINDOW_DAYS,
        strict=True,
        validate=validate.Range(min=0, max=policy.MAX_WINDOW_DAYS),
        metadata={"description": "The rule: asked within this many days of delivery ..."},
    )
    auto_approve_max = DecimalString(
        load_default=None,
        allow_none=True,
        metadata={
            "description": "... and refunding at most this much, in the order's currency "
            "(`50.00`; null: any amount)."
        },
    )
    exchange_ships = fields.String(
        load_default="on_receipt",
        validate=validate.OneOf(policy.EXCHANGE_SHIPS),
        metadata={
            "description": "An exchange's replacement ships `on_receipt` of the return, "
            "or `at_once` when approved."
        },
    )


def policy_json(p: policy.Policy) -> dict[str, Any]:
    return p.to_dict()


@bp.get(f"/channels/<{ID}:channel_id>/return-policy")
@operation(
    "Get a channel's returns policy",
    tag="returns",
    ok=(200, ReturnPolicySchema, "The return window, final-sale SKUs and the approval rule."),
)
def get_return_policy(channel_id: int):
    with get_hub().db.read() as db:
        _get(db, Channel, channel_id, "channel")
        return jsonify(policy_json(policy.policy_for(db, channel_id)))


@bp.put(f"/channels/<{ID}:channel_id>/return-policy")
@operation(
    "Set a channel's returns policy",
    tag="returns",
    body=ReturnPolicyBodySchema,
    ok=(200, ReturnPolicySchema, "The policy now."),
)
def put_return_policy(channel_id: int, body):
    """What the channel's customers may return on the tracking page (within `window_days`,
    not `final_sale_skus`), and the rule that approves a request alone: within
    `auto_approve_days` and refunding at most `auto_approve_max`."""
    maximum = body["auto_approve_max"]
    with get_hub().db.transaction() as db:
        if db.get(Channel, channel_id) is None:
            raise NotFound(f"channel {channel_id} does not exist")
        out = policy_json(
            policy.set_policy(
                db,
                channel_id,
                window_days=body["window_days"],
                final_sale_skus=body["final_sale_skus"],
                auto_approve=body["auto_approve"],
                auto_approve_days=body["auto_approve_days"],
                auto_approve_max=maximum,
                exchange_ships=body["exchange_ships"],
            )
        )
    log.info("returns policy of channel %s set by %s: %s", channel_id, g.caller.actor, out)
    return jsonify(out)
