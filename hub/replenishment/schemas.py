"""What a person sends to set a reorder policy (the API's PUT and the admin's form)."""

from __future__ import annotations

from typing import Any

from marshmallow import Schema, ValidationError, fields, validate, validates_schema

from hub.replenishment import reorder

KINDS = ("fixed", "computed")


class ReorderPolicyInSchema(Schema):
    """A reorder policy for one SKU at one location (or all locations)."""

    kind = fields.String(
        required=True,
        validate=validate.OneOf(KINDS),
        metadata={"description": "fixed: min/max set by people; computed: from the forecast."},
    )
    location = fields.String(
        load_default=None,
        allow_none=True,
        validate=validate.Length(min=1, max=100),
        metadata={"description": "A location's code; left out: all locations together."},
    )
    min_quantity = fields.Integer(
        load_default=None,
        allow_none=True,
        strict=True,
        validate=validate.Range(min=0, max=10_000_000),
        metadata={"description": "fixed: the reorder point (buy when available falls below)."},
    )
    max_quantity = fields.Integer(
        load_default=None,
        allow_none=True,
        strict=True,
        validate=validate.Range(min=0, max=10_000_000),
        metadata={"description": "fixed: the level to order up to."},
    )
    service_level = fields.Float(
        load_default=reorder.DEFAULT_SERVICE_LEVEL,
        validate=validate.Range(min=reorder.MIN_SERVICE_LEVEL, max=reorder.MAX_SERVICE_LEVEL),
        metadata={"description": "computed: the chance of not running out in a lead time."},
    )
    lead_time_days = fields.Integer(
        load_default=reorder.DEFAULT_LEAD_TIME_DAYS,
        strict=True,
        validate=validate.Range(min=0, max=365),
        metadata={"description": "Days from ordering to stock on the shelf."},
    )
    review_days = fields.Integer(
        load_default=reorder.DEFAULT_REVIEW_DAYS,
        strict=True,
        validate=validate.Range(min=1, max=365),
        metadata={"description": "computed: days of demand an order covers after the lead time."},
    )

    @validates_schema
    def _fixed_needs_both(self, data: dict[str, Any], **_: Any) -> None:
        if data.get("kind") != "fixed":
            return
        errors: dict[str, list[str]] = {}
        for name in ("min_quantity", "max_quantity"):
            if data.get(name) is None:
                errors[name] = ["a fixed policy needs it"]
        low, high = data.get("min_quantity"), data.get("max_quantity")
        if not errors and low is not None and high is not None and high < low:
            errors["max_quantity"] = ["must be at least min_quantity"]
        if errors:
            raise ValidationError(errors)
