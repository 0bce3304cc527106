"""What a person sends to make or change suppliers, purchase orders and receipts.

The API's bodies and the admin's forms load through these (the forms are
generated from :class:`SupplierInSchema`, labels and help from its metadata).
"""

from __future__ import annotations

from typing import Any

from marshmallow import Schema, ValidationError, fields, post_load, validate, validates

from hub.core.money import MoneyError, currency_code

_SKU = validate.Length(min=1, max=100)
_QUANTITY = validate.Range(min=1, max=10_000_000)


class SupplierInSchema(Schema):
    """A supplier's name, address for purchase orders and terms."""

    name = fields.String(
        required=True,
        validate=validate.Length(min=1, max=200),
        metadata={"label": "Name", "help": "Unique: how people and purchase orders name it."},
    )
    email = fields.String(
        load_default="",
        validate=validate.Length(max=320),
        metadata={"label": "Email", "help": "Where purchase orders are emailed."},
    )
    currency = fields.String(
        required=True,
        metadata={"label": "Currency", "help": "ISO code its prices are in (EUR, USD)."},
    )
    lead_time_days = fields.Integer(
        load_default=7,
        validate=validate.Range(min=0, max=365),
        metadata={
            "label": "Lead time (days)",
            "help": "From sending an order to stock on the shelf; sets the expected date "
            "and the reorder point of SKUs it is preferred for.",
        },
    )
    minimum_order_quantity = fields.Integer(
        load_default=1,
        validate=validate.Range(min=1, max=10_000_000),
        metadata={"label": "Minimum order quantity", "help": "Fewest units per SKU per order."},
    )
    pack_size = fields.Integer(
        load_default=1,
        validate=validate.Range(min=1, max=1_000_000),
        metadata={"label": "Pack size", "help": "Units come in packs of this many."},
    )
    notes = fields.String(
        load_default="", validate=validate.Length(max=2000), metadata={"label": "Notes"}
    )
    active = fields.Boolean(
        load_default=True,
        metadata={"label": "Active", "help": "Inactive suppliers get no new purchase orders."},
    )

    @validates("email")
    def _email(self, value: str, **_: Any) -> None:
        if value:
            fields.Email().deserialize(value)

    @validates("currency")
    def _currency(self, value: str, **_: Any) -> None:
        try:
            currency_code(value)
        except MoneyError as exc:
            raise ValidationError(str(exc)) from exc

    @post_load
    def _upper(self, data: dict[str, Any], **_: Any) -> dict[str, Any]:
        if "currency" in data:
            data["currency"] = currency_code(data["currency"])
        return data


class SupplierSkuInSchema(Schema):
    sku = fields.String(required=True, validate=_SKU)
    cost_price = fields.String(
        required=True,
        validate=validate.Length(min=1, max=30),
        metadata={"description": "Decimal string in the supplier's currency (`12.50`)."},
    )
    supplier_sku = fields.String(
        load_default="",
        validate=validate.Length(max=100),
        metadata={"description": "The supplier's own code for it."},
    )
    preferred = fields.Boolean(
        load_default=False,
        metadata={
            "description": "The SKU's preferred supplier (another's preference is taken off)."
        },
    )


class DraftLineInSchema(Schema):
    sku = fields.String(required=True, validate=_SKU)
    quantity = fields.Integer(required=True, strict=True, validate=_QUANTITY)
    unit_cost = fields.String(
        load_default=None,
        allow_none=True,
        validate=validate.Length(min=1, max=30),
        metadata={
            "description": "Decimal string in the PO's currency; left out: the supplier's cost price."
        },
    )


class PurchaseOrderInSchema(Schema):
    supplier_id = fields.Integer(
        required=True, strict=True, validate=validate.Range(min=1, max=2_147_483_647)
    )
    location = fields.String(
        required=True,
        validate=validate.Length(min=1, max=100),
        metadata={"description": "The code of the location it is received at."},
    )
    lines = fields.List(
        fields.Nested(DraftLineInSchema), required=True, validate=validate.Length(min=1, max=500)
    )
    notes = fields.String(load_default="", validate=validate.Length(max=2000))
    send_via = fields.String(
        load_default=None,
        validate=validate.OneOf(["email", "erp"]),
        metadata={
            "description": "How it reaches the supplier when sent: email (PDF and CSV) or erp "
            "(a CSV file in the ERP channel's export folder). Left out: email when the supplier "
            "has an email address, else erp."
        },
    )


class PurchaseOrderPatchSchema(Schema):
    version = fields.Integer(
        required=True,
        strict=True,
        metadata={"description": "The version you read: a stale one is refused (409)."},
    )
    lines = fields.List(
        fields.Nested(DraftLineInSchema), required=True, validate=validate.Length(min=1, max=500)
    )
    notes = fields.String(load_default=None, allow_none=True, validate=validate.Length(max=2000))


class VersionSchema(Schema):
    version = fields.Integer(
        load_default=None,
        allow_none=True,
        strict=True,
        metadata={"description": "The version you read (optional): a stale one is refused (409)."},
    )


class ReceiptLineInSchema(Schema):
    sku = fields.String(required=True, validate=_SKU)
    quantity = fields.Integer(required=True, strict=True, validate=_QUANTITY)


class ReceiptInSchema(Schema):
    location = fields.String(
        load_default=None,
        allow_none=True,
        validate=validate.Length(min=1, max=100),
        metadata={"description": "Where it arrived (a location's code); left out: the PO's."},
    )
    lines = fields.List(
        fields.Nested(ReceiptLineInSchema), required=True, validate=validate.Length(min=1, max=500)
    )
    force = fields.Boolean(
        load_default=False,
        metadata={"description": "Accept more than is still open on a line (an over-delivery)."},
    )
