"""Returns in the admin UI: the section of the order page, its forms, and the list of returns.

The steps are :mod:`hub.returns.actions`' (the API and the CLI call the same ones):
open a return for shipped units, approve or reject it, receive its goods
(restock each line to a location or write it off), refund it through the
order's payments. Every form posts with its CSRF token and comes back to the
order page with a message saying what happened, or what to fix.
"""

from __future__ import annotations

from collections.abc import Mapping
from functools import partial
from typing import Any

from flask import flash, g, redirect, render_template, request, url_for
from flask.typing import ResponseReturnValue
from marshmallow import Schema
from marshmallow import ValidationError as SchemaError
from sqlalchemy import select
from sqlalchemy.orm import Session

from hub.core.exceptions import NotFound, ValidationError
from hub.core.money import Money, MoneyError
from hub.inventory import levels as inventory
from hub.orders.serialize import money
from hub.returns import actions as returns
from hub.returns.queries import (
    ReturnFilters,
    order_labels,
    refund_jobs,
    search_returns,
    status_counts,
)
from hub.returns.schemas import ReturnCreateSchema, ReturnReceiveSchema
from hub.store.models import Order, Return
from hub.web import get_hub
from hub.web.admin import bp
from hub.web.admin.helpers import flash_error, page_of, whole_number
from hub.web.api_schemas import ReturnApproveSchema, ReturnRejectSchema

#: The value of a line's "where does it go" choice that writes it off.
WRITE_OFF = returns.WRITE_OFF


def returns_panel(db: Session, order: Order) -> dict[str, Any]:
    """What the order page needs for its Returns section (``order`` loaded by ``order_query``)."""
    jobs = refund_jobs(db, order.id) if order.returns else []
    shown = [
        returns.return_detail(r, jobs=jobs) | {"with_shipping": r.shipping_refund > 0}
        for r in order.returns
    ]
    returnable = (
        returns.returnable_quantities(db, order)
        if order.status in returns.RETURNABLE_STATUSES
        else {}
    )
    tracked = inventory.tracking_enabled(db)
    needs_money = any(r.status == "received" for r in order.returns)
    refundable = (
        sum(left for _, left in returns.refundable_by_payment(db, order)) if needs_money else 0
    )
    shipping_taken = sum(r.shipping_refund for r in order.returns if r.status != "rejected")
    return {
        "returns": shown,
        "returnable": returnable,
        "return_locations": [loc.code for loc in inventory.list_locations(db) if loc.active]
        if tracked
        else [],
        "stock_tracked": tracked,
        "refundable": money(refundable, order.currency),
        "nothing_refundable": refundable == 0,
        "takes_returns": order.status in returns.RETURNABLE_STATUSES,
        "shipping_left": money(max(0, order.shipping - shipping_taken), order.currency)
        if order.shipping - shipping_taken > 0
        else None,
        "write_off": WRITE_OFF,
    }


def _back(order_id: int):
    return redirect(url_for("admin.order", order_id=order_id) + "#returns")


def _order_of(return_id: int) -> int:
    with get_hub().db.read() as db:
        order_id = db.scalar(select(Return.order_id).where(Return.id == return_id))
    if order_id is None:
        raise NotFound(f"return {return_id} does not exist")
    return order_id


def return_form_data(form: Mapping[str, str]) -> dict[str, Any]:
    """The return form as the API's ``ReturnCreateSchema`` takes it (a line per ``qty-<line id>``
    with units; whole numbers as ints, anything else as typed, for the schema to refuse)."""
    lines: list[dict[str, Any]] = []
    for key, raw in form.items():
        if not key.startswith("qty-"):
            continue
        raw = raw.strip()
        if raw in ("", "0"):
            continue
        line_id = key.removeprefix("qty-")
        where = (form.get(f"loc-{line_id}") or "").strip()
        lines.append(
            {
                "line_id": whole_number(line_id),
                "quantity": whole_number(raw),
                "write_off": where == WRITE_OFF,
                "restock_location": where if where and where != WRITE_OFF else None,
            }
        )
    lines.sort(key=lambda line: str(line["line_id"]).zfill(20))  # by line id, as numbers
    return {
        "lines": lines,
        "reason": (form.get("reason") or "").strip(),
        "note": (form.get("note") or "").strip(),
        "refund_shipping": form.get("refund_shipping") == "on",
        "refund_amount": (form.get("refund_amount") or "").strip() or None,
    }


def return_form_problems(data: dict[str, Any], messages: dict[str, Any]) -> list[str]:
    """The schema's errors as what the person must give, in the order of the form."""
    problems: list[str] = []
    lines = messages.get("lines")
    if isinstance(lines, dict):
        for index, errors in sorted(lines.items(), key=lambda item: str(item[0])):
            if not isinstance(index, int) or not isinstance(errors, dict):
                continue
            line = data["lines"][index]
            if "quantity" in errors:
                problems.append(f"a whole number of units (not {str(line['quantity'])!r})")
            if "line_id" in errors:
                problems.append(f"a line of this order (not {str(line['line_id'])!r})")
            if "restock_location" in errors:
                problems.append("a location code of at most 100 characters")
    elif lines:
        problems.append("how many units of which line come back")
    if "reason" in messages:
        problems.append("a reason" if not data["reason"] else "a reason of at most 500 characters")
    if "note" in messages:
        problems.append("a note of at most 5000 characters")
    if "refund_amount" in messages:
        problems.append(f"a refund amount such as 12.50 (not {data['refund_amount']!r})")
    for field in sorted(set(messages) - {"lines", "reason", "note", "refund_amount"}):
        problems.append(f"{field.replace('_', ' ')}: {' '.join(map(str, messages[field]))}")
    return problems


@bp.post("/orders/<int:order_id>/returns")
def return_create(order_id: int):
    """Opens a return from the order page: the form is loaded by the API's ``ReturnCreateSchema``."""
    data = return_form_data(request.form)
    try:
        request_ = ReturnCreateSchema().load(data)
    except SchemaError as exc:
        problems = return_form_problems(data, exc.normalized_messages())
        flash("To open a return, give " + ", ".join(problems) + ".", "error")
        return _back(order_id)
    try:
        with get_hub().db.transaction() as db:
            ret = returns.create_return(db, order_id, request_, actor=g.user.actor)
            rid, units = ret.id, sum(rl.quantity for rl in ret.lines)
            worth = money(ret.refund_amount + ret.shipping_refund, ret.currency)
            currency = ret.currency
    except Exception as exc:  # noqa: BLE001  (shown to the person, logged when unexpected)
        flash_error(exc)
    else:
        flash(
            f"Return {rid} opened for {units} unit{'s' if units != 1 else ''}: it refunds "
            f"{worth} {currency} once received. Approve it when the customer may send the goods.",
            "success",
        )
    return _back(order_id)


@bp.post("/returns/<int:return_id>/approve")
def return_approve(return_id: int):
    body = _load(return_id, ReturnApproveSchema(), {"note": _field("note")}, "Give a note")
    if not isinstance(body, dict):
        return body
    return _step(
        return_id,
        "approved",
        lambda db: returns.approve_return(db, return_id, actor=g.user.actor, note=body["note"]),
    )


@bp.post("/returns/<int:return_id>/reject")
def return_reject(return_id: int):
    reason = _field("reason")
    if not reason:  # the schema says "required"; a person is told why it is
        return _refuse(return_id, "Rejecting a return needs a reason: the customer will ask why.")
    body = _load(return_id, ReturnRejectSchema(), {"reason": reason}, "Give a reason")
    if not isinstance(body, dict):
        return body
    return _step(
        return_id,
        "rejected",
        lambda db: returns.reject_return(db, return_id, actor=g.user.actor, reason=body["reason"]),
    )


@bp.post("/returns/<int:return_id>/receive")
def return_receive(return_id: int):
    lines = {
        key.removeprefix("dest-"): value.strip()
        for key, value in request.form.items()
        if key.startswith("dest-") and value.strip()
    }
    body = _load(return_id, ReturnReceiveSchema(), {"lines": lines}, "Give a place for each line")
    if not isinstance(body, dict):
        return body
    return _step(
        return_id,
        "received",
        lambda db: returns.receive_return(db, return_id, actor=g.user.actor, lines=body["lines"]),
    )


def _field(name: str) -> str:
    return (request.form.get(name) or "").strip()


def _load(
    return_id: int, schema: Schema, data: dict[str, Any], ask: str
) -> dict[str, Any] | ResponseReturnValue:
    """``data`` loaded by the API's ``schema``; if it refuses, back to the order page with
    ``ask`` ("Give a reason") and the schema's words."""
    try:
        return schema.load(data)
    except SchemaError as exc:
        return _refuse(return_id, f"{ask}: {'; '.join(_flatten(exc.normalized_messages()))}")


def _refuse(return_id: int, message: str) -> ResponseReturnValue:
    """Back to the return's order page, saying what to fix."""
    try:
        order_id = _order_of(return_id)
    except NotFound as exc:
        flash_error(exc)
        return redirect(url_for("admin.returns_list"))
    flash(message, "error")
    return _back(order_id)


def _flatten(errors: Any) -> list[str]:
    if isinstance(errors, dict):
        return [text for value in errors.values() for text in _flatten(value)]
    if isinstance(errors, list):
        return [str(text) for text in errors]
    return [str(errors)]


@bp.post("/returns/<int:return_id>/refund")
def return_refund(return_id: int):
    raw = (request.form.get("amount") or "").strip()

    def refund(db):
        amount = None
        if raw:
            ret = db.get(Return, return_id)
            if ret is None:
                raise NotFound(f"return {return_id} does not exist")
            try:
                amount = Money.parse(raw, ret.currency).amount
            except MoneyError as exc:
                raise ValidationError(
                    f"The refund amount {raw!r} is not an amount in {ret.currency}: {exc}"
                ) from None
        return returns.refund_return(db, return_id, actor=g.user.actor, amount=amount)

    return _step(return_id, "refunded", refund)


def _step(return_id: int, done: str, action):
    """Run one step of a return in a transaction; tell the person what happened."""
    try:
        order_id = _order_of(return_id)
    except NotFound as exc:
        flash_error(exc)
        return redirect(url_for("admin.returns_list"))
    try:
        with get_hub().db.transaction() as db:
            ret = action(db)
            message = _done_message(ret, done)
    except Exception as exc:  # noqa: BLE001
        flash_error(exc)
    else:
        flash(message, "success")
    return _back(order_id)


def _done_message(ret: Return, done: str) -> str:
    text = f"Return {ret.id} {done}."
    if done == "received":
        # Just received: each restocked line has its location.
        kept = [
            (rl, rl.location)
            for rl in ret.lines
            if rl.disposition == "restocked" and rl.location is not None
        ]
        if kept:
            text += (
                " Restocked: "
                + ", ".join(
                    f"{rl.quantity} × {rl.order_line.sku} at {location.code}"
                    for rl, location in kept
                )
                + "."
            )
        off = sum(rl.quantity for rl in ret.lines if rl.disposition == "written_off")
        if off:
            text += f" Written off: {off} unit{'s' if off != 1 else ''}."
    elif done == "refunded":
        text += (
            f" {money(ret.refunded_amount, ret.currency)} {ret.currency} goes back through the "
            f"order's payments; the order is now {ret.order.status.replace('_', ' ')}."
        )
    return text


@bp.get("/returns")
def returns_list():
    status = request.args.get("status", "")
    status = status if status in returns.STATUSES else ""
    filters = ReturnFilters(status=status or None)
    with get_hub().db.read() as db:
        page = page_of(partial(search_returns, db, filters))
        return render_template(
            "admin/returns.html",
            page=page,
            status=status,
            counts=status_counts(db),
            statuses=returns.STATUSES,
            order_labels=order_labels(db, {r.order_id for r in page.items}),
        )
