"""The REST API's purchasing views: suppliers, their SKUs, purchase orders and receipts.

On the API's blueprint, with its token check and errors. Each view loads its
body, calls one action of :mod:`hub.purchasing` and serialises the result
(:mod:`hub.purchasing.serialize`).
"""

from __future__ import annotations

import logging
from functools import partial
from typing import Any

from flask import g, jsonify, url_for
from marshmallow import Schema, fields, validate
from sqlalchemy import select

from hub.core.money import Money
from hub.core.purchasing import STATUSES
from hub.inventory.levels import get_location
from hub.purchasing import orders, receiving, suppliers
from hub.purchasing.schemas import (
    PurchaseOrderInSchema,
    PurchaseOrderPatchSchema,
    ReceiptInSchema,
    SupplierInSchema,
    SupplierSkuInSchema,
    VersionSchema,
)
from hub.purchasing.serialize import po_detail, po_summary, supplier_dict, supplier_sku_dict
from hub.store.models import PurchaseOrder
from hub.web import get_hub
from hub.web.api import bp, created, page
from hub.web.api_schemas import MAX_ID, OutSchema, PageQuerySchema, page_schema
from hub.web.apidoc import ID, operation

log = logging.getLogger(__name__)

_TIME = {"format": "date-time"}
_MONEY = {"description": "Decimal string in `currency`."}


# --- schemas (answers) -------------------------------------------------------------------------


class SupplierSchema(OutSchema):
    id = fields.Integer(required=True)
    name = fields.String(required=True)
    email = fields.String(required=True)
    currency = fields.String(required=True)
    lead_time_days = fields.Integer(required=True)
    minimum_order_quantity = fields.Integer(required=True)
    pack_size = fields.Integer(required=True)
    notes = fields.String(required=True)
    active = fields.Boolean(required=True)
    created_at = fields.String(required=True, metadata=_TIME)
    updated_at = fields.String(required=True, metadata=_TIME)


class SupplierListSchema(OutSchema):
    data = fields.List(fields.Nested(SupplierSchema), required=True)


class SupplierSkuSchema(OutSchema):
    sku = fields.String(required=True)
    cost_price = fields.String(required=True, metadata=_MONEY)
    currency = fields.String(required=True)
    supplier_sku = fields.String(required=True)
    preferred = fields.Boolean(required=True)
    updated_at = fields.String(required=True, metadata=_TIME)


class SupplierSkuListSchema(OutSchema):
    data = fields.List(fields.Nested(SupplierSkuSchema), required=True)


class SupplierQuerySchema(Schema):
    active = fields.Boolean(load_default=None, allow_none=True)


class SupplierPatchSchema(SupplierInSchema):
    """Any of a supplier's fields; those left out stay as they are (no defaults filled in)."""

    def __init__(self, *args: Any, **kwargs: Any) -> None:
        kwargs.setdefault("partial", True)
        super().__init__(*args, **kwargs)


class PurchaseOrderSummarySchema(OutSchema):
    id = fields.Integer(required=True)
    number = fields.String(required=True, metadata={"description": "PO-2026-000001"})
    status = fields.String(required=True, validate=validate.OneOf(STATUSES))
    supplier_id = fields.Integer(required=True)
    supplier = fields.String(required=True)
    location = fields.String(required=True, metadata={"description": "Where it is received."})
    currency = fields.String(required=True)
    total = fields.String(required=True, metadata=_MONEY)
    ordered = fields.Integer(required=True)
    received = fields.Integer(required=True)
    send_via = fields.String(required=True)
    expected_at = fields.String(required=True, allow_none=True, metadata=_TIME)
    sent_at = fields.String(required=True, allow_none=True, metadata=_TIME)
    created_by = fields.String(required=True)
    created_at = fields.String(required=True, metadata=_TIME)
    updated_at = fields.String(required=True, metadata=_TIME)
    version = fields.Integer(required=True)


class PurchaseOrderLineSchema(OutSchema):
    sku = fields.String(required=True)
    quantity = fields.Integer(required=True)
    received_quantity = fields.Integer(required=True)
    open_quantity = fields.Integer(required=True)
    unit_cost = fields.String(required=True, metadata=_MONEY)
    total = fields.String(required=True, metadata=_MONEY)


class ReceiptLineSchema(OutSchema):
    sku = fields.String(required=True)
    quantity = fields.Integer(required=True)


class ReceiptSchema(OutSchema):
    id = fields.Integer(required=True)
    location = fields.String(required=True)
    received_by = fields.String(required=True)
    received_at = fields.String(required=True, metadata=_TIME)
    source = fields.String(required=True)
    forced = fields.Boolean(required=True)
    lines = fields.List(fields.Nested(ReceiptLineSchema), required=True)


class PurchaseOrderSchema(PurchaseOrderSummarySchema):
    notes = fields.String(required=True)
    allowed = fields.List(
        fields.String(), required=True, metadata={"description": "Moves its status allows."}
    )
    lines = fields.List(fields.Nested(PurchaseOrderLineSchema), required=True)
    receipts = fields.List(fields.Nested(ReceiptSchema), required=True)


class PurchaseOrderQuerySchema(PageQuerySchema):
    status = fields.String(validate=validate.OneOf(STATUSES))
    supplier_id = fields.Integer(validate=validate.Range(min=1, max=MAX_ID))


# --- suppliers ------------------------------------------------------------------------------------


@bp.get("/suppliers")
@operation(
    "List suppliers",
    tag="purchasing",
    query=SupplierQuerySchema,
    ok=(200, SupplierListSchema, "Suppliers by name."),
)
def list_suppliers(query):
    with get_hub().db.read() as db:
        rows = suppliers.list_suppliers(db, active=query.get("active"))
        return jsonify(data=[supplier_dict(s) for s in rows])


@bp.post("/suppliers")
@operation(
    "Create a supplier",
    tag="purchasing",
    body=SupplierInSchema,
    ok=(201, SupplierSchema, "Created."),
    errors=(409,),
)
def create_supplier(body):
    """A name already used is refused (409)."""
    with get_hub().db.transaction() as db:
        out = supplier_dict(suppliers.create_supplier(db, body))
    log.info("supplier %s created by %s", out["id"], g.caller.actor)
    return created(out, url_for("api.get_supplier", supplier_id=out["id"]))


@bp.get(f"/suppliers/<{ID}:supplier_id>")
@operation("Get a supplier", tag="purchasing", ok=(200, SupplierSchema, "The supplier."))
def get_supplier(supplier_id: int):
    with get_hub().db.read() as db:
        return jsonify(supplier_dict(suppliers.get_supplier(db, supplier_id)))


@bp.patch(f"/suppliers/<{ID}:supplier_id>")
@operation(
    "Change a supplier",
    tag="purchasing",
    body=SupplierPatchSchema,
    ok=(200, SupplierSchema, "The supplier as stored."),
    errors=(409,),
)
def patch_supplier(supplier_id: int, body):
    """Only the fields sent change. Its purchase orders keep their currency and dates."""
    with get_hub().db.transaction() as db:
        return jsonify(supplier_dict(suppliers.update_supplier(db, supplier_id, body)))


@bp.delete(f"/suppliers/<{ID}:supplier_id>")
@operation("Delete a supplier", tag="purchasing", ok=(204, None, "Deleted."), errors=(409,))
def delete_supplier(supplier_id: int):
    """Only one with no purchase orders (409 otherwise: deactivate it instead)."""
    with get_hub().db.transaction() as db:
        suppliers.delete_supplier(db, supplier_id)
    return "", 204


@bp.get(f"/suppliers/<{ID}:supplier_id>/skus")
@operation(
    "List a supplier's SKUs",
    tag="purchasing",
    ok=(200, SupplierSkuListSchema, "Its SKUs with cost price, by SKU."),
)
def list_supplier_skus(supplier_id: int):
    with get_hub().db.read() as db:
        supplier = suppliers.get_supplier(db, supplier_id)
        rows = suppliers.supplier_skus(db, supplier_id)
        return jsonify(data=[supplier_sku_dict(r, supplier.currency) for r in rows])


@bp.put(f"/suppliers/<{ID}:supplier_id>/skus")
@operation(
    "Set a supplier's cost price of a SKU",
    tag="purchasing",
    body=SupplierSkuInSchema,
    ok=(200, SupplierSkuSchema, "The SKU's price as stored."),
)
def put_supplier_sku(supplier_id: int, body):
    """``preferred: true`` makes it the SKU's one preferred supplier (its lead time then
    drives the SKU's computed reorder policy)."""
    with get_hub().db.transaction() as db:
        supplier = suppliers.get_supplier(db, supplier_id)
        cost = Money.parse(body["cost_price"], supplier.currency).amount
        row = suppliers.set_supplier_sku(
            db,
            supplier_id,
            body["sku"],
            cost_price=cost,
            supplier_sku=body["supplier_sku"],
            preferred=body["preferred"],
        )
        return jsonify(supplier_sku_dict(row, supplier.currency))


# --- purchase orders ---------------------------------------------------------------------------


def _draft_lines(lines: list[dict[str, Any]]) -> list[orders.DraftLine]:
    return [orders.DraftLine(x["sku"], x["quantity"], x.get("unit_cost")) for x in lines]


def _po_json(db, po: PurchaseOrder) -> dict[str, Any]:
    return po_detail(db, po)


@bp.get("/purchase-orders")
@operation(
    "List purchase orders",
    tag="purchasing",
    query=PurchaseOrderQuerySchema,
    ok=(200, page_schema(PurchaseOrderSummarySchema, "PurchaseOrderPage"), "Newest first."),
)
def list_purchase_orders(query):
    statement = select(PurchaseOrder)
    if query.get("status"):
        statement = statement.where(PurchaseOrder.status == query["status"])
    if query.get("supplier_id") is not None:
        statement = statement.where(PurchaseOrder.supplier_id == query["supplier_id"])
    with get_hub().db.read() as db:
        return jsonify(page(db, statement, PurchaseOrder.id, query, po_summary))


@bp.post("/purchase-orders")
@operation(
    "Create a draft purchase order",
    tag="purchasing",
    body=PurchaseOrderInSchema,
    ok=(201, PurchaseOrderSchema, "The draft, numbered."),
)
def create_purchase_order(body):
    """Numbered at once (``PO-2026-000001``, gapless). A line without ``unit_cost`` takes
    the supplier's cost price of the SKU (422 naming the line when it has none)."""
    with get_hub().db.transaction() as db:
        location = get_location(db, body["location"])
        po = orders.create_draft(
            db,
            supplier_id=body["supplier_id"],
            location_id=location.id,
            lines=_draft_lines(body["lines"]),
            actor=g.caller.actor,
            notes=body["notes"],
            send_via=body["send_via"],
        )
        out = _po_json(db, po)
    log.info("purchase order %s drafted by %s", out["number"], g.caller.actor)
    return created(out, url_for("api.get_purchase_order", po_id=out["id"]))


@bp.get(f"/purchase-orders/<{ID}:po_id>")
@operation("Get a purchase order", tag="purchasing", ok=(200, PurchaseOrderSchema, "The PO."))
def get_purchase_order(po_id: int):
    with get_hub().db.read() as db:
        return jsonify(_po_json(db, orders.get_purchase_order(db, po_id)))


@bp.patch(f"/purchase-orders/<{ID}:po_id>")
@operation(
    "Change a draft's lines",
    tag="purchasing",
    body=PurchaseOrderPatchSchema,
    ok=(200, PurchaseOrderSchema, "The draft as stored."),
    errors=(409,),
)
def patch_purchase_order(po_id: int, body):
    """Replaces the lines (and notes). Only a draft (409 once sent), and only at the
    version you read (409 if someone changed it since)."""
    with get_hub().db.transaction() as db:
        po = orders.set_lines(
            db, po_id, _draft_lines(body["lines"]), version=body["version"], notes=body["notes"]
        )
        return jsonify(_po_json(db, po))


@bp.post(f"/purchase-orders/<{ID}:po_id>/send")
@operation(
    "Send a purchase order",
    tag="purchasing",
    body=VersionSchema,
    body_required=False,
    ok=(200, PurchaseOrderSchema, "Sent: expected after the supplier's lead time."),
    errors=(409,),
)
def send_purchase_order(po_id: int, body):
    """Emails the supplier the PO's PDF and its lines as CSV, or (``send_via`` ``erp``)
    writes it as a CSV file into the ERP channel's export folder: once, by a job after
    the commit. 409 unless it is a draft; 422 when the supplier has no email address, or
    no email channel (no ERP channel taking purchase orders) is enabled."""
    return _move(partial(orders.send, connectors=get_hub().connectors), po_id, body, "sent")


@bp.post(f"/purchase-orders/<{ID}:po_id>/cancel")
@operation(
    "Cancel a purchase order",
    tag="purchasing",
    body=VersionSchema,
    body_required=False,
    ok=(200, PurchaseOrderSchema, "Cancelled: its units are no longer incoming."),
    errors=(409,),
)
def cancel_purchase_order(po_id: int, body):
    """A draft, or a sent PO nothing has arrived on (409 otherwise)."""
    return _move(orders.cancel, po_id, body, "cancelled")


def _move(action, po_id: int, body: dict[str, Any] | None, done: str):
    """Send or cancel: the action at the version sent (if any), the PO as it is now."""
    with get_hub().db.transaction() as db:
        po = action(db, po_id, actor=g.caller.actor, version=(body or {}).get("version"))
        out = _po_json(db, po)
    log.info("purchase order %s %s by %s", out["number"], done, g.caller.actor)
    return jsonify(out)


@bp.post(f"/purchase-orders/<{ID}:po_id>/receipts")
@operation(
    "Receive stock on a purchase order",
    tag="purchasing",
    body=ReceiptInSchema,
    ok=(201, PurchaseOrderSchema, "Booked: the PO with its new receipt."),
    errors=(409,),
)
def receive_purchase_order(po_id: int, body):
    """Adds each line's units on hand at ``location`` (stock movements naming the PO) and
    moves the PO to partially_received or received. Partial receipts are fine; more than
    is still open on a line is refused (422 naming it) unless ``force``. 409 when the PO
    is a draft, received or cancelled."""
    with get_hub().db.transaction() as db:
        location_id = get_location(db, body["location"]).id if body["location"] else None
        receiving.receive(
            db,
            po_id,
            [(x["sku"], x["quantity"]) for x in body["lines"]],
            location_id,
            actor=g.caller.actor,
            force=body["force"],
            source="api",
        )
        out = _po_json(db, orders.get_purchase_order(db, po_id))
    log.info("purchase order %s received by %s", out["number"], g.caller.actor)
    return created(out)
