"""The REST API's cases (issue 23): the list with filters and cursor pages, one case with its
notes, and a change of status or assignee or a new note. Resolutions that act on the order
(a return, a refund, a replacement) are the admin's and the returns API's. Also each sales
channel's satisfaction check settings (``/channels/<id>/satisfaction-check``).

On the API's blueprint, with its token check, errors and cursor pages. The work is
:mod:`hub.cases`'; these views load, call and serialise.
"""

from __future__ import annotations

import logging

from flask import g, jsonify
from marshmallow import Schema, fields, validate

from hub.aftercare import policy as policies
from hub.cases import actions as cases
from hub.cases import queries as case_queries
from hub.core.exceptions import NotFound
from hub.store.models import Channel
from hub.web import get_hub
from hub.web.api import _before, bp, cursor_page
from hub.web.api_schemas import MAX_ID, OutSchema, PageQuerySchema, page_schema
from hub.web.apidoc import ID, operation

log = logging.getLogger(__name__)


class CasesQuerySchema(PageQuerySchema):
    status = fields.String(validate=validate.OneOf(cases.STATUSES))
    order_id = fields.Integer(validate=validate.Range(min=1, max=MAX_ID))
    customer_id = fields.Integer(validate=validate.Range(min=1, max=MAX_ID))
    assignee_id = fields.Integer(validate=validate.Range(min=1, max=MAX_ID))


class CaseAssigneeSchema(OutSchema):
    id = fields.Integer(required=True)
    email = fields.String(required=True)


class CaseSummarySchema(OutSchema):
    id = fields.Integer(required=True)
    order_id = fields.Integer(required=True)
    order_number = fields.String(required=True)
    customer_id = fields.Integer(required=True, allow_none=True)
    status = fields.String(required=True, validate=validate.OneOf(cases.STATUSES))
    status_words = fields.String(required=True)
    reason = fields.String(required=True, validate=validate.OneOf(list(cases.REASONS)))
    reason_words = fields.String(required=True)
    assignee = fields.Nested(CaseAssigneeSchema, required=True, allow_none=True)
    return_id = fields.Integer(
        required=True, allow_none=True, metadata={"description": "The return the case opened."}
    )
    replacement_order_id = fields.Integer(
        required=True,
        allow_none=True,
        metadata={"description": "The replacement order (zero price) the case created."},
    )
    created_at = fields.String(required=True, metadata={"format": "date-time"})
    updated_at = fields.String(required=True, metadata={"format": "date-time"})
    resolved_at = fields.String(required=True, allow_none=True, metadata={"format": "date-time"})


class CasePhotoSchema(OutSchema):
    index = fields.Integer(required=True)
    name = fields.String(required=True)
    content_type = fields.String(required=True)
    size = fields.Integer(required=True, metadata={"description": "Bytes."})


class CaseNoteSchema(OutSchema):
    id = fields.Integer(required=True)
    author = fields.String(required=True)
    body = fields.String(required=True)
    created_at = fields.String(required=True, metadata={"format": "date-time"})


class CaseDetailSchema(CaseSummarySchema):
    description = fields.String(required=True, metadata={"description": "The customer's words."})
    opened_by = fields.String(required=True)
    photos = fields.List(
        fields.Nested(CasePhotoSchema),
        required=True,
        metadata={"description": "Pictures the customer sent (seen in the admin)."},
    )
    notes = fields.List(fields.Nested(CaseNoteSchema), required=True)


CasePageSchema = page_schema(CaseSummarySchema, "CasePageSchema")


class CasePatchSchema(Schema):
    status = fields.String(validate=validate.OneOf(cases.STATUSES))
    assignee_id = fields.Integer(
        allow_none=True,
        validate=validate.Range(min=1, max=MAX_ID),
        metadata={"description": "An admin user's id; null unassigns."},
    )
    note = fields.String(validate=validate.Length(min=1, max=cases.MAX_TEXT))


class SatisfactionPolicySchema(OutSchema):
    channel_id = fields.Integer(required=True)
    enabled = fields.Boolean(required=True)
    check_days = fields.Integer(required=True, metadata={"description": "Days after delivery."})
    product_url_template = fields.String(required=True)
    review_url_template = fields.String(
        required=True, metadata={"description": "Empty: no review request."}
    )


def _case_json(case_id: int):
    with get_hub().db.read() as db:
        found = case_queries.find_case(db, case_id)
        if found is None:
            raise NotFound(f"case {case_id} does not exist")
        return case_queries.case_detail(found)


@bp.get("/cases")
@operation(
    "List cases",
    tag="cases",
    query=CasesQuerySchema,
    ok=(200, CasePageSchema, "A page of cases, newest first."),
)
def list_cases(query):
    """`status=open` lists the cases waiting for someone. Page with `limit` and each answer's
    `next_cursor`."""
    filters = case_queries.CaseFilters(
        status=query.get("status"),
        order_id=query.get("order_id"),
        customer_id=query.get("customer_id"),
        assignee_id=query.get("assignee_id"),
    )
    with get_hub().db.read() as db:
        found = case_queries.search_cases(
            db, filters, limit=query["limit"], before_id=_before(query)
        )
        return jsonify(cursor_page(found, case_queries.case_summary))


@bp.get(f"/cases/<{ID}:case_id>")
@operation(
    "Get a case",
    tag="cases",
    ok=(200, CaseDetailSchema, "The case, the customer's words and photos, and its notes."),
)
def get_case(case_id: int):
    return jsonify(_case_json(case_id))


@bp.patch(f"/cases/<{ID}:case_id>")
@operation(
    "Change a case's status or assignee, or add a note",
    tag="cases",
    body=CasePatchSchema,
    ok=(200, CaseDetailSchema, "The case as changed."),
)
def update_case(case_id: int, body):
    """Any of `status` (open, waiting_on_customer, resolved), `assignee_id` (null unassigns) and
    `note`; what is left out stays. Each change is written on the case's notes."""
    kwargs = {}
    if "assignee_id" in body:
        kwargs["assignee_id"] = body["assignee_id"]
    with get_hub().db.transaction() as db:
        cases.update_case(
            db,
            case_id,
            actor=g.caller.actor,
            status=body.get("status"),
            note=body.get("note"),
            **kwargs,
        )
    log.info("case %s changed by %s", case_id, g.caller.actor)
    return jsonify(_case_json(case_id))


@bp.get(f"/channels/<{ID}:channel_id>/satisfaction-check")
@operation(
    "Get a channel's satisfaction check settings",
    tag="cases",
    ok=(200, SatisfactionPolicySchema, "The settings (off unless a person turned them on)."),
)
def get_satisfaction_policy(channel_id: int):
    with get_hub().db.read() as db:
        if db.get(Channel, channel_id) is None:
            raise NotFound(f"channel {channel_id} does not exist")
        return jsonify(policies.read(db, channel_id).to_dict())


@bp.put(f"/channels/<{ID}:channel_id>/satisfaction-check")
@operation(
    "Set a channel's satisfaction check settings",
    tag="cases",
    body=policies.AftercarePolicySchema,
    ok=(200, SatisfactionPolicySchema, "The settings now."),
)
def put_satisfaction_policy(channel_id: int, body):
    """Whether the channel's customers are asked, `check_days` after delivery, whether all
    arrived well; the product page and review link templates (placeholders `{order_number}`,
    `{sku}`, `{product_name}`, `{product_url}`, `{email}`). See docs/after-checkout.md."""
    with get_hub().db.transaction() as db:
        out = policies.save(db, channel_id, body, actor=g.caller.actor).to_dict()
    log.info("satisfaction check of channel %s set by %s: %s", channel_id, g.caller.actor, out)
    return jsonify(out)
