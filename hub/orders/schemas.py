"""Marshmallow schemas for what people and systems send the hub.

The REST API, the CLI and the admin UI load input through these, so a manual
order is validated the same way wherever it comes from; the OpenAPI document is
generated from them.
"""

from __future__ import annotations

import uuid
from typing import Any

from marshmallow import Schema, ValidationError, fields, post_load, validate, validates_schema

from hub.core.exceptions import ValidationError as HubValidationError
from hub.core.money import CURRENCY_EXPONENTS, Money, MoneyError
from hub.core.order import Address, Customer, Line, OrderData, PaymentData
from hub.core.status import PAYMENT_STATUSES, PaymentStatus
from hub.integration.fields import DecimalString, StrictBoolean


class AddressSchema(Schema):
    name = fields.String(load_default="")
    company = fields.String(load_default="")
    address1 = fields.String(load_default="")
    address2 = fields.String(load_default="")
    city = fields.String(load_default="")
    province = fields.String(load_default="")
    province_code = fields.String(load_default="")
    zip = fields.String(load_default="")
    country = fields.String(load_default="")
    country_code = fields.String(load_default="")
    phone = fields.String(load_default="")
    # Where the address is, when the sender knows (both or neither): the hub then
    # places the order there ("exact", by the channel) instead of looking it up.
    latitude = fields.Float(
        allow_none=True, validate=validate.Range(-90, 90), metadata={"description": "Degrees."}
    )
    longitude = fields.Float(
        allow_none=True, validate=validate.Range(-180, 180), metadata={"description": "Degrees."}
    )

    @validates_schema
    def _coordinates_in_pairs(self, data: dict[str, Any], **_: Any) -> None:
        given = [name for name in ("latitude", "longitude") if data.get(name) is not None]
        if len(given) == 1:
            missing = "longitude" if given == ["latitude"] else "latitude"
            raise ValidationError(
                {missing: ["latitude and longitude go together: give both or neither"]}
            )


class CustomerSchema(Schema):
    # Lengths are the database columns' (an over-long value is a 422, not a database error).
    email = fields.Email(required=True, validate=validate.Length(max=320))
    name = fields.String(load_default="", validate=validate.Length(max=200))
    phone = fields.String(load_default="", validate=validate.Length(max=64))


class LineInSchema(Schema):
    sku = fields.String(required=True, validate=validate.Length(min=1, max=100))
    name = fields.String(load_default="", validate=validate.Length(max=300))
    quantity = fields.Integer(
        required=True, strict=True, validate=validate.Range(min=1, max=1_000_000)
    )
    unit_price = DecimalString(required=True)
    tax = DecimalString(load_default="0")
    discount = DecimalString(load_default="0")
    requires_shipping = StrictBoolean(
        load_default=True,
        metadata={"description": "False for what no warehouse ships (gift cards, digital goods)."},
    )


class PaymentInSchema(Schema):
    channel = fields.String(load_default=None, allow_none=True)
    reference = fields.String(required=True, validate=validate.Length(min=1, max=200))
    amount = DecimalString(required=True)
    status = fields.String(
        load_default=PaymentStatus.AUTHORIZED.value, validate=validate.OneOf(PAYMENT_STATUSES)
    )


#: How a manual order's money was taken outside the hub -> the financial status it shows.
PAID_OUTSIDE = {"paid": "paid", "invoice": "pending"}


class ManualOrderSchema(Schema):
    """A manual order (phone, in-store): ``POST /api/v1/orders`` and ``hub orders create``."""

    external_id = fields.String(
        load_default=None,
        validate=validate.Length(min=1, max=200),
        metadata={
            "description": "Your own id for this order; sending it again creates nothing new."
        },
    )
    number = fields.String(load_default=None, validate=validate.Length(max=100))
    customer = fields.Nested(CustomerSchema, required=True)
    shipping_address = fields.Nested(AddressSchema, required=True)
    billing_address = fields.Nested(AddressSchema, load_default=None)
    lines = fields.List(
        fields.Nested(LineInSchema), required=True, validate=validate.Length(min=1, max=1000)
    )
    currency = fields.String(required=True, validate=validate.OneOf(sorted(CURRENCY_EXPONENTS)))
    shipping = DecimalString(load_default="0")
    tax = DecimalString(load_default="0")
    discount = DecimalString(load_default="0")
    taxes_included = StrictBoolean(
        load_default=False,
        metadata={
            "description": "True when line prices and shipping already contain `tax` (EU, UK, AU pricing): "
            "the total is then lines + shipping − discount."
        },
    )
    notes = fields.String(load_default="")
    shipping_method = fields.String(
        load_default="",
        validate=validate.Length(max=200),
        metadata={"description": 'The shipping method the customer chose ("Express").'},
    )
    locale = fields.String(
        load_default="",
        validate=validate.Regexp(r"^([A-Za-z]{2,3}([-_][A-Za-z0-9]{2,8})*)?$"),
        metadata={
            "description": 'The customer\'s language, BCP 47 ("de-DE"): their emails use it.'
        },
    )
    tags = fields.List(fields.String(), load_default=list)
    payments = fields.List(fields.Nested(PaymentInSchema), load_default=list)
    payment_outside = fields.String(
        load_default=None,
        allow_none=True,
        validate=validate.OneOf(sorted(PAID_OUTSIDE)),
        metadata={
            "description": "Money taken outside the hub (no payment to wait for; leave "
            "`payments` out): `paid` (cash, a card terminal: the order shows as paid) or "
            "`invoice` (paid later: it shows as pending until someone says otherwise)."
        },
    )

    @validates_schema(skip_on_field_errors=True)
    def _check_amounts(self, data: dict[str, Any], **kwargs) -> None:
        # Only that each amount reads as one of `currency`: what an order's money may be is
        # the domain's rule (hub.core.order.amount_errors), applied once the order is built.
        errors: dict[str, Any] = {}
        if data["payment_outside"] and data["payments"]:
            errors["payment_outside"] = [
                "the money is either taken outside the hub or recorded in `payments`, not both"
            ]
        cur = data["currency"]
        for name in ("shipping", "tax", "discount"):
            _parse_into(errors, name, data[name], cur)
        for i, line in enumerate(data["lines"]):
            for name in ("unit_price", "tax", "discount"):
                _parse_into(errors, f"lines.{i}.{name}", line[name], cur)
        for i, pay in enumerate(data["payments"]):
            _parse_into(errors, f"payments.{i}.amount", pay["amount"], cur)
        if errors:
            raise ValidationError(errors)

    @post_load
    def _to_order(self, data: dict[str, Any], **kwargs) -> OrderData:
        cur = data["currency"]

        def m(text: str) -> int:
            return Money.parse(text, cur).amount

        external_id = data["external_id"] or uuid.uuid4().hex[:16]
        order = OrderData(
            external_id=external_id,
            number=data["number"] or f"M-{external_id[:8].upper()}",
            currency=cur,
            customer=Customer(
                email=data["customer"]["email"],
                name=data["customer"]["name"],
                phone=data["customer"]["phone"],
            ),
            shipping_address=Address(**data["shipping_address"]),
            billing_address=Address(**data["billing_address"]) if data["billing_address"] else None,
            lines=[
                Line(
                    sku=x["sku"],
                    name=x["name"] or x["sku"],
                    quantity=x["quantity"],
                    unit_price=m(x["unit_price"]),
                    tax=m(x["tax"]),
                    discount=m(x["discount"]),
                    requires_shipping=x["requires_shipping"],
                )
                for x in data["lines"]
            ],
            taxes_included=data["taxes_included"],
            shipping=m(data["shipping"]),
            tax=m(data["tax"]),
            discount=m(data["discount"]),
            notes=data["notes"],
            shipping_method=data["shipping_method"],
            locale=data["locale"],
            tags=data["tags"],
            channel_financial_status=PAID_OUTSIDE.get(data["payment_outside"] or "", ""),
            payments=[
                PaymentData(
                    reference=p["reference"],
                    amount=m(p["amount"]),
                    status=p["status"],
                    channel=p["channel"],
                    captured_amount=m(p["amount"]) if p["status"] == PaymentStatus.CAPTURED else 0,
                )
                for p in data["payments"]
            ],
        )
        try:
            order.check()
        except HubValidationError as exc:
            raise ValidationError(
                {key: [message] for key, message in exc.details.items()}
            ) from None
        return order


def _parse_into(errors: dict, key: str, text: str, currency: str) -> None:
    try:
        Money.parse(text, currency)
    except MoneyError as exc:
        errors[key] = [str(exc)]


class TransitionSchema(Schema):
    event = fields.String(required=True)
    reason = fields.String(load_default="")


class OrderEditSchema(Schema):
    """What a person changes of an order that has not gone to the warehouse.

    ``PATCH /api/v1/orders/<id>`` and the admin's edit page. Fields left out
    stay as they are; ``lines`` replaces every line. Amounts are decimal
    strings in the order's currency, parsed against it by
    :func:`hub.orders.edits.edit_order`.
    """

    version = fields.Integer(
        strict=True,
        validate=validate.Range(min=1, max=2_147_483_647),
        metadata={
            "description": "The order's `version` as you read it: when the order has changed "
            "since, the edit is refused (409 `conflict`). The `If-Match` header does the same."
        },
    )
    shipping_address = fields.Nested(
        AddressSchema,
        metadata={"description": "The whole address (parts left out are empty)."},
    )
    billing_address = fields.Nested(
        AddressSchema,
        allow_none=True,
        metadata={"description": "null: the same as the shipping address."},
    )
    lines = fields.List(
        fields.Nested(LineInSchema),
        validate=validate.Length(min=1, max=1000),
        metadata={
            "description": "Every line the order has after the edit (orders of the hub's "
            "manual channel only: an external channel's lines are its own)."
        },
    )
    shipping = DecimalString()
    tax = DecimalString()
    discount = DecimalString()
    notes = fields.String(validate=validate.Length(max=5000))
