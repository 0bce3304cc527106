"""What a person sends to create, receive and refund a return (the API, the admin UI and the CLI)."""

from __future__ import annotations

from typing import Any

from marshmallow import Schema, fields, post_load, validate

from hub.integration.fields import DecimalString, StrictBoolean
from hub.returns.actions import ReturnLineRequest, ReturnRequest


class ReturnLineInSchema(Schema):
    line_id = fields.Integer(
        required=True, strict=True, metadata={"description": "The order line's id."}
    )
    quantity = fields.Integer(
        required=True, strict=True, validate=validate.Range(min=1, max=1_000_000)
    )
    restock_location = fields.String(
        load_default=None,
        allow_none=True,
        validate=validate.Length(min=1, max=100),
        metadata={"description": "Location code the units go back to when received."},
    )
    write_off = StrictBoolean(
        load_default=False, metadata={"description": "Do not restock these units."}
    )


class ReturnCreateSchema(Schema):
    """A return: ``POST /api/v1/orders/<id>/returns`` and ``hub returns create``.

    Loads into a :class:`hub.returns.actions.ReturnRequest`; ``refund_amount`` stays a
    decimal string here and is parsed in the order's currency by
    :func:`hub.returns.actions.create_return`.
    """

    lines = fields.List(
        fields.Nested(ReturnLineInSchema), required=True, validate=validate.Length(min=1, max=1000)
    )
    reason = fields.String(required=True, validate=validate.Length(min=1, max=500))
    note = fields.String(load_default="", validate=validate.Length(max=5000))
    refund_shipping = StrictBoolean(
        load_default=False, metadata={"description": "Give back the order's shipping too."}
    )
    refund_amount = DecimalString(
        load_default=None,
        allow_none=True,
        metadata={
            "description": "Refund this instead of the lines' worth (e.g. less a restocking fee)."
        },
    )

    @post_load
    def _to_request(self, data: dict[str, Any], **kwargs):
        return ReturnRequest(
            lines=[ReturnLineRequest(**line) for line in data["lines"]],
            reason=data["reason"],
            note=data["note"],
            refund_shipping=data["refund_shipping"],
            refund_amount=data["refund_amount"],
        )


class ReturnReceiveSchema(Schema):
    """Receiving a return: a location for all its lines, or write-off, or per line."""

    location = fields.String(
        load_default=None, allow_none=True, validate=validate.Length(min=1, max=100)
    )
    write_off = StrictBoolean(load_default=False)
    lines = fields.Dict(
        keys=fields.Integer(),
        values=fields.String(validate=validate.Length(min=1, max=100)),
        load_default=dict,
        metadata={"description": '{line_id: location code or "write_off"}'},
    )


class ReturnRefundSchema(Schema):
    amount = DecimalString(
        load_default=None,
        allow_none=True,
        metadata={
            "description": "Refund this much (shipping included); default: the return's refund."
        },
    )
