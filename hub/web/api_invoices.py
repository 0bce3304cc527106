"""The REST API's invoices: an order's invoices, issuing one now, the list, receivables, policies.

On the API's blueprint, with its token check, errors and cursor pages. The work
is :mod:`hub.invoicing`'s; these views load, call and serialise.
"""

from __future__ import annotations

import logging
from typing import Any

from flask import g, jsonify, url_for
from marshmallow import Schema, fields, validate

from hub.core.exceptions import NotFound
from hub.core.invoicing import InvoiceKind, InvoiceStatus, IssueOn
from hub.invoicing import actions, policy
from hub.invoicing import queries as invoice_queries
from hub.invoicing.serialize import invoice_json, receivables_json
from hub.store.models import Channel, Invoice, Order, utcnow
from hub.web import get_hub
from hub.web.api import _before, _get, bp, created, cursor_page
from hub.web.api_schemas import MAX_ID, OutSchema, PageQuerySchema, page_schema
from hub.web.apidoc import ID, operation

log = logging.getLogger(__name__)

_MONEY = {"description": "A decimal string in the invoice's currency, e.g. `52.60`."}

# --- schemas ----------------------------------------------------------------------------------


class InvoiceSchema(OutSchema):
    id = fields.Integer(required=True)
    number = fields.String(
        required=True, metadata={"description": "`INV-2026-000001`; credit notes `CN-…`."}
    )
    kind = fields.String(required=True, validate=validate.OneOf(list(InvoiceKind)))
    status = fields.String(
        required=True,
        validate=validate.OneOf(list(InvoiceStatus)),
        metadata={"description": "A credit note is `paid` when issued (settled)."},
    )
    overdue = fields.Boolean(
        required=True, metadata={"description": "Unpaid past its due date (the status stays)."}
    )
    issued_at = fields.String(required=True, metadata={"format": "date-time"})
    due_at = fields.String(required=True, allow_none=True, metadata={"format": "date-time"})
    payment_terms_days = fields.Integer(required=True)
    currency = fields.String(required=True)
    total = fields.String(required=True, metadata=_MONEY)
    amount_paid = fields.String(required=True, metadata=_MONEY)
    amount_credited = fields.String(
        required=True, metadata={"description": "What credit notes took off it."}
    )
    amount_due = fields.String(required=True, metadata=_MONEY)
    order_id = fields.Integer(required=True)
    order_number = fields.String(required=True, allow_none=True)
    customer_id = fields.Integer(required=True, allow_none=True)
    credit_of_id = fields.Integer(
        required=True, allow_none=True, metadata={"description": "A credit note's invoice."}
    )


class InvoiceDetailSchema(InvoiceSchema):
    document = fields.Dict(
        required=True,
        metadata={
            "description": "The content frozen at issue: seller, buyer, lines, tax per rate, "
            "totals (docs/invoices.md, 'The document')."
        },
    )


InvoicePageSchema = page_schema(InvoiceSchema, "InvoicePageSchema")


class InvoiceListSchema(OutSchema):
    data = fields.List(fields.Nested(InvoiceSchema), required=True)


class InvoicesQuerySchema(PageQuerySchema):
    status = fields.String(validate=validate.OneOf(list(InvoiceStatus)))
    kind = fields.String(validate=validate.OneOf(list(InvoiceKind)))
    customer_id = fields.Integer(validate=validate.Range(min=1, max=MAX_ID))
    order_id = fields.Integer(validate=validate.Range(min=1, max=MAX_ID))
    issued_from = fields.Date(
        metadata={"description": "Issued on or after this day (`2026-12-01`, UTC)."}
    )
    issued_to = fields.Date(
        metadata={"description": "Issued on or before this day (`2026-12-31`, UTC)."}
    )
    overdue = fields.Boolean(metadata={"description": "`true`: unpaid past their due date."})
    q = fields.String(
        validate=validate.Length(min=1, max=100),
        metadata={"description": "An invoice number, or an order number."},
    )


class IssueInvoiceSchema(Schema):
    another = fields.Boolean(
        load_default=False,
        metadata={
            "description": "Issue even though an invoice still bills the order (without it: 409)."
        },
    )


class ReceivablesCurrencySchema(OutSchema):
    currency = fields.String(required=True)
    invoices = fields.Integer(required=True)
    open = fields.String(required=True, metadata={"description": "Owed in all."})
    overdue = fields.String(required=True, metadata={"description": "Owed past the due date."})
    overdue_invoices = fields.Integer(required=True)
    buckets = fields.Dict(
        keys=fields.String(),
        values=fields.String(),
        required=True,
        metadata={"description": "Owed by days since issue: `0-30`, `31-60`, `61-90`, `90+`."},
    )


class ReceivablesSchema(OutSchema):
    as_of = fields.String(required=True, metadata={"format": "date-time"})
    data = fields.List(fields.Nested(ReceivablesCurrencySchema), required=True)


class InvoicePolicySchema(OutSchema):
    channel_id = fields.Integer(required=True)
    issue_on = fields.String(required=True, validate=validate.OneOf(list(IssueOn)))
    payment_terms_days = fields.Integer(required=True)
    terms_by_tag = fields.Dict(keys=fields.String(), values=fields.Integer(), required=True)


class InvoicePolicyBodySchema(Schema):
    issue_on = fields.String(
        required=True,
        validate=validate.OneOf(list(IssueOn)),
        metadata={
            "description": "`capture` (a cash sale, invoiced paid), `shipment` (invoiced "
            "open on terms when all has shipped) or `never`."
        },
    )
    payment_terms_days = fields.Integer(
        load_default=0,
        validate=validate.Range(min=0, max=policy.MAX_TERMS_DAYS),
        metadata={"description": "Net days of an invoice issued open (0: due on receipt)."},
    )
    terms_by_tag = fields.Dict(
        keys=fields.String(validate=validate.Length(min=1, max=100)),
        values=fields.Integer(validate=validate.Range(min=0, max=policy.MAX_TERMS_DAYS)),
        load_default=dict,
        metadata={"description": 'More days for tagged customers: `{"b2b": 30}`.'},
    )


# --- views ------------------------------------------------------------------------------------


def _page_json(db, rows: list[Invoice]):
    labels = invoice_queries.order_labels(db, {row.order_id for row in rows})
    now = utcnow()
    return lambda row: invoice_json(row, order_number=labels.get(row.order_id), now=now)


def _invoice_detail(invoice_id: int) -> dict[str, Any]:
    with get_hub().db.read() as db:
        invoice = _get(db, Invoice, invoice_id, "invoice")
        labels = invoice_queries.order_labels(db, {invoice.order_id})
        return invoice_json(invoice, order_number=labels.get(invoice.order_id), detail=True)


@bp.get(f"/orders/<{ID}:order_id>/invoices")
@operation(
    "List an order's invoices",
    tag="invoices",
    ok=(200, InvoiceListSchema, "The order's invoices and credit notes, oldest first."),
)
def list_order_invoices(order_id: int):
    with get_hub().db.read() as db:
        _get(db, Order, order_id, "order")
        rows = actions.order_invoices(db, order_id)
        return jsonify(data=[_page_json(db, rows)(row) for row in rows])


@bp.post(f"/orders/<{ID}:order_id>/invoices")
@operation(
    "Issue an order's invoice now",
    tag="invoices",
    body=IssueInvoiceSchema,
    ok=(201, InvoiceDetailSchema, "The invoice, numbered and frozen."),
)
def create_order_invoice(order_id: int, body):
    """Numbered now, in the issuing transaction. Paid as far as the order's payments go; else
    open on the order's channel's terms. 409 when an invoice still bills the order (one that
    is not void or wholly credited) unless `another` is true, or when the order is cancelled;
    422 when the hub has no seller set (`HUB_SELLER_LEGAL_NAME`)."""
    hub = get_hub()
    with hub.db.transaction() as db:
        invoice = actions.issue_invoice(
            db, order_id, hub.settings, actor=g.caller.actor, another=body["another"]
        )
        invoice_id, number = invoice.id, invoice.number
    log.info("invoice %s of order %s issued by %s", number, order_id, g.caller.actor)
    return created(_invoice_detail(invoice_id), url_for("api.get_invoice", invoice_id=invoice_id))


@bp.get("/invoices")
@operation(
    "List invoices and credit notes",
    tag="invoices",
    query=InvoicesQuerySchema,
    ok=(200, InvoicePageSchema, "A page of invoices, newest first."),
)
def list_invoices(query):
    """Filters combine with AND. Page with `limit` and the `next_cursor` of each answer."""
    filters = invoice_queries.InvoiceFilters(
        status=query.get("status"),
        kind=query.get("kind"),
        customer_id=query.get("customer_id"),
        order_id=query.get("order_id"),
        issued_from=query.get("issued_from"),
        issued_to=query.get("issued_to"),
        overdue=bool(query.get("overdue")),
        q=query.get("q"),
    )
    with get_hub().db.read() as db:
        found = invoice_queries.search_invoices(
            db, filters, limit=query["limit"], before_id=_before(query)
        )
        return jsonify(cursor_page(found, _page_json(db, found.rows)))


@bp.get(f"/invoices/<{ID}:invoice_id>")
@operation(
    "Get an invoice or credit note",
    tag="invoices",
    ok=(200, InvoiceDetailSchema, "The invoice with its document."),
)
def get_invoice(invoice_id: int):
    return jsonify(_invoice_detail(invoice_id))


@bp.get("/receivables")
@operation(
    "Receivables by age",
    tag="invoices",
    ok=(200, ReceivablesSchema, "What unpaid invoices owe, per currency."),
)
def get_receivables():
    """Open and partially paid invoices: what they still owe in all, past their due date,
    and by days since issue (0-30, 31-60, 61-90, 90+)."""
    now = utcnow()
    with get_hub().db.read() as db:
        rows = invoice_queries.receivables(db, now=now)
    return jsonify(as_of=now.isoformat(), data=[receivables_json(r) for r in rows])


@bp.get(f"/channels/<{ID}:channel_id>/invoice-policy")
@operation(
    "Get a channel's invoicing policy",
    tag="invoices",
    ok=(200, InvoicePolicySchema, "When the channel's orders are invoiced (`never` unless set)."),
)
def get_invoice_policy(channel_id: int):
    with get_hub().db.read() as db:
        _get(db, Channel, channel_id, "channel")
        return jsonify(policy.policy_for(db, channel_id).to_dict())


@bp.put(f"/channels/<{ID}:channel_id>/invoice-policy")
@operation(
    "Set a channel's invoicing policy",
    tag="invoices",
    body=InvoicePolicyBodySchema,
    ok=(200, InvoicePolicySchema, "The policy now."),
)
def put_invoice_policy(channel_id: int, body):
    """When the channel's orders are invoiced: at payment capture (a cash sale, the invoice
    born paid), at shipment (open, due after `payment_terms_days`, or the longest
    `terms_by_tag` a customer's tags earn), or never."""
    with get_hub().db.transaction() as db:
        if db.get(Channel, channel_id) is None:
            raise NotFound(f"channel {channel_id} does not exist")
        out = policy.set_policy(
            db,
            channel_id,
            issue_on=body["issue_on"],
            payment_terms_days=body["payment_terms_days"],
            terms_by_tag=body["terms_by_tag"],
        ).to_dict()
    log.info("invoice policy of channel %s set by %s: %s", channel_id, g.caller.actor, out)
    return jsonify(out)
