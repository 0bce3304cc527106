"""Returns and exchanges on the customer's tracking page: ``POST /track/<token>/returns``.

The tracking page (:mod:`hub.web.track`) shows the section
``track/_returns.html`` with what :func:`section` says (the lines still
returnable, within the channel's window and not final sale; other variants in
stock for an exchange; the customer's returns). The form posts here with the
session's CSRF token; so may a script, as JSON with the token in
``X-CSRF-Token``. The work is :mod:`hub.returns.selfservice`'s: the return is
created ``requested`` and approved at once when the channel's rule says so.

A form answers with a redirect to the page (a message says what happens next)
or the page again with the error in words (422); JSON answers ``201`` with the
return as the customer sees it, or ``{"error": ...}``. Nothing is written on
an error.
"""

from __future__ import annotations

import logging
from typing import Any

from flask import Blueprint, flash, jsonify, redirect, render_template, request, url_for
from marshmallow import Schema, fields, validate
from marshmallow import ValidationError as SchemaError
from sqlalchemy import select
from sqlalchemy.orm import Session, selectinload

from hub.core.exceptions import HubError, ValidationError
from hub.returns import selfservice
from hub.returns.actions import RESOLUTIONS, ReturnLineRequest, ReturnRequest
from hub.store.models import Order, Shipment
from hub.web import get_hub, track
from hub.web.errors import error_response, hub_error_response, status_for

log = logging.getLogger(__name__)

bp = Blueprint("track_returns", __name__, url_prefix="/track")
bp.after_request(track._headers)

MAX_NOTE = 2000


class _LineSchema(Schema):
    line_id = fields.Integer(required=True, strict=True)
    quantity = fields.Integer(
        required=True, strict=True, validate=validate.Range(min=1, max=10_000)
    )
    exchange_sku = fields.String(load_default="", validate=validate.Length(max=100))


class CustomerReturnSchema(Schema):
    """What the customer sends: lines, a reason, refund or exchange, an optional note."""

    lines = fields.List(
        fields.Nested(_LineSchema), required=True, validate=validate.Length(min=1, max=500)
    )
    reason = fields.String(required=True, validate=validate.OneOf(selfservice.REASONS))
    resolution = fields.String(load_default="refund", validate=validate.OneOf(RESOLUTIONS))
    note = fields.String(load_default="", validate=validate.Length(max=MAX_NOTE))


def section(session: Session, order: Order) -> dict[str, Any]:
    """What the page's returns section shows."""
    view = selfservice.customer_returns(session, order)
    return {
        "open": view.open,
        "closed": view.closed,
        "last_day": view.last_day,
        "lines": view.lines,
        "reasons": selfservice.REASONS,
        "returns": [selfservice.describe(r) for r in view.returns],
        "action": url_for("track_returns.create", token=order.tracking_token),
    }


def _order(session: Session, token: str) -> Order | None:
    if not track._TOKEN.fullmatch(token):
        return None
    return session.scalars(
        select(Order)
        .options(
            selectinload(Order.lines),
            selectinload(Order.shipments).selectinload(Shipment.lines),
        )
        .where(Order.tracking_token == token)
    ).one_or_none()


def _from_form() -> dict[str, Any]:
    """The page's form as the JSON body: ``qty-<line id>``, ``exchange-<line id>``, the rest by name."""
    form = request.form
    lines = []
    for key, value in form.items():
        if not key.startswith("qty-") or not value.strip() or value.strip() == "0":
            continue
        line_id = key.removeprefix("qty-")
        if not line_id.isdigit() or not value.strip().isdigit():
            raise ValidationError(
                "say how many of each item you send back, as a number",
                details={"lines": ["a whole number of units"]},
            )
        lines.append(
            {
                "line_id": int(line_id),
                "quantity": int(value.strip()),
                "exchange_sku": (form.get(f"exchange-{line_id}") or "").strip(),
            }
        )
    if not lines:
        raise ValidationError(
            "choose at least one item to send back", details={"lines": ["is required"]}
        )
    body: dict[str, Any] = {"lines": lines, "reason": form.get("reason", "")}
    for name in ("resolution", "note"):
        if form.get(name):
            body[name] = form[name]
    if body.get("resolution") != "exchange":
        for line in lines:
            line["exchange_sku"] = ""
    return body


def _load(raw: Any) -> ReturnRequest:
    try:
        data = CustomerReturnSchema().load(raw)
    except SchemaError as exc:
        messages = exc.messages if isinstance(exc.messages, dict) else {"_": exc.messages}
        words = {
            "reason": "choose why you send it back",
            "resolution": "choose a refund or an exchange",
            "lines": "choose the items and how many",
            "note": f"the note is at most {MAX_NOTE} characters",
        }
        first = next(iter(messages), "_")
        raise ValidationError(
            words.get(first, "the request is not valid"), details=messages
        ) from None
    return ReturnRequest(
        lines=[
            ReturnLineRequest(x["line_id"], x["quantity"], exchange_sku=x["exchange_sku"])
            for x in data["lines"]
        ],
        reason=data["reason"],
        note=data["note"],
        resolution=data["resolution"],
    )


@bp.post("/<token>/returns")
def create(token: str):
    as_json = request.is_json
    hub = get_hub()
    try:
        with hub.db.transaction() as session:
            order = _order(session, token)
            if order is None:
                if as_json:
                    return error_response(404, "not_found", "no order has this tracking link")
                return render_template("track/not_found.html"), 404
            raw = (request.get_json(silent=True) or {}) if as_json else _from_form()
            ret = selfservice.request_return(session, order, _load(raw))
            out = selfservice.describe(ret)
            label = order.label
    except HubError as exc:
        if as_json:
            return hub_error_response(exc)
        return _page_with_error(token, exc.message, status_for(exc))
    log.info("return %s of order %s requested on the tracking page", out["id"], label)
    if as_json:
        out["created_at"] = out["created_at"].isoformat()
        return jsonify(out), 201
    flash(
        "Your return is approved: we emailed you how to send it back."
        if out["status"] == "approved"
        else "We have your return request and will email you once it is approved.",
        "success",
    )
    return redirect(url_for("track.order_status", token=token) + "#returns", code=303)


def _page_with_error(token: str, message: str, status: int):
    with get_hub().db.read() as session:
        order = _order(session, token)
        if order is None:
            return render_template("track/not_found.html"), 404
        page = track._page(order)
        page["self_service"] = section(session, order)
        page["self_service"]["error"] = message
        page["self_service"]["sent"] = request.form
    return render_template("track/order.html", **page), status
