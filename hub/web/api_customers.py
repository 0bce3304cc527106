"""The REST API's customers: the list, one customer with figures and recent orders, tags and
note, merge and split, erasure and export (issue 20).

On the API's blueprint, with its token check, errors and cursor pages. The work
is :mod:`hub.customers`'s; these views load, call and serialise.
"""

from __future__ import annotations

import json
import logging
from typing import Any

from flask import Response, g, jsonify
from marshmallow import Schema, fields, validate

from hub.customers import actions, privacy
from hub.customers import queries as customer_queries
from hub.customers.serialize import customer_detail, customer_summary, merge_json
from hub.orders import queries as order_queries
from hub.orders.serialize import order_summary
from hub.web import api_schemas as s
from hub.web import get_hub
from hub.web.api import _before, bp, cursor_page
from hub.web.api_schemas import MAX_ID, OutSchema, PageQuerySchema, page_schema
from hub.web.apidoc import ID, operation

log = logging.getLogger(__name__)

#: Orders a customer's answer carries (the rest: `GET /orders?customer_id=`).
RECENT_ORDERS = 10

# --- schemas ----------------------------------------------------------------------------------


class CustomersQuerySchema(PageQuerySchema):
    q = fields.String(
        validate=validate.Length(min=1, max=320),
        metadata={"description": "Within the email, the name or the phone (any case)."},
    )


class CustomerSummarySchema(OutSchema):
    id = fields.Integer(required=True)
    email = fields.String(
        required=True, metadata={"description": "Trimmed and lower-cased (identity)."}
    )
    name = fields.String(required=True)
    phone = fields.String(
        required=True, metadata={"description": "E.164 when it could be read, else as typed."}
    )
    tags = fields.List(fields.String(), required=True)
    order_count = fields.Integer(required=True)
    last_order_at = fields.String(required=True, allow_none=True, metadata={"format": "date-time"})
    merged_into_id = fields.Integer(
        required=True,
        allow_none=True,
        metadata={"description": "Set when merged into another customer: its orders are there."},
    )
    erased = fields.Boolean(required=True)
    created_at = fields.String(required=True, metadata={"format": "date-time"})


class SpentSchema(OutSchema):
    currency = fields.String(required=True)
    total = fields.String(
        required=True,
        metadata={
            "description": "Decimal string. Cancelled, returned, refunded, voided and test orders "
            "are left out; partial refunds are taken off."
        },
    )
    orders = fields.Integer(required=True, metadata={"description": "The orders counted."})
    average_order_value = fields.String(required=True)


class ChannelUseSchema(OutSchema):
    slug = fields.String(required=True)
    name = fields.String(required=True)
    orders = fields.Integer(required=True)


class GatewayUseSchema(OutSchema):
    connector = fields.String(required=True, metadata={"description": "e.g. `stripe`."})
    channel = fields.String(required=True)
    payments = fields.Integer(required=True)


class AddressUseSchema(OutSchema):
    address = fields.Dict(required=True)
    kinds = fields.List(fields.String(validate=validate.OneOf(["shipping", "billing"])))
    orders = fields.Integer(required=True)
    last_used_at = fields.String(required=True, allow_none=True, metadata={"format": "date-time"})


class FiguresSchema(OutSchema):
    order_count = fields.Integer(
        required=True, metadata={"description": "Every order, cancelled ones too."}
    )
    first_order_at = fields.String(required=True, allow_none=True, metadata={"format": "date-time"})
    last_order_at = fields.String(required=True, allow_none=True, metadata={"format": "date-time"})
    spent = fields.List(fields.Nested(SpentSchema), required=True)
    channels = fields.List(fields.Nested(ChannelUseSchema), required=True)
    payment_gateways = fields.List(fields.Nested(GatewayUseSchema), required=True)
    addresses = fields.List(fields.Nested(AddressUseSchema), required=True)


class CustomerMergeSchema(OutSchema):
    id = fields.Integer(required=True)
    into_id = fields.Integer(required=True)
    from_id = fields.Integer(required=True)
    order_ids = fields.List(fields.Integer(), required=True)
    orders = fields.Integer(required=True)
    references = fields.Integer(required=True)
    actor = fields.String(required=True)
    created_at = fields.String(required=True, metadata={"format": "date-time"})
    undone_at = fields.String(required=True, allow_none=True, metadata={"format": "date-time"})
    undone_by = fields.String(required=True, allow_none=True)


class CustomerDetailSchema(CustomerSummarySchema):
    note = fields.String(required=True)
    erased_at = fields.String(required=True, allow_none=True, metadata={"format": "date-time"})
    figures = fields.Nested(FiguresSchema, required=True)
    recent_orders = fields.List(fields.Nested(s.OrderSummarySchema), required=True)
    merges = fields.List(fields.Nested(CustomerMergeSchema), required=True)


CustomerPageSchema = page_schema(CustomerSummarySchema, "CustomerPageSchema")


class CustomerPatchSchema(Schema):
    tags = fields.List(
        fields.String(validate=validate.Length(max=actions.MAX_TAG)),
        validate=validate.Length(max=actions.MAX_TAGS),
        metadata={"description": "Replaces the tags (e.g. `b2b` for invoice terms)."},
    )
    note = fields.String(validate=validate.Length(max=actions.MAX_NOTE))


class MergeInSchema(Schema):
    from_ = fields.Integer(
        data_key="from",
        required=True,
        strict=True,
        validate=validate.Range(min=1, max=MAX_ID),
        metadata={"description": "The customer merged into this one."},
    )


class ErasureSchema(OutSchema):
    customer = fields.Nested(CustomerDetailSchema, required=True)
    erased = fields.Dict(
        keys=fields.String(),
        values=fields.Integer(),
        required=True,
        metadata={"description": "How many customers, orders, audit events... were blanked."},
    )


# --- views ------------------------------------------------------------------------------------


def _detail(db, customer_id: int) -> dict[str, Any]:
    customer = actions.get_customer(db, customer_id)
    out = customer_detail(customer, customer_queries.figures(db, customer.id))
    recent = order_queries.search_orders(
        db, order_queries.OrderFilters(customer_id=customer.id), limit=RECENT_ORDERS
    )
    out["recent_orders"] = [order_summary(o) for o in recent.rows]
    out["merges"] = [merge_json(m) for m in customer_queries.merges(db, customer.id)]
    return out


@bp.get("/customers")
@operation(
    "List customers",
    tag="customers",
    query=CustomersQuerySchema,
    ok=(200, CustomerPageSchema, "A page of customers, newest first (merged ones left out)."),
)
def list_customers(query):
    """One customer per person across channels. Page with `limit` and each answer's
    `next_cursor`."""
    filters = customer_queries.CustomerFilters(q=query.get("q"))
    with get_hub().db.read() as db:
        found = customer_queries.search_customers(
            db, filters, limit=query["limit"], before_id=_before(query)
        )
        counts = customer_queries.order_counts(db, (c.id for c in found.rows))
        return jsonify(cursor_page(found, lambda c: customer_summary(c, counts.get(c.id))))


@bp.get(f"/customers/<{ID}:customer_id>")
@operation(
    "Get a customer",
    tag="customers",
    ok=(200, CustomerDetailSchema, "The customer, its figures, recent orders and merges."),
)
def get_customer(customer_id: int):
    """Figures are computed from the orders at each request: order count, money spent and the
    average order per currency, first and last order, channels, payment gateways, addresses."""
    with get_hub().db.read() as db:
        return jsonify(_detail(db, customer_id))


@bp.patch(f"/customers/<{ID}:customer_id>")
@operation(
    "Set a customer's tags and note",
    tag="customers",
    body=CustomerPatchSchema,
    ok=(200, CustomerDetailSchema, "The customer as changed."),
    errors=(409,),
)
def update_customer(customer_id: int, body):
    """Either or both; what is left out stays. 409 for an erased customer."""
    with get_hub().db.transaction() as db:
        actions.update_customer(
            db, customer_id, actor=g.caller.actor, tags=body.get("tags"), note=body.get("note")
        )
    with get_hub().db.read() as db:
        return jsonify(_detail(db, customer_id))


@bp.post(f"/customers/<{ID}:customer_id>/merge")
@operation(
    "Merge another customer into this one",
    tag="customers",
    body=MergeInSchema,
    ok=(200, CustomerMergeSchema, "The merge: what moved, who merged and when."),
    errors=(409,),
)
def merge_customer(customer_id: int, body):
    """The other customer's orders and channel references move here; it keeps its row with
    `merged_into_id`. Undo with `POST /customer-merges/{id}/undo`. 409 when either was
    merged or erased already; 422 to merge a customer into itself."""
    with get_hub().db.transaction() as db:
        row = actions.merge(db, customer_id, body["from_"], actor=g.caller.actor)
        out = merge_json(row)
    log.info("customer %s merged into %s by %s", out["from_id"], customer_id, g.caller.actor)
    return jsonify(out)


@bp.post(f"/customer-merges/<{ID}:merge_id>/undo")
@operation(
    "Split a merge",
    tag="customers",
    ok=(200, CustomerMergeSchema, "The merge, undone: `undone_at` and `undone_by` set."),
    errors=(409,),
)
def undo_customer_merge(merge_id: int):
    """Exactly the orders and references the merge moved go back (those still with the
    customer merged into). 409 when undone already, or the surviving customer was merged or
    erased since."""
    with get_hub().db.transaction() as db:
        out = merge_json(actions.undo_merge(db, merge_id, actor=g.caller.actor))
    log.info("customer merge %s undone by %s", merge_id, g.caller.actor)
    return jsonify(out)


@bp.post(f"/customers/<{ID}:customer_id>/erase")
@operation(
    "Erase a customer's personal data (GDPR art. 17)",
    tag="customers",
    ok=(200, ErasureSchema, "The customer as it is now, and what was blanked."),
    errors=(409,),
)
def erase_customer(customer_id: int):
    """Irreversible. Email, name, phone, note, tags and channel references; on its orders the
    email, name, phone and addresses (the country stays); personal values in the orders' audit
    events and notification ledgers; queued notification emails dropped. Order numbers, lines,
    money and stock history stay. Erasing again changes nothing; a customer merged into another
    is erased through that one (409)."""
    with get_hub().db.transaction() as db:
        touched = privacy.erase_customer(db, customer_id, actor=g.caller.actor)
    log.info("customer %s erased by %s", customer_id, g.caller.actor)
    with get_hub().db.read() as db:
        return jsonify(customer=_detail(db, customer_id), erased=touched)


@bp.get(f"/customers/<{ID}:customer_id>/export")
@operation(
    "Export a customer's data (GDPR art. 15 and 20)",
    tag="customers",
    ok=(200, {"type": "object"}, "Everything the hub keeps about the customer, as a JSON file."),
)
def export_customer(customer_id: int):
    """The customer, its channel references, figures and every order (addresses, lines,
    payments). Each export is recorded on the customer's trail (who, when)."""
    with get_hub().db.transaction() as db:
        data = privacy.export_customer(db, customer_id, actor=g.caller.actor)
    log.info("customer %s exported by %s", customer_id, g.caller.actor)
    return export_download(customer_id, data)


def export_download(customer_id: int, data: dict[str, Any]) -> Response:
    """A customer's export as a JSON file to save (the API's and the admin's), never cached."""
    return Response(
        json.dumps(data, indent=2, ensure_ascii=False),
        mimetype="application/json",
        headers={
            "Content-Disposition": f'attachment; filename="customer-{customer_id}.json"',
            "Cache-Control": "no-store",
        },
    )
